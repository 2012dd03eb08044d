"""Rungs that cannot tell trials apart: every trial that reached a rung reported the same value
there (a model that learns nothing in its first epochs, a few rows of ``n_samples``). The
scheduler's choice at such a rung is by chance; the loop says so once a study.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

TIED_AFTER = 8  # trials at one rung, all with one value, before the note


class RungTies:
    """Watches each rung's values as reports land there: :meth:`seen` gives ``(level, value,
    trials)`` the first time :data:`TIED_AFTER` trials reported one value at one rung, and
    nothing after (a rung where two values were seen is no longer watched)."""

    def __init__(self, rungs: Iterable[float] | None):
        self.rungs = set(rungs or ())
        self.first: dict[float, Any] = {}
        self.count: dict[float, int] = {}
        self.differs: set[float] = set()
        self.said = False

    def seen(self, level: Any, value: Any) -> tuple[float, float, int] | None:
        if self.said or level not in self.rungs or value is None or level in self.differs:
            return None
        if self.first.setdefault(level, value) != value:
            self.differs.add(level)
            return None
        self.count[level] = n = self.count.get(level, 0) + 1
        if n < TIED_AFTER:
            return None
        self.said = True
        return level, value, n


def tied_rung_note(level: float, value: float, n: int, resource: str, metric: str,
                   scheduler: str) -> str:
    """The note for a rung where the first ``n`` trials all reported ``value``."""
    return (f"the first {n} trials to reach {resource} {level:g} all reported {metric} = "
            f"{value:.6g}: the {scheduler} scheduler's rung there cannot tell them apart, so "
            f"which of them go on is chance; start the rungs where the trials differ (a larger "
            f"grace_period, or rung_levels)")
