"""Which Dask cluster a study runs on: an existing client, an address, a cluster, or the embedded one."""
from __future__ import annotations

import atexit
import os
import threading
from typing import Any

_lock = threading.Lock()
_embedded: dict[str, Any] = {}
_clients: dict[str, Any] = {}  # address -> the Client nbtune opened for it, reused


def default_workers() -> int:
    """One single-threaded worker per core available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# How nbtune's own scheduler treats trials: a worker takes one task per thread (no second trial
# queued behind a running one, where a worker death would take it down too), and a task whose
# worker dies fails at once, so that nbtune's ``retries`` counts every attempt exactly.
LOCAL_SCHEDULER_CONFIG = {"distributed.scheduler.worker-saturation": 1.0,
                          "distributed.scheduler.allowed-failures": 0}


def local_cluster(n_workers: int | None = None, **kwargs: Any):
    """A ``LocalCluster`` as nbtune starts it: single-threaded worker processes, one per core."""
    import dask
    from distributed import LocalCluster

    options = dict(n_workers=n_workers or default_workers(), threads_per_worker=1,
                   processes=True, dashboard_address=":0")
    options.update(kwargs)
    with dask.config.set(LOCAL_SCHEDULER_CONFIG):
        return LocalCluster(**options)


def embedded_client():
    """The kernel's own LocalCluster and Client, started on first use and reused afterwards."""
    from distributed import Client

    with _lock:
        client = _embedded.get("client")
        if client is not None and client.status == "running":
            return client
        cluster = local_cluster()
        client = Client(cluster, set_as_default=False)
        _embedded.update(cluster=cluster, client=client)
        return client


def close_clients() -> None:
    """Close the clients nbtune opened and its embedded cluster (registered at exit)."""
    with _lock:
        things = list(_clients.values()) + [_embedded.pop("client", None),
                                             _embedded.pop("cluster", None)]
        _clients.clear()
    for thing in things:
        if thing is not None:
            try:
                thing.close()
            except Exception:
                pass


atexit.register(close_clients)


def get_client(cluster: Any = None):
    """A ``distributed.Client`` for ``cluster``: None (embedded), a Client, an address or a cluster."""
    from distributed import Client

    if cluster is None:
        return embedded_client()
    if isinstance(cluster, Client):
        return cluster
    if isinstance(cluster, str) or hasattr(cluster, "scheduler_address"):
        address = cluster if isinstance(cluster, str) else cluster.scheduler_address
        with _lock:
            client = _clients.get(address)
            if client is not None and client.status == "running":
                return client
            try:
                client = Client(cluster, set_as_default=False, timeout="10s")
            except OSError as exc:
                raise ConnectionError(f"cannot reach the Dask scheduler at {address!r} ({exc}); "
                                      "check the address or start one with `dask scheduler`"
                                      ) from None
            _clients[address] = client
            return client
    raise TypeError(f"cluster must be None, a distributed.Client, a scheduler address or a cluster "
                    f"object, got {type(cluster).__name__}")


def total_threads(client) -> int:
    """How many tasks the cluster runs at once (sum of its workers' threads)."""
    return max(1, sum(client.nthreads().values()))
