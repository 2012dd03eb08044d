"""What a study sends to every worker before its first trial (a ``with_parameters`` function's
data, a trial function that closes over a notebook's large array), checked against the workers'
memory limits, and said while it travels.

Each worker holds a copy (the data is broadcast: a copy on one only would be lost with it). Data
that does not fit a worker's memory limit paused the workers, which their nannies restarted, and
the cell waited for ever with nothing but Dask's logs on its stderr (first-day test, round 21).
"""
from __future__ import annotations

from typing import Any

from .task import INLINE_BYTES, PickledOnce, with_parameters

# Dask pauses a worker whose memory passes this share of its limit (distributed.worker.memory.pause)
PAUSE_SHARE = 0.8
# ... and data past this share of it leaves the trials little room: said, not refused
TIGHT_SHARE = 0.5
SAID_FROM = 32 * 2**20  # bytes sent past which the views say so while it travels


def sent(fn: Any, pickled: Any = None) -> dict[str, int]:
    """What the study sends to every worker before its first trial, by name: each value of a
    ``with_parameters`` function's data (Dask's estimate of its size in memory), and the
    trial function's own bytes where they travel apart (a function that closes over a
    notebook's large array)."""
    from dask.sizeof import sizeof

    out: dict[str, int] = {}
    if isinstance(fn, with_parameters):
        out.update({name: int(sizeof(value)) for name, value in (fn.data or {}).items()})
    if isinstance(pickled, PickledOnce) and len(pickled.blob) > INLINE_BYTES:
        out["the trial function"] = len(pickled.blob)
    return out


def memory_limits(client: Any) -> dict[str, tuple[int, int]]:
    """Each worker's memory limit in bytes (0: none) and the memory its process uses now, by
    address, as the scheduler knows them."""
    info = client.scheduler_info(n_workers=-1)
    return {a: (int(w.get("memory_limit") or 0),
                int((w.get("metrics") or {}).get("memory") or 0))
            for a, w in info.get("workers", {}).items()}


def check_fits(limits: dict[str, tuple[int, int]], sizes: dict[str, int]) -> str | None:
    """ValueError, one line, where what is sent does not fit in a worker's room under its
    memory limit (Dask pauses a worker past :data:`PAUSE_SHARE` of the limit; the worker's
    process uses some of it already); a note where it takes more than :data:`TIGHT_SHARE` of
    that room; else None. ``limits``: :func:`memory_limits`."""
    total = sum(sizes.values())
    rooms = {a: (PAUSE_SHARE * limit - used, limit, used)
             for a, (limit, used) in limits.items() if limit}
    if not total or not rooms:
        return None
    address, (room, limit, used) = min(rooms.items(), key=lambda item: item[1][0])
    what = f"{_names(sizes)}: {size_text(total)}"
    where = f"{size_text(limit)} on {address}, whose process uses {size_text(used)}"
    if total > room:
        raise ValueError(
            f"the data sent with the trials ({what}) does not fit the workers' memory limit "
            f"({where}; each worker holds a copy, and Dask pauses a worker at "
            f"{PAUSE_SHARE:.0%} of its limit): give the workers more memory "
            "(LocalCluster(memory_limit=...), dask worker --memory-limit ...), or send less "
            "(a float32 copy, fewer rows or columns)")
    if total > TIGHT_SHARE * room:
        return (f"the data sent with the trials ({what}) takes {total / room:.0%} of the room "
                f"under the workers' memory limit ({where}): a trial that copies it may pass "
                "the limit, and Dask's nanny restarts a worker there")
    return None


def sending_line(sizes: dict[str, int], n_workers: int) -> str | None:
    """"sending X_train, X_val (610 MiB) to 2 workers ...", for the views while it travels,
    where it is large enough to take a while (:data:`SAID_FROM`); else None."""
    total = sum(sizes.values())
    if total < SAID_FROM:
        return None
    return (f"sending {_names(sizes)} ({size_text(total)}) to {n_workers} "
            f"worker{'s' if n_workers != 1 else ''} ...")


def _names(sizes: dict[str, int]) -> str:
    return ", ".join(sizes)


def size_text(n: float) -> str:
    """"610.35 MiB": Dask's own words for a size."""
    from dask.utils import format_bytes  # Dask is imported where a study runs, not before

    return format_bytes(n)
