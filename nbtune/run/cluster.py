"""Which Dask cluster a study runs on: an existing client, an address, a cluster, or the embedded one."""
from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any, Sequence

from .gpus import gpu_devices
from .interrupts import sigint_blocked

_lock = threading.Lock()
_embedded: dict[str, Any] = {}
_clients: dict[str, Any] = {}  # address -> the Client nbtune opened for it, reused


def default_workers() -> int:
    """One single-threaded worker per core available to this process."""
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

    _check_local_options(n_workers, gpus, threads_per_gpu)
    nested = "processes" not in kwargs and not processes_can_start()
    if n_workers is None:  # nested: one thread; the loop around it uses the other cores
        n_workers = 1 if nested else default_workers()
    options = dict(n_workers=n_workers, threads_per_worker=1, processes=not nested,
                   dashboard_address=DASHBOARD_ADDRESS)
    options.update(kwargs)
    devices = gpu_devices(gpus) if options["processes"] else []  # a pin needs its own process
    if options["processes"]:
        options = _with_worker_setup(options)
    if devices:
        options["resources"] = {"CPU": options["threads_per_worker"],
                                **(options.get("resources") or {})}
        options["env"] = {**(options.get("env") or {}), "CUDA_VISIBLE_DEVICES": ""}
    _quiet_trial_tasks()
    with dask.config.set(LOCAL_SCHEDULER_CONFIG), sigint_blocked():
        cluster = LocalCluster(**options)
        try:
            _add_gpu_workers(cluster, devices, threads_per_gpu)
        except BaseException:
            cluster.close()
            raise
    _close_first_at_exit()
    return cluster


def _close_first_at_exit() -> None:
    """Have :func:`close_clients` run at exit before Dask's own handlers, which were registered
    after it (exit handlers run last registered first): Dask closed the local cluster first, while
    a client still held a study's data, and logged an ERROR under every script that used
    with_parameters ("Removing worker ... caused the cluster to lose scattered data")."""
    atexit.unregister(close_clients)
    atexit.register(close_clients)


class _TrialTaskNoise(logging.Filter):
    """Drops the scheduler's log lines about nbtune's own trial tasks ("Task nbtune-trial-...
    marked as failed because 1 workers died", "... will be recomputed elsewhere: {nbtune-...}"):
    in a notebook they came as a red box of ERROR lines under the study, which reads as nbtune
    failing, and they say what the panel says of each trial ("its worker died"), in Dask's
    words about tasks that nbtune never recomputes."""

    def __init__(self) -> None:
        super().__init__()
        from .subtasks import PIECE_KEY
        from .task import TRIAL_KEY

        self.keys = (TRIAL_KEY + "-", PIECE_KEY + "-")

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


def _check_local_options(n_workers: Any, gpus: Any, threads_per_gpu: Any) -> None:
    """ValueError, with one clear line, for options of :func:`local_cluster` no one can start."""
    def count(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    if n_workers is not None and not count(n_workers):
        raise ValueError(f"the number of workers must be an integer >= 0, got {n_workers!r}")
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
        cluster = local_cluster(**_embedded.get("options", {}))
        client = Client(cluster, set_as_default=False)
        _embedded.update(cluster=cluster, client=client)
    return client


def warm_up() -> threading.Thread | None:
    """Start the embedded cluster in a background thread, so that the first study finds it
    running (or waits for this start rather than making its own); None where it runs or is
    starting already. ``close_clients`` and ``use_local`` cancel a start not begun yet."""
    with _lock:
        if embedded_started() or embedded_starting():
            return None
        thread = threading.Thread(target=_warm_start, args=(_embedded.get("generation", 0),),
                                  daemon=True, name="nbtune-cluster-start")
        _embedded["warming"] = thread
        thread.start()
        return thread


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


def use_local(n_workers: int | None = None, gpus: int | Sequence[str] | None = None,
              threads_per_gpu: int = GPU_THREADS):
    """Replace the embedded cluster by one started with these options (see
    :func:`local_cluster`) and return its client; later studies with ``cluster=None`` use it."""
    _check_local_options(n_workers, gpus, threads_per_gpu)
    with _lock:
        old = [_embedded.pop("client", None), _embedded.pop("cluster", None)]
        _embedded["options"] = dict(n_workers=n_workers, gpus=gpus,
                                    threads_per_gpu=threads_per_gpu)
        _embedded["generation"] = _embedded.get("generation", 0) + 1
    _close_all(old)
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
    _close_all(old)
    return True


def embedded_started() -> bool:
    """True when the embedded cluster runs (a study or ``%tune_cluster`` started it)."""
    client = _embedded.get("client")
    return client is not None and client.status == "running"


def _close_all(things: list[Any]) -> None:
    for thing in things:
        if thing is not None:
            try:
                thing.close()
            except Exception:
                pass


def close_clients() -> None:
    """Close the clients nbtune opened and its embedded cluster, whose next start is with the
    default options again (registered at exit)."""
    with _lock:
        things = list(_clients.values()) + [_embedded.pop("client", None),
                                             _embedded.pop("cluster", None)]
        _clients.clear()
        _embedded.pop("options", None)
        _embedded["generation"] = _embedded.get("generation", 0) + 1
    _close_all(things)


atexit.register(close_clients)


def _connect_timeout() -> float:
    """Seconds to wait for a scheduler: Dask's connect timeout, at most 10."""
    import dask
    from dask.utils import parse_timedelta

    return min(10.0, parse_timedelta(dask.config.get("distributed.comm.timeouts.connect")))


def check_address(address: str) -> str:
    """``address`` with its scheme (``127.0.0.1:8786`` is ``tcp://127.0.0.1:8786``, as Dask takes
    it); ValueError where it is not a scheduler address Dask can connect to."""
    from distributed.comm.registry import backends

    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme not in backends:
        raise ValueError(f"unknown scheme {scheme + '://'!r} in the scheduler address "
                         f"{address!r}: use tcp://HOST:PORT or tls://HOST:PORT")
    if not rest or rest.startswith(":"):
        raise ValueError(f"the scheduler address {address!r} names no host: use "
                         f"{scheme}://HOST:PORT")
    return f"{scheme}://{rest}"


REFUSED_WAIT = 2.0  # seconds a refused address is tried again (a scheduler that is starting)


def _probe(address: str, timeout: float) -> None:
    """ConnectionError, one line, where what answers at the ``tcp://`` ``address`` is not a Dask
    scheduler, which greets each connection at once, or where nothing listens there for
    :data:`REFUSED_WAIT` seconds (the Client tried for its whole connect timeout, 10 s). Else
    nothing (an address nothing answers at is left to the Client's own timeout). Without it, a
    dashboard's port held a Client's handshake for minutes, and a web server's reply was read
    as a message of 3 EiB."""
    import socket

    from distributed.comm import parse_host_port

    host, port = parse_host_port(address.split("://", 1)[1])
    deadline = time.monotonic() + min(timeout, REFUSED_WAIT)
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
            break
        except ConnectionRefusedError:  # nothing listens there, or a scheduler still starting
            if time.monotonic() >= deadline:
                raise ConnectionError(
                    f"cannot reach the Dask scheduler at {address!r}: nothing listens there "
                    f"(connection refused for {REFUSED_WAIT:g} s); check the address, or start "
                    "one with `dask scheduler`") from None
            time.sleep(0.2)
        except OSError:  # no route, a firewall's silence: left to the Client's own timeout
            return
    try:
        sock.settimeout(timeout)
        greeting = sock.recv(16)
    except TimeoutError:
        raise ConnectionError(
            f"what answers at {address!r} said nothing in {timeout:g} s: it is not a Dask "
            "scheduler (a dashboard or another web server? a scheduler listens on 8786 by "
            "default, its dashboard on 8787); give the scheduler's address, as `dask "
            "scheduler` prints it") from None
    except OSError:
        return
    finally:
        sock.close()
    if greeting.startswith(b"HTTP/") or greeting.startswith(b"<"):
        raise ConnectionError(
            f"a web server answers at {address!r}, not a Dask scheduler: give the scheduler's "
            "address (tcp://HOST:8786 by default), as `dask scheduler` prints it")


_default_cluster: list[Any] = [None]  # see set_default_cluster


def set_default_cluster(target: Any) -> None:
    """Make ``target`` (an address, a Client or a cluster object; None: nbtune's own) the
    cluster that :func:`nbtune.tune` and ``SearchCV`` use where given none: in a notebook, the
    one ``%tune_cluster`` (``Tune.cluster``) chose. ``nbtune.tune`` ran on a new local cluster
    after ``%tune_cluster tcp://...`` while the %%tune cells went to the scheduler chosen
    (first-day test, round 10)."""
    _default_cluster[0] = target


def default_cluster() -> Any:
    """The cluster :func:`set_default_cluster` chose (None: nbtune's own)."""
    return _default_cluster[0]


def is_embedded(cluster: Any) -> bool:
    """Whether ``cluster`` (as :func:`get_client` takes it) names nbtune's own local cluster."""
    return cluster is None or cluster == "local"


def get_client(cluster: Any = None, security: Any = None):
    """A ``distributed.Client`` for ``cluster``: None or ``"local"`` (the embedded cluster), a
    Client, a scheduler address or a cluster object.

    ``security`` (a ``distributed.security.Security``) is used to connect to an address; without
    it a ``tls://`` address uses the certificates of Dask's configuration (``distributed.comm.tls``).
    """
    if security is not None and not isinstance(cluster, str):
        raise ValueError("security= applies to a scheduler address; a Client or a cluster "
                         "object brings its own")
    if is_embedded(cluster):
        return embedded_client()  # after a start under way, which imports Dask meanwhile
    # only now: imported while the background start imported it too, in a fresh kernel, Dask
    # was seen half imported ("module 'dask' has no attribute 'utils'", a %%tune cell right
    # after %load_ext)
    from distributed import Client

    if isinstance(cluster, Client):
        return cluster
    if isinstance(cluster, str) or hasattr(cluster, "scheduler_address"):
        address = cluster if isinstance(cluster, str) else cluster.scheduler_address
        if isinstance(cluster, str):  # one client per scheduler, however its address is written
            address = check_address(address)
        with _lock:
            client = _clients.get(address)
            if client is not None and client.status == "running":
                return client
            if address.startswith("tcp://"):
                _probe(address, _connect_timeout())
            try:
                client = Client(cluster, set_as_default=False, security=security,
                                timeout=_connect_timeout())
            except OSError as exc:
                raise ConnectionError(f"cannot reach the Dask scheduler at {address!r} ({exc}); "
                                      "check the address or start one with `dask scheduler`"
                                      ) from None
            except Exception as exc:  # what answered there is not one: its reply misread
                raise ConnectionError(f"what answers at {address!r} is not a Dask scheduler "
                                      f"({type(exc).__name__}: {exc}); give the scheduler's "
                                      "address, as `dask scheduler` prints it") from None
            _clients[address] = client
            return client
    raise TypeError(f"cluster must be None, a distributed.Client, a scheduler address or a cluster "
                    f"object, got {type(cluster).__name__}")
