"""Where this kernel shows each stored study (its live panel, then its summary), so that the
outputs of a study replaced or deleted later say so.

A second ``SearchCV.fit``, or a cell run with ``--replace``, replaced the stored study, and the
earlier cell still showed the old summary, which the file and the next morning's ``load_study``
no longer matched; a colleague reading the notebook could not tell (first-day test, round 22).
The earlier outputs are updated in place (their display ids) with a line on top: the saved
notebook keeps it. Outputs of other kernels are beyond reach.
"""
from __future__ import annotations

import html
import os
import threading
import time
from typing import Any

_lock = threading.Lock()
_shown: dict[tuple[str, str], list[tuple[Any, Any]]] = {}  # (file, study) -> (handle, study)


def _key(path: str | os.PathLike, name: str) -> tuple[str, str]:
    return os.path.abspath(os.fspath(path)), name


def shown(path: str | os.PathLike | None, name: str, handle: Any, study: Any) -> None:
    """The display ``handle`` (IPython's DisplayHandle) shows stored study ``study``, which
    ``study.summary()`` renders once it ends."""
    if path is None or handle is None:
        return
    with _lock:
        _shown.setdefault(_key(path, name), []).append((handle, study))


def outdated(path: str | os.PathLike, name: str, how: str) -> None:
    """Study ``name`` of the file ``path`` was ``how`` ("replaced", "deleted"): every output
    that shows it gets a line on top, saying so, over its summary as it was."""
    with _lock:
        found = _shown.pop(_key(path, name), [])
    for handle, study in found:
        try:
            handle.update(Outdated(study.summary(), name, os.fspath(path), how))
        except Exception:  # an output this kernel can no longer reach
            pass


class Outdated:
    """A study's summary under a line saying that the file no longer holds it."""

    def __init__(self, summary: Any, name: str, path: str, how: str) -> None:
        self.summary = summary
        at = time.strftime("%H:%M:%S")
        if how == "replaced":
            self.line = (f"nbtune: study {name!r} was replaced in {path!r} at {at} by a later "
                         "run of that name: the file holds that run now, and this summary is of "
                         "the run before it")
        else:
            self.line = (f"nbtune: study {name!r} was {how} from {path!r} at {at}: this summary "
                         "is all that is left of it")

    def _repr_html_(self) -> str:
        inner = getattr(self.summary, "_repr_html_", None)
        body = inner() if callable(inner) else f"<pre>{html.escape(repr(self.summary))}</pre>"
        return (f'<div class="nbtune-outdated" style="color:#a05a00;font-weight:bold">'
                f"{html.escape(self.line)}</div>{body}")

    def __repr__(self) -> str:
        return f"{self.line}\n{self.summary!r}"
