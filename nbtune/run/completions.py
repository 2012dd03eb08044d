"""How a study's loop takes a trial's end: its result read and recorded (completed, stopped, failed
or paused), a trial whose worker died retried or sent again, and the trial's final state passed to
the scheduler, the searcher and the observers.

A mixin of :class:`nbtune.run.loop.Loop`, which holds the state these read (as
:class:`nbtune.run.ending.Ending` is).
"""
from __future__ import annotations

import time
from typing import Any, Callable

from .. import trial as T
from ..caller import warn_note
from ..contract.outcome import (NEVER_REPORTED, final_value, off_rungs_note, past_max_t_note,
                                short_of_max_t_note, unjudged_note)
from ..contract.replay import timed
from .failfast import FailFast
from .hints import by_name_hint, with_hints
from .deaths import memory_restart
from .worker_setup import last_words
from .keeping import unrestored_note
from .resources import worker_info
from .sending import held
from .task import outcome_of

WORKER_DIED = ("KilledWorker", "CommClosedError")  # the trial's worker went away
LOST_WHILE_RUNNING = "the Dask scheduler was lost while it ran"

# Times a trial queued on a worker is sent again, free, when that worker dies before the trial's
# start message arrived (sent late by a trial silent at first: nbtune.run.starts): a trial that
# kills its worker before that message leaves it would otherwise be sent again for ever; past
# this, each such death counts as an attempt.
UNSTARTED_DEATHS = 1
# Seconds of silence after which the loop stops waiting for the messages a trial sent straight to
# the notebook when its task's end arrived first (they left the worker before it: only a
# connection that broke with them on it keeps them away this long).
END_WAIT = 2.0


class Completions:
    """A trial's end, as its future completes (a mixin: see the module's docstring)."""

    running: dict[Any, T.Trial]  # future -> trial
    sent_with: dict[Any, Any]  # future -> the future of the function's bytes it took
    pickled: Any  # those bytes (a PickledOnce), or None
    shared: dict[str, Any]  # the futures of the data the trials read, by name
    data_with: dict[Any, dict[str, Any]]  # future -> those futures, as the trial took them
    send_again: Callable[[list[str]], dict[str, Any]] | None  # the data sent again, by name
    data_waits: bool  # lost data waits for a worker to take it, and trials for the data
    requeue: list[T.Trial]
    cut_by_loss: list[T.Trial]
    fail_fast: FailFast
    reason: str | None
    logs: dict[int, Any]  # trial -> its worker's [log file, pid], where nbtune's cluster keeps one
    address: str  # the cluster's scheduler

    def _on_done(self, future) -> None:
        trial = self.running.pop(future, None)
        took = self.sent_with.pop(future, None)  # the future of the function's bytes it took
        took_data = self.data_with.pop(future, {})  # the futures of the data it took
        pair = self.pairs.pop(future, None)
        keeps = future in self.keeping
        self.keeping.discard(future)
        if trial is None:
            return
        outcome = self.ends.pop(trial.id, None)
        if keeps and future.status == "finished" and outcome is None:
            self._ask_outcome(trial, future)
            return
        resumed = self.resumed_from.pop(trial.id, None)  # that checkpoint is no longer needed
        self.verdicts.left(trial.id)
        if future.status == "finished":
            # the outcome as its trial sent it (straight, or keeping its checkpoint), else the
            # task's result, fetched
            if outcome is None:
                outcome = self._after_its_messages(trial, future.result())
            self._on_result(trial, outcome, future if keeps else pair)
        elif future.status == "cancelled":
            lost = self._scheduler_lost()
            if lost and self._withdrawable(trial):  # it waited in a queue: it never ran
                self._withdraw(trial)
                return
            if lost and trial.attempts <= self.settings.retries:  # not its doing: it runs again
                self.cut_by_loss.append(trial)  # once the scheduler is back (3 of 12 trials
                trial.state = T.PENDING  # were lost to a scheduler's restart: first-day, 10)
                return
            if not lost and self._function_lost(took):  # the notebook has the bytes: sent
                self._resend_after_loss(trial, resumed)  # again, and the trial with them
                return
            if not lost and resumed is not None and not held(resumed) \
                    and trial.started is None:  # the pause it was to resume from went with
                self._resume_paused(trial, resumed)  # its worker: from the file its worker
                return  # kept of it, where there is one (check round 56)
            if not lost and not all(map(held, took_data.values())):  # the data it read
                # was lost with its workers: the notebook sends it again as the trial goes
                # again (_submit, _data_sent), as a worker's death sends it (a study of notebook
                # arrays ended there, its trial failed for good: first-day test, round 55)
                self._resend_after_loss(trial, resumed, "the data it read")
                return
            self._finish(trial, T.INTERRUPTED, error=LOST_WHILE_RUNNING if lost else "cancelled")
        else:
            exc = future.exception()
            if type(exc).__name__ in WORKER_DIED and self._unstarted(trial):
                self._resend(trial, resumed)
                return
            if type(exc).__name__ in WORKER_DIED and trial.attempts <= self.settings.retries:
                self.requeue.insert(0, trial)  # same trial, next attempt
                trial.state = T.PENDING
                return
            what = (self._died(trial) if type(exc).__name__ in WORKER_DIED
                    else by_name_hint(f"Dask could not run it: {type(exc).__name__}: {exc}"))
            self._finish(trial, T.FAILED, error=what)

    def _died(self, trial: T.Trial) -> str:
        """"its worker died", with why where Dask recorded it (its nanny restarted it for its
        memory), or the last line the worker process wrote to its log where nbtune's cluster
        keeps one (a crash's "Fatal Python error: ..."), and the log's path."""
        memory = memory_restart(self.client, trial.worker, trial.started)
        if memory:
            return f"its worker died: {memory}"
        log = self.logs.get(trial.id)
        if not log:
            return "its worker died"
        path, pid = log
        words = last_words(path, pid)
        return (f"its worker died; its last words: {words} (its log: {path})" if words
                else f"its worker died (its log: {path})")

    def _function_lost(self, took: Any) -> bool:
        """Whether the future of the function's bytes that a cancelled trial took is lost
        (every worker that held it died), where the loop has the bytes to send again: a small
        function's loss would end the study, where inside each task it never could. Sent
        again once: the trials cancelled after it took the lost one too."""
        if took is None or self.pickled is None \
                or held(took):
            return False
        if took is self.fn:
            try:
                self.fn = self.client.scatter(self.pickled, hash=False, broadcast=True)
            except Exception:  # no worker to take them now: inside each task from here on
                self.fn = self.pickled
        return True

    def _resend_after_loss(self, trial: T.Trial, resumed: Any,
                           what: str = "the function's bytes") -> None:
        """A trial cancelled with the function or data it took (``what``): sent again, as a
        worker's death sends it (not charged an attempt where it never started)."""
        if self._unstarted(trial):
            self._resend(trial, resumed)
        elif trial.attempts <= self.settings.retries:
            self.requeue.insert(0, trial)  # same trial, next attempt
            trial.state = T.PENDING
        else:
            self._finish(trial, T.FAILED, error=f"its worker died ({what} with it)")

    def _data_sent(self) -> bool:
        """Whether the data the trials read (with_parameters', a notebook's arrays) is on the
        cluster: sent again, from the notebook's values, where the cluster lost it (Dask keeps
        one copy of data no task waits for, and its worker died; or the scheduler restarted),
        once a worker is there to take it. False while none is: the study waits for one, as
        its trials would (``data_waits``, where there is work to send)."""
        gone = [name for name, future in self.shared.items() if not held(future)]
        self.data_waits = False
        if not gone:
            return True
        if self.send_again is None:  # a loop given no way to send it: its trials end as
            return True  # their worker's death ends them (_on_done)
        try:
            sent = self.send_again(gone) if worker_info(self.client) else None
        except TimeoutError:  # the worker left meanwhile
            sent = None
        if sent is None:
            self.data_waits = bool(self.requeue or self.paused or self._budget_left())
            return False
        self.shared = {**self.shared, **sent}
        self.data_keys = tuple((name, f.key) for name, f in self.shared.items())
        return True

    def _after_its_messages(self, trial: T.Trial, out: dict) -> dict:
        """The outcome ``out`` of a trial whose task's end came before its "end" message: where
        the trial sent its messages straight (:mod:`nbtune.run.stream`), the ones before that
        "end" are still on their way (the notebook's reading thread may lag behind the client's
        event loop on a busy machine). Take them first, so that none is dropped as late (a
        report is in the outcome too, but output streamed with it would be missing from the live
        view): wait while its worker's connection is open and messages keep coming, none
        ``END_WAIT`` seconds apart."""
        listener = self.inbox.listener if self.inbox is not None else None
        if not out.get("direct") or listener is None:
            return out
        heard = time.monotonic()
        while trial.id not in self.ends and listener.connected(out["worker"]):
            left = heard + END_WAIT - time.monotonic()
            if left <= 0:
                break
            self.inbox.wait(left)
            messages = self.inbox.drain()
            if messages:
                heard = time.monotonic()
            for msg in messages:
                self._on_message(msg)
        return self.ends.pop(trial.id, out)

    def _ask_outcome(self, trial: T.Trial, pair: Any) -> None:
        """The outcome of a finished (outcome, checkpoint) task whose "end" message did not come:
        split it on the worker that holds it, and take that half. Dask placed the split on a
        free worker while the holder ran another trial: a checkpoint that could not be pickled
        never got there, and the study waited until max_time (a make test run); a model's
        would have been copied there for nothing."""
        try:
            holders = list(self.client.who_has([pair]).get(pair.key, ()))
        except Exception:  # the scheduler lost: Dask decides, as it would anyway
            holders = []
        future = self.client.submit(outcome_of, pair, key=f"{pair.key}-outcome",
                                    workers=holders or None, allow_other_workers=False)
        self.pairs[future] = pair
        self.running[future] = trial
        self._futures.add(future)

    def _unstarted(self, trial: T.Trial) -> bool:
        """Whether the trial's worker died while the trial waited in its queue: no start message
        came from it (they arrive before the task's failure; see :meth:`run`)."""
        if trial.started is not None or self.executions.get(trial.id):
            return False
        deaths = self.unstarted_deaths.get(trial.id, 0)
        self.unstarted_deaths[trial.id] = deaths + 1
        return deaths < UNSTARTED_DEATHS

    def _resend(self, trial: T.Trial, resumed: Any = None) -> None:
        """Send again a trial that never started, as the same attempt: a resumed one resumes
        from the same pause, a fresh one goes first in the queue."""
        if resumed is not None:
            self._submit(trial, paused=resumed)
            return
        self.free_resend.add(trial.id)
        self.requeue.insert(0, trial)
        trial.state = T.PENDING

    def _on_result(self, trial: T.Trial, out: dict, pair: Any = None) -> None:
        self.outputs.end(trial, out)
        self._heard_kept(trial, out)
        if out.get("unrestored"):  # its start message, which says so too, went unsent
            self._note("unrestored", lambda: unrestored_note(trial.id, out["unrestored"]))
        for seq, data in enumerate(out["reports"], start=out["first_seq"] + 1):
            if seq > len(trial.reports):
                self._record_report(trial, seq, data)
        trial.worker, trial.started = out["worker"], out["started"]
        unmeasured = self._unmeasured(trial, out)
        if unmeasured is not None:  # its rung judged it on a metric it never reported
            self._finish(trial, T.FAILED, error=unmeasured, finished=out["finished"])
            return
        if out["state"] == "paused":
            self.paused[trial.id] = pair
            seq = out.get("checkpoint_seq") or 0
            if 0 < seq <= len(trial.reports):  # the report its checkpoint came with
                self.checkpoint_at[trial.id] = trial.reports[seq - 1].get(self.settings.resource)
            if out.get("checkpointed", True):
                self.bare_pauses.discard(trial.id)
            else:  # resumed, it trains again from the beginning
                self.bare_pauses.add(trial.id)
            self.verdicts.paused(trial.id, self.submitted[trial.id], len(trial.reports))
            trial.state, trial.finished = T.PAUSED, out["finished"]
            self.scheduler.on_trial_end(trial.id, T.PAUSED)
            timed(self.searcher, trial)
            self.searcher.on_trial_end(trial.id, trial.config, T.PAUSED, None)
            self.observer.trial_finished(trial)
            self.fail_fast.ended(trial)  # a trial that trains: not the cell failing
            return
        if out["state"] == "failed":
            self._finish(trial, T.FAILED, error=out["error"], finished=out["finished"])
            return
        value, problem = final_value(trial, out["returned"], self.settings.metric)
        trial.value = value
        if out["state"] == "stopped":
            self._finish(trial, T.STOPPED, finished=out["finished"])
        elif problem is not None:
            self._finish(trial, T.FAILED, error=problem, finished=out["finished"])
        else:
            self._finish(trial, T.COMPLETED, finished=out["finished"])
            self._check_study_budget(value)
        if "final" in out:  # its last checkpoint, kept if it is the best trial's
            self._heard_final(trial, out["final"])

    def _unmeasured(self, trial: T.Trial, out: dict) -> str | None:
        """Why a trial that its scheduler stopped or paused at a rung never reported the
        metric (the failure a trial without a scheduler gets), else None: such trials were all
        "stopped", and the study ended without a word of failure (first-day test, round 61)."""
        if out["state"] not in ("stopped", "paused") or any(
                self.settings.metric in r for r in trial.reports):
            return None
        resource, metric = self.settings.resource, self.settings.metric
        rungs = set(self.scheduler.decision_points() or ())
        judged = [r[resource] for r in trial.reports if r.get(resource) in rungs]
        if not judged:
            return None  # halted before its first rung: the study's end, not its reports
        seen = ", ".join(sorted({k for r in trial.reports for k in r}))
        return (f"{NEVER_REPORTED} {metric!r} before its {self.scheduler.name} scheduler "
                f"judged it at {resource} {judged[0]} (it reported {seen}): report both at "
                f"once, report({resource}=N, {metric}=...), or name a key it reports as the "
                f"metric (metric=KEY, %%tune --metric KEY)")

    def _finish(self, trial: T.Trial, state: str, error: str | None = None,
                finished: float | None = None) -> None:
        if state == T.FAILED:  # whatever failed it: its code, or Dask loading it
            error = with_hints(error, trial.config, self.address)
        trial.state, trial.error = state, error
        trial.finished = finished or time.time()
        self.verdicts.forget(trial.id)
        self._let_go(trial)
        self.scheduler.on_trial_end(trial.id, state)
        timed(self.searcher, trial)
        self.searcher.on_trial_end(trial.id, trial.config, state, trial.value)
        self.observer.trial_finished(trial)
        self._note_ended(trial)
        stop = self.fail_fast.ended(trial)
        if stop is not None and self.reason is None:
            self.reason = "fail_fast"  # the loop ends; the running trials are interrupted
            warn_note(stop)

    def _note_ended(self, trial: T.Trial) -> None:
        """Name what the ended trial's reports show its scheduler could not judge as meant:
        early stopping silently off, or trials compared unfairly."""
        resource, sched = self.settings.resource, self.scheduler
        self._note("unjudged", lambda: unjudged_note(trial, resource, sched,
                                                     self.settings.metric))
        self._note("off rungs", lambda: off_rungs_note(trial, resource, sched))
        self._note("short of max_t", lambda: short_of_max_t_note(trial, resource, sched))
        self._note("past max_t", lambda: past_max_t_note(trial, resource, sched))

    def _note(self, kind: str, note: Callable[[], str | None]) -> None:
        """Warn with ``note()`` unless a note of this kind was given in this study already: a
        mistake that passes in silence is named once a study, not once a trial."""
        if kind in self.noted:
            return
        text = note()
        if text is not None:
            self.noted.add(kind)
            warn_note(text)
