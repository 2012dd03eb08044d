"""Which Dask cluster a study runs on: an existing client, a scheduler's address, a cluster
object, or the embedded one (:mod:`nbtune.run.embedded`); and the clients nbtune opened, closed
at exit."""
from __future__ import annotations

import threading
import time
from typing import Any

from .embedded import close_embedded, embedded_client
from .local import close_quietly, local_cluster, run_first_at_exit

__all__ = ["check_address", "close_clients", "default_cluster", "get_client", "is_embedded",
           "local_cluster", "set_default_cluster"]  # local_cluster: the README's spelling

_lock = threading.Lock()
_clients: dict[str, Any] = {}  # address -> the Client nbtune opened for it, reused


def close_clients() -> None:
    """Close the clients nbtune opened and its embedded cluster, whose next start is with the
    default options again (run at exit, before the local clusters' own exit handlers)."""
    with _lock:
        things = list(_clients.values())
        _clients.clear()
    close_quietly(things)
    close_embedded()


run_first_at_exit(close_clients)


def _dask_connect_timeout() -> float:
    """Dask's connect timeout (``distributed.comm.timeouts.connect``), in seconds."""
    import dask
    from dask.utils import parse_timedelta

    return parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"))


def _connect_timeout() -> float:
    """Seconds to wait for a scheduler's first answer: Dask's connect timeout, at most 10 (what
    answers at a dashboard's port says nothing, and the cell waited the whole timeout)."""
    return min(10.0, _dask_connect_timeout())


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
        if cluster.status in ("closing", "closed"):  # Dask's "IOLoop is closed", with its frames
            address = getattr(getattr(cluster, "scheduler", None), "address", None)
            raise ConnectionError(
                "the Dask Client given as the cluster is closed (`with Client(...) as c:` or "
                "c.close() closes it): make a new one, or give the scheduler's address"
                + (f" ({address})" if address else ""))
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
            # a Client reconnects to a lost scheduler for its timeout: Dask's own, as a Client
            # made without one has it, not the first answer's 10 s (a scheduler restarted by
            # hand was given up on 10 s after it went: first-day test, round 33)
            client._timeout = max(client._timeout, _dask_connect_timeout())
            _clients[address] = client
            return client
    raise TypeError(f"cluster must be None, a distributed.Client, a scheduler address or a cluster "
                    f"object, got {type(cluster).__name__}")
