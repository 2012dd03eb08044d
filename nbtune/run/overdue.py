"""Trials past ``max_trial_time``: each one ended where it is, its thread halted on its worker,
and its worker kept from new trials (and restarted, where the study asks) while a thread the
halt cannot reach holds it. A trial that hung (a data loader, a lock) kept its worker, and a
study without ``max_time`` open, for good (first-day test, round 67).

A mixin of :class:`nbtune.run.loop.Loop`, which holds the state these read, its ``_finish``
and its ``_note_held`` (:class:`nbtune.run.ending.Ending`).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from .. import trial as T
from ..contract.outcome import final_value
from .halt import HALT_WAIT, halt_study

PAST_TRIAL_TIME = "it ran past max_trial_time"  # how each such trial's error begins


def past_time(limit: float) -> str:
    """The start of the error of a trial ended past ``limit`` seconds."""
    return f"{PAST_TRIAL_TIME}={limit:g} s"


def past_time_limit(error: str | None) -> str | None:
    """The limit (``"1.5"``) that ended a trial whose error is ``error``, as :func:`past_time`
    wrote it; None for a trial no limit ended."""
    if not (error or "").startswith(PAST_TRIAL_TIME + "="):
        return None
    return error[len(PAST_TRIAL_TIME) + 1:].partition(" s")[0]


class Overdue:
    """Ends the running trials past ``max_trial_time`` (a mixin: see the module's docstring)."""

    running: dict[Any, T.Trial]  # future -> trial
    executions: dict[int, set[str]]  # trial -> the executions of it heard to start
    sent_with: dict[Any, Any]
    data_with: dict[Any, dict[str, Any]]
    pairs: dict[Any, Any]
    keeping: set[Any]  # futures whose trial keeps its checkpoint on its worker
    resumed_from: dict[int, Any]  # trial -> the pause its running segment resumed from
    verdicts: Any
    settings: Any
    client: Any
    prefix: str
    _finish: Callable[..., None]
    _note_held: Callable[..., None]
    _resend: Callable[[T.Trial, Any], None]
    overdue_held: list[dict[str, list[dict]]]  # the halts' answers, as they come

    def _end_overdue(self) -> None:
        """End each running trial that started more than ``max_trial_time`` seconds ago: one
        that reported its metric is ``stopped`` there with its last value, as a scheduler
        stops it; one that did not is ``failed``. Its thread is halted on its worker (in the
        background: the loop goes on meanwhile), and what the halt cannot stop is held."""
        budget = self.settings.budget
        if budget.max_trial_time is None:
            return
        now = time.time()
        for future, trial in list(self.running.items()):
            if not budget.overdue(trial.started, now):
                continue
            self._let_go_of(future, trial)
            self._halt_overdue(trial)
            ran = past_time(budget.max_trial_time)
            value, _ = final_value(trial, None, self.settings.metric)
            if value is not None:
                trial.value = value
                self._finish(trial, T.STOPPED, error=f"{ran}: stopped at its last report")
            else:
                self._finish(trial, T.FAILED, error=f"{ran} and reported no "
                             f"{self.settings.metric!r}")

    def _let_go_of(self, future: Any, trial: T.Trial) -> None:
        """Cancel the trial's task and forget it, as the loop forgets a task that ended."""
        del self.running[future]
        for table in (self.sent_with, self.data_with, self.pairs):
            table.pop(future, None)
        self.keeping.discard(future)
        self.resumed_from.pop(trial.id, None)
        self.verdicts.left(trial.id)
        self.client.cancel([future])

    def _halt_overdue(self, trial: T.Trial) -> None:
        """Halt the trial's thread on its worker; the workers whose thread it could not stop
        are taken by the loop's next :meth:`_take_held_overdue`."""
        executions = sorted(self.executions.get(trial.id, ()))
        if not executions:
            return
        held = halt_study(self.client, self.prefix, HALT_WAIT, executions=executions,
                          workers=[trial.worker] if trial.worker else None)

        def wait() -> None:
            self.overdue_held.append(held(HALT_WAIT + 2.0))

        threading.Thread(target=wait, name=f"{self.prefix}-overdue", daemon=True).start()

    def _next_overdue(self) -> float | None:
        """Seconds until the next running trial passes ``max_trial_time`` (None: none will)."""
        limit = self.settings.budget.max_trial_time
        if limit is None:  # asked on each of the loop's waits: nothing to scan
            return None
        started = [t.started for t in self.running.values() if t.started is not None]
        if not started:
            return None
        return max(0.0, min(started) + limit - time.time())

    def _take_held_overdue(self) -> None:
        """The halts' answers that came: their held workers kept apart (``_note_held``)."""
        while self.overdue_held:
            answers = self.overdue_held.pop(0)
            self._note_held(answers, f"when {past_time(self.settings.budget.max_trial_time)}")
            self._move_off(set(answers))

    def _move_off(self, workers: set[str]) -> None:
        """Send elsewhere the trials Dask queued on ``workers`` before they were held: each
        would wait there for the held thread to leave (15 s in a test, a worker idle beside
        it), and goes first in the queue, without an attempt charged."""
        if not workers:
            return
        try:  # all workers': one named that left meanwhile (restarted) failed on the scheduler
            queued = {key for worker, keys in self.client.processing().items()
                      if worker in workers for key in keys}
        except Exception:  # the scheduler lost meanwhile: they run there, later
            return
        for future, trial in list(self.running.items()):
            if future.key in queued and trial.started is None:
                resumed = self.resumed_from.get(trial.id)  # a pause it was to resume from
                self._let_go_of(future, trial)
                self._resend(trial, resumed)
