"""The simulated loop: nbtune's searcher and scheduler on a blackbox, in simulated time.

It mirrors ``run/loop.py`` call for call (suggest, setup, on_trial_start, on_report at every
report, the verdict at each decision point, on_trial_end, next_action, on_trial_resume,
take_discarded, observe) with an event queue in place of Dask: each running trial has one pending
event, its next report (or its worker's death), at the simulated second it happens. A trial's
reports are its blackbox curve; a level costs the seconds the blackbox gives, and each
submission (a start, a resume, a retry) costs ``start_overhead`` more.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import trial as T
from ..contract.budget import Budget
from ..contract.dispatch import Dispatch
from ..contract.events import Observer
from ..contract.outcome import final_value
from ..contract.replay import start_searcher, timed
from ..contract.verdicts import PendingVerdicts, waits_at
from ..schedule import PAUSE, STOP, Scheduler
from ..search import Searcher
from .blackbox import Blackbox


@dataclass
class SimSettings:
    """How simulated trials run: metric, workers, the costs of a cluster, retries, the budget."""

    metric: str
    mode: str = "max"
    resource: str = "epoch"
    n_workers: int = 4
    start_overhead: float = 0.0  # simulated seconds from a submission to the first level's start
    checkpoints: bool = True  # a paused trial resumes where it paused (else from the start)
    failure_rate: float = 0.0  # chance that a submission's worker dies before it ends
    retries: int = 1
    seed: int = 0
    budget: Budget = field(default_factory=Budget)


@dataclass
class _Run:
    """A trial's live submission: the levels it runs, when each report is due, its worker."""

    trial: T.Trial
    number: int  # the submission's number (stale events of an older one are dropped)
    slot: int
    first: int  # index of its first level in the blackbox's levels
    times: np.ndarray  # simulated second of each of its reports
    values: np.ndarray  # the metric at every level of the blackbox
    dies_at: float | None  # when its worker dies, None: never
    next: int = 0  # position in times of the next report
    points: Any = ()


class Simulator(Dispatch):
    """Runs one study's trials on a blackbox in simulated time until its budget ends."""

    def __init__(self, blackbox: Blackbox, trials: list[T.Trial], searcher: Searcher,
                 scheduler: Scheduler, settings: SimSettings, observer: Observer,
                 warm: Any = None):
        self.blackbox, self.trials = blackbox, trials
        self.warm = warm  # a WarmStart: another study's ended trials, seeding the searcher
        self.searcher, self.scheduler, self.settings, self.observer = (searcher, scheduler,
                                                                       settings, observer)
        self.levels = [int(x) for x in blackbox.levels]
        self.clock = 0.0
        self.started_at = 0.0
        self.queue: list[tuple[float, int, int, int]] = []  # (time, seq, trial id, submission)
        self.seq = 0
        self.running: dict[int, _Run] = {}
        self.paused: dict[int, int] = {}  # trial -> index of the level it resumes at
        self.requeue: list[T.Trial] = []
        self.by_id: dict[int, T.Trial] = {t.id: t for t in trials}
        self.submitted: dict[int, int] = {}
        self.last_level: dict[int, float] = {}
        self.free_slots = list(range(settings.n_workers))
        self.verdicts = PendingVerdicts()
        self.resource_used = 0.0
        self.scheduler_done = False
        self.exhausted = False
        self.reason: str | None = None

    # -- budget ---------------------------------------------------------------------------
    def _check_study_budget(self, value: Any) -> None:
        if self.reason is None:
            self.reason = self.settings.budget.end_reason(value, self.settings.mode,
                                                          self.resource_used)

    # -- submitting ----------------------------------------------------------------------
    def _submit(self, trial: T.Trial, first: int = 0, resumed: bool = False) -> None:
        s = self.settings
        if not resumed:
            trial.attempts += 1
            self.scheduler.on_trial_start(trial.id, trial.config)
            trial.ran = None  # a run from the start: nothing before it counts
        self.searcher.on_trial_start(trial.id, trial.config)
        trial.state = T.RUNNING
        trial.worker, trial.started, trial.finished = None, None, None
        number = self.submitted.get(trial.id, 0) + 1
        self.submitted[trial.id] = number
        values, seconds = self.blackbox.curve(trial.config)
        start = self.clock + s.start_overhead
        times = start + np.cumsum(np.asarray(seconds[first:], dtype=float))
        dies_at = None
        if s.failure_rate > 0 and len(times):
            rng = np.random.default_rng([s.seed, trial.id, number])
            if rng.random() < s.failure_rate:
                dies_at = start + rng.random() * (times[-1] - start)
        slot = heapq.heappop(self.free_slots)
        run = _Run(trial, number, slot, first, times, values, dies_at,
                   points=self.scheduler.decision_points())
        self.running[trial.id] = run
        self.observer.trial_created(trial)
        self._push(start, run)

    def _push(self, at: float, run: _Run) -> None:
        heapq.heappush(self.queue, (at, self.seq, run.trial.id, run.number))
        self.seq += 1

    def _push_next(self, run: _Run) -> None:
        """The run's next event: its next report, or its worker's death when that comes first."""
        at = run.times[run.next]
        self._push(at if run.dies_at is None else min(at, run.dies_at), run)

    def _resume_paused(self, trial: T.Trial, first: int) -> None:
        self._submit(trial, first=first, resumed=True)

    def _now(self) -> float:
        return self.clock

    def _slots(self) -> int:
        return self.settings.n_workers

    def _busy_slots(self) -> int:
        return len(self.running) - len(self.verdicts.leaving)

    # -- events --------------------------------------------------------------------------
    def _on_event(self, trial_id: int, number: int) -> None:
        run = self.running.get(trial_id)
        if run is None or run.number != number:
            return
        trial = run.trial
        if trial.started is None:  # the worker begins: its first event is its start
            trial.worker, trial.started = f"sim-{run.slot}", self.clock
            self.observer.trial_started(trial)
            if len(run.times):
                self._push_next(run)
            else:  # resumed after its last level: it has nothing left to train
                self._complete(run)
            return
        if run.dies_at is not None and self.clock >= run.dies_at:
            self._worker_died(run)
            return
        self._on_report(run)

    def _on_report(self, run: _Run) -> None:
        trial, j = run.trial, run.first + run.next
        level, value = self.levels[j], float(run.values[j])
        self._record_report(trial, {self.settings.resource: level, self.settings.metric: value})
        run.next += 1
        top = self.scheduler.max_level()  # a report past max_t ends the trial, as on Dask
        last = run.next == len(run.times) or (top is not None and level > top)
        if waits_at(run.points, level):
            verdict = self.verdicts.take(trial.id)
            if verdict == STOP:
                self._done(run)
                self._fill()  # its successor starts before it is gone, as on Dask
                trial.value, _ = final_value(trial, None, self.settings.metric)
                self._finish(trial, T.STOPPED)
                return
            if verdict == PAUSE:
                self._done(run)
                self.paused[trial.id] = j + 1 if self.settings.checkpoints else 0
                trial.state, trial.finished = T.PAUSED, self.clock
                self.scheduler.on_trial_end(trial.id, T.PAUSED)
                timed(self.searcher, trial)
                self.searcher.on_trial_end(trial.id, trial.config, T.PAUSED, None)
                self.observer.trial_finished(trial)
                return
        if last:
            self._complete(run)
        else:
            self._push_next(run)

    def _complete(self, run: _Run) -> None:
        """The trial's function returned: its value is its last report of the metric."""
        trial = run.trial
        self._done(run)
        value, problem = final_value(trial, None, self.settings.metric)
        trial.value = value
        if problem is not None:
            self._finish(trial, T.FAILED, error=problem)
        else:
            self._finish(trial, T.COMPLETED)
            self._check_study_budget(value)

    def _record_report(self, trial: T.Trial, data: dict) -> None:
        trial.reports.append(data)
        level = data[self.settings.resource]
        self.resource_used += T.resource_step(self.last_level.get(trial.id, 0), level)
        self.last_level[trial.id] = level
        self.observer.trial_reported(trial, data)
        value = data.get(self.settings.metric)
        self.searcher.on_report(trial.id, trial.config, level,
                                value if T.is_finite_number(value) else None)
        self.verdicts.decide(trial.id, self.scheduler.on_report(trial.id, data))
        self._check_study_budget(None)  # a target counts results, as the real loop's does

    def _worker_died(self, run: _Run) -> None:
        trial = run.trial
        self._done(run)
        if trial.attempts <= self.settings.retries:
            self.requeue.insert(0, trial)
            trial.state = T.PENDING
            return
        self._finish(trial, T.FAILED, error="its worker died")

    def _done(self, run: _Run) -> None:
        """The submission is over: its worker is free."""
        self.running.pop(run.trial.id, None)
        self.verdicts.left(run.trial.id)
        heapq.heappush(self.free_slots, run.slot)

    def _finish(self, trial: T.Trial, state: str, error: str | None = None) -> None:
        trial.state, trial.error, trial.finished = state, error, self.clock
        self.verdicts.forget(trial.id)
        self.scheduler.on_trial_end(trial.id, state)
        timed(self.searcher, trial)
        self.searcher.on_trial_end(trial.id, trial.config, state, trial.value)
        self.observer.trial_finished(trial)

    # -- the loop ------------------------------------------------------------------------
    def _stop_running(self, state: str) -> None:
        for trial_id in list(self.paused):
            self._end_paused(self.by_id[trial_id],
                             self.scheduler.ends_paused_as(trial_id) or T.STOPPED)
        for trial_id in sorted(self.running, reverse=True):
            run = self.running.pop(trial_id)
            trial = run.trial
            if (trial.started is None and trial.attempts == 1 and not trial.reports
                    and self.trials[-1] is trial):
                self.trials.pop()
                del self.by_id[trial.id]
                self.searcher.on_trial_end(trial.id, trial.config, T.INTERRUPTED, None)
                self.observer.trial_withdrawn(trial)
            else:
                self._finish(trial, state, error=f"the study ended ({self.reason}) while it ran")

    def run(self) -> str:
        """Run until the budget ends; returns the reason the study stopped."""
        budget = self.settings.budget
        start_searcher(self.searcher, self.trials, self.settings.resource,
                       self.settings.metric, self.warm)
        self._fill()
        while self.running and self.reason is None:
            at, _, trial_id, number = heapq.heappop(self.queue)
            if budget.max_time is not None and at > self.started_at + budget.max_time:
                self.clock, self.reason = self.started_at + budget.max_time, "max_time"
                break
            self.clock = at
            self._on_event(trial_id, number)
            self._fill()
        if self.reason is None:
            n = budget.n_trials
            self.reason = ("scheduler" if self.scheduler_done else
                           "n_trials" if n is not None and len(self.trials) >= n else
                           "exhausted")
        self.observer.study_ending(self.reason)
        self._stop_running(T.INTERRUPTED)
        self.observer.study_finished(self.reason)
        return self.reason
