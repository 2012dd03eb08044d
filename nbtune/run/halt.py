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
"""
from __future__ import annotations

import contextlib
import ctypes
import threading
from typing import Any, Iterator

from .channel import TrialStopped


class TrialHalted(TrialStopped):
    """Raised inside trial code when its study ended while the trial ran (budget, interrupt,
    ``study.stop()``). Like :class:`~nbtune.run.channel.TrialStopped`, a ``BaseException``, so that
    a broad ``except Exception`` in training code does not swallow it."""


_lock = threading.Lock()
_threads: dict[tuple[str, str], int] = {}  # (study prefix, execution) -> the thread running it
_halted: set[str] = set()  # the studies halted in this process


@contextlib.contextmanager
def halting(prefix: str, execution: str) -> Iterator[None]:
    """Meanwhile, :func:`halt_trials` of ``prefix`` may raise :class:`TrialHalted` in this thread."""
    key = (prefix, execution)
    with _lock:
        if prefix in _halted:  # a trial that starts after its study ended
            raise TrialHalted()
        _threads[key] = threading.get_ident()
    try:
        yield
    finally:
        with _lock:  # a halt raised just before lands here at the latest
            _threads.pop(key, None)


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
                halted = prefix in _halted
                if not halted:
                    _threads[key] = ident
            if halted:
                raise TrialHalted()


def halt_trials(prefix: str) -> int:
    """Raise :class:`TrialHalted` in this process's threads that run trials of study ``prefix``.

    Run on each worker by the notebook (``client.run``); returns how many threads it raised in.
    """
    with _lock:
        _halted.add(prefix)
        keys = [key for key in _threads if key[0] == prefix]
        for key in keys:
            ident = _threads.pop(key)  # raised once: the thread is no target any more
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident),
                                                       ctypes.py_object(TrialHalted))
    return len(keys)


def halt_study(client: Any, prefix: str) -> None:
    """Halt the running trials of study ``prefix`` on every worker of ``client``'s cluster.

    From a thread of its own, so that a worker that died unnoticed (its address is retried until
    a timeout) does not hold up the study's end. Best effort: a worker that cannot be reached, or
    runs another nbtune, is left alone.
    """
    def run() -> None:
        with contextlib.suppress(Exception):  # the study's end is recorded regardless
            client.run(halt_trials, prefix, on_error="ignore")

    threading.Thread(target=run, name=f"{prefix}-halt", daemon=True).start()
