"""The thread count a trial leaves on its worker: PyTorch's, which ``torch.set_num_threads``
sets for the whole worker process, not for the trial that calls it.

nbtune's local cluster gives each trial its share of the cores (``OMP_NUM_THREADS``, set when
each worker process starts: :func:`nbtune.run.local._thread_environ`). A trial that called
``torch.set_num_threads(2)``, a common PyTorch habit, left it so for every later trial on that
worker, those of later studies too: four times slower epochs on 2 cores, and nothing said why
(first-day test, round 28).
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Callable, Iterator

from ..caller import NbtuneWarning
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
