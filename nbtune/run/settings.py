"""What a study's loop is told: its budget, and how its trials run."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..contract.budget import Budget


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
    stored: bool = True  # whether a storage file keeps the study (else it cannot be resumed)
    restart_held: float | None = None  # seconds before a worker a halted trial keeps is restarted
    fail_fast: bool | str = "auto"  # when failed trials stop the study: nbtune.run.failfast
    keep_at: str | None = None  # the folder of paused trials' checkpoints (nbtune.run.kept)
    keep_shared: bool = False  # every worker reaches keep_at, not only the notebook's machine's
    run_id: str = ""  # this run's id (a new one where empty): the names of its Dask keys
