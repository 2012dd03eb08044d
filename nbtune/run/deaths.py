"""Why a trial's worker died, where Dask recorded it: a nanny's restart for memory. (A crash's
last words, read from the log of a worker of nbtune's own cluster, are
:func:`nbtune.run.worker_setup.last_words`.)"""
from __future__ import annotations

from typing import Any


def memory_restart(client: Any, worker: str | None, since: float | None) -> str:
    """Where the nanny of ``worker`` restarted it for its memory since ``since`` (a trial's
    start; Dask's "worker-restart-memory" event, on any cluster whose workers have nannies):
    what its process held, and the fix; "" otherwise. A trial that filled its worker's memory
    read "its worker died 2 times" and nothing of memory (first-day test, round 67)."""
    if not worker:
        return ""
    try:
        events = client.get_events("worker-restart-memory")
    except Exception:  # the scheduler lost, or an older one: the death alone
        return ""
    for when, event in reversed(list(events or ())):
        if isinstance(event, dict) and event.get("worker") == worker \
                and (since is None or when >= since - CLOCKS_APART):
            import dask
            from dask.utils import format_bytes

            fraction = dask.config.get("distributed.worker.memory.terminate", 0.95) or 0.95
            return (f"its nanny restarted it for its memory (the process held "
                    f"{format_bytes(event.get('rss') or 0)}, past {fraction:.0%} of the "
                    f"worker's memory limit): a smaller model or batch, or workers with more "
                    f"memory")
    return ""


CLOCKS_APART = 5.0  # seconds a worker's clock may run behind the scheduler's
