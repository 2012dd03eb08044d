"""The scheduler interface: when a running trial continues or stops.

Schedulers are pure: the loop feeds them reports with plain method calls and carries their verdicts
back to the running trials. They never touch Dask, storage or the notebook.
"""
from __future__ import annotations

from typing import Any, Sequence

CONTINUE = "continue"
STOP = "stop"


class Scheduler:
    """Base class: decides, for each report of a running trial, whether it goes on.

    A trial waits for the verdict only at its decision points (the resource levels returned by
    :meth:`decision_points`); elsewhere it reports and trains on without a round trip.
    """

    name = "scheduler"

    def setup(self, metric: str, mode: str, resource: str) -> None:
        """Receive the study's metric, mode ('min' or 'max') and resource key before the first trial."""
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.metric, self.mode, self.resource = metric, mode, resource

    def decision_points(self) -> Sequence[float] | None:
        """Resource levels at which a trial waits for a verdict; ``()`` never, ``None`` every report."""
        return ()

    def on_trial_start(self, trial_id: int, config: dict[str, Any]) -> None:
        """A trial was started (fresh or retried)."""

    def on_report(self, trial_id: int, report: dict[str, Any]) -> str:
        """A trial reported; return :data:`CONTINUE` or :data:`STOP`."""
        return CONTINUE

    def on_trial_end(self, trial_id: int, state: str) -> None:
        """A trial left the running set (completed, stopped, failed or interrupted)."""

    def better(self, a: float, b: float) -> bool:
        """True when metric value ``a`` is strictly better than ``b`` under the study's mode."""
        return a > b if self.mode == "max" else a < b

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class FIFOScheduler(Scheduler):
    """Runs every trial to its end (no early stopping): the default."""

    name = "fifo"
