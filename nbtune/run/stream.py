"""The direct report stream: a trial's messages go from its worker straight to the notebook.

A trial's messages (its start, reports, output and outcome) reach the loop by one of two ways,
chosen once per trial so that they arrive in the order it sent them:

- straight from the worker process, over one socket it keeps to a listener the study opens in
  the notebook (this module): the trial's own thread writes each message, a thread of the
  study's in the notebook reads it, and the loop's verdict comes back the same way to a thread
  the worker keeps for that socket. No event loop and no scheduler in between;
- as Dask events (``Worker.log_event``), through the scheduler to the client's subscription: two
  hops over distributed's batched streams, the scheduler's handling of each event, and a wake-up
  of an event loop at each end of each hop.

Most ASHA trials end at their first rung, and each waits there for its verdict. Measured on a
2-core machine (six trials of 300 reports, each report a rung, 12 ms of work between two, three
runs each way): report to verdict 0.5 ms median against 1.7 ms over distributed's comms and event
loops, and the notebook process's CPU for the 1,800 reports 0.9 s against 2.0 s. The frames are
:class:`multiprocessing.connection.Connection`'s (a length, then a pickle); a connection's first
bytes must be the study's key, which the trials get with their task, so that nothing else that
reaches the port is unpickled. Like Dask's own comms without TLS, the stream trusts the network
it runs on; where the cluster needs TLS it is not used.

The first trial a worker runs for a study (and every trial of a worker that cannot reach the
notebook: a cluster behind a NAT that exposes only its scheduler, or one that needs TLS) goes the
Dask way; meanwhile the worker connects in the background, and its later trials go straight. A
connection that breaks sends its trials' remaining messages the Dask way; nothing is lost either
way, as a trial's result carries all its reports.
"""
from __future__ import annotations

import contextlib
import hmac
import secrets
import socket
import threading
from multiprocessing.connection import Connection, wait
from typing import Callable

from .channel import deliver_verdict

CONNECT_TIMEOUT = 5.0  # seconds a worker tries to reach the notebook's listener before giving up
# seconds a trial on a worker process not yet connected waits for the connection: its reports
# then go straight, written before report() returns, where as Dask events they wait for the
# worker's next batch and die with a process that ends at once (os._exit, a crash)
FIRST_CONNECT_WAIT = 1.0
KEY_BYTES = 16  # the study's key, a connection's first bytes


def listen_host(client) -> str | None:
    """Where the notebook can listen for its workers: the interface this process reaches the
    scheduler by. None where the workers could not use it: a scheduler in this process's memory
    (``inproc://``) or one that needs TLS (the stream is not encrypted)."""
    comm = getattr(getattr(client, "scheduler_comm", None), "comm", None)
    local = getattr(comm, "local_address", None) or ""
    if not local.startswith("tcp://"):
        return None
    from distributed.comm import get_address_host

    return get_address_host(local)


def _parse(address: str) -> tuple[str, int, bytes]:
    """``tcp://host:port#key`` -> (host, port, key)."""
    from distributed.comm import parse_host_port

    where, _, key = address.partition("#")
    host, port = parse_host_port(where[len("tcp://"):])
    return host, port, bytes.fromhex(key)


def _connection(sock: socket.socket) -> Connection:
    sock.setblocking(True)
    with contextlib.suppress(OSError):  # small messages leave at once
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return Connection(sock.detach())


class Listener:
    """The notebook's end: takes each worker's connection and hands every message it carries to
    ``on_message`` (on the study's reading thread; it must not block)."""

    def __init__(self, client, on_message: Callable[[dict], None]):
        self.client, self.on_message = client, on_message
        self.address: str | None = None  # where the workers send to; None: they use events
        self.received = 0  # messages that came this way
        self.told = 0  # verdicts that went back this way
        self._socket: socket.socket | None = None
        self._key = secrets.token_bytes(KEY_BYTES)
        # the workers' connections, once they said who, each with the lock its writes and its
        # closing hold (the loop's thread writes verdicts, this one closes what broke)
        self._comms: dict[Connection, threading.Lock] = {}
        self._to: dict[str, Connection] = {}  # worker address -> its connection
        self._wake_r = self._wake_w = None  # wakes the reading thread to see the study closed
        self._closed = False
        self._thread: threading.Thread | None = None

    def start(self) -> str | None:
        """Open the listener; its address, or None where there is none to open."""
        host = listen_host(self.client)
        if host is None:
            return None
        try:
            self._socket = socket.create_server((host, 0), family=socket.AF_INET6 if ":" in host
                                                else socket.AF_INET)
        except OSError:  # no port to listen on here: the workers use events
            return None
        from distributed.comm import unparse_host_port

        port = self._socket.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self.address = f"tcp://{unparse_host_port(host, port)}#{self._key.hex()}"
        self._thread = threading.Thread(target=self._serve, name="nbtune-stream", daemon=True)
        self._thread.start()
        return self.address

    def _serve(self) -> None:
        """The reading thread: new connections (each greeted on a thread of its own), then the
        messages of those that gave the study's key."""
        try:
            while not self._closed:
                comms = list(self._comms)
                for comm in comms:
                    if comm.closed:  # closed from this side
                        self._drop(comm)
                ready = wait([self._socket, self._wake_r, *(c for c in comms if not c.closed)])
                for source in ready:
                    if self._closed:
                        break
                    if source is self._socket:
                        with contextlib.suppress(OSError):
                            threading.Thread(target=self._greet, args=(self._socket.accept()[0],),
                                             name="nbtune-stream", daemon=True).start()
                    elif source is self._wake_r:
                        self._wake_r.recv(64)
                    elif source in self._comms:
                        self._read(source)
        finally:
            for comm in list(self._comms):
                self._drop(comm)
            self._socket.close()
            self._wake_r.close()

    def _greet(self, sock: socket.socket) -> None:
        """A connection's first bytes, the study's key, then its worker's address, on a thread of
        its own: a stranger that sends half of them holds up nobody, and is cut off after
        ``CONNECT_TIMEOUT``."""
        comm = None
        try:
            sock.settimeout(CONNECT_TIMEOUT)
            key = b""
            while len(key) < KEY_BYTES:
                chunk = sock.recv(KEY_BYTES - len(key))
                if not chunk:
                    raise EOFError("closed before its key")
                key += chunk
            if not hmac.compare_digest(key, self._key):
                raise ValueError("not this study's key")
            comm = _connection(sock)
            if not comm.poll(CONNECT_TIMEOUT):
                raise TimeoutError("no worker's address")
            worker = comm.recv()["worker"]
        except Exception:  # not one of this study's workers, or gone already
            (comm or sock).close()
            return
        self._comms[comm] = threading.Lock()
        self._to[worker] = comm
        with contextlib.suppress(OSError):  # the reading thread reads it from now on
            self._wake_w.send(b"+")
        if self._closed:  # the study ended meanwhile
            self._drop(comm)

    def _read(self, comm: Connection) -> None:
        try:
            message = comm.recv()
        except Exception:  # the worker went away
            self._drop(comm)
            return
        self.received += 1
        self.on_message(message)

    def _drop(self, comm: Connection) -> None:
        """Forget a connection and close it; once: the reading thread and a greeting thread may
        both drop the same one as the study ends, and a second close would close a descriptor
        that may belong to another socket by then."""
        lock = self._comms.pop(comm, None)
        if lock is None:  # dropped already
            return
        for worker, c in list(self._to.items()):
            if c is comm:
                del self._to[worker]
        with lock:
            comm.close()

    def connected(self, worker: str) -> bool:
        """Whether ``worker`` has a connection open to this study."""
        return worker in self._to

    def tell(self, worker: str, name: str, verdict: str) -> bool:
        """Send the verdict ``name`` to ``worker`` over its connection (from the loop's thread);
        False where it has none open."""
        comm = self._to.get(worker)
        lock = self._comms.get(comm) if comm is not None else None
        if lock is None or self._closed:
            return False
        try:
            with lock:
                comm.send({"name": name, "verdict": verdict})  # raises once closed
        except Exception:  # closed meanwhile
            return False
        self.told += 1
        return True

    def close(self) -> None:
        """Stop listening, tell each worker the study ended (its trials still running then drop
        what they send instead of sending it the Dask way to nobody) and close the connections
        (the workers then forget this study)."""
        if self._thread is None or self._closed:
            return
        for comm, lock in list(self._comms.items()):
            with contextlib.suppress(Exception), lock:
                comm.send({"ended": True})
        self._closed, self.address = True, None
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._wake_w.close()


class _Route:
    """One worker process's connection to one study's listener."""

    __slots__ = ("comm", "lock", "failed", "ended", "settled")

    def __init__(self) -> None:
        self.comm: Connection | None = None  # once connected; None while connecting
        self.lock = threading.Lock()  # one message at a time: the trials of a worker share it
        self.failed = False  # the listener could not be reached: the study's trials use events
        self.ended = False  # the study said it ended: what its trials still send is for nobody
        self.settled = threading.Event()  # set once connected, or once that failed

    def open(self) -> bool:
        comm = self.comm
        return comm is not None and not comm.closed and not self.ended


_routes: dict[str, _Route] = {}  # listener address -> this worker process's route to it
_routes_lock = threading.Lock()


class Post:
    """How one trial's messages leave its worker: straight to the study's listener, or as Dask
    events. Call it with ``(topic, message)``, from the trial's thread.

    Where its connection breaks, messages on their way may be lost with it: the trial then sends
    the rest the Dask way, its reports sent straight before them first (the loop keeps one copy of
    each report, by its number, so the ones it has are not counted twice).
    """

    __slots__ = ("worker", "route", "_sent")

    def __init__(self, worker, route: "_Route | None" = None):
        self.worker, self.route = worker, route  # route None: the Dask way
        self._sent: list[dict] = []  # the reports sent straight since the last one answered

    @property
    def direct(self) -> bool:
        """Whether the messages go straight to the notebook (so far)."""
        return self.route is not None

    def __call__(self, topic: str, message: dict) -> None:
        route = self.route
        if route is None:
            self.worker.log_event(topic, message)
            return
        if message.get("kind") == "report":
            self._sent.append(message)
        try:
            with route.lock:
                route.comm.send(message)
            return
        except Exception:  # the connection broke
            self._fall_back(topic, message)
            if message.get("kind") == "report" or route.ended:
                return  # it went with the others, or the study is over
        self.worker.log_event(topic, message)

    def answered(self, message: dict) -> None:
        """The loop answered the report ``message``: it has it, and every report sent straight
        before it (one connection keeps their order), so none of those need sending again."""
        sent = self._sent
        for i in range(len(sent) - 1, -1, -1):  # mostly the last one
            if sent[i] is message:
                self._sent = sent[i + 1:]
                return

    def again(self, topic: str, message: dict) -> None:
        """For a trial that waits for a verdict on ``message`` longer than it should: where the
        message went straight and that connection broke since, it (or its verdict) may be lost
        with it; send it, and the reports before it, once more the Dask way."""
        if self.route is not None and not self.route.open():
            self._fall_back(topic, message)

    def _fall_back(self, topic: str, waiting: dict) -> None:
        """Send the rest the Dask way, from the reports sent straight on: the one the trial may
        wait on (``waiting``, or else its last) keeps its wait, the others were answered."""
        if self.route is None:
            return
        route, self.route, sent, self._sent = self.route, None, self._sent, []
        if route.ended:
            return  # nobody listens any more
        if waiting.get("kind") != "report" and sent:
            waiting = sent[-1]
        for message in sent:
            self.worker.log_event(topic, message if message is waiting else
                                  {**message, "wait": False})


def sender(worker, address: str | None) -> Post:
    """How a trial starting now on ``worker`` sends its messages: straight to the listener at
    ``address`` where this process is connected to it, else as Dask events. The first trial of
    a process starts the connection and waits for it (:data:`FIRST_CONNECT_WAIT` at most: a few
    ms on one machine); one that cannot be made leaves the study's trials on events."""
    if address is None:
        return Post(worker)
    with _routes_lock:
        route = _routes.get(address)
        if route is None:
            for old in [a for a, r in _routes.items() if r.failed]:  # studies that ended, mostly
                del _routes[old]
            _routes[address] = route = _Route()
            threading.Thread(target=_connect, args=(worker.address, address, route),
                             name="nbtune-stream", daemon=True).start()
    route.settled.wait(FIRST_CONNECT_WAIT)
    return Post(worker, route) if route.open() else Post(worker)


def _connect(worker: str, address: str, route: _Route) -> None:
    """The worker's thread for one study: connect, then hand each verdict that comes back to the
    trial waiting for it, until the study closes the connection."""
    try:
        host, port, key = _parse(address)
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
        sock.sendall(key)
        comm = _connection(sock)
        comm.send({"worker": worker})
    except Exception:  # unreachable from this worker: its trials keep using events
        route.failed = True
        route.settled.set()
        return
    route.comm = comm
    route.settled.set()
    with contextlib.suppress(Exception):  # until the study closes the connection
        while True:
            verdict = comm.recv()
            if verdict.get("ended"):
                route.ended = True
            else:
                deliver_verdict(verdict["name"], verdict["verdict"])
    with _routes_lock:
        if _routes.get(address) is route:
            del _routes[address]
    with route.lock:
        comm.close()
