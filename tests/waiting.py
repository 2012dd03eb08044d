"""Waiting in tests for what happens in other processes or threads (a worker, a kernel, a study
run in the background): poll a condition, fail with what was awaited."""
from __future__ import annotations

import time
from typing import Any, Callable


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60.0,
             interval: float = 0.05) -> Any:
    """Call ``condition`` every ``interval`` seconds until it returns a true value, and return
    that value; fail the test, naming ``what``, when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def busy_threads(client) -> int:
    """How many threads of the cluster's workers run a task now (a cancelled trial's thread
    included, until it returns)."""
    return sum(client.run(lambda dask_worker: len(dask_worker.active_threads)).values())
