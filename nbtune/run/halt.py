"""Halting the trials of a study that ended: an exception raised in the threads that run them.

A trial learns that its study ended at its next ``report()`` (the study's stop flag). A trial that
never reports, or reports rarely, would run on to its end after the study's budget ran out or the
user pressed interrupt, keeping its worker (and its GPU) from the next study. So when a study ends,
the notebook asks every worker to raise :class:`TrialHalted` in the threads that run that study's
trials (CPython's ``PyThreadState_SetAsyncExc``). The thread gets it when it next runs Python code:
at once in a training loop written in Python (scikit-learn's, PyTorch's); a long call into compiled
code, or a ``time.sleep``, returns first.

A thread is a target only between :func:`halting`'s registration and deregistration, both under
one lock that :func:`halt_trials` holds while it raises, so the exception never lands in a thread
that has gone on to other work: at the latest, it is raised inside :func:`halting`'s exit. Inside
``report()`` the thread is no target (:func:`shielded`): the exception lands in the trial's own
code, never half-way through nbtune's or Dask's.

A thread that the exception cannot reach soon (a long sleep or compiled call, code that swallows
``BaseException``) keeps its worker busy after Dask took the cancelled task off its books. Such a
trial is *held*: :func:`halt_and_wait` names it to the notebook, which sends no new trial to that
worker (see :mod:`nbtune.run.held`), and the worker announces on :data:`HELD_TOPIC` when the
thread finally leaves.
"""
from __future__ import annotations

import asyncio
import contextlib
import ctypes
import threading
import time
from typing import Any, Callable, Iterator

from .channel import TrialStopped
from .inbox import forget_topic, report_topic


class TrialHalted(TrialStopped):
    """Raised inside trial code when its study ended while the trial ran (budget, interrupt,
    ``study.stop()``). Like :class:`~nbtune.run.channel.TrialStopped`, a ``BaseException``, so that
    a broad ``except Exception`` in training code does not swallow it."""


HELD_TOPIC = "nbtune-held"  # the workers' events about held trials, as ``log_event`` sends them

_lock = threading.Lock()
_threads: dict[tuple[str, str], int] = {}  # (study prefix, execution) -> the thread running it
_alive: dict[tuple[str, str], int] = {}  # (study prefix, execution) -> trial id, until it ends
_held: set[tuple[str, str]] = set()  # those named held to the notebook, whose end it awaits
_halted: set[str] = set()  # the studies halted in this process
_halted_runs: set[tuple[str, str]] = set()  # single executions halted (past max_trial_time)


@contextlib.contextmanager
def halting(prefix: str, execution: str, trial: int = -1) -> Iterator[None]:
    """Meanwhile, :func:`halt_trials` of ``prefix`` may raise :class:`TrialHalted` in this thread."""
    key = (prefix, execution)
    with _lock:
        if prefix in _halted or key in _halted_runs:  # it starts after its halt
            _halted_runs.discard(key)
            raise TrialHalted()
        _threads[key] = threading.get_ident()
        _alive[key] = trial
    try:
        yield
    finally:
        with _lock:  # a halt raised just before lands here at the latest
            _threads.pop(key, None)
            _alive.pop(key, None)
            _halted_runs.discard(key)
            was_held = key in _held
            _held.discard(key)
        if was_held:
            _announce_released(prefix, execution, trial)


def _announce_released(prefix: str, execution: str, trial: int) -> None:
    """Tell the notebook that a held trial's thread left, so its worker takes trials again."""
    with contextlib.suppress(Exception):  # outside a worker (tests): nobody to tell
        from distributed import get_worker

        worker = get_worker()
        worker.log_event(HELD_TOPIC, {"held": False, "worker": worker.address,
                                      "prefix": prefix, "execution": execution, "trial": trial})


@contextlib.contextmanager
def shielded(prefix: str, execution: str) -> Iterator[None]:
    """Meanwhile, the trial's thread is no target: nbtune's own code runs here (``report()``
    talking to the scheduler), which an exception from outside could leave half-done. A halt
    that comes meanwhile is raised when it ends."""
    key = (prefix, execution)
    with _lock:
        ident = _threads.pop(key, None)
    try:
        yield
    finally:
        if ident is not None:
            with _lock:
                halted = prefix in _halted or key in _halted_runs
                if not halted:
                    _threads[key] = ident
            if halted:
                raise TrialHalted()


def halt_trials(prefix: str, executions: list[str] | None = None) -> int:
    """Raise :class:`TrialHalted` in this process's threads that run trials of study ``prefix``
    (of those ``executions`` only, where given: a trial past its time, its study going on).

    Run on each worker by the notebook (``client.run``); returns how many threads it raised in.
    """
    with _lock:
        if executions is None:
            _halted.add(prefix)
        else:
            _halted_runs.update((prefix, e) for e in executions)
        keys = [key for key in _threads if _of(key, prefix, executions)]
        for key in keys:
            ident = _threads.pop(key)  # raised once: the thread is no target any more
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident),
                                                       ctypes.py_object(TrialHalted))
    return len(keys)


def _of(key: tuple[str, str], prefix: str, executions: list[str] | None) -> bool:
    """Whether the (study prefix, execution) ``key`` is one a halt of ``prefix`` (and of
    ``executions`` only, where given) reaches."""
    return key[0] == prefix and (executions is None or key[1] in executions)


async def halt_and_wait(prefix: str, wait: float = 0.5,
                        executions: list[str] | None = None) -> list[dict[str, Any]]:
    """:func:`halt_trials`, then up to ``wait`` seconds for those threads to leave; returns the
    trials still running then (``{"trial", "execution"}``), which this worker announces on
    :data:`HELD_TOPIC` when they do leave. Run on each worker's event loop by the notebook."""
    halt_trials(prefix, executions)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with _lock:
            if not any(_of(key, prefix, executions) for key in _alive):
                return []
        await asyncio.sleep(0.01)
    with _lock:
        left = [key for key in _alive if _of(key, prefix, executions)]
        _held.update(left)
        return [{"trial": _alive[key], "execution": key[1]} for key in left]


HALT_WAIT = 2.0  # seconds a halted trial has to leave before it counts as held: an epoch that
# is mid-way in compiled code when the study ends returns to Python well within it


def still_running(executions: list[list[str]]) -> list[list[str]]:
    """Which of ``executions`` ((study prefix, execution) pairs) still run in this process: run
    on a worker by the notebook, to check what it holds for held before it trusts it."""
    with _lock:
        return [list(key) for key in map(tuple, executions) if key in _alive]


def halt_study(client: Any, prefix: str, wait: float = HALT_WAIT,
               executions: list[str] | None = None, workers: list[str] | None = None
               ) -> "Callable[[float], dict[str, list[dict[str, Any]]]]":
    """Halt the running trials of study ``prefix`` (of those ``executions`` only, where given)
    on every worker of ``client``'s cluster (of ``workers``, where given).

    From a thread of its own, so that a worker that died unnoticed (its address is retried until
    a timeout) does not hold up the study's end. Best effort: a worker that cannot be reached, or
    runs another nbtune, is left alone. Returns a function that waits (at most the seconds it is
    given) for the answers and gives, by worker address, the trials that did not stop within
    ``wait`` seconds.
    """
    answers: dict[str, Any] = {}

    def run() -> None:
        with contextlib.suppress(Exception):  # the study's end is recorded regardless
            answers.update(client.run(halt_and_wait, prefix, wait, executions, workers=workers,
                                      on_error="ignore"))

    thread = threading.Thread(target=run, name=f"{prefix}-halt", daemon=True)
    thread.start()

    def held(timeout: float) -> dict[str, list[dict[str, Any]]]:
        thread.join(timeout)
        return {address: list(trials) for address, trials in dict(answers).items()
                if isinstance(trials, list) and trials}

    return held


def halt_leftovers(client: Any, prefix: str | None) -> int:
    """Stop the trials an earlier run of a study (``prefix``, :func:`~nbtune.run.loop.run_prefix`)
    left running on ``client``'s cluster: a kernel that died left its trials on the workers of a
    cluster it did not start, training on, or waiting at a rung for a verdict for 10 minutes,
    and their threads kept the resumed study's trials waiting (first-day test, round 18).
    Returns how many did not stop within :data:`HALT_WAIT` seconds."""
    if not prefix:
        return 0
    from distributed import Event

    with contextlib.suppress(Exception):  # a trial at a rung hears this at its next check
        Event(f"{prefix}-stop", client=client).set()
    held = halt_study(client, prefix)(HALT_WAIT + 2.0)
    forget_topic(client, report_topic(prefix))  # no inbox of that run will close it
    return sum(len(trials) for trials in held.values())

