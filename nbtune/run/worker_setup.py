"""A Dask worker preload for nbtune's embedded cluster: the worker ignores the kernel's interrupt.

Jupyter interrupts a kernel by sending SIGINT to its whole process group, which holds the worker
processes of a ``LocalCluster`` the kernel started (dask/distributed#1925). nbtune starts those
processes with SIGINT blocked (:func:`nbtune.run.interrupts.sigint_blocked`), which covers their
start-up; this preload then sets SIGINT to be ignored for the rest of the worker's life, which also
discards an interrupt that arrived while it was blocked.
"""
from __future__ import annotations

import signal


def dask_setup(worker) -> None:
    """Ignore SIGINT in this worker process (run by Dask in the process's main thread)."""
    if worker.nanny is None:  # a worker inside another process (processes=False): not ours to mute
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
