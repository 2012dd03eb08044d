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
import itertools
import os
import threading
import time
from typing import Any

from .styles import WARN

_lock = threading.Lock()
# (file, study) -> [handle, its summary's mimebundle once the study ended there, the order it
# was shown in]: the bundle, not the Study, whose trials and reports a kernel of many studies
# would hold for good
_shown: dict[tuple[str, str], list[list[Any]]] = {}
# outputs kept at most, the latest: a summary's bundle (its image within) is 35-100 KB, and a
# kernel's long day of studies would hold them all; an output beyond it is not marked
KEPT_OUTPUTS = 100
_order = itertools.count()


def _key(path: str | os.PathLike, name: str) -> tuple[str, str]:
    return os.path.abspath(os.fspath(path)), name


def shown(path: str | os.PathLike | None, name: str, handle: Any) -> None:
    """The display ``handle`` (IPython's DisplayHandle) shows stored study ``name`` (its live
    panel); :func:`summarised` puts its summary there."""
    if path is None or handle is None:
        return
    with _lock:
        _shown.setdefault(_key(path, name), []).append([handle, None, next(_order)])
        if sum(len(entries) for entries in _shown.values()) > KEPT_OUTPUTS:
            key = min(_shown, key=lambda k: _shown[k][0][2])  # each list is in order shown
            del _shown[key][0]
            if not _shown[key]:
                del _shown[key]


def summarised(handle: Any, summary: Any) -> None:
    """Show ``summary`` (a study's :class:`~nbtune.summary.Summary`) in ``handle``'s place,
    and keep what it showed for :func:`outdated`."""
    bundle = {"text/plain": str(summary), "text/html": summary._repr_html_()}
    handle.update(bundle, raw=True)
    with _lock:
        for entries in _shown.values():
            for entry in entries:
                if entry[0] is handle:
                    entry[1] = bundle


def outdated(path: str | os.PathLike, name: str, how: str) -> None:
    """Study ``name`` of the file ``path`` was ``how`` ("replaced", "deleted"): every output
    that shows its summary gets a line on top, saying so, over the summary as it was."""
    with _lock:
        found = _shown.pop(_key(path, name), [])
    line = _line(name, os.fspath(path), how)
    for handle, bundle, _ in found:
        if bundle is None:  # a panel still running: no summary yet (a lease keeps it running)
            continue
        try:
            handle.update({"text/plain": f"{line}\n{bundle['text/plain']}",
                           "text/html": f'<div class="nbtune-outdated" style="border-left:4px '
                                        f'solid {WARN};padding-left:0.5em;font-weight:bold">'
                                        f'{html.escape(line)}</div>'
                                        f"{bundle['text/html']}"}, raw=True)
        except Exception:  # an output this kernel can no longer reach
            pass


def _line(name: str, path: str, how: str) -> str:
    at = time.strftime("%H:%M:%S")
    if how == "replaced":
        return (f"nbtune: study {name!r} was replaced in {path!r} at {at} by a later run of "
                "that name: the file holds that run now, and this summary is of the run before "
                "it")
    return (f"nbtune: study {name!r} was {how} from {path!r} at {at}: this summary is all that "
            "is left of it")
