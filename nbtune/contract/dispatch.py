"""What a free worker does next: a retry, a paused trial resumed, a new trial, or nothing.

The real loop (``run/loop.py``) and the simulator (``sim/backend.py``) fill their free slots with
the same decisions, asked of the scheduler in the same order: :class:`Dispatch` holds them once.
A driver provides the slots (``_slots``, ``_busy_slots``), how to send a trial (``_submit``)
and to resume a paused one (``_resume_paused``), and the time (``_now``); the budget check and
the next trial to send (a retry first, else a new config from the searcher) are here.
"""
from __future__ import annotations

from typing import Any

from .. import trial as T
from ..schedule import DONE, RESUME, START
from .outcome import final_value

THINKING = object()
"""What a searcher's ``suggest`` gives while its answer is still being made on a thread of its
own (:mod:`nbtune.run.thinking`); the driver is woken when it is ready."""


class Dispatch:
    """The free-slot decisions shared by the drivers (a mixin: see the module's docstring)."""

    by_id: dict[int, T.Trial]
    paused: dict[int, Any]  # paused trial -> what it resumes from
    requeue: list
    trials: list[T.Trial]
    exhausted: bool  # the searcher said it has no config left

    def _budget_left(self) -> bool:
        return not self.exhausted and self.settings.budget.allows_trial(len(self.trials))

    def _next_trial(self) -> T.Trial | None:
        """A trial to retry (its last attempt's results cleared), or a new one with the
        searcher's next config; None when the budget or the searcher is spent, or while the
        searcher is still thinking."""
        if self.requeue:
            trial = self.requeue.pop(0)
            trial.reports, trial.value, trial.error, trial.metrics = [], None, None, {}
            return trial
        if not self._budget_left():
            return None
        config = self.searcher.suggest(len(self.trials))
        if config is THINKING:
            return None
        if config is None:
            self.exhausted = True
            return None
        trial = T.Trial(id=len(self.trials), config=config, created=self._now())
        self.trials.append(trial)
        self.by_id[trial.id] = trial
        return trial

    def _fill(self) -> None:
        """Send work to every free slot: retries and a resumed study's unfinished trials
        first, then what the scheduler's ``next_action`` says; stop when it says wait or done."""
        while self._busy_slots() < self._slots() and self.reason is None:
            if self.requeue:
                self._submit(self._next_trial())
                continue
            action, trial_id = self.scheduler.next_action(can_start=self._budget_left())
            self._discard_paused()
            if action == RESUME and trial_id in self.paused:
                self.scheduler.on_trial_resume(trial_id)
                self.by_id[trial_id].resuming()
                self._resume_paused(self.by_id[trial_id], self.paused.pop(trial_id))
            elif action == START and self._budget_left():
                trial = self._next_trial()
                if trial is not None:
                    self._submit(trial)
                elif not self.exhausted:
                    return  # the searcher is thinking: its answer wakes the driver to go on
            else:
                self.scheduler_done = action == DONE
                return

    def _discard_paused(self) -> None:
        """Paused trials the scheduler will never resume are stopped for good."""
        for trial_id in self.scheduler.take_discarded():
            if trial_id in self.paused:
                self._end_paused(self.by_id[trial_id])

    def _end_paused(self, trial: T.Trial, state: str = T.STOPPED) -> None:
        """A paused trial ends in ``state`` (its checkpoint is let go)."""
        self.paused.pop(trial.id, None)
        trial.state = state  # it ran last until its pause: the time since is not its own
        if trial.finished is None:
            trial.finished = self._now()
        trial.value, _ = final_value(trial, None, self.settings.metric)
        self.searcher.on_trial_end(trial.id, trial.config, state, trial.value)
        self.observer.trial_finished(trial)
