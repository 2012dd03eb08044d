"""Schedulers: when to continue, stop (and later pause or promote) running trials."""
from __future__ import annotations

from typing import Any

from .base import CONTINUE, STOP, FIFOScheduler, Scheduler
from .threshold import ThresholdScheduler

SCHEDULERS = {"fifo": FIFOScheduler}


def make_scheduler(scheduler: str | Scheduler | None, **options: Any) -> Scheduler:
    """A scheduler from its name (``"fifo"``) or an instance; None means FIFO."""
    if scheduler is None:
        scheduler = "fifo"
    if isinstance(scheduler, Scheduler):
        if options:
            raise ValueError(f"scheduler options {sorted(options)} were given with a scheduler "
                             "object: set them on the object instead")
        return scheduler
    if isinstance(scheduler, str) and scheduler.lower() in SCHEDULERS:
        return SCHEDULERS[scheduler.lower()](**options)
    known = ", ".join(sorted(SCHEDULERS))
    raise ValueError(f"unknown scheduler {scheduler!r}: use one of {known}, or a Scheduler object")


__all__ = ["CONTINUE", "STOP", "Scheduler", "FIFOScheduler", "ThresholdScheduler",
           "make_scheduler", "SCHEDULERS"]
