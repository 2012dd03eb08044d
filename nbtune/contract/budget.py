"""A study's budget: when it ends (trial count, time, a target value, total resource)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..trial import is_finite_number


@dataclass
class Budget:
    """When the study ends: trial count, wall clock, a target value, total resource."""

    n_trials: int | None = None
    max_time: float | None = None
    target: float | None = None
    max_resource: float | None = None
    max_trial_time: float | None = None  # seconds one trial may run (:meth:`overdue`)

    def allows_trial(self, created: int) -> bool:
        """Whether another trial may start after ``created`` of them."""
        return self.n_trials is None or created < self.n_trials

    def time_up(self, started_at: float, now: float | None = None) -> bool:
        """Whether the time budget, counted from ``started_at`` to ``now`` (default: the wall
        clock's now; the simulator passes its simulated time), is spent."""
        now = time.time() if now is None else now
        return self.max_time is not None and now - started_at >= self.max_time

    def overdue(self, started: float | None, now: float | None = None) -> bool:
        """Whether a trial that started at ``started`` (None: not yet) has run past
        ``max_trial_time``."""
        now = time.time() if now is None else now
        return self.max_trial_time is not None and started is not None \
            and now - started > self.max_trial_time

    def end_reason(self, value: Any, mode: str, resource_used: float) -> str | None:
        """"target" when ``value`` (a trial's result; None: no result to judge) reaches the
        target, "max_resource" when the resource is spent, else None."""
        if self.target is not None and is_finite_number(value) and (
                value >= self.target if mode == "max" else value <= self.target):
            return "target"
        if self.max_resource is not None and resource_used >= self.max_resource:
            return "max_resource"
        return None
