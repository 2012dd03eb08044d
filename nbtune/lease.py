"""One run of a study at a time: a lease in the study's file, renewed while the study runs."""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable

from .paths import StorageError
from .storage import Storage


class StudyBusy(StorageError):
    """The study is being run by another process (or another run in this one): its lease is held."""


HEARTBEAT_EVERY = 5.0  # seconds between two renewals of a running study's lease
STALE_AFTER = 30.0  # a lease not renewed for this long belongs to a process that died
HEARTBEAT_PATIENCE = 1.0  # seconds a renewal waits for another's write lock (then: next beat)


def _this_process() -> tuple[str, int, float | None]:
    import socket

    import psutil

    pid = os.getpid()
    try:
        started = psutil.Process(pid).create_time()
    except Exception:
        started = None
    return socket.gethostname(), pid, started


def _owner_alive(host: str, pid: int, pid_started: float | None, heartbeat: float) -> bool:
    """Whether a lease's owner still runs. On this host: its process runs (the same process: a
    pid the system gave to another since does not count), however long since it renewed the
    lease; a kernel paused for 39 s, or kept from the file by another process's write lock, had
    its study taken over by a second run while it ran on, each overwriting the other's results
    (first-day test, round 12). A process that died and is not yet reaped by its parent (a
    zombie) runs no more: a resume right after a kernel's kill was refused, naming it (round
    33). Elsewhere, where its process cannot be seen: renewed lately."""
    import psutil

    if host != _this_process()[0]:
        return time.time() - heartbeat <= STALE_AFTER
    try:
        proc = psutil.Process(pid)
        same = pid_started is None or abs(proc.create_time() - pid_started) < 1e-3
        return same and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class Lease:
    """The right to run one study of a file: held in its ``leases`` table, renewed every
    :data:`HEARTBEAT_EVERY` seconds while the study runs (as Optuna's RDB heartbeat does for
    trials), so that a second run of the same study, in this process or another, is refused,
    and a run whose process died (not renewed for :data:`STALE_AFTER` s, or its process gone)
    is taken over."""

    def __init__(self, storage: Storage, study: str):
        import uuid

        self.storage, self.study = storage, study
        self.owner = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False  # another run took the lease over: this one writes nothing more
        self.on_lost: Callable[[str], None] | None = None  # told who took it (see _beat)

    def acquire(self, advice: str = "let that run end or stop it first, or give this study "
                "another name") -> None:
        """Take the lease, or raise :class:`StudyBusy` naming the run that holds it, and then
        ``advice``."""
        host, pid, started = _this_process()

        def take(db: sqlite3.Connection) -> tuple | None:
            row = db.execute("SELECT host, pid, pid_started, acquired, heartbeat FROM leases "
                             "WHERE study = ?", (self.study,)).fetchone()
            if row is not None and _owner_alive(row[0], row[1], row[2], row[4]):
                return row
            now = time.time()
            db.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (self.study, self.owner, host, pid, started, now, now))
            return None

        held = self.storage.immediate(take)
        if held is not None:
            other_host, other_pid, _, acquired, beat = held
            who = ("another study run in this process" if (other_host, other_pid) == (host, pid)
                   else f"process {other_pid} on {other_host!r}")
            since = time.strftime("%H:%M:%S", time.localtime(acquired))
            raise StudyBusy(f"study {self.study!r} is being run by {who} (since {since}, last "
                            f"heard {time.time() - beat:.0f} s ago): {advice}")
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name=f"nbtune-lease-{self.study}")
        self._thread.start()

    def _beat(self) -> None:
        """Renew the lease every :data:`HEARTBEAT_EVERY` s; where another run holds it now (it
        took over a lease it found stale: from another host, after a long silence), mark it lost
        and tell ``on_lost`` who holds it, once."""
        def renew(db: sqlite3.Connection) -> tuple | None:
            if db.execute("UPDATE leases SET heartbeat = ? WHERE study = ? AND owner = ?",
                          (time.time(), self.study, self.owner)).rowcount:
                return None
            return db.execute("SELECT host, pid FROM leases WHERE study = ?",
                              (self.study,)).fetchone() or ("?", "?")

        while not self._stop.wait(HEARTBEAT_EVERY):
            try:  # a short wait: the study's own writes wait behind this one
                holder = self.storage.immediate(renew, patience=HEARTBEAT_PATIENCE)
            except Exception:  # a locked or failing file: the loop reports that itself
                continue
            if holder is not None and not self._stop.is_set():
                self.lost = True
                if self.on_lost is not None:
                    self.on_lost(f"process {holder[1]} on {holder[0]!r}")
                return

    def release(self) -> None:
        """Give the lease back (idempotent); best effort where the file fails."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(HEARTBEAT_EVERY + 1)
        if self.lost:  # the lease is another run's now
            return
        try:
            self.storage._run("DELETE FROM leases WHERE study = ? AND owner = ?",
                              (self.study, self.owner))
        except Exception:
            pass


def _lease_of(storage: Storage, study: str) -> tuple | None | bool:
    """The lease of ``study`` (host, pid, pid_started, heartbeat), None where none is held, or
    False where the file cannot tell (older than leases)."""
    try:
        rows = storage._run("SELECT host, pid, pid_started, heartbeat FROM leases "
                            "WHERE study = ?", (study,))
    except (StorageError, sqlite3.Error):
        return False
    return rows[0] if rows else None


def run_died(storage: Storage, study: str, status: str) -> bool:
    """Whether a study stored as running (``status`` "running" or "resumed") has no run left:
    its lease's owner died (the kernel was killed or restarted mid-study) or no lease is held.
    Such a study's unfinished trials were interrupted; resuming it runs them again."""
    if status not in ("running", "resumed"):
        return False
    lease = _lease_of(storage, study)
    if lease is False:  # nothing to tell by
        return False
    return lease is None or not _owner_alive(*lease)


def run_elsewhere(path: str, study: str) -> str | None:
    """Who runs ``study`` of the file ``path`` now ("process 30780 on 'vm'"), or None where no
    run holds its lease (or the file cannot be read)."""
    try:
        storage = Storage(path, readonly=True)
    except (StorageError, OSError):
        return None
    try:
        lease = _lease_of(storage, study)
    finally:
        storage.close()
    if not lease or not _owner_alive(*lease):
        return None
    if tuple(lease[:2]) == _this_process()[:2]:
        return "a run in this process (the Study that nbtune.tune returned)"
    return f"process {lease[1]} on {lease[0]!r}"
