"""Stop a trial whose metric is worse than a fixed bar at given resource levels."""
from __future__ import annotations

import math
from typing import Any, Sequence

from ..caller import user_facing
from .base import CONTINUE, STOP, Scheduler


class ThresholdScheduler(Scheduler):
    """Stops a trial at resource level ``r`` in ``at`` when its metric is worse than ``value``.

    ``ThresholdScheduler(0.5, at=[2, 5])`` with ``mode="max"`` stops every trial whose accuracy is
    below 0.5 when it reports epoch 2 or epoch 5. A report at such a level without the metric, or
    with a NaN, stops the trial too: it cannot show it clears the bar.
    """

    name = "threshold"

    @user_facing
    def __init__(self, value: float, at: Sequence[float]):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"threshold value must be a finite number, got {value!r}")
        levels = sorted(set(at))
        if not levels or any(not isinstance(x, (int, float)) or x <= 0 for x in levels):
            raise ValueError(f"threshold levels must be positive numbers, got {list(at)!r}")
        self.value = float(value)
        self.levels = tuple(levels)

    def decision_points(self) -> Sequence[float]:
        return self.levels

    def on_report(self, trial_id: int, report: dict[str, Any]) -> str:
        if report.get(self.resource) not in self.levels:
            return CONTINUE
        metric = report.get(self.metric)
        if not isinstance(metric, (int, float)) or not math.isfinite(metric):
            return STOP
        return STOP if self.better(self.value, metric) else CONTINUE

    def __repr__(self) -> str:
        return f"ThresholdScheduler({self.value!r}, at={list(self.levels)!r})"
