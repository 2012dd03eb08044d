"""A Dask worker preload for nbtune's embedded cluster: the worker ignores the kernel's interrupt,
and keeps what it prints outside its trials out of the notebook.

Jupyter interrupts a kernel by sending SIGINT to its whole process group, which holds the worker
processes of a ``LocalCluster`` the kernel started (dask/distributed#1925). nbtune starts those
processes with SIGINT blocked (:func:`nbtune.run.interrupts.sigint_blocked`), which covers their
start-up; this preload then sets SIGINT to be ignored for the rest of the worker's life, which also
discards an interrupt that arrived while it was blocked.

A worker process inherits the kernel's standard output and error, which ipykernel shows in
whatever cell runs: Dask's own log ("Compute Failed" with nbtune's frames), and what a library
wrote through a stream it had taken before a trial ran (Lightning's log handler, made when the
workers imported it after a cell: each trial's "GPU available: False" and its progress bar, 104 KB
in one cell; first-day test, round 30). The preload points the process's two streams at a log
file of its own (:func:`log_path`; where a trial's worker dies, the study's error quotes the
last line it wrote there: :func:`last_words`), and routes ``sys.stdout`` and ``sys.stderr`` by
thread from the start (:func:`nbtune.run.output.install`): a library that takes them later writes a trial's
lines to the trial's output, and the rest to the log.
"""
from __future__ import annotations

import os
import signal
import tempfile

from .output import install


LOG: str | None = None  # this worker process's log file, once the preload points its streams at it
STARTED = "nbtune: worker process {} started\n"  # the line each process of the worker begins with


def log_path(kernel_pid: int, worker_name: object) -> str:
    """The log file of the worker named ``worker_name`` of the kernel ``kernel_pid``'s cluster
    (each of its processes appends to it: a restart keeps what the one before said)."""
    return os.path.join(tempfile.gettempdir(), f"nbtune-worker-{kernel_pid}-{worker_name}.log")


def last_words(path: str, pid: int, limit: int = 160) -> str | None:
    """The last line worker process ``pid`` wrote to its log ``path`` (where it died: "Fatal
    Python error: Segmentation fault", say), at most ``limit`` characters; None where it wrote
    none, or the log cannot be read."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 65536))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    ours = text.rpartition(STARTED.format(pid))
    if not ours[1]:
        return None
    mine = ours[2].partition(STARTED.partition("{}")[0])[0]  # up to the next process's start
    lines = [line.strip() for line in mine.splitlines() if line.strip()]
    if not lines:
        return None
    last = lines[-1]
    return last if len(last) <= limit else last[:limit - 1] + "…"


def dask_setup(worker) -> None:
    """Ignore SIGINT in this worker process (run by Dask in the process's main thread), and send
    what it prints outside its trials to its log."""
    if worker.nanny is None:  # a worker inside another process (processes=False): not ours to mute
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global LOG
    path = log_path(os.getppid(), worker.name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:  # no temporary folder to write in: the kernel's streams, as before
        pass
    else:
        os.write(fd, STARTED.format(os.getpid()).encode())
        for stream in (1, 2):
            os.dup2(fd, stream)
        os.close(fd)
        LOG = path
    install()
