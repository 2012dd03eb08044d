"""Jupyter's interrupt (SIGINT) and nbtune: workers that never see it, bookkeeping it cannot cut.

Jupyter interrupts a kernel by signalling its whole process group, worker processes included
(dask/distributed#1925). nbtune's own cluster is started with SIGINT blocked, and an interrupted
study records its end with further interrupts ignored. The resource tracker started for that
cluster's workers is stopped when the kernel exits. A script's study takes SIGTERM as an
interrupt, then dies of it.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import signal
import sys
import threading
import time
from typing import Iterator

# The resource tracker's warning at its end about semaphores it cleans up (see
# _start_resource_tracker), as a PYTHONWARNINGS entry
TRACKER_QUIET = "ignore:resource_tracker:UserWarning:multiprocessing.resource_tracker"

# Whether an interrupt that ends the study ends the whole request the kernel runs: a %%tune
# cell is the cell (see interrupts_absorbed_to_cell_end).
_TO_CELL_END = contextvars.ContextVar("nbtune_interrupts_to_cell_end", default=False)


@contextlib.contextmanager
def sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread meanwhile, so that the threads it starts, and the processes
    they start, never see it.

    Jupyter interrupts a kernel by signalling its whole process group, worker processes included
    (dask/distributed#1925). Threads inherit the signal mask of the thread that starts them, and a
    process inherits it from the thread that forks it and keeps it across ``exec``: a
    ``LocalCluster`` started in here has its loop thread, the threads its nannies start processes
    from, and so every worker process (at start-up, and when a nanny restarts one) with SIGINT
    blocked, until the worker's preload (:mod:`nbtune.run.worker_setup`) ignores it for good.
    An interrupt that arrives meanwhile reaches this thread when the block ends.
    """
    if not hasattr(signal, "pthread_sigmask"):  # Windows: Jupyter interrupts by an event there
        yield
        return
    _start_resource_tracker()  # first: starting it unblocks SIGINT in the thread that does
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker now, where the workers' start method uses one.

    The thread that starts it is left with SIGINT unblocked (CPython blocks it while spawning the
    tracker, bpo-33613, then unblocks it): started later by the cluster's loop thread, it would
    undo :func:`sigint_blocked` there before the first worker is spawned.
    """
    import dask

    if dask.config.get("distributed.worker.multiprocessing-method") in ("spawn", "forkserver"):
        from multiprocessing import resource_tracker

        # Workers killed by a signal to the process group (SIGTERM to a script's group: a job
        # queue's cancel) leave their semaphores registered; the tracker unlinks them at its end
        # and warned of "leaked semaphore objects" in a nightly job's log, a line nothing can
        # act on. It reads this warnings filter from its environment at start.
        before = os.environ.get("PYTHONWARNINGS")
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [before, TRACKER_QUIET]))
        try:
            resource_tracker.ensure_running()
        finally:
            if before is None:
                del os.environ["PYTHONWARNINGS"]
            else:
                os.environ["PYTHONWARNINGS"] = before


def stop_resource_tracker(wait: float = 2.0) -> None:
    """End multiprocessing's resource tracker, when the kernel exits after closing its clusters.

    The tracker ignores SIGTERM, so a kernel that started one (for its workers) waited for the
    kernel manager's kill, seconds later, at every shutdown and restart. Once this process has no
    multiprocessing children left (another cluster's workers share the tracker), it closes its
    end of the tracker's pipe and waits for the tracker to end (it ends when no process holds the
    pipe any more); ``wait`` seconds at most in all. A later need for one starts another.
    """
    import multiprocessing
    import os
    import time
    from multiprocessing import resource_tracker

    tracker = getattr(resource_tracker, "_resource_tracker", None)
    lock = getattr(tracker, "_lock", None)
    if lock is None or not hasattr(tracker, "_fd") or not hasattr(tracker, "_pid"):
        return  # not CPython's tracker
    deadline = time.monotonic() + wait
    while multiprocessing.active_children():  # workers that are still exiting, or another
        if time.monotonic() > deadline:       # cluster's, which go on using the tracker
            return
        time.sleep(0.01)
    with lock:
        fd, pid, tracker._fd, tracker._pid = tracker._fd, tracker._pid, None, None
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.close(fd)
    with contextlib.suppress(OSError):  # ChildProcessError: not ours to reap
        while pid is not None and os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ignore Ctrl-C (Jupyter's interrupt) meanwhile, in the main thread: the study being ended
    already, one more interrupt has nothing left to stop, and cutting the recording of the
    interrupted trials or the study's end short would leave the database half-written."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _absorbed)
    try:
        yield
    finally:
        if not _TO_CELL_END.get():
            signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def interrupts_absorbed_to_cell_end() -> Iterator[None]:
    """Within it, the first interrupt raises KeyboardInterrupt as ever, and those after it stay
    absorbed until the kernel has answered the cell: for a %%tune cell, whose study is the whole
    cell. An interrupted (or failed) study's recording of its end leaves them absorbed too.

    Without it, a second interrupt (Jupyter's button pressed twice) fell in the clearing up of
    the first, in nbtune's closing lines, in the notebook's post-run hooks, or in ipykernel's own
    code between the cell and its reply, where ipykernel catches it and the reply is never sent:
    a page of frames, or a cell left [*] with the kernel idle. The handler that absorbs them is
    set by the handler of the first interrupt itself, before anything else can run: no window
    is left between the two. It is left to the caller's host to put back its own handler: only
    for a caller whose host does (ipykernel, once the request is answered:
    ``Kernel.post_handler_hook``; the magic checks it). Where no interrupt came, the handler
    found is put back on the way out.
    """
    token = _TO_CELL_END.set(True)
    own = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _interrupt_once) if own else None
    try:
        yield
    finally:
        _TO_CELL_END.reset(token)
        if own and signal.getsignal(signal.SIGINT) is _interrupt_once:  # none came
            signal.signal(signal.SIGINT, previous)


def _interrupt_once(signum, frame) -> None:
    """SIGINT's handler in a cell (see :func:`interrupts_absorbed_to_cell_end`): this interrupt
    raises KeyboardInterrupt, the ones after it are absorbed."""
    signal.signal(signal.SIGINT, _absorbed)
    raise KeyboardInterrupt


def _absorbed(signum, frame) -> None:
    """SIGINT's handler once an interrupt has ended the cell's study: nothing is left to stop."""


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[list[bool]]:
    """Within it, in a script's main thread whose SIGTERM is Python's default (the process dies
    at once), the first SIGTERM (``timeout``, a CI job's cancel, ``docker stop``) raises
    KeyboardInterrupt as Ctrl-C does, so that the study records its end; later ones wait for
    that. Yields a list whose one item becomes True when one came: the caller then dies of it
    (:func:`die_of_sigterm`), once the study is recorded. A headless run's log ended mid-study
    with no summary and no resume line (first-day test, round 39)."""
    came = [False]
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL):
        yield came
        return

    def interrupt(signum, frame) -> None:
        if not came[0]:
            came[0] = True
            # the signal reached the local cluster's workers too (a process group's): Dask's
            # lines on their deaths ("broadcast ... failed", "Restarting worker") filled the
            # log as errors; the process ends once the study is recorded
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield came
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


class _SyncCancelRace(logging.Filter):
    """Drops the one record of distributed's ``sync()`` (2026.8 to 2026.11 at least) that an
    interrupt landing before its coroutine started makes: the cancel callback reads ``future``
    before it is assigned, and tornado logs "Exception in callback ... NameError: cannot access
    free variable 'future'" as an ERROR. A script stopped by its job queue printed it after
    nbtune's own lines (the interrupt itself is taken as usual); any other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, NameError) or "'future'" not in str(exc):
            return True
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        code = tb.tb_frame.f_code if tb is not None else None
        return not (code is not None and code.co_name == "cancel"
                    and code.co_filename.endswith(os.path.join("distributed", "utils.py")))


_SYNC_CANCEL_RACE = _SyncCancelRace()


def quiet_sync_cancel_race() -> None:
    """Keep distributed's cancel race (:class:`_SyncCancelRace`) out of the log; once is
    enough (a logger keeps its filters)."""
    logger = logging.getLogger("tornado.application")
    if _SYNC_CANCEL_RACE not in logger.filters:
        logger.addFilter(_SYNC_CANCEL_RACE)


def die_of_sigterm() -> None:
    """End the process as the SIGTERM it was sent would have (exit status 143), its output
    flushed: SIGTERM's handler is Python's default again (see :func:`terminate_as_interrupt`)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)  # the signal is delivered meanwhile
