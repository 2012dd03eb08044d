"""What the loop tells the world: observers subscribe to a study's events.

Storage is one observer, the live widgets another; the loop knows neither. Each hook is called in the
loop's thread as the event happens, so an observer that writes (storage) has it on disk at once.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..trial import Trial


class Observer:
    """Base class with a no-op for every event; override the ones you need."""

    def study_started(self, info: dict[str, Any]) -> None:
        """The loop starts (info: study name, metric, mode, searcher, scheduler, cluster, the
        names of the data sent to the workers with the trials)."""

    def trial_created(self, trial: Trial) -> None:
        """A trial was submitted to the cluster (its config is fixed, state running)."""

    def trial_started(self, trial: Trial) -> None:
        """A worker began running the trial (``trial.worker`` and ``trial.started`` are set).

        Not called for a trial that ended within a moment of its start without a report
        (:mod:`nbtune.run.starts`): its ``trial_finished`` carries both."""

    def trial_waiting(self, trial: Trial) -> None:
        """The worker running the trial left the cluster: Dask runs it again on another worker
        when one is free, and meanwhile it waits (``trial.worker`` and ``trial.started`` are
        None again; its next start comes as ``trial_started``)."""

    def trial_reported(self, trial: Trial, report: dict[str, Any]) -> None:
        """The trial sent an intermediate report (already appended to ``trial.reports``)."""

    def trial_output(self, trial: Trial, text: str, warnings: list[dict[str, Any]]) -> None:
        """The trial wrote whole lines ``text`` (already added to ``trial.output``) or raised
        ``warnings`` new to it (already in ``trial.warnings``)."""

    def trial_finished(self, trial: Trial) -> None:
        """The trial reached a final or resumable state: completed, stopped, failed, interrupted."""

    def trial_rewound(self, trial: Trial) -> None:
        """A resumed study took the trial back to the checkpoint an earlier run kept of it: its
        reports past that one (``trial.reports`` holds those before) are trained again."""

    def trial_withdrawn(self, trial: Trial) -> None:
        """A trial created but never started by a worker was taken back when the study ended (it
        was queued behind the running ones): it is no longer among the study's trials."""

    def scheduler_connection(self, lost: bool) -> None:
        """The client lost its Dask scheduler (``lost``: it reconnects meanwhile, and nothing new
        is sent), or has it again (``lost`` False, after a loss only)."""

    def study_ending(self, reason: str) -> None:
        """The loop ends for ``reason`` (max_time, n_trials, interrupted, ...): the trials still
        running are halted and recorded next, then ``study_finished``. A view names their state
        by it ("cut by max_time") where it read "interrupted" for a frame in between."""

    def study_stopping(self, reason: str) -> None:
        """The user cut the study short (``reason`` "interrupted"): what is recorded from now
        on should not keep them waiting long (the trials' ends and the study's, then
        ``study_finished``)."""

    def study_finished(self, reason: str) -> None:
        """The loop ended; ``reason`` says why (n_trials, exhausted, max_time, target, ...)."""


class Broadcast(Observer):
    """Forwards every event to several observers, in order.

    Once :attr:`tolerant` (the loop sets it when the study fails), an observer that raises no
    longer keeps the others from the event: its error is kept in :attr:`failures` instead.
    """

    def __init__(self, observers: Iterable[Observer]):
        self.observers = list(observers)
        self.tolerant = False
        self.failures: list[tuple[str, int | None, Exception]] = []  # (hook, trial id, error)

    def _each(self, hook: str, *args: Any) -> None:
        for o in self.observers:
            method = getattr(o, hook, None)  # an observer of the user's may lack a newer hook
            if method is None:
                continue
            if not self.tolerant:
                method(*args)
                continue
            try:
                method(*args)
            except Exception as exc:
                self.failures.append((hook, getattr(args[0], "id", None) if args else None, exc))

    def study_started(self, info):
        self._each("study_started", info)

    def trial_created(self, trial):
        self._each("trial_created", trial)

    def trial_started(self, trial):
        self._each("trial_started", trial)

    def trial_waiting(self, trial):
        self._each("trial_waiting", trial)

    def trial_reported(self, trial, report):
        self._each("trial_reported", trial, report)

    def trial_output(self, trial, text, warnings):
        self._each("trial_output", trial, text, warnings)

    def trial_finished(self, trial):
        self._each("trial_finished", trial)

    def trial_rewound(self, trial):
        self._each("trial_rewound", trial)

    def trial_withdrawn(self, trial):
        self._each("trial_withdrawn", trial)

    def scheduler_connection(self, lost):
        self._each("scheduler_connection", lost)

    def study_ending(self, reason):
        self._each("study_ending", reason)

    def study_stopping(self, reason):
        self._each("study_stopping", reason)

    def study_finished(self, reason):
        self._each("study_finished", reason)
