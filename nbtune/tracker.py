"""What a study's views share: an observer that keeps the live tally and redraws on a timer.

An event only marks the view stale (constant cost, in the loop's thread); a timer thread redraws a
stale view at most every ``interval`` seconds, whatever the rate of reports. The views: the
widget panel (``panel.py``) and, outside a notebook, one line on a stream (``text_view.py``).
"""
from __future__ import annotations

import contextlib
import contextvars
import threading
import time
import traceback
from collections import deque
from typing import Any, Callable

from .scoped import within
from . import trial as T
from .caller import ipython_shell
from .formatting import config_text, duration_text
from .ranking import earlier_ids, no_best_text, pace_text
from .setup_text import asked_amounts
from . import background
from .contract.events import Observer
from .run.output import warning_key
from .tally import Tally
from .trial import QUEUED, SHOWN_ORDER, STARTING
STREAM_LINES = 200  # lines of the trials' output a view keeps with show_output
CURVES = 50  # trials whose learning curves the panel draws: the best ones
CHOOSING_SHOWN = 0.3  # seconds the loop waits for a model's suggestion before the views say so
# a running trial is named as long once it has run this many times the median trial, and at
# least LONG_SECONDS: a config 1,000 times slower than the rest held both workers, unseen
LONG_TIMES, LONG_SECONDS = 10.0, 5.0


_IN_OUTPUT_WIDGET = contextvars.ContextVar("nbtune_in_output_widget", default=False)


@contextlib.contextmanager
def inside_output_widget():
    """Panels shown within go into an ipywidgets ``Output`` widget (the space editor's), which
    ignores display-id updates: such a panel stays when its study ends, the summary below it."""
    with within(_IN_OUTPUT_WIDGET, True):
        yield


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where widgets can render)."""
    return type(ipython_shell()).__name__ == "ZMQInteractiveShell"


class Tracker(Observer):
    """What every view shows, computed from the study's trials when a redraw asks for it.

    With ``show_output`` the lines the trials write are kept (the last :data:`STREAM_LINES`),
    each prefixed with its trial's id; a warning is kept once per study, where it first showed.
    """

    writes_lines = False  # a view that writes each line once (a terminal) drains ``fresh``

    def __init__(self, study, n_trials: int | None = None, max_time: float | None = None,
                 concurrency: int | Callable[[], int] | None = None, interval: float = 0.25,
                 show_output: bool = False, starved: Callable[[], str] | None = None,
                 paused: Callable[[], str] | None = None):
        self.study, self.n_trials, self.max_time = study, n_trials, max_time
        self.concurrency, self.interval = concurrency, interval
        self.starved = starved  # what no worker able to run a trial now means (Capacity.starved)
        self.paused = paused  # workers Dask paused for their memory (Capacity.paused)
        self.show_output = show_output
        self.lines: deque[str] = deque(maxlen=STREAM_LINES)  # the stream, prefixed
        self.fresh: deque[str] = deque()  # lines not written yet by a view that writes them
        self._warned: set[tuple[str, str]] = set()
        self.info: dict[str, Any] = {}
        self.before_start = False  # drawn before its study started (see draw_now)
        self.started = time.time()
        self.reports = 0  # events seen, for the redraw-to-report ratio
        self.redraws = 0
        self.finished_reason: str | None = None
        self.ending: str | None = None  # why the loop ends, while it halts its trials
        self.finished_at: float | None = None
        self.draw_error: str | None = None  # the first error of a redraw, its traceback
        self.lost_at: float | None = None  # when the client lost its scheduler, while it has
        self._stale = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._drawing = False  # while a frame is drawn (see _redraw)
        self._thread: threading.Thread | None = None
        self.tally = Tally(study, CURVES)  # what a redraw looks at: the trials that changed

    # -- events: constant cost ---------------------------------------------------------
    def study_started(self, info):
        self.info, self.started, self.before_start = dict(info), time.time(), False
        self._thread = threading.Thread(target=self._redraw_loop, daemon=True,
                                        name=f"nbtune-live-{info.get('study')}")
        self._thread.start()

    def trial_created(self, trial):
        self.tally.touch(trial)
        self._stale.set()

    def trial_started(self, trial):
        self.tally.touch(trial)
        self._stale.set()

    trial_waiting = trial_started  # queued again: its worker left

    def trial_reported(self, trial, report):
        self.reports += 1
        self.tally.touch(trial)
        self._stale.set()

    def trial_output(self, trial, text, warnings):
        self.tally.touch(trial)
        if self.show_output:
            for line in text.splitlines():
                self._keep(f"[trial {trial.id}] {line}")
            for record in warnings:
                key = warning_key(record)
                if key not in self._warned:  # once per study: every trial may raise it
                    self._warned.add(key)
                    self._keep(f"[trial {trial.id}] {record['category']}: {record['message']} "
                               "(a warning: shown once, counted in the summary)")
        self._stale.set()

    def _keep(self, line: str) -> None:
        self.lines.append(line)
        if self.writes_lines:
            self.fresh.append(line)

    def trial_finished(self, trial):
        self.tally.touch(trial)
        self._stale.set()

    def trial_withdrawn(self, trial):
        self.tally.withdraw(trial)
        self._stale.set()

    def scheduler_connection(self, lost):
        self.lost_at = time.time() if lost else None
        self._stale.set()

    def study_ending(self, reason):
        self.ending = reason

    def ended_as(self) -> str | None:
        """Why the study ended, or ends now (its trials still being halted)."""
        return getattr(self.study, "stop_reason", None) or self.ending

    def study_finished(self, reason):
        self.finished_at = time.time()
        self._done.set()
        self._stale.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self.finished_reason = reason  # only now: the label says "ended" after the last frame
        self.finish()

    # -- redraws -------------------------------------------------------------------------
    def draw_now(self) -> None:
        """One frame before the study starts: a background study whose cluster still starts
        shows that it does (its :meth:`stalled` line) until its loop starts."""
        self.before_start = True
        self._redraw()

    def _redraw_loop(self) -> None:
        while not self._done.is_set():
            self._stale.wait(timeout=1.0)  # a clock tick a second even without events
            if self._done.is_set():
                break
            self._stale.clear()
            self._redraw()
            self._done.wait(self.interval)

    def _redraw(self) -> None:
        with self._lock:
            self.redraws += 1
            if self.finished_reason is None:
                self.tally.update()
            self._drawing = True  # one frame, one tally: its parts said "3/16 trials" beside
            try:  # "4 completed", each taking in the trials that ended meanwhile (round 20)
                self.draw()
            except Exception:  # a view must never break the study; kept for who looks
                if self.draw_error is None:
                    self.draw_error = traceback.format_exc()
            finally:
                self._drawing = False

    def draw(self) -> None:
        """Bring the view up to date (overridden by the views)."""

    def finish(self) -> None:
        """The study ended: the last redraw and the summary (overridden by the views)."""
        self._redraw()

    # -- what the views show ---------------------------------------------------------------
    def live(self) -> Tally | None:
        """The tally, brought up to date, while the study runs; None for the last frame, which
        is drawn from all the trials."""
        if self.finished_reason is not None:
            return None
        if not self._drawing:  # within a frame, the tally the frame began with
            self.tally.update()
        return self.tally

    def slots(self) -> int | None:
        """Trials the workers run at once (None where not known; 0 where no worker can run one
        now: :meth:`stalled`)."""
        n = self.concurrency() if callable(self.concurrency) else self.concurrency  # looks again
        return 0 if self.stalled() else n

    def stalled(self) -> str:
        """While the study runs and no worker can run one of its trials, what it waits for;
        else ""."""
        if self.starved is None or self.finished_reason is not None:
            return ""
        return self.starved()

    def long_running(self) -> str:
        """While the study runs, the trials that have run far longer than its median trial, with
        their configs ("trial 4 has run 40 s (C=245); the median trial 8 ms"); else "". A
        slow config held every worker while the panel listed only completed trials and said
        "~5.5 s left" (first-day test, round 41)."""
        tally = self.live()
        if tally is None or self.finished_reason is not None:
            return ""
        median = tally.median_duration()
        if median is None:
            return ""
        now, limit = time.time(), max(LONG_SECONDS, LONG_TIMES * median)
        most = self.elapsed()  # no trial of this run ran longer than the study has
        ran = [(min(now - t.started, most), t.id, t) for t in list(tally.running.values())
               if t.started is not None]
        slow = sorted((r for r in ran if r[0] > limit), reverse=True)
        if not slow:
            return ""
        named = "; ".join(f"trial {i} has run {duration_text(d)} ({config_text(t.config)})"
                          for d, i, t in slow[:2])
        more = f" (and {len(slow) - 2} more)" if len(slow) > 2 else ""
        return f"{named}{more}; the median trial {duration_text(median)}"

    def strained(self) -> str:
        """While the study runs, workers that Dask paused for their memory; else ""."""
        if self.paused is None or self.finished_reason is not None:
            return ""
        return self.paused()

    def counts(self) -> dict[str, int]:
        """Trials per state, in a fixed order, zero counts left out. Running ones not known to
        have started are queued, but as many as there are free slots are starting: a worker
        with a free slot starts one at once, and a trial's start message comes late (or, for
        a trial of a fraction of a second, never: :mod:`nbtune.run.starts`)."""
        tally = self.live()
        if tally is not None:
            seen = dict(tally.counts)
        else:
            seen = T.shown_counts(self.study.trials)
        slots = self.slots()
        if slots and seen.get(QUEUED):
            seen[STARTING] = min(seen[QUEUED], max(0, slots - seen.get(T.RUNNING, 0)))
            seen[QUEUED] -= seen[STARTING]
        return {s: seen[s] for s in SHOWN_ORDER if seen.get(s)}

    def waiting(self, counts: dict[str, int]) -> str:
        """What trials that no worker was heard to start wait for, while none of this run has
        (``counts``: :meth:`counts`' answer): the workers load the trial function, what it
        imports, and the data sent with it; "" once a trial started or finished."""
        tally = self.live()
        if tally is None or counts.get(T.RUNNING) or counts.get(T.PAUSED) or not (
                counts.get(STARTING) or counts.get(QUEUED)):  # paused: trials ran (round 15)
            return ""
        if tally.done() > len(earlier_ids(self.study)):
            return ""
        data = self.info.get("data") or ()
        sent = f", and receive its data ({', '.join(data)})" if data else ""
        amounts = asked_amounts(getattr(self.study, "settings", None) or {})
        held = (f"; on a shared cluster they may wait while the workers that offer {amounts} "
                "run another study's work") if amounts else ""
        beside = background.beside(self.study, self.info.get("address"))
        if beside:  # "starting" read as if a slot had taken them, while those held the workers
            names = ", ".join(repr(n) for n in beside)
            held = (f"; the workers may be busy with {names}, which this kernel runs in the "
                    f"background on the same cluster: a worker takes these once it is free")
        return ("the first trials are starting: the workers load the trial function and what "
                f"it imports{sent}{held}")

    def choosing(self) -> str:
        """While the loop has waited a moment for a model's suggestion, to fill a trial slot,
        that line; else "". The panel showed "0/2 slots busy" and no reason (first-day test,
        round 19)."""
        since = getattr(getattr(self.study, "searcher", None), "waiting_since", None)
        if since is None or self.finished_reason is not None:
            return ""
        waited = time.monotonic() - since
        if waited < CHOOSING_SHOWN:
            return ""
        name = (getattr(self.study, "settings", None) or {}).get("searcher") or "model-based"
        return f"the {name} searcher is choosing the next config ({waited:.1f} s so far)"

    def connection(self) -> str:
        """While the client has lost its scheduler, what happens meanwhile; else ""."""
        if self.lost_at is None or self.finished_reason is not None:
            return ""
        since = max(0, int(time.time() - self.lost_at))
        where = self.info.get("address") or "its address"
        return (f"lost the Dask scheduler at {where} {since} s ago: reconnecting, no trial is "
                "sent meanwhile")

    def elapsed(self) -> float:
        """Seconds the study has run, as the study itself counts them."""
        elapsed = getattr(self.study, "elapsed", None)
        return elapsed if elapsed is not None else (self.finished_at or time.time()) - self.started

    def _interrupted(self, tally: Any) -> str:
        """Trials of this study that its end interrupted, or ended before they started (to run
        again on a resume), as "2 interrupted, 4 not started"; "" for none."""
        cut = (T.INTERRUPTED, T.NOT_STARTED)
        counts = tally.counts if tally is not None else T.shown_counts(self.study.trials)
        return T.counts_text({s: counts.get(s, 0) for s in cut})

    def progress(self) -> tuple[float, str]:
        """Fraction done (trials or time, whichever binds) and a label with elapsed and left,
        the pace (trials per minute, median trial duration). A resumed study's earlier trials
        count in the fraction and the totals ("7/30 trials (1 in this run)"), never in the pace
        or the time left: this run's time is all ``elapsed`` counts. Trials paused at a rung
        (promotion ASHA) count as done while they wait for a promotion, as the pace counts them:
        "37/40 trials (34 paused at a rung)"; they read "0/18 trials · 113 trials/min", the
        progress bar empty until the study's end stopped them (first-day test, round 18)."""
        elapsed = self.elapsed()
        tally = self.live()
        paused = 0
        if tally is not None:
            paused = tally.counts.get(T.PAUSED, 0)
            done, known = tally.done() + paused, (None, None)
            if tally.durations and elapsed:
                known = (len(tally.durations) / (elapsed / 60.0), tally.median_duration())
        else:
            done, known = sum(1 for t in list(self.study.trials) if t.state in T.FINISHED), None
        earlier = len(earlier_ids(self.study))
        here = done - earlier  # finished in this run
        fractions, lefts, label = [], [], f"{len(self.study.trials)} trials"
        if self.n_trials:
            fractions.append(done / self.n_trials)
            label = f"{done}/{self.n_trials} trials"
            # by the pace so far, which says nothing of trials that outlast it
            if here > 0 and elapsed and not self.long_running():
                lefts.append(elapsed * max(0, self.n_trials - done) / here)
        if self.max_time:
            fractions.append(elapsed / self.max_time)
            lefts.append(max(0.0, self.max_time - elapsed))
        asides = [f"{here} in this run"] if earlier else []
        if paused:
            asides.append(f"{paused} paused at a rung")
        cut = self._interrupted(tally) if self.finished_reason is not None else ""
        if cut:  # not done, yet ended: the summary's "16 of 30" beside "1/30" (round 33)
            asides.append(cut)
        if asides:
            label += f" ({'; '.join(asides)})"
        fraction = min(1.0, max(fractions, default=0.0))
        speed = pace_text(self.study, known)
        speed = f" · {speed}" if speed else ""
        if self.finished_reason is not None:
            return 1.0, f"{label} · {duration_text(elapsed)}{speed} · ended: {self.finished_reason}"
        if self.before_start:  # its cluster still starts (a background study's first frame):
            # its clock read "40 ms elapsed" a few seconds, then "6 ms" once it ran (round 60)
            return fraction, f"{label} · not started yet"
        left = f" · ~{duration_text(min(lefts))} left" if lefts else ""
        return fraction, f"{label} · {duration_text(elapsed)} elapsed{left}{speed}"

    def best_line(self) -> str:
        """The best value so far and its config, as text."""
        tally = self.live()
        best = self.study.best if tally is None else tally.best
        if best is None:
            return no_best_text(self.study)
        return (f"best {self.study.metric} = {best.value:.6g} "
                f"(trial {best.id}: {config_text(best.config)})")
