"""A study the loop could not carry on: what went wrong, in one line, and what was not saved."""
from __future__ import annotations

import sys
from typing import Any


class StudyFailed(RuntimeError):
    """The study stopped because something outside the trials failed: its storage (a full disk, a
    file locked for too long), the Dask scheduler (lost), or an observer. Its trials until then are
    kept (``study`` holds them, each in its final state) and it can be resumed."""

    def __init__(self, name: str, what: str, unsaved: list[str], stored: bool = True):
        self.name, self.what, self.unsaved = name, what, unsaved
        self.study: Any = None  # set by nbtune.tune: the study as it ended
        if not stored:  # storage=None: nothing to resume from
            super().__init__(f"study {name!r} stopped: {what}; its trials until then are kept "
                             "in memory only (it had no storage file, so it cannot be resumed)")
            return
        kept = "its trials until then are kept"
        if unsaved:
            kept += f" in memory, but {_join(unsaved)} could not be saved"
        super().__init__(f"study {name!r} stopped: {what}; {kept}. Resume it once that is fixed "
                         f"(nbtune.tune(..., study={name!r}, resume=True), or --resume).")


def describe(exc: BaseException) -> str:
    """One line for what stopped the loop, naming the part that failed."""
    kind = type(exc).__name__
    if type(exc).__module__.startswith("nbtune.storage") or kind == "StorageError":
        return str(exc)
    if isinstance(exc, ConnectionError) and str(exc).startswith("lost the Dask scheduler"):
        return str(exc)
    if kind in ("CommClosedError", "StreamClosedError") or isinstance(exc, (OSError,
                                                                              TimeoutError)):
        return f"the Dask scheduler could not be reached ({kind}: {exc})"
    return f"{kind}: {exc}"


def unsaved(failures: list[tuple[str, int | None, Exception]]) -> list[str]:
    """What observers that raised did not record, in words (``failures`` as
    :class:`~nbtune.contract.events.Broadcast` keeps them)."""
    words: list[str] = []
    ended = sorted({t for hook, t, _ in failures if hook == "trial_finished" and t is not None})
    if ended:
        words.append("the final state of trial" + ("s " if len(ended) > 1 else " ")
                     + ", ".join(map(str, ended)))
    reports = sum(1 for hook, _, _ in failures if hook == "trial_reported")
    if reports:
        words.append(f"{reports} report{'s' if reports > 1 else ''}")
    if any(hook == "study_finished" for hook, _, _ in failures):
        words.append("the study's end")
    return words


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def unsaved_note(failures: list[tuple[str, int | None, Exception]]) -> None:
    """Print, after an interrupt, what could not be saved (``failures`` as
    :class:`~nbtune.contract.events.Broadcast` keeps them): the study ends as the user asked,
    its trials kept in memory."""
    words = unsaved(failures)
    if failures:
        what = describe(failures[0][2])
        lost = f"{_join(words)} could not be saved" if words else "not all could be saved"
        print(f"nbtune: the study was interrupted, but {what}; {lost} (the study returned "
              "holds them)", file=sys.stderr)
