"""What a live view shows of a running study, kept up to date from the trials that changed.

A view redraws every fraction of a second while a study of thousands of trials runs: each redraw
looks at the trials the events touched since the one before (a few), never at them all, so its
cost stays flat as the study grows. The view's last frame is drawn from all the trials.
"""
from __future__ import annotations

import bisect
import threading
from typing import Any

from . import trial as T
from .ranking import is_ranked, paced, rank_key


class Tally:
    """Counts per state, the best trial, the durations of the trials finished in this run (a
    resumed study's earlier ones left out), the candidates for the top
    ``top`` trials, and the trials that failed, wrote output or raised warnings.

    :meth:`touch` marks a trial changed (from the loop's thread, constant cost); :meth:`update`
    (from the view's) takes in the changed trials. Trials appended to the study without an
    event are taken in too.
    """

    def __init__(self, study: Any, top: int):
        self.study, self.top = study, top
        self.counts: dict[str, int] = {}
        self.best: T.Trial | None = None
        self.durations: list[float] = []  # of the trials this run paces (ranking.paced), sorted
        self._ran: list[float] = []  # those of them that did not fail, sorted: for the median
        self.failed: list[T.Trial] = []  # failed trials with an error, as they failed
        self.wrote: dict[int, T.Trial] = {}  # trials that wrote output, as they first did
        self.warned: dict[int, T.Trial] = {}  # trials that raised warnings
        self.warned_version = 0  # counts the changes of warned trials
        self._warnings_seen: dict[int, int] = {}
        self.open: dict[int, T.Trial] = {}  # ranked running and paused trials: their rank moves
        self.running: dict[int, T.Trial] = {}  # trials a worker runs now (started)
        self.stopped_ranked = 0  # ranked stopped trials: the rule for unfinished ones applies
        self.stopped_unranked = 0  # stopped trials without a finite value (at a NaN)
        self._final: list[tuple[tuple, T.Trial]] = []  # the best `top` completed or stopped
        self._state: dict[int, str] = {}
        self._finished: set[int] = set()
        self._unfinished: dict[int, float] = {}  # paused or cut trials' time, in `durations`
        self._changed: dict[int, T.Trial] = {}
        self._gone: dict[int, T.Trial] = {}
        self._scanned = 0  # trials of study.trials looked at once already
        self._lock = threading.Lock()
        self._key = rank_key(study)

    def touch(self, trial: T.Trial) -> None:
        """``trial`` changed (created, started, reported, finished)."""
        with self._lock:
            self._changed[trial.id] = trial

    def withdraw(self, trial: T.Trial) -> None:
        """``trial`` left the study (taken back before any worker started it)."""
        with self._lock:
            self._changed.pop(trial.id, None)
            self._gone[trial.id] = trial

    def update(self) -> None:
        """Take in the trials changed since the last call."""
        trials = self.study.trials
        with self._lock:
            changed, gone = self._changed, self._gone
            self._changed, self._gone = {}, {}
            for t in trials[self._scanned:]:  # new to this tally, with or without an event
                changed.setdefault(t.id, t)
            self._scanned = len(trials)
        for t in changed.values():
            self._take(t)
        for trial_id in gone:
            self._count(trial_id, None)
            self.open.pop(trial_id, None)
            self.running.pop(trial_id, None)

    def _count(self, trial_id: int, state: str | None) -> None:
        old = self._state.pop(trial_id, None)
        if old is not None:
            self.counts[old] -= 1
            if not self.counts[old]:
                del self.counts[old]
        if state is not None:
            self._state[trial_id] = state
            self.counts[state] = self.counts.get(state, 0) + 1

    def _take(self, t: T.Trial) -> None:
        state = T.shown_state(t)
        self._count(t.id, state)
        if state == T.RUNNING:
            self.running[t.id] = t
        else:
            self.running.pop(t.id, None)
        if t.output:
            self.wrote.setdefault(t.id, t)
        if t.warnings:
            seen = sum(r.get("count", 1) for r in t.warnings)
            if self._warnings_seen.get(t.id) != seen:
                self._warnings_seen[t.id] = seen
                self.warned[t.id] = t
                self.warned_version += 1
        ranked = is_ranked(self.study, t)
        if ranked and t.state in (T.RUNNING, T.PAUSED):
            self.open[t.id] = t
        else:
            self.open.pop(t.id, None)
        self._pace_unfinished(t)
        if t.state not in T.FINISHED or t.id in self._finished:
            return
        self._finished.add(t.id)  # a finished trial does not change again
        if paced(self.study, t):  # this run's pace
            bisect.insort(self.durations, t.duration)
            if t.state != T.FAILED:
                bisect.insort(self._ran, t.duration)
        if t.state == T.FAILED and t.error:
            self.failed.append(t)
        if not ranked:
            self.stopped_unranked += t.state == T.STOPPED
            return
        if t.state == T.STOPPED:
            self.stopped_ranked += 1
        key = self._key(t)
        if t.state == T.COMPLETED and (self.best is None or key < self._key(self.best)):
            self.best = t
        if len(self._final) < self.top or key < self._final[-1][0]:
            bisect.insort(self._final, (key, t), key=lambda pair: pair[0])
            del self._final[self.top:]

    def _pace_unfinished(self, t: T.Trial) -> None:
        """A trial paused at a rung counts in the pace with its time so far, as it will when
        the study's end stops it there (promotion ASHA's trials mostly pause: the panel said 92
        trials/min where the summary said 1,923, first-day test, round 16), and so does one
        the study's end cut (interrupted, or cut by max_time: round 17); resumed, it counts
        again once it pauses or finishes."""
        before = self._unfinished.pop(t.id, None)
        if before is not None:
            for durations in (self.durations, self._ran):
                del durations[bisect.bisect_left(durations, before)]
        if t.state in T.PACED_UNFINISHED and paced(self.study, t):
            self._unfinished[t.id] = t.duration
            bisect.insort(self.durations, t.duration)
            bisect.insort(self._ran, t.duration)

    def candidates(self) -> list[T.Trial]:
        """Trials among which the top ``top`` are: the best finished ones and the open ones."""
        return [t for _, t in self._final] + list(self.open.values())

    def unfinished_ranked(self) -> bool:
        """Whether a trial that did not complete has a rank (running, paused or stopped)."""
        return bool(self.open) or self.stopped_ranked > 0

    def done(self) -> int:
        """Trials in a final state (completed, stopped, failed)."""
        return sum(self.counts.get(s, 0) for s in T.FINISHED)

    def median_duration(self) -> float | None:
        """The median duration of a trial finished (or paused) in this run that did not fail,
        in seconds (None before any): trials that failed at once (out of memory) made a study
        of 5 s trials read "median trial 6 ms" (first-day test, round 46)."""
        d, n = self._ran, len(self._ran)
        if not n:
            return None
        return d[n // 2] if n % 2 else (d[n // 2 - 1] + d[n // 2]) / 2
