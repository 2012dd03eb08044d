"""The loop's side of where a trial goes on the cluster: what it asks of the workers, which
workers may take it, the worker a paused trial must resume on, and whether it may split its work
into tasks of its own. A mixin of :class:`~nbtune.run.loop.Loop`, whose ``capacity``
(:class:`~nbtune.run.resources.Capacity`: the workers as last looked up), ``held``, ``pinned``,
``settings`` and ``trials`` it reads."""
from __future__ import annotations

from typing import Any, Mapping

from .. import trial as T


class Placement:
    """Where the loop sends a trial, and what the trial asks there."""

    capacity: Any
    held: Any
    pinned: dict[int, str]
    settings: Any
    trials: list[T.Trial]

    def _asked(self) -> Mapping[str, float] | None:
        """What a trial sent now asks of the workers: the capacity's, decided again as workers
        join (:class:`~nbtune.run.resources.Capacity`), else the study's."""
        return getattr(self.capacity, "asked", self.settings.resources)

    def _home(self, trial: T.Trial) -> str | None:
        """The worker a paused trial must resume on, its checkpoint unable to leave it
        (:meth:`Keeping._heard_kept`), while that worker is there; else None. Strictly: Dask
        moved a loosely placed task to a free worker, and the transfer failed for good."""
        home = self.pinned.get(trial.id)
        return home if home in getattr(self.capacity, "workers", {home: None}) else None

    def _free_workers(self) -> list[str] | None:
        """Where a trial may go: None (anywhere) unless a trial of an ended study still keeps
        some worker busy; then the others, so that the trial does not queue behind it."""
        held = self.held.workers()
        if not held:
            return None
        free = [w for w in getattr(self.capacity, "workers", {}) if w not in held]
        return free or None  # all held: it waits in Dask's queue for the first one freed

    def _threads_to_spare(self) -> bool:
        """Whether a trial sent now may split its work into tasks of its own
        (:mod:`nbtune.run.subtasks`): the study has fewer trials left to send than the workers
        have threads, so threads will be free, and trials hold no Dask resources (a trial keeps
        its resources while it waits for its pieces, which could wait for the same ones)."""
        n = self.settings.budget.n_trials
        return (not self._asked() and n is not None
                and n - len(self.trials) < self.capacity())
