"""The embedded cluster: the kernel's own local Dask cluster, started on first use or in the
background when the extension loads (:func:`warm_up`), restarted with other options by
``%tune_cluster local``, and closed where no study runs on it (:func:`release_idle`)."""
from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any, Sequence

from .interrupts import sigint_blocked
from .local import (GPU_THREADS, THREAD_VARIABLES, check_local_options, close_quietly,
                    default_workers, local_cluster)

_lock = threading.Lock()
_embedded: dict[str, Any] = {}


def embedded_client():
    """The kernel's own LocalCluster and Client, started on first use and reused afterwards
    (a start under way in the background, see :func:`warm_up`, is waited for, not repeated)."""
    with _lock:
        return _start_embedded()


def _start_embedded():
    """The embedded client, started if need be; the caller holds ``_lock``."""
    from distributed import Client

    client = _embedded.get("client")
    if client is not None and client.status == "running":
        return client
    with sigint_blocked():  # an interrupt meanwhile is raised once both are kept
        _embedded["environ"] = _environ()  # what its worker processes start with
        cluster = local_cluster(**_embedded.get("options", {}))
        client = Client(cluster, set_as_default=False)
        _embedded.update(cluster=cluster, client=client)
    return client


def warm_up() -> threading.Thread | None:
    """Start the embedded cluster in a background thread, so that the first study finds it
    running (or waits for this start rather than making its own); None where it runs or is
    starting already. :func:`close_embedded` and :func:`use_local` cancel a start not begun yet.

    Dask is imported here, in the caller's thread, before the thread starts: a cell that
    imported dask meanwhile (``%%tune``'s own ``dask.sizeof``) found a partly imported
    ``dask`` and failed on "module 'dask' has no attribute 'utils'" (seen once in a test run;
    Python's import locks do not cover a package's attribute for a submodule still loading).
    An interrupt that lands in that import (a Stop pressed just after ``%load_ext``) takes the
    half-imported modules out again (:func:`drop_half_imported`) before it goes on: they left
    the kernel's next ``%%tune`` failing on the same "no attribute 'utils'" (first-day test,
    round 67)."""
    before = set(sys.modules)
    try:
        importlib.import_module("distributed")  # and dask with it
    except KeyboardInterrupt:
        drop_half_imported(before)
        raise

    with _lock:
        if embedded_started() or embedded_starting():
            return None
        thread = threading.Thread(target=_warm_start, args=(_embedded.get("generation", 0),),
                                  daemon=True, name="nbtune-cluster-start")
        _embedded["warming"] = thread
        thread.start()
        return thread


def drop_half_imported(before: set[str]) -> None:
    """Take out of ``sys.modules`` the modules imported since it held ``before`` whose package
    an interrupted import took out again: Python drops the module whose code the interrupt
    cut and each package above it, and keeps their submodules that had loaded, so that
    ``import dask`` ran ``dask/__init__`` again and found ``dask.utils`` in ``sys.modules``,
    never set on the new ``dask`` module."""
    for name in sorted(set(sys.modules) - before):
        parts = name.split(".")
        if any(".".join(parts[:i]) not in sys.modules for i in range(1, len(parts))):
            sys.modules.pop(name, None)


def _warm_start(generation: int) -> None:
    try:
        with _lock:
            if _embedded.get("generation", 0) == generation:
                _start_embedded()
    except Exception:  # the first study starts it again, and shows why it cannot
        pass
    finally:
        if _embedded.get("warming") is threading.current_thread():  # not a later start's
            _embedded.pop("warming", None)


def embedded_starting() -> bool:
    """True while :func:`warm_up`'s thread starts the embedded cluster."""
    thread = _embedded.get("warming")
    return thread is not None and thread.is_alive()


def starting_line() -> str:
    """What a study that starts (or waits for) the embedded cluster shows meanwhile."""
    options = _embedded.get("options", {})
    n = options.get("n_workers")
    n = default_workers() if n is None else n
    return f"starting a local Dask cluster: {n} worker{'s' if n != 1 else ''} ..."


def set_local_workers(n_workers: int | None) -> str | None:
    """The workers the embedded cluster starts with (None: one per core, or NBTUNE_WORKERS):
    ``%config Tune.workers``. Where it runs or is starting already, it is not restarted under
    a study (a line says how to restart it); the next start takes the number."""
    if n_workers is not None:
        check_local_options(n_workers, None, GPU_THREADS)
    with _lock:
        options = _embedded.setdefault("options", {})
        before = options.get("n_workers")
        options["n_workers"] = n_workers
        running = embedded_started() or embedded_starting()
    if not running or before == n_workers:
        return None
    n = default_workers() if before is None else before
    return (f"nbtune's local cluster runs already with {n} worker{'s' if n != 1 else ''}: "
            f"Tune.workers takes effect at its next start; %tune_cluster local --workers "
            f"{n_workers or default_workers()} restarts it now")


def use_local(n_workers: int | None = None, gpus: int | Sequence[str] | None = None,
              threads_per_gpu: int = GPU_THREADS):
    """Replace the embedded cluster by one started with these options (see
    :func:`local_cluster`) and return its client; later studies with ``cluster=None`` use it."""
    check_local_options(n_workers, gpus, threads_per_gpu)
    with _lock:
        old = [_embedded.pop("client", None), _embedded.pop("cluster", None)]
        _embedded["options"] = dict(n_workers=n_workers, gpus=gpus,
                                    threads_per_gpu=threads_per_gpu)
        _embedded["generation"] = _embedded.get("generation", 0) + 1
    close_quietly(old)
    return embedded_client()


_studying: dict[int, int] = {}  # id of a client -> studies running on it in this process


@contextlib.contextmanager
def studying(client: Any) -> Iterator[None]:
    """Count a study's loop as running on ``client`` while it runs (see :func:`release_idle`)."""
    with _lock:
        _studying[id(client)] = _studying.get(id(client), 0) + 1
    try:
        yield
    finally:
        with _lock:
            left = _studying.pop(id(client), 1) - 1
            if left:
                _studying[id(client)] = left


def release_idle() -> bool:
    """Close the embedded cluster where no study of this process runs on it: ``%tune_cluster
    ADDRESS`` moved the studies elsewhere, and its workers sat idle for the kernel's life
    (first-day test, round 10). True where it closed one; a later study starts it again."""
    with _lock:
        client = _embedded.get("client")
        if client is None or embedded_starting() or _studying.get(id(client)):
            return False
        old = [_embedded.pop("client", None), _embedded.pop("cluster", None)]
        _embedded["generation"] = _embedded.get("generation", 0) + 1
    close_quietly(old)
    return True


def embedded_started() -> bool:
    """True when the embedded cluster runs (a study or ``%tune_cluster`` started it)."""
    client = _embedded.get("client")
    return client is not None and client.status == "running"


def close_embedded() -> None:
    """Close the embedded cluster; its next start is with the default options again."""
    with _lock:
        old = [_embedded.pop("client", None), _embedded.pop("cluster", None)]
        _embedded.pop("options", None)
        _embedded["generation"] = _embedded.get("generation", 0) + 1
    close_quietly(old)


def environ_changes() -> dict[str, str | None]:
    """The kernel's environment variables set, changed (their value) or unset (None) since the
    embedded cluster's workers started, taken as told to them from now on: the caller sends
    them (:func:`environ_told`). The thread variables are the cluster's own share of the cores.

    A worker process takes the kernel's environment as it starts, and the cluster starts in the
    background as the extension loads: a notebook's ``os.environ["KERAS_BACKEND"] = "torch"``
    in a later cell never reached the workers, whose Keras then wanted TensorFlow, and every
    trial failed with "No module named 'tensorflow'" (first-day test, round 30)."""
    with _lock:
        started = _embedded.get("environ")
        if started is None:
            return {}
        now = _environ()
        changes: dict[str, str | None] = {k: v for k, v in now.items() if started.get(k) != v}
        changes.update({k: None for k in started if k not in now})
        _embedded["environ"] = now
        return changes


def _environ() -> dict[str, str]:
    """The kernel's environment less the thread variables (the cluster's own share of the
    cores, set for its workers as they start)."""
    return {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}


def environ_told(changes: dict[str, str | None]) -> None:
    """On a worker: take the kernel's environment ``changes`` (see :func:`environ_changes`)."""
    for name, value in changes.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def tell_environ(client: Any) -> None:
    """Send the embedded cluster's workers (``client``'s) the kernel's environment changes,
    before a study sends them its trials."""
    if client is not _embedded.get("client"):
        return
    changes = environ_changes()
    if changes:
        client.run(environ_told, changes)
