"""What a running trial sends, taken in by the study's loop: its start (a second start, Dask's
rerun after a worker died, counted as a retry), its reports (recorded, the resource counted, and
the scheduler, the searcher and the budget told), what it printed, and its end.

A mixin of :class:`nbtune.run.loop.Loop`, which holds the state these read (as
:class:`nbtune.run.completions.Completions` is).
"""
from __future__ import annotations

import time
from typing import Any, Callable

from .. import trial as T
from ..contract.outcome import pass_again_note, restart_note
from ..contract.replay import level_value
from ..contract.ties import tied_rung_note
from .deaths import memory_restart
from .keeping import unrestored_note


class Intake:
    """A trial's messages and reports, as they arrive (a mixin: see the module's docstring)."""

    by_id: dict[int, T.Trial]
    running: dict[Any, T.Trial]  # future -> trial
    executions: dict[int, set[str]]
    submitted: dict[int, int]
    first_seq: dict[int, int]
    heard_start: dict[int, float]
    logs: dict[int, Any]
    ends: dict[int, dict]
    resumed_at: dict[int, float]
    last_level: dict[int, float]
    pass_top: dict[int, float]
    resource_used: float
    settings: Any
    client: Any
    scheduler: Any
    searcher: Any
    observer: Any
    verdicts: Any
    outputs: Any
    ties: Any
    _note: Callable[..., None]
    _finish: Callable[..., None]
    _check_study_budget: Callable[[Any], None]

    def _on_message(self, msg: dict) -> None:
        trial = self.by_id.get(msg.get("trial"))
        if trial is None:
            return
        if msg.get("wait") and self.verdicts.replay(trial.id, msg.get("attempt"), msg["exec"],
                                                    msg["seq"], msg["reply"]):
            return  # a paused segment that Dask computed again pauses where it paused
        if trial.state != T.RUNNING or msg.get("attempt") != self.submitted.get(trial.id):
            return  # a late message from a trial already finished, cancelled or resubmitted
        seen = self.executions[trial.id]
        if msg["kind"] == "start":
            if seen and msg["exec"] not in seen:
                self._restarted_by_dask(trial)
            seen.add(msg["exec"])
            trial.worker, trial.started = msg["worker"], msg["time"]
            self.heard_start[trial.id] = time.monotonic()
            self.logs[trial.id] = msg.get("log")  # where its worker's last words would be
            if msg.get("unrestored"):  # its kept checkpoint could not be read: from the start
                self.resumed_at.pop(trial.id, None)
                self._note("unrestored", lambda: unrestored_note(trial.id, msg["unrestored"]))
            self.observer.trial_started(trial)
        elif msg["kind"] == "report":
            seen.add(msg["exec"])
            self._record_report(trial, msg["seq"], msg["data"])
            if msg.get("wait"):
                self.verdicts.answer(trial.id, msg["exec"], msg["seq"], msg["reply"])
            self.outputs.add(trial, msg)
        elif msg["kind"] == "output":
            self.outputs.add(trial, msg)
        elif msg["kind"] == "end":
            self.ends[trial.id] = msg["outcome"]

    def _record_report(self, trial: T.Trial, seq: int, data: dict) -> None:
        if seq != len(trial.reports) + 1:
            return  # duplicate (already taken from the trial's result) or from an older execution
        trial.reports.append(data)
        level = data.get(self.settings.resource)
        if T.is_finite_number(level):
            self.resource_used += T.resource_step(self.last_level.get(trial.id, 0), level)
            self.last_level[trial.id] = level
            at = self.resumed_at.pop(trial.id, None)
            if at is not None:
                self._note("restart", lambda: restart_note(trial.id, self.settings.resource,
                                                           at, level))
            top = self.pass_top.get(trial.id)
            if top is not None:
                self._note("pass again", lambda: pass_again_note(
                    trial.id, self.settings.resource, top, level, self.scheduler))
            self.pass_top[trial.id] = level if top is None else max(top, level)
            tie = self.ties.seen(level, data.get(self.settings.metric))
            if tie is not None:
                self._note("tied rung", lambda: tied_rung_note(
                    *tie, self.settings.resource, self.settings.metric, self.scheduler.name))
        self.observer.trial_reported(trial, data)
        self.searcher.on_report(trial.id, trial.config, *self._level_value(data))
        self.verdicts.decide(trial.id, self.scheduler.on_report(trial.id, data))
        # the resource budget only: a target counts a trial's result, its value when it ends
        # (ended on a report, the study interrupted the very trial that reached it, and kept
        # no best)
        self._check_study_budget(None)

    def _level_value(self, data: dict) -> tuple[float | None, float | None]:
        """The resource level and metric value of a report, each None unless a finite number."""
        return level_value(data, self.settings.resource, self.settings.metric)

    def _restarted_by_dask(self, trial: T.Trial) -> None:
        """Dask re-ran the trial elsewhere after its worker died: count it as a retry."""
        trial.reports = trial.reports[:self.first_seq[trial.id]]
        self.outputs.begin(trial, fresh=True)
        self.pass_top.pop(trial.id, None)
        trial.attempts += 1
        if trial.attempts > self.settings.retries + 1:
            for future, t in list(self.running.items()):
                if t is trial:
                    future.cancel()
                    del self.running[future]
            memory = memory_restart(self.client, trial.worker, trial.started)
            self._finish(trial, T.FAILED, error=f"its worker died {trial.attempts - 1} times "
                         f"(retries={self.settings.retries}){': ' + memory if memory else ''}")
