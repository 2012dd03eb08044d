"""What a study's loop is told: its budget, and how its trials run."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..trial import is_finite_number


@dataclass
class Budget:
    """When the study ends: trial count, wall clock, a target value, total resource."""

    n_trials: int | None = None
    max_time: float | None = None
    target: float | None = None
    max_resource: float | None = None

    def allows_trial(self, created: int) -> bool:
        """Whether another trial may start after ``created`` of them."""
        return self.n_trials is None or created < self.n_trials

    def time_up(self, started_at: float) -> bool:
        """Whether the wall-clock budget, counted from ``started_at``, is spent."""
        return self.max_time is not None and time.time() - started_at >= self.max_time

    def end_reason(self, value: Any, mode: str, resource_used: float) -> str | None:
        """"target" when ``value`` reaches the target, "max_resource" when the resource is
        spent, else None."""
        if self.target is not None and is_finite_number(value) and (
                value >= self.target if mode == "max" else value <= self.target):
            return "target"
        if self.max_resource is not None and resource_used >= self.max_resource:
            return "max_resource"
        return None


@dataclass
class LoopSettings:
    """How trials run: metric and mode, concurrency, Dask resources, retries."""

    metric: str
    mode: str = "max"
    resource: str = "epoch"
    concurrency: int | None = 1  # None: what the workers' threads and resources allow
    resources: dict[str, float] | None = None
    retries: int = 1
    verdict_timeout: float = 600.0
    show_output: bool = False  # stream the trials' output as they write it, not only with reports
    budget: Budget = field(default_factory=Budget)
    study: str = ""  # the study's name, for what the user is told
    restart_held: float | None = None  # seconds before a worker a halted trial keeps is restarted
