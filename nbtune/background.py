"""The studies this kernel runs in the background: found by name and file (a second Run All
rebinds ``study``), named by a study that waits beside them on the same cluster, and stopped
as interrupted when the kernel exits. Duck-typed on :class:`nbtune.study.Study`, which adds each
one it starts here (:func:`started`)."""
from __future__ import annotations

import os
import time
import weakref
from typing import Any

_STARTED: "weakref.WeakSet[Any]" = weakref.WeakSet()  # studies started here, in the background


def started(study: Any) -> None:
    """``study`` now runs in the background in this process."""
    _STARTED.add(study)


def running_here(storage: Any, name: str) -> Any:
    """The Study of this process that runs study ``name`` of file ``storage`` in the background
    now, else None: a second Run All rebound ``study`` to a new study, and the Study that
    ``load_study`` gave could not stop the first (first-day test, round 60)."""
    if storage is None:
        return None
    path = os.path.abspath(os.fspath(storage))
    for study in list(_STARTED):
        if study.name == name and study.storage is not None and study.running \
                and os.path.abspath(study.storage) == path:
            return study
    return None


def beside(study: Any, address: Any) -> list[str]:
    """The names of the other studies this kernel runs in the background on the cluster at
    ``address`` (its scheduler's): a study's panel said its trials were starting while those
    held every worker (first-day test, round 60)."""
    if address is None:
        return []
    return [s.name for s in list(_STARTED) if s is not study and s.running
            and getattr(getattr(s, "live", None), "info", {}).get("address") == address]


def stop_all(timeout: float = 10.0) -> None:
    """The kernel is exiting (shut down, restarted): each study running in the background here
    stops as interrupted, its running trials kept as interrupted (``--resume`` runs them again),
    before nbtune's cluster closes under it: the loop then failed on the closed cluster, and the
    study was stored "ended error" with no error (first-day test, round 58). Waits ``timeout``
    seconds at most for them all."""
    running = [s for s in list(_STARTED) if s.running]
    for study in running:
        stop = study._stop
        if stop is not None:
            stop("interrupted")
    deadline = time.monotonic() + timeout
    for study in running:
        study._wait(max(0.0, deadline - time.monotonic()))
