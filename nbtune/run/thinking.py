"""A model-based searcher thinks on a thread of its own, so the loop never waits for a suggestion.

A ``bayesopt`` suggestion costs 15 to 60 ms of the notebook's process (the acquisition over 800
candidates). Made on the loop's thread, it held every report, rung verdict and retry behind
it: on trials of 5 ms epochs the loop spent 14 of 20 s suggesting and handled no report
meanwhile (``benchmarks/thinking.py``). :class:`SearcherThread` runs the searcher's calls on one
thread, in the order the loop makes them: the events (a trial's start, report and end) are
queued, and a suggestion is asked for, then taken when it is ready, the loop woken by it. So the
searcher sees the calls a loop that waited would have made at those moments, and the loop
answers verdicts while it thinks. (The model's suggestions still bound how many of its trials
start per second: one at a time, each as long as before.)

Workers never wait for the model where its thought outlasts the trials and their time is what
the study spends (a ``max_time`` budget). While a suggestion takes under :data:`LATE` of a trial's
run (medians of the recent ones: seconds against minutes, as a study of real training mostly is),
or the study counts trials rather than seconds, each suggestion is made when the loop asks for it,
after every event before it; the trial it is for waits in a queue slot while the workers train
the ones before (the loop keeps one trial queued per worker), so that wait costs them little.
Past that (trials of a few epochs of milliseconds, a model of hundreds of observations) the
searcher thinks ahead: each suggestion is asked for as soon as the trial given the last one has
started, and where the loop asks while a worker has nothing to run and no suggestion is ready,
that worker's trial starts with a random config the searcher draws at once
(:meth:`~nbtune.search.base.Searcher.quick`, counted in its ``quick_draws``), and the suggestion
being made goes to the next trial. The model learns from those trials as from its own; what it
costs is the staleness of a suggestion made before the latest few events, never a worker's time.
(A study with a trial budget only keeps each suggestion after every event before it, so a
resumed one suggests what the uninterrupted one did.)

While a searcher thinks on its thread, Python hands the interpreter between threads every
:data:`SWITCH_INTERVAL` seconds rather than every 5 ms (``sys.setswitchinterval``): the model's
fit holds the interpreter between its numpy calls, and the loop, woken by a report, waited up to
5 ms each time it needed it back: on a loaded machine, on trials of milliseconds, a fifth to a
half of the epochs bayesopt's workers trained (on a quiet one, within the runs' spread:
``benchmarks/README.md``).

A searcher whose ``suggest`` is cheap (``costly_suggest`` False: random, grid) is called on the
loop's thread as before: a thread's hand-over would cost its trivial trials more than it saves.

While a model thinks in a foreground study, the process's BLAS (OpenBLAS: numpy's, scipy's) runs
on one thread (:class:`OneBlasThread`). A model's matrices are too small for a second thread to
speed them up, and OpenBLAS's threads wait for work by spinning: in a bayesopt study of 120
trials on the local cluster, two workers on two cores, the notebook's process spent 12 s of CPU
where it spent 4 on one (taken from the trials: ``benchmarks/thinking.py --burn``). The limit
is the process's (this OpenBLAS has no working setting of a thread's own), so it is set and set
back on the main thread only, where a foreground study's loop runs and no code of the user's
runs meanwhile; a background study leaves it alone. Where another thread changed OpenBLAS's
threads first (scikit-learn limits them in some of its fits), this OpenBLAS takes no setting of
the main thread's either: the limit then changes nothing, and nothing breaks.
"""
from __future__ import annotations

import queue
import statistics
import sys
import threading
import time
from collections import deque
from typing import Any, Callable

from ..contract.dispatch import THINKING
from ..search.gp import importing

LATE = 0.05
"""A free worker waits for a suggestion only while one takes under this share of a trial's run."""
RECENT = 20  # how many of the latest suggestions and trial runs those medians are over
SWITCH_INTERVAL: float | None = 0.0005
"""Python's thread switch interval, in seconds, while a searcher thinks on its thread (None:
left as it is). Set back when the last such thread ends; code of the user's that runs meanwhile
(a background study's notebook) is handed the interpreter as often, at a cost of a few percent
to a thread that computes in Python."""

_switching = threading.Lock()
_thinkers = 0  # searcher threads running: the interval is set back as the last one ends
_interval_before = 0.005


def _hand_over_often(start: bool) -> None:
    """A searcher thread starts (``start``) or ends: the switch interval shortened while any
    runs, and set back to what it was after the last."""
    global _thinkers, _interval_before
    if SWITCH_INTERVAL is None:
        return
    with _switching:
        if start:
            if _thinkers == 0:
                _interval_before = sys.getswitchinterval()
                sys.setswitchinterval(min(SWITCH_INTERVAL, _interval_before))
            _thinkers += 1
        elif _thinkers > 0:
            _thinkers -= 1
            if _thinkers == 0:
                sys.setswitchinterval(_interval_before)


class OneBlasThread:
    """The process's BLAS libraries on one thread while a foreground study's model thinks (see
    the module), from the main thread alone: OpenBLAS took no setting from another thread once
    one had changed it. The libraries are limited as they load: scipy's, which the model loads on
    its first fit, once it is there."""

    def __init__(self) -> None:
        self._limits: list[Any] = []  # threadpoolctl's limiters, set back in reverse
        self._scipy = False  # whether scipy's BLAS was loaded when last limited

    def limit(self) -> None:
        """Limit the BLAS libraries loaded since the last call (none, mostly: a dict lookup)."""
        if threading.current_thread() is not threading.main_thread():
            return
        scipy = "scipy.linalg" in sys.modules
        if self._limits and scipy == self._scipy:
            return
        if importing():  # threadpoolctl's look at the loaded libraries (dl_iterate_phdr,
            # calling Python back) deadlocked with the model's imports, which load theirs
            # holding the interpreter (a hang in 1 of 12 runs, threadpoolctl 3.1): next call
            return
        from threadpoolctl import threadpool_limits

        self._limits.append(threadpool_limits(1, user_api="blas"))
        self._scipy = scipy

    def restore(self) -> None:
        if threading.current_thread() is threading.main_thread():
            while self._limits:
                self._limits.pop().restore_original_limits()


class SearcherThread:
    """The loop's view of a searcher whose calls run on a thread of its own (see the module)."""

    def __init__(self, searcher: Any, wake: Callable[[], None],
                 idle: Callable[[], bool] | None = None, draws: bool | None = None):
        self.searcher = searcher
        searcher.quick_draws = 0
        # what the views read, on the searcher (the study's, which outlives this thread): since
        # when the loop waits for a suggestion (None: it does not), and how long a worker sat
        # free meanwhile (a queued slot's wait, behind a running trial, costs no worker's time:
        # counted, it read as 22 s of empty slots in a 31 s study, first-day test, round 37)
        searcher.waiting_since, searcher.waited = None, 0.0
        self._wake = wake  # tells the loop an answer (or an error) is in
        self._idle = idle  # whether a worker has no trial to run (None: unknown, taken as so)
        # whether it may draw and think ahead: a study that spends time (max_time)
        self._draws = idle is not None if draws is None else draws
        self._free_since: float | None = None  # since when a worker is free while it waits
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()  # held while the searcher runs a call: predict waits
        self._hand = threading.Lock()  # held while either thread reads or sets the fields below
        self._asked: int | None = None  # the trial index a suggestion is being made for
        self._asked_at = 0.0  # since when (time.monotonic())
        self._closing = False  # the loop ended: a suggestion still queued is not made
        self._answer: tuple[int, Any] | None = None
        self._waiting = False  # whether the loop waits for that suggestion
        self._ahead: int | None = None  # the index to think of once the trial just given starts
        self._thought: deque = deque(maxlen=RECENT)  # seconds of the latest suggestions
        self._runs: deque = deque(maxlen=RECENT)  # seconds of the latest trial runs
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="nbtune-searcher", daemon=True)
        self._handing = True  # whether it counts in the shortened switch interval
        _hand_over_often(True)
        self._blas = OneBlasThread()
        self._blas.limit()
        self._thread.start()

    # -- the loop's calls ---------------------------------------------------------------------
    def on_trial_start(self, *args: Any) -> None:
        self._calls.put(("on_trial_start", args))
        with self._hand:  # thinking ahead: the next suggestion, once this trial is pending
            ahead, self._ahead = self._ahead, None
            if ahead is not None and self._asked is None and self._answer is None:
                self._ask(ahead)

    def on_report(self, *args: Any) -> None:
        self._calls.put(("on_report", args))

    def on_trial_time(self, *args: Any) -> None:
        self._runs.append(args[2])
        self._calls.put(("on_trial_time", args))

    def on_trial_end(self, *args: Any) -> None:
        self._calls.put(("on_trial_end", args))

    def suggest(self, index: int) -> Any:
        """The searcher's config for trial ``index`` (None: it has no more) once it is made,
        else :data:`~nbtune.contract.dispatch.THINKING`: the first such call asks for it, after
        the events queued so far, and the loop is woken when it is ready. Where suggestions
        outlast the trials (:meth:`late`) and a worker has nothing to run, a random config drawn
        at once instead of THINKING, and the suggestion being made goes to a later trial (see
        the module)."""
        self.raise_error()
        self._blas.limit()  # scipy's BLAS, once the model has loaded it
        late = self.late()
        free = self._idle() if self._idle is not None else True  # (not under _hand: it asks
        idle = late and free  # the loop)
        with self._hand:
            if self._answer is not None:
                config = self._answer[1]
                self._answer = self._asked = None
                self._stop_waiting()
                self._ahead = index + 1 if late else None
                return config
            if self._asked is None:
                self._ask(index)
            if idle:  # also once the loop waits: it asked while every worker had a queued
                # trial, and since then one emptied (it drew only on a first ask: a free worker
                # waited out most of a warm-started model's fits, first-day test, round 36)
                config = self.searcher.quick(index)
                if config is not None:
                    self._stop_waiting()
                    return config
            if not self._waiting:
                self._waiting, self.searcher.waiting_since = True, time.monotonic()
            self._worker_free(free)
            return THINKING

    def late(self) -> bool:
        """Whether a suggestion takes more than :data:`LATE` of a trial's run (the medians of
        the latest ones, three trial runs at least), for a searcher that can draw while it
        thinks, in a study that spends time (the loop gave ``idle``): the latest suggestions'
        median, three of them at least, or the one being made, which has taken that long
        already (a warm-started model's first suggestions each waited for a fit of hundreds of
        observations: first-day test, round 36)."""
        if not self._draws or self._idle is None or len(self._runs) < 3 or \
                not getattr(self.searcher, "draws_while_thinking", False):
            return False
        with self._hand:
            thought = list(self._thought)
            since = self._asked_at if self._asked is not None else None
        limit = LATE * statistics.median(self._runs)
        return (len(thought) >= 3 and statistics.median(thought) > limit) or (
            since is not None and time.monotonic() - since > limit)

    def predict(self, configs: list[dict], level: float | None) -> Any:
        """The searcher's model's prediction (a scheduler that judges by the model asks it on
        the loop's thread): made between two of the searcher's calls, never during one."""
        with self._lock:
            return self.searcher.predict(configs, level)

    @property
    def observations(self) -> int | None:
        return getattr(self.searcher, "observations", None)

    @property
    def modelled_trials(self) -> int | None:
        return getattr(self.searcher, "modelled_trials", None)

    @property
    def asked(self) -> bool:
        """Whether the loop waits for a suggestion it asked for."""
        return self._waiting

    @property
    def ready(self) -> bool:
        """Whether a suggestion the loop waits for, or an error, is there for it to take."""
        return self._error is not None or (self._waiting and self._answer is not None)

    def raise_error(self) -> None:
        """Raise, on the loop's thread, what a searcher's call raised on its own."""
        if self._error is not None:
            raise self._error

    def close(self, raise_error: bool = True, timeout: float = 30.0) -> None:
        """Apply the events still queued (the searcher ends up as if the loop had called it
        directly; a suggestion queued and not yet begun is not made: no trial takes it), then
        end the thread; an error a call raised is raised here, unless the loop is ending for
        another reason."""
        if self._thread.is_alive():
            self._closing = True
            self._calls.put(None)
            self._thread.join(timeout)
        if self._handing:
            self._handing = False
            _hand_over_often(False)
        self._blas.restore()
        with self._hand:
            self._stop_waiting()
        if raise_error:
            self.raise_error()

    def _stop_waiting(self) -> None:
        """The loop no longer waits (with ``_hand`` held): the time a worker sat free meanwhile
        added to the searcher's."""
        self._waiting, self.searcher.waiting_since = False, None
        self._worker_free(False)

    def _worker_free(self, free: bool) -> None:
        """While the loop waits (with ``_hand`` held): whether a worker is free now; the time one
        was, added to the searcher's ``waited`` as it ends."""
        now = time.monotonic()
        if free and self._free_since is None:
            self._free_since = now
        elif not free and self._free_since is not None:
            self.searcher.waited += now - self._free_since
            self._free_since = None

    # -- the searcher's thread ----------------------------------------------------------------
    def _ask(self, index: int) -> None:
        """Queue a suggestion for ``index`` (with ``_hand`` held)."""
        self._asked, self._asked_at = index, time.monotonic()
        self._calls.put(("suggest", (index,)))

    def _run(self) -> None:
        while True:
            call = self._calls.get()
            if call is None:
                return
            name, args = call
            if name == "suggest" and self._closing:
                continue  # no trial will take it: the events after it are what matters
            try:
                with self._lock:
                    began = time.monotonic()
                    result = getattr(self.searcher, name)(*args)
                    took = time.monotonic() - began
            except BaseException as exc:  # raised again on the loop's thread
                self._error = exc
                self._wake()
                return
            if name == "suggest":
                with self._hand:
                    self._answer = (args[0], result)
                    self._thought.append(took)
                    waiting = self._waiting
                if waiting:
                    self._wake()


class Thinking:
    """The loop's side of a searcher that thinks apart: when it moves to its thread, whether an
    answer is in or still being made, and its end. A mixin of :class:`~nbtune.run.loop.Loop`,
    whose ``searcher``, ``scheduler``, ``settings``, ``capacity`` and slot counts it reads."""

    def _answer_ready(self) -> bool:
        return isinstance(self.searcher, SearcherThread) and self.searcher.ready

    def _thinking(self) -> bool:
        """Whether a suggestion the loop asked for is still being made. (One made that the
        scheduler no longer starts a trial with, as it waits or is done, holds nothing up.)"""
        thread = self.searcher
        return isinstance(thread, SearcherThread) and thread.asked and not thread.ready

    def _think_apart(self, cond: Any) -> None:
        """A searcher whose suggestions cost (a model's) runs its calls on a thread of its own,
        from here on (:mod:`nbtune.run.thinking`); a scheduler that judges by its model asks it
        between the searcher's calls."""
        if not getattr(self.searcher, "costly_suggest", False):
            return

        def wake() -> None:
            with cond:
                cond.notify_all()

        def idle() -> bool:  # a worker has no trial to run, running or queued behind one
            return self._busy_slots() < min(self.capacity(), self._slots())

        timed = self.settings.budget.max_time is not None  # a worker's time is the budget
        self.searcher = SearcherThread(self.searcher, wake, idle, draws=timed)
        self.scheduler.use_model(self.searcher.predict)

    def _stop_thinking(self, raise_error: bool = True) -> None:
        """The searcher's queued calls applied and its thread ended; the searcher itself back."""
        thread = self.searcher
        if isinstance(thread, SearcherThread):
            self.searcher = thread.searcher
            thread.close(raise_error=raise_error)
