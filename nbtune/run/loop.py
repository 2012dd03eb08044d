"""The adaptive loop: suggest, submit, consume completions with ``as_completed``, route reports.

Every completion frees its slot at once for the next suggestion (no batches). Reports from running
trials are handled as they arrive: recorded through the observers, fed to the scheduler, and, at a
decision point, answered with a verdict the trial is waiting for.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any, Callable

from .. import trial as T
from ..schedule import Scheduler
from ..search import Searcher
from .inbox import Inbox, report_topic
from .embedded import studying
from .completions import LOST_WHILE_RUNNING, Completions
from .ending import Ending
from .intake import Intake
from .overdue import Overdue
from .keeping import Keeping, pause_lost_note
from . import kept
from .failure import unsaved_note
from .failfast import FailFast
from ..contract.events import Broadcast, Observer
from .held import held_note, held_workers
from .interrupts import interrupts_deferred
from ..contract.dispatch import Dispatch
from ..contract.outcome import no_checkpoint_note
from ..contract.replay import start_searcher
from ..contract.ties import RungTies
from .output import TrialOutputs
from .placement import Placement
from .resources import Capacity
from .settings import LoopSettings
from .task import TRIAL_KEY, PickledOnce, TrialSpec, run_trial
from .thinking import Thinking
from .verdicts import Verdicts

# Seconds between the loop's checks of its running trials' futures against what as_completed
# delivered (see Loop._reconcile).
RECONCILE_EVERY = 5.0


def new_run_id() -> str:
    """A new run's id: its trials' Dask keys, events and topics carry it."""
    return uuid.uuid4().hex[:12]


def run_prefix(run_id: str) -> str:
    """The prefix of run ``run_id``'s names on the cluster (its stop event, its halts): a study
    keeps its last run's, so that a resume stops what that run left running there."""
    return f"nbtune-{run_id}"


class Loop(Dispatch, Completions, Ending, Intake, Keeping, Overdue, Placement,
           Thinking):
    """Runs one study's trials on a Dask client until its budget ends, or an interrupt."""

    def __init__(self, client, fn: PickledOnce | Any, trials: list[T.Trial],
                 searcher: Searcher, scheduler: Scheduler, settings: LoopSettings,
                 observer: Observer, shared: dict[str, Any] | None = None,
                 capacity: Callable[[], int] | None = None, warm: Any = None,
                 pickled: PickledOnce | None = None,
                 send_again: Callable[[list[str]], dict[str, Any]] | None = None):
        self.client, self.fn, self.trials = client, fn, trials  # fn: what each trial's task
        # carries: the pickled function, or a future of it (run.sending.Sending.send)
        self.pickled = pickled  # its bytes, sent again should every worker that held them die
        self.sent_with: dict[Any, Any] = {}  # trial future -> the function future it took
        self.warm = warm  # a WarmStart: another study's ended trials, seeding the searcher
        self.searcher, self.scheduler, self.settings = searcher, scheduler, settings
        self.observer = observer
        self.outputs = TrialOutputs(observer)  # what the trials print, as it arrives
        self.run_id = settings.run_id or new_run_id()
        self.prefix = run_prefix(self.run_id)
        self.topic = report_topic(self.prefix)
        self.requeue = [t for t in trials if not t.is_finished]
        self.running: dict[Any, T.Trial] = {}   # future -> trial
        self.by_id: dict[int, T.Trial] = {t.id: t for t in trials}
        self.executions: dict[int, set[str]] = {}  # trial -> Dask executions of its submission
        self.overdue_held: list[dict[str, list[dict]]] = []  # trials past max_trial_time held
        self.submitted: dict[int, int] = {}  # trial -> the number of its live submission
        self.first_seq: dict[int, int] = {}  # trial -> reports made before its live submission
        self.paused: dict[int, Any] = {}  # trial -> the future of its (outcome, checkpoint)
        self.logs: dict[int, Any] = {}  # trial -> its worker's [log file, pid], where it has one
        self.resumed_from: dict[int, Any] = {}  # trial -> the pause its live submission resumes
        self.free_resend: set[int] = set()  # trials whose next submission is not a new attempt
        # trials cut short by the loss of the scheduler: run again once it is back
        self.cut_by_loss: list[T.Trial] = []
        self.ties = RungTies(scheduler.decision_points())  # rungs every trial reports alike at
        self.fail_fast = FailFast(  # failed trials that stop the study
            settings.fail_fast, settings.metric, settings.stored, trials=self.trials,
            space=getattr(searcher, "space", None))
        self.unstarted_deaths: dict[int, int] = {}  # trial -> its workers that died, unstarted
        self.pairs: dict[Any, Any] = {}  # outcome future -> its (outcome, checkpoint) future
        self.keeping: set[Any] = set()  # futures of (outcome, checkpoint): never fetched here
        self.ends: dict[int, dict] = {}  # trial -> the outcome its live submission sent
        self.last_level: dict[int, float] = {}  # trial -> the resource level it reported last
        # trial -> the highest resource level its live submission reported: one below it is a
        # loop that counts again from the start (over folds), named once a study
        self.pass_top: dict[int, float] = {}
        self.noted: set[str] = set()  # the kinds of note the study was given (run/completions.py)
        self.bare_pauses: set[int] = set()  # paused trials whose pause kept no checkpoint
        self.resumed_at: dict[int, float] = {}  # trial -> the level it resumed from a checkpoint
        self.checkpoint_at: dict[int, Any] = {}  # paused trial -> the level of its checkpoint
        # at, until its first report with a level after that
        self.kept_ids: set[int] = set()  # trials with a checkpoint file (nbtune.run.kept)
        self.best_final: tuple[int, float] | None = None  # (trial, value): whose final file
        # the study's folder holds, the best completed trial's (Keeping._heard_final)
        self.best_held: str | None = None  # the worker that holds it, where it is held there
        self.held_finals: set[str] = set()  # workers that hold any of this run's (kept.HELD)
        self.pinned: dict[int, str] = {}  # paused trial -> the worker its unpicklable state is on
        self.resume_now: list[tuple[T.Trial, Any]] = []  # restored trials that go straight on
        self.host = None if settings.keep_shared else kept.this_host()  # who writes keep_at
        self.folder = os.getcwd()  # the notebook's, where its relative paths lead
        self.verdicts = Verdicts(client, self.prefix)
        self.resource_used = 0.0  # the resource trained so far: counted in _replay
        self.scheduler_done = False
        self.reason: str | None = None
        self.wake = threading.Condition()
        self.started_at = time.time()
        self.exhausted = False
        self._futures = None
        self._done_seen: set[Any] = set()  # futures done, undelivered, at the last check
        self.heard_start: dict[int, float] = {}  # trial -> when its start came (monotonic)
        self._checked_at = time.monotonic()
        self.inbox: Inbox | None = None
        self.shared = shared or {}  # futures of with_parameters data, resolved on the workers
        self.data_keys = tuple((name, f.key) for name, f in self.shared.items())
        self.send_again = send_again  # that data sent again where the cluster lost it
        self.data_with: dict[Any, dict[str, Any]] = {}  # trial future -> the data it took
        self.data_waits = False  # lost data waits for a worker to take it again
        self.held = held_workers(client)  # workers that trials of ended studies keep busy
        self.address = getattr(getattr(client, "scheduler", None), "address", "?")
        self.lost = False  # whether the observers were told the scheduler was lost
        self.capacity = capacity or Capacity(client, settings.resources, held=self.held.workers)

    # -- submitting (the budget and the next trial: contract/dispatch.py) ----------------
    def _submit(self, trial: T.Trial, paused: Any = None) -> None:
        """Send the trial to the cluster: fresh (a new attempt) or resumed from ``paused``."""
        s = self.settings
        if self.shared:  # the data it reads, sent again where lost: also for a trial sent
            self._data_sent()  # again straight from its end, not through _fill (a retry of
            # one that never started, a pause resumed from its file)
        if paused is None:
            if trial.id in self.free_resend:  # its worker died before it started
                self.free_resend.discard(trial.id)
            else:
                trial.attempts += 1
            self.scheduler.on_trial_start(trial.id, trial.config)
            self.resumed_from.pop(trial.id, None)
            self.resumed_at.pop(trial.id, None)
            trial.ran = None  # a run from the start: nothing before it counts
            if trial.attempts > 1:  # a checkpoint of its last attempt is not this one's
                self.kept_ids.discard(trial.id)
                kept.forget(self._keep_at(), trial.id)
        else:
            self.resumed_from[trial.id] = paused
        self.searcher.on_trial_start(trial.id, trial.config)
        trial.state = T.RUNNING
        trial.worker, trial.started, trial.finished = None, None, None
        number = self.submitted.get(trial.id, 0) + 1
        self.executions[trial.id], self.submitted[trial.id] = set(), number
        self.first_seq[trial.id] = len(trial.reports)
        self.pass_top.pop(trial.id, None)  # a retry or a resume: a run of its own
        self.outputs.begin(trial, fresh=paused is None)
        spec = TrialSpec(trial_id=trial.id, topic=self.topic, prefix=self.prefix,
                         resource=s.resource, wait_at=self.scheduler.decision_points(),
                         verdict_timeout=s.verdict_timeout, attempt=number,
                         first_seq=len(trial.reports), keep_checkpoint=self.scheduler.pauses,
                         stream_output=s.show_output, data_keys=self.data_keys,
                         may_split=self._threads_to_spare(),
                         report_to=self.inbox.address if self.inbox is not None else None,
                         keep_at=self._keep_at(), host=self.host, metric=s.metric,
                         folder=self.folder, keep_best=self._to_beat(),
                         end_at=self.scheduler.max_level())
        key = f"{TRIAL_KEY}-{self.run_id}-{trial.id}-{number}"
        home = self._home(trial) if paused is not None else None
        future = self.client.submit(run_trial, self.fn, trial.config, spec, self.shared, paused,
                                    pure=False, key=key, resources=self._asked(),
                                    workers=[home] if home else self._free_workers(),
                                    priority=-trial.id)  # queued ones start oldest first
        if not isinstance(self.fn, PickledOnce):
            self.sent_with[future] = self.fn
        if self.shared:
            self.data_with[future] = self.shared
        if spec.keep_checkpoint:  # the outcome comes as a message; the pair stays out there
            self.keeping.add(future)
        self.ends.pop(trial.id, None)
        self.running[future] = trial
        self._futures.add(future)
        self.observer.trial_created(trial)

    def _resume_paused(self, trial: T.Trial, paused: Any) -> None:
        held = self._held_pause(trial, paused)
        if held is None:  # its checkpoint was lost with its worker, and no file holds it
            self._note("pause lost", lambda: pause_lost_note(trial.id))
            self._finish(trial, T.INTERRUPTED, error="its checkpoint was lost with its worker")
            return
        paused = held
        at = trial.resource(self.settings.resource)
        if trial.id in self.bare_pauses:
            self._note("no checkpoint", lambda: no_checkpoint_note(
                trial.id, self.settings.resource, at))
        else:  # its first report with a level tells whether it went on from its checkpoint's:
            # a pause at a report without one resumes from an earlier report's (check round 53)
            taken = self.checkpoint_at.pop(trial.id, at)
            if taken is not None:
                self.resumed_at[trial.id] = taken
        self._submit(trial, paused=paused)

    def _end_paused(self, trial: T.Trial, state: str = T.STOPPED) -> None:
        Dispatch._end_paused(self, trial, state)
        self.checkpoint_at.pop(trial.id, None)
        self._let_go(trial)
        self._note_ended(trial)  # one never promoted: a rung it could not be judged at, say

    def _now(self) -> float:
        return time.time()

    def _fill(self) -> None:
        if self._scheduler_lost():
            return  # nothing new is sent while the client reconnects
        if not self._data_sent():
            return  # nor while the data the trials read waits for a worker to take it again
        Dispatch._fill(self)

    def _scheduler_lost(self) -> bool:
        """Whether the client lost its scheduler (it reconnects, or gave up): Dask then cancels
        the running trials, and nothing sent now could run. The observers hear of each change
        (the panel says it reconnects, where it would otherwise sit unchanged for seconds)."""
        lost = getattr(self.client, "status", "running") not in ("running", "newly-created")
        if lost != self.lost:
            self.lost = lost
            self.observer.scheduler_connection(lost)
            if not lost and self.cut_by_loss:  # back: they go first, as a next attempt
                self.requeue[:0], self.cut_by_loss = self.cut_by_loss, []
        return lost

    def _end_cut_by_loss(self) -> None:
        """The trials the scheduler's loss cut short, recorded as interrupted where they are
        not run again (the study ends, or the client gave up: ``_failed`` stops it so)."""
        cut, self.cut_by_loss = self.cut_by_loss, []
        for trial in cut:
            self._finish(trial, T.INTERRUPTED, error=LOST_WHILE_RUNNING)

    def _slots(self) -> int:
        """Trials to keep in flight: the concurrency asked for, else what the workers run at
        once and one more queued on each worker, which starts there as soon as the trial before
        it ends, without waiting for the notebook to hear of that end and send the next."""
        return self.settings.concurrency or self.capacity() + getattr(self.capacity, "able", 0)

    def _busy_slots(self) -> int:
        """Running trials, less those told to stop: they end at once, and the trial that takes
        their place already waits in Dask's queue, so their worker never idles for a round trip
        to the notebook."""
        return len(self.running) - len(self.verdicts.leaving)

    def _check_study_budget(self, value: Any) -> None:
        if self.reason is None:
            self.reason = self.settings.budget.end_reason(value, self.settings.mode,
                                                          self.resource_used)

    # -- the loop ------------------------------------------------------------------------
    def _sleep(self, inbox: Inbox) -> None:
        timeout = 1.0
        if self.settings.budget.max_time is not None:
            left = self.started_at + self.settings.budget.max_time - time.time()
            timeout = max(0.0, min(timeout, left))
        overdue = self._next_overdue()
        if overdue is not None:
            timeout = min(timeout, overdue + 0.01)
        cond = getattr(self._futures, "thread_condition", None)
        if cond is None:  # an as_completed without its condition: poll
            time.sleep(min(timeout, 0.005))
            return
        with cond:
            if not (self._futures.has_ready() or inbox.messages or self._answer_ready()):
                cond.wait(timeout)

    def _replay(self) -> None:
        """Tell the scheduler what the finished trials of a resumed study did, so its rungs hold
        their values, and the searcher the warm start's trials, then the study's own in the
        order they ended, so its model holds them. The unfinished ones run again: from the
        checkpoint an earlier run kept of them, where it did (:mod:`nbtune.run.keeping`), else
        from their beginning."""
        saved = self._restorable()
        self._find_final()
        for trial in self.trials:  # in the order they started: a bracket's members
            if trial.id in saved:
                self._replay_restored(trial, saved[trial.id])
            elif trial.is_finished:
                self.scheduler.on_trial_start(trial.id, trial.config)
                for data in trial.reports:
                    self.scheduler.on_report(trial.id, data)
                self.scheduler.on_trial_end(trial.id, trial.state)
        self.resource_used = sum(t.trained(self.settings.resource) for t in self.trials)
        restored = set(self.paused) | {t.id for t, _ in self.resume_now}  # as paused, then
        start_searcher(self.searcher, self.trials, self.settings.resource,  # sent again
                       self.settings.metric, self.warm,
                       paused=[t for t in self.trials if t.id in restored])

    def _reconcile(self) -> None:
        """Take the end of a trial whose task is done but whose completion never came through
        ``as_completed``, as if it had: a resumed promotion study once waited a minute on a
        trial that had paused, its slot held (first-day test, round 18; not reproduced). Every
        :data:`RECONCILE_EVERY` seconds, a future found done at two checks in a row is taken,
        and a running trial whose worker left the cluster is shown waiting for another."""
        now = time.monotonic()
        if now - self._checked_at < RECONCILE_EVERY:
            return
        self._checked_at = now
        done = {future for future in self.running if future.done()}
        for future in done & self._done_seen:
            self._on_done(future)
        self._done_seen = done
        for trial in self.capacity.left(self.running.values(), self.heard_start):
            trial.worker = trial.started = None  # it waits for Dask to run it elsewhere
            self.observer.trial_waiting(trial)

    def request_stop(self, reason: str = "stopped") -> None:
        """End the study from another thread (a background study's ``stop()``; ``reason``
        "taken_over" where another run took its lease)."""
        if self.reason is None:
            self.reason = reason
        cond = getattr(self._futures, "thread_condition", self.wake)
        with cond:
            cond.notify_all()

    def run(self) -> str:
        """Run until the budget ends; returns the reason the loop stopped."""
        with studying(self.client):  # its cluster is not idle meanwhile
            return self._run()

    def _run(self) -> str:
        from distributed import as_completed

        self._futures = as_completed([], loop=self.client.loop)
        inbox = self.inbox = Inbox(self.client, self.topic, self._futures.thread_condition
                                   if hasattr(self._futures, "thread_condition") else self.wake)
        self.verdicts.stream = inbox.listener
        try:
            self._replay()
            self._think_apart(getattr(self._futures, "thread_condition", self.wake))
            if self.held.trials():
                self.held.recheck()  # an end may have gone unheard
            held = self.held.trials()
            if held:
                print(held_note(held, workers=self._worker_count()))
            for trial, paused in self.resume_now:  # restored where its rung promotes it
                trial.resuming()
                self._resume_paused(trial, paused)
            self._fill()
            while (self.running or self._scheduler_lost() or self._thinking()
                   or self.data_waits) and self.reason is None:
                self._sleep(inbox)
                done = self._futures.next_batch(block=False)  # then the messages sent before
                for msg in inbox.drain():
                    self._on_message(msg)
                for future in done:
                    self._on_done(future)
                self._reconcile()
                self._end_overdue()
                self._take_held_overdue()
                if self.reason is None and self.settings.budget.time_up(self.started_at):
                    self.reason = "max_time"
                if self._scheduler_lost() and self.client.status in ("closing", "closed"):
                    raise ConnectionError(f"lost the Dask scheduler at {self.address}: the "
                                          "client gave up reconnecting (is it still running?)")
                self._fill()
            if self.reason is None:
                n = self.settings.budget.n_trials
                self.reason = ("scheduler" if self.scheduler_done else
                               "n_trials" if n is not None and len(self.trials) >= n else
                               "exhausted")
            self.observer.study_ending(self.reason)
            self._stop_running(T.INTERRUPTED)
            self._stop_thinking()
        except KeyboardInterrupt:
            self.reason = "interrupted"
            if isinstance(self.observer, Broadcast):
                self.observer.tolerant = True  # a file another process locks: what can be saved
            with interrupts_deferred():  # a second interrupt must not cut the bookkeeping short
                self.observer.study_ending(self.reason)
                self.observer.study_stopping(self.reason)  # and it waits for no long lock
                self._stop_running(T.INTERRUPTED)
                self._stop_thinking(raise_error=False)
                inbox.close()
                self.observer.study_finished(self.reason)
            unsaved_note(getattr(self.observer, "failures", []))
            return self.reason
        except Exception as exc:  # storage, the scheduler, an observer: not the trials
            raise self._failed(exc) from None
        finally:
            self._stop_thinking(raise_error=False)
            inbox.close()
        self.observer.study_finished(self.reason)
        return self.reason
