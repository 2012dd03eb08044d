"""Lines nbtune adds to a failed trial's traceback where the failure is one it knows, with its
fix: a module the workers cannot import (:mod:`nbtune.run.imports`), or a trial that starts
processes inside a worker that may not have any (PyTorch's ``DataLoader(num_workers=2)``)."""
from __future__ import annotations

from .imports import missing_module_hint

DAEMONIC = "daemonic processes are not allowed to have children"

NO_CHILDREN = ("a Dask worker runs as a daemonic process, which may start no processes of its "
               "own (DataLoader(num_workers>0), multiprocessing, joblib's process backends): "
               "load the data in the trial's own process (num_workers=0; the data of most tuning "
               "runs fits in memory), or let the workers have children: "
               "dask.config.set({'distributed.worker.daemon': False}) before nbtune's cluster "
               "starts (then `%tune_cluster local` starts it again), or "
               "DASK_DISTRIBUTED__WORKER__DAEMON=False in the environment of `dask worker`")


def with_hints(error: str | None) -> str | None:
    """``error`` (a failed trial's traceback) with nbtune's line on its cause and fix added
    where it knows one; unchanged otherwise."""
    error = missing_module_hint(error)
    if error and DAEMONIC in error:
        error = f"{error.rstrip()}\nnbtune: {NO_CHILDREN}"
    return error
