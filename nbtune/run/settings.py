"""What a study's loop is told: its budget, and how its trials run."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Budget:
    """When the study ends: trial count, wall clock, a target value, total resource."""

    n_trials: int | None = None
    max_time: float | None = None
    target: float | None = None
    max_resource: float | None = None


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
    budget: Budget = field(default_factory=Budget)
