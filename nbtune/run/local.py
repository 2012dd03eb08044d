"""How nbtune starts a local Dask cluster: single-threaded worker processes that a Jupyter
interrupt does not kill, a worker per GPU pinned to it, the scheduler's settings for trials, and
the order of the exit handlers. The embedded cluster (:mod:`nbtune.run.embedded`) is one of these."""
from __future__ import annotations

import atexit
import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any, Sequence

from .gpus import gpu_devices
from .interrupts import sigint_blocked


def default_workers() -> int:
    """One single-threaded worker per core available to this process, or ``NBTUNE_WORKERS``
    where it is set (a classroom's or a small machine's: every notebook's cluster at once)."""
    given = os.environ.get("NBTUNE_WORKERS", "").strip()
    if given:
        if not given.isdigit() or int(given) < 1:
            raise ValueError(f"NBTUNE_WORKERS must be a whole number >= 1, got {given!r}")
        return int(given)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# How nbtune's own scheduler treats trials: a worker takes one task per thread beyond those the
# loop queues itself (one per worker: see Loop._slots), and a task whose worker dies fails at once,
# so that nbtune's ``retries`` counts every attempt exactly (a queued trial that dies unstarted is
# sent again by the loop without counting one).
LOCAL_SCHEDULER_CONFIG = {"distributed.scheduler.worker-saturation": 1.0,
                          "distributed.scheduler.allowed-failures": 0}


WORKER_SETUP = "nbtune.run.worker_setup"  # the worker preload that ignores SIGINT


def _with_worker_setup(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with nbtune's preload added to the workers' own (given or configured)."""
    import dask

    preload = kwargs.get("preload")
    if preload is None:
        preload = dask.config.get("distributed.worker.preload", default=[])
    preload = [preload] if isinstance(preload, str) else list(preload)
    if WORKER_SETUP in preload:
        return kwargs
    argv = kwargs.get("preload_argv")
    if argv is None:
        argv = dask.config.get("distributed.worker.preload-argv", default=[])
    if argv and isinstance(argv[0], str):  # one argv shared by all the preloads
        argv = [list(argv)] * len(preload)
    out = dict(kwargs, preload=[*preload, WORKER_SETUP])
    if argv:
        out["preload_argv"] = [*argv, []]
    return out


# The dashboard shows logs, call stacks of running trials and a way to run code on the workers:
# on this machine only, where it needs no credentials (an SSH tunnel or jupyter-server-proxy
# reaches it from elsewhere; pass dashboard_address to local_cluster to choose otherwise).
DASHBOARD_ADDRESS = "127.0.0.1:0"

GPU_THREADS = 4  # threads of a GPU worker: fractions down to --gpus 0.25 share a GPU at once


def processes_can_start() -> bool:
    """Whether a ``LocalCluster`` of worker processes can start from this process.

    Not from a daemonic process, to which ``multiprocessing`` refuses children (the workers of a
    ``multiprocessing.Pool``, of joblib's "multiprocessing" backend). Nor where the process's
    start method is none of Python's own: joblib's loky workers (``cross_val_score(search,
    n_jobs=2)``: a search nested in scikit-learn's parallel loop) run with the start method
    "loky"; a process Dask's nanny spawns from there is told to take that method up, cannot find
    it ("cannot find context for 'loky'"), and the nanny fails to start. Setting the method back
    would change it for the whole process, under joblib's feet, so such a process's embedded
    cluster runs its workers as threads instead (see :func:`local_cluster`).
    """
    import multiprocessing

    if multiprocessing.current_process().daemon:
        return False
    method = multiprocessing.get_start_method(allow_none=True)
    return method is None or method in multiprocessing.get_all_start_methods()


def local_cluster(n_workers: int | None = None, *, gpus: int | Sequence[str] | None = None,
                  threads_per_gpu: int = GPU_THREADS, **kwargs: Any):
    """A ``LocalCluster`` as nbtune starts it: single-threaded worker processes, one per core,
    which a Jupyter interrupt does not kill (see :func:`sigint_blocked`), and beside them one
    worker per GPU with the resource ``GPU=1`` and its ``CUDA_VISIBLE_DEVICES`` pinned to that GPU.
    Where worker processes cannot start (:func:`processes_can_start`: a daemonic process, a
    joblib worker) and ``processes`` is not given, the worker is one thread of this process
    (unless ``n_workers`` says how many): the parallel loop around it already spreads the work
    over processes, one per core (``cross_val_score(search, n_jobs=2)`` ran a thread per core in
    each of its two processes).

    Where there are GPU workers, the CPU workers offer the resource ``CPU=1`` and see no GPU (as in
    Ray, a trial sees only the GPUs it asked for); a trial that asks for nothing then asks for
    ``CPU=1`` (see :func:`nbtune.run.resources.default_ask`), so GPU workers keep their threads
    for GPU trials.

    ``gpus``: None detects them (see :mod:`nbtune.run.gpus`; ``NBTUNE_GPUS`` overrides), a count,
    or device names; ``threads_per_gpu`` is how many fractional-GPU trials a GPU worker hosts.
    """
    import dask
    from distributed import LocalCluster

    check_local_options(n_workers, gpus, threads_per_gpu)
    nested = "processes" not in kwargs and not processes_can_start()
    if n_workers is None:  # nested: one thread; the loop around it uses the other cores
        n_workers = 1 if nested else default_workers()
    options = dict(n_workers=n_workers, threads_per_worker=1, processes=not nested,
                   dashboard_address=DASHBOARD_ADDRESS,
                   # the workers' own HTTP servers too (distributed 2024.8 put them on 0.0.0.0)
                   worker_dashboard_address=DASHBOARD_ADDRESS)
    options.update(kwargs)
    devices = gpu_devices(gpus) if options["processes"] else []  # a pin needs its own process
    if options["processes"]:
        options = _with_worker_setup(options)
    if devices:
        options["resources"] = {"CPU": options["threads_per_worker"],
                                **(options.get("resources") or {})}
        options["env"] = {**(options.get("env") or {}), "CUDA_VISIBLE_DEVICES": ""}
    _quiet_trial_tasks()
    with dask.config.set(LOCAL_SCHEDULER_CONFIG), sigint_blocked(), \
            _thread_environ(_trial_threads(options)):
        cluster = LocalCluster(**options)
        try:
            _add_gpu_workers(cluster, devices, threads_per_gpu)
        except BaseException:
            cluster.close()
            raise
    _close_first_at_exit()
    return cluster


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _trial_threads(options: dict[str, Any]) -> int:
    """Threads of numerical libraries (BLAS, OpenMP: numpy, scikit-learn, PyTorch) for each
    trial: the cores shared out over the trials that run at once, at least one."""
    at_once = options["n_workers"] * options["threads_per_worker"]
    if not options["processes"] or not at_once:  # threads of this process: its own setting
        return 1
    return max(1, default_workers() // at_once)


@contextlib.contextmanager
def _thread_environ(threads: int) -> Iterator[None]:
    """Worker processes started meanwhile give their trials ``threads`` BLAS/OpenMP threads.

    Dask starts each worker process with ``OMP_NUM_THREADS=1`` (and MKL's, OpenBLAS's), which
    fits one single-threaded worker per core; given fewer workers (``%tune_cluster local
    --workers 1`` on 2 cores), a PyTorch trial still trained on 1 thread and a core sat idle
    (first-day test, round 11). A nanny reads these variables from this process's environment
    when it is made (they must be set before the worker process starts, to reach the libraries
    it imports), keeps them for the restarts of its worker, and sets them in this process too
    when it starts one; they are set back here after. Set even to 1: a value left in this
    process by an earlier worker's start would be taken instead."""
    before = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_first_at_exit: list[Callable[[], None]] = []  # see run_first_at_exit


def run_first_at_exit(func: Callable[[], None]) -> None:
    """Run ``func`` at exit before the exit handlers of every local cluster started later (exit
    handlers run last registered first): Dask closed a local cluster first, while a client still
    held a study's data, and logged an ERROR under every script that used with_parameters
    ("Removing worker ... caused the cluster to lose scattered data")."""
    _first_at_exit.append(func)
    _close_first_at_exit()


def _run_first() -> None:
    for func in _first_at_exit:
        func()


def _close_first_at_exit() -> None:
    """Register :func:`_run_first` again, after the handlers of the cluster just started."""
    atexit.unregister(_run_first)
    atexit.register(_run_first)


def close_quietly(things: list[Any]) -> None:
    """Close each of ``things`` (clients, clusters; None skipped), whatever closing one raises."""
    for thing in things:
        if thing is not None:
            try:
                thing.close()
            except Exception:
                pass


class _TrialTaskNoise(logging.Filter):
    """Drops the scheduler's log lines about nbtune's own trial tasks ("Task nbtune-trial-...
    marked as failed because 1 workers died", "... will be recomputed elsewhere: {nbtune-...}"):
    in a notebook they came as a red box of ERROR lines under the study, which reads as nbtune
    failing, and they say what the panel says of each trial ("its worker died"), in Dask's
    words about tasks that nbtune never recomputes; and the loss of a trial function's bytes
    ("... caused the cluster to lose scattered data ... {'PickledOnce-...'}"), which the loop
    sends again; and the workers' imports of the notebook's modules, cut short where the
    cluster closes as they run (`%tune_cluster ADDRESS` just after a cell's imports: "Task
    nbtune-import-... marked as failed because 1 workers died", first-day test, round 34)."""

    def __init__(self) -> None:
        super().__init__()
        from .preimport import KEY as IMPORT_KEY
        from .subtasks import PIECE_KEY
        from .task import TRIAL_KEY, PickledOnce

        self.keys = (TRIAL_KEY + "-", PIECE_KEY + "-", PickledOnce.__name__ + "-",
                     IMPORT_KEY + "-")

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not any(key in text for key in self.keys)


_NOISE: list[_TrialTaskNoise] = []  # the one filter, made at the first local cluster


def _quiet_trial_tasks() -> None:
    """Install :class:`_TrialTaskNoise` on the scheduler's logger (once): an in-process
    scheduler's lines go to this process's stderr, a notebook's cell."""
    if not _NOISE:
        _NOISE.append(_TrialTaskNoise())
        logging.getLogger("distributed.scheduler").addFilter(_NOISE[0])


def check_local_options(n_workers: Any, gpus: Any, threads_per_gpu: Any) -> None:
    """ValueError, with one clear line, for options of :func:`local_cluster` no one can start."""
    def count(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    if n_workers is not None and not count(n_workers):
        raise ValueError(f"the number of workers must be an integer >= 0, got {n_workers!r}")
    if n_workers == 0 and not gpus:  # a study on it waited for a worker in silence (round 44)
        raise ValueError("0 workers and no GPU would run no trial: give 1 or more workers, or "
                         "leave the number out for one per core")
    if isinstance(gpus, (int, float)) and not count(gpus):
        raise ValueError(f"the number of GPUs must be an integer >= 0, got {gpus!r}")
    if not count(threads_per_gpu) or not threads_per_gpu:
        raise ValueError(f"threads per GPU worker must be a positive integer, "
                         f"got {threads_per_gpu!r}")


def _add_gpu_workers(cluster, devices: list[str], nthreads: int) -> None:
    """One worker per device, as the cluster's others but tagged ``GPU=1`` and pinned to it."""
    if not devices:
        return
    spec = cluster.new_spec
    for device in devices:
        env = {**spec["options"].get("env", {}), "CUDA_VISIBLE_DEVICES": device}
        resources = {k: v for k, v in (spec["options"].get("resources") or {}).items()
                     if k != "CPU"}
        options = dict(spec["options"], nthreads=nthreads, resources={**resources, "GPU": 1},
                       env=env)
        cluster.worker_spec[f"gpu-{device}"] = {"cls": spec["cls"], "options": options}
    cluster.sync(cluster._correct_state)
