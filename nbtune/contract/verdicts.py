"""Verdict routing: a scheduler's verdict on a report reaches the trial at its next decision point.

The real loop (``run/verdicts.py``) sends the answer to a trial waiting on a Dask worker; the
simulator applies it at once. Both keep what was decided here, the same way.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..schedule import CONTINUE, PAUSE, STOP


def waits_at(points: Sequence[float] | None, level: object) -> bool:
    """Whether a report at resource ``level`` is a decision point (``points`` None: every one)."""
    return points is None or level in points


class PendingVerdicts:
    """The scheduler's verdicts on running trials, kept until each trial's next decision point."""

    def __init__(self) -> None:
        self.stopping: set[int] = set()  # told STOP by the scheduler, not yet at a decision point
        self.pausing: set[int] = set()  # told PAUSE, likewise
        self.leaving: set[int] = set()  # stopped at a decision point, not yet gone

    def decide(self, trial_id: int, verdict: str) -> None:
        """The scheduler's verdict on a report of the trial, for its next decision point."""
        if verdict == STOP:
            self.stopping.add(trial_id)
        elif verdict == PAUSE:
            self.pausing.add(trial_id)

    def take(self, trial_id: int) -> str:
        """The answer for the trial at a decision point now: stop, pause or go on."""
        verdict = (STOP if trial_id in self.stopping else
                   PAUSE if trial_id in self.pausing else CONTINUE)
        self.pausing.discard(trial_id)
        if verdict == STOP:
            self.leaving.add(trial_id)
        return verdict

    def left(self, trial_id: int) -> None:
        """The trial is gone: it no longer holds a slot while leaving."""
        self.leaving.discard(trial_id)

    def forget(self, trial_id: int) -> None:
        """The trial ended: nothing decided for it is pending any more."""
        self.stopping.discard(trial_id)
        self.pausing.discard(trial_id)
        self.leaving.discard(trial_id)
