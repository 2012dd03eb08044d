"""How a study run from a cell ends other than by returning: interrupted, or with no trial
completed. Raised by ``%%tune``, :func:`nbtune.tune`, ``SearchCV.fit`` and a background
study's ``wait()``; each shows as its one line."""
from __future__ import annotations


class StudyInterrupted(KeyboardInterrupt):
    """Raised once an interrupted study has ended and been stored (``%%tune``,
    ``SearchCV.fit``): the kernel then reports the cell as interrupted, as any interrupted
    cell, so that Run All stops there. Shown as its one line, which says where the study is."""

    def _render_traceback_(self) -> list[str]:
        return [f"KeyboardInterrupt: {self}"]


class NoTrialCompleted(RuntimeError):
    """Raised at the end of a ``%%tune`` cell whose study ended with failed trials and no
    completed one: the cell ends as a failed cell, so that Run All stops there, as Ray Tune's
    ``tune.run`` raises for trials that did not complete (the next cell's
    ``study.best_config`` failed instead: first-day test, round 35). Shown as its one line.
    ``nbtune.tune`` raises it in a script, its ``study`` the study."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]
