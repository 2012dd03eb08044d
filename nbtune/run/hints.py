"""Lines nbtune adds to a failed trial's traceback where the failure is one it knows, with its
fix: a module the workers cannot import (:mod:`nbtune.run.imports`), or a trial that starts
processes inside a worker that may not have any (PyTorch's ``DataLoader(num_workers=2)``)."""
from __future__ import annotations

from .imports import missing_module_hint

DAEMONIC = "daemonic processes are not allowed to have children"

# one line a failure list shows whole (160 characters): the fix, `dask worker`'s in the README
NO_CHILDREN = ("Dask's daemonic workers start no processes: num_workers=0, or "
               "dask.config.set({'distributed.worker.daemon': False}) and %tune_cluster local")


def with_hints(error: str | None) -> str | None:
    """``error`` (a failed trial's traceback) with nbtune's line on its cause and fix added
    where it knows one; unchanged otherwise."""
    error = missing_module_hint(error)
    if error and DAEMONIC in error:
        error = f"{error.rstrip()}\nnbtune: {NO_CHILDREN}"
    return error
