"""How a study's loop ends: its running trials halted and recorded, the newest one that never
started taken back, the workers that a halt could not free kept apart, and a failure's one line.

A mixin of :class:`nbtune.run.loop.Loop`, which holds the state these read and its ``_finish``.
"""
from __future__ import annotations

from typing import Any

from .. import trial as T
from ..contract.events import Broadcast
from .failure import StudyFailed, unsaved
from .failure import describe as describe_failure
from .halt import HALT_WAIT, halt_study
from . import kept
from .held import held_note
from .interrupts import interrupts_deferred


class Ending:
    """The end of a study's loop (a mixin: see the module's docstring)."""

    running: dict[Any, T.Trial]  # future -> trial
    trials: list[T.Trial]
    by_id: dict[int, T.Trial]
    paused: dict[int, Any]
    reason: str | None

    def _stop_running(self, state: str) -> None:
        from distributed import Event

        if self.inbox is not None and self.reason != "error":  # started ones are not withdrawn
            for msg in self.inbox.drain():
                self._on_message(msg)
        cut = self.reason in ("interrupted", "stopped")  # by the user: a resume runs them again
        unkept = self._unkept() if cut else {}  # fetched once the running trials free workers
        for trial_id in list(self.paused):  # never resumed: they stay at the rung they reached
            state = T.INTERRUPTED if cut else (self.scheduler.ends_paused_as(trial_id)
                                               or T.STOPPED)
            if state == T.COMPLETED:  # before its file is let go with it
                self._pause_kept_as_final(self.by_id[trial_id])
            self._end_paused(self.by_id[trial_id], state)
        self._end_cut_by_loss()  # the study ends before the scheduler came back
        kept.tidy(self._keep_at(), {t.id for t in self.trials if t.is_finished},
                  shared=self.settings.keep_shared)
        self.keeping.clear()  # their checkpoints are released on the cluster with them
        self.pairs.clear()
        self.resumed_from.clear()
        if not self.running:
            self._fetch_unkept(unkept)
            self._fetch_final()
            return
        Event(f"{self.prefix}-stop", client=self.client).set()
        futures = list(self.running)
        self.client.cancel(futures)
        held = halt_study(self.client, self.prefix)  # also those that never report
        for future in sorted(futures, key=lambda f: -self.running[f].id):
            trial = self.running.pop(future)
            if self._withdrawable(trial):
                self._withdraw(trial)
            else:
                self._finish(trial, state, error=f"the study ended ({self.reason}) while it ran")
        self._note_held(held(HALT_WAIT + 2.0))
        self._fetch_unkept(unkept)
        self._fetch_final()

    def _note_held(self, answers: dict[str, list[dict]],
                   when: str = "when its study ended") -> None:
        """Trials the halt could not stop keep their workers: keep new trials off those, say so
        (they did not stop ``when``), and restart them later where the study asked for it."""
        new = self.held.add(self.settings.study, answers, self.prefix)
        if not new:
            return
        restart = self.settings.restart_held
        print(held_note(new, restart, workers=self._worker_count(), when=when))
        if restart is not None:
            for worker in sorted({h.worker for h in new}):
                self.held.restart_later(worker, restart)

    def _worker_count(self) -> int | None:
        """How many workers the cluster has now (None where the scheduler does not say)."""
        try:
            return len(self.client.nthreads())
        except Exception:
            return None

    def _withdrawable(self, trial: T.Trial) -> bool:
        """A trial queued behind the running ones that no worker started: the newest trial,
        first attempt, nothing reported. Taken back, a resumed study draws its config again."""
        return (trial.started is None and trial.attempts == 1 and not trial.reports
                and self.trials[-1] is trial)

    def _withdraw(self, trial: T.Trial) -> None:
        """Take back the newest trial, which never ran (see :meth:`_withdrawable`)."""
        self.trials.pop()
        del self.by_id[trial.id]
        self.searcher.on_trial_end(trial.id, trial.config, T.INTERRUPTED, None)
        self.observer.trial_withdrawn(trial)

    def _failed(self, exc: Exception) -> StudyFailed:
        """End the study after ``exc``: its trials halted and recorded as far as storage lets,
        its end reason "error"; returns the one-line error for the user."""
        self.reason = "error"
        if isinstance(self.observer, Broadcast):
            self.observer.tolerant = True  # what still can be recorded, is
        with interrupts_deferred():
            try:
                self._stop_running(T.INTERRUPTED)
            except Exception:  # the cluster itself failed: record the trials' end here
                for future in list(self.running):
                    trial = self.running.pop(future)
                    self._finish(trial, T.INTERRUPTED, error="the study stopped on an error")
            self.observer.study_finished(self.reason)
        failures = getattr(self.observer, "failures", [])
        return StudyFailed(self.settings.study, describe_failure(exc), unsaved(failures),
                           stored=self.settings.stored)
