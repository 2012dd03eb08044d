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
file of its own (:func:`log_path`), and routes ``sys.stdout`` and ``sys.stderr`` by thread from
the start (:func:`nbtune.run.output.install`): a library that takes them later writes a trial's
lines to the trial's output, and the rest to the log.
"""
from __future__ import annotations

import os
import signal
import tempfile

from .output import install


def log_path(kernel_pid: int, worker_name: object) -> str:
    """The log file of the worker named ``worker_name`` of the kernel ``kernel_pid``'s cluster."""
    return os.path.join(tempfile.gettempdir(), f"nbtune-worker-{kernel_pid}-{worker_name}.log")


def dask_setup(worker) -> None:
    """Ignore SIGINT in this worker process (run by Dask in the process's main thread), and send
    what it prints outside its trials to its log."""
    if worker.nanny is None:  # a worker inside another process (processes=False): not ours to mute
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        fd = os.open(log_path(os.getppid(), worker.name),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:  # no temporary folder to write in: the kernel's streams, as before
        pass
    else:
        for stream in (1, 2):
            os.dup2(fd, stream)
        os.close(fd)
    install()
