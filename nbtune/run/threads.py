"""The threads a trial runs: PyTorch's count, which ``torch.set_num_threads`` sets for the whole
worker process, not for the trial that calls it; and the threads a library starts on its own.

nbtune's local cluster gives each trial its share of the cores (``OMP_NUM_THREADS``, set when
each worker process starts: :func:`nbtune.run.local._thread_environ`). A trial that called
``torch.set_num_threads(2)``, a common PyTorch habit, left it so for every later trial on that
worker, those of later studies too: four times slower epochs on 2 cores, and nothing said why
(first-day test, round 28). Some libraries take every core whatever that share says: LightGBM's
scikit-learn estimators, whose ``n_jobs=None`` means all of them, ran trials 6 to 7 times
slower on 2 cores, two trials of two threads each spinning for one core each, and nothing said
why (first-day test, round 29). :func:`cores_watched` tells such a trial.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Any, Callable, Iterator

from ..caller import NbtuneWarning
from . import worker_setup
from .output import warning_record


def _share() -> int | None:
    """The threads a trial gets on this worker, where nbtune's cluster set them."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


@contextlib.contextmanager
def torch_threads_kept(warn: Callable[[dict[str, Any]], None]) -> Iterator[None]:
    """PyTorch's intra-op thread count put back as it was once the trial ends (as the worker's
    share, where the trial was the first to import torch here); a trial that raised it is told,
    through ``warn`` (a warning record of the trial's), why its threads compete for the cores."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else _share()
    try:
        yield
    finally:
        torch = sys.modules.get("torch")
        now = torch.get_num_threads() if torch is not None else None
        if now is not None and before is not None and now != before:
            torch.set_num_threads(before)
            if now > before:
                warn(warning_record(
                    f"the trial set torch to {now} threads (torch.set_num_threads), where "
                    f"each trial here has {before}: the trials that run at once compete for "
                    f"the cores; nbtune sets it back to {before} after each trial, so that the "
                    "trials after it run at their share. Fewer workers give each trial more "
                    "threads: %tune_cluster local --workers N", NbtuneWarning,
                    "torch.set_num_threads", 0))


# A trial shorter than this says too little of its threads to judge them.
WATCHED_FROM = 1.0
# Threads beyond its share a trial's CPU time must show before it is told (Dask's own threads
# in the worker, a report's sending, take a little of the process's CPU time too).
OVER_SHARE = 0.6


# Seconds into a trial when its threads are judged a first time, while it runs: a warning goes
# with its next report, where a LightGBM trial of a minute said nothing until its end (round 30).
LIVE_AFTER = 5.0


@contextlib.contextmanager
def cores_watched(warn: Callable[[dict[str, Any]], None],
                  alone: Callable[[], bool]) -> Iterator[None]:
    """Tell a trial (through ``warn``, a warning record of the trial's) that ran more threads at
    once than its share of the cores: a library that starts its own (LightGBM's ``n_jobs``, a
    thread pool of the trial's), which the trials running at once then share the cores with.

    Its threads are read from the CPU time the process spent beside the trial's own thread:
    where two threads share one core each gets half of it, so the ratio shows them even where the
    cores are all busy, as they are in a study (the process's CPU time over the wall-clock time
    does not: two trials of two threads each on two cores spend one core each). Judged only where
    the trial was ``alone()`` in its worker process (a worker of one thread, and the trial kept
    its thread) and its own thread did a fifth of the work at least (a trial that waits for a
    thread of its own is one thread): :data:`LIVE_AFTER` seconds into the trial, then at its end
    where it was not told yet.
    """
    clock = _thread_clock()
    start = (time.monotonic(), time.process_time(), time.thread_time())
    told = threading.Event()

    def judge(own: float) -> None:
        wall = time.monotonic() - start[0]
        own -= start[2]
        beside = time.process_time() - start[1] - own
        share = _share() or 1
        if (wall >= WATCHED_FROM and own >= 0.2 * wall
                and beside > (share - 1 + OVER_SHARE) * own and alone() and not told.is_set()):
            told.set()
            ours = worker_setup.LOG is not None  # a worker of nbtune's own local cluster
            warn(warning_record(cores_note(share, ours), NbtuneWarning, "threads", 0))

    key = object()
    if clock is not None:  # the trial's thread's CPU clock, read from the watcher's thread
        _watch(key, start[0] + LIVE_AFTER, lambda: judge(time.clock_gettime(clock)))
    try:
        yield
    finally:
        with _watch_lock:
            _due.pop(key, None)
        judge(time.thread_time())


_watch_lock = threading.Lock()
_due: dict[object, tuple[float, Callable[[], None]]] = {}  # a running trial's judge, and when
_watcher: list[threading.Thread] = []  # the process's one watcher thread, once started


def _watch(key: object, when: float, judge: Callable[[], None]) -> None:
    """Call ``judge`` at ``when`` (monotonic seconds) unless ``key`` is taken off meanwhile:
    one thread of the process's watches every running trial (a timer thread a trial cost the
    trivial trials' loop a thread's start each)."""
    with _watch_lock:
        _due[key] = (when, judge)
        if not _watcher or not _watcher[0].is_alive():
            _watcher[:] = [threading.Thread(target=_watching, name="nbtune-cores", daemon=True)]
            _watcher[0].start()


def _watching() -> None:
    while True:
        time.sleep(0.5)
        now = time.monotonic()
        with _watch_lock:
            ready = [key for key, (when, _) in _due.items() if when <= now]
            calls = [_due.pop(key)[1] for key in ready]
        for call in calls:
            try:
                call()
            except Exception:  # a trial's judge that failed: the trial's end judges it again
                pass


def _thread_clock() -> int | None:
    """The CPU-time clock of the calling thread, which another thread can read; None where the
    platform has none (Windows)."""
    try:
        return time.pthread_getcpuclockid(threading.get_ident())
    except (AttributeError, OSError):
        return None


def cores_note(share: int, ours: bool = True) -> str:
    """What a trial that ran more threads than its ``share`` of the cores is told: its first
    line, which a summary's one line shows, names the fix. ``ours``: on a worker of nbtune's
    local cluster, which ``%tune_cluster local`` sizes; another's workers are started by hand
    (a cluster of `dask worker --no-nanny` processes left numpy's BLAS a thread per core, and
    the note named n_jobs, which MLPClassifier has none of: first-day test, round 55)."""
    cores = f"{share} core{'s' if share != 1 else ''}"
    fewer = ("Fewer workers give each trial more cores: %tune_cluster local --workers N."
             if ours else
             f"numpy's (BLAS) threads follow OMP_NUM_THREADS, which Dask's nanny sets to the "
             f"worker's threads (a worker started with --no-nanny keeps one per core): start "
             f"the workers with OMP_NUM_THREADS={share}, or fewer of them for more cores a trial.")
    return (f"the trial ran more threads than its {cores} here: every trial runs slower; "
            f"give its library n_jobs={share}\n"
            f"(LightGBM: n_jobs={share}, or num_threads={share} in lgb.train's params; "
            f"scikit-learn: n_jobs={share} where it has n_jobs=-1). {fewer}")
