"""Studies on disk: one SQLite file in WAL mode, JSON values, no pickle.

Every trial and every report is written, in its own transaction, the moment the loop announces it,
so a kernel that dies loses nothing that reached the notebook. Opening someone's study file never runs
code: everything in it is JSON text.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import sys
import threading
import time
from typing import Any, Callable, Iterable, TypeVar

from .paths import (DEFAULT_FILE, StorageError, check_path, checkpoint_folder, create_private,
                    relative_to_cwd)
from .trial import Trial

SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    name TEXT PRIMARY KEY, space TEXT NOT NULL, metric TEXT NOT NULL, mode TEXT NOT NULL,
    settings TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL, status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    study TEXT NOT NULL, id INTEGER NOT NULL, config TEXT NOT NULL, state TEXT NOT NULL,
    value REAL, metrics TEXT, error TEXT, worker TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    created REAL, started REAL, finished REAL, output TEXT, warnings TEXT, ran REAL,
    PRIMARY KEY (study, id)
);
CREATE TABLE IF NOT EXISTS leases (
    study TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    pid_started REAL, acquired REAL NOT NULL, heartbeat REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    study TEXT NOT NULL, trial INTEGER NOT NULL, attempt INTEGER NOT NULL, seq INTEGER NOT NULL,
    time REAL NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (study, trial, attempt, seq)
);
"""

T = TypeVar("T")

_TRIAL_COLUMNS = ("id", "config", "state", "value", "metrics", "error", "worker", "attempts",
                  "created", "started", "finished", "output", "warnings", "ran")
_ADDED_COLUMNS = {"trials": ("output TEXT", "warnings TEXT", "ran REAL")}
"""Columns newer than the first files: added to an older file when it is opened."""


BUSY_PATIENCE = 120.0  # seconds a statement waits, retried with backoff, for another's write lock
_BUSY_TIMEOUT = 5.0  # SQLite's own wait inside each try
BUSY_SAID_AFTER = 3.0  # seconds of waiting for another's write lock before nbtune says so


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Storage:
    """A SQLite file holding any number of studies.

    ``readonly=True`` opens it without writing anything (no schema, no WAL switch, nothing created),
    for files and folders the user cannot write; a file that is not nbtune's is refused either way.
    """

    def __init__(self, path: str | os.PathLike = DEFAULT_FILE, readonly: bool = False):
        self.path = check_path(path)
        self.readonly = readonly
        self.patience: float | None = None  # seconds a write waits for a lock (BUSY_PATIENCE)
        self._lock = threading.Lock()
        if readonly:
            if not os.path.exists(self.path):
                raise FileNotFoundError(f"no study storage at {self.path!r}"
                                        + relative_to_cwd(self.path))
            self._db = self._open_readonly()
        else:
            create_private(self.path)
            # autocommit: each statement is its own transaction, on disk when execute() returns
            self._db = self._connect(self.path)
        try:
            tables = {r[0] for r in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if self._unwritable():  # SQLite cannot make its -wal and -shm files beside it
                raise StorageError(self._unwritable_line()) from None
            raise StorageError(f"storage {self.path!r} is damaged or not a SQLite database "
                               f"({exc}): name another file") from None
        if tables and "studies" not in tables:
            self._db.close()
            listed = ", ".join(sorted(tables)[:5])
            raise StorageError(f"storage {self.path!r} is a SQLite database of something else "
                               f"(tables {listed}): name another file for nbtune's studies")
        self.has_schema = "studies" in tables
        if not readonly:
            with self._lock:
                if not tables:  # a new file: a deleted study's pages are given back (see
                    # delete_study); set before its first table, or never
                    self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
                self._retry(lambda: self._db.execute("PRAGMA journal_mode=WAL"))
                # NORMAL in WAL mode survives a process crash (a dead kernel), not an OS crash
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._retry(lambda: self._db.executescript(SCHEMA))
                self._retry(self._migrate)
            self.has_schema = True

    @staticmethod
    def _connect(target: str, uri: bool = False) -> sqlite3.Connection:
        return sqlite3.connect(target, isolation_level=None, check_same_thread=False,
                               timeout=_BUSY_TIMEOUT, uri=uri)

    def _open_readonly(self) -> sqlite3.Connection:
        """``mode=ro``; where SQLite cannot even make the WAL index it needs (a read-only
        folder), ``immutable=1``, which reads the file as it is."""
        from urllib.parse import quote

        base = "file:" + quote(os.path.abspath(self.path))
        for query in ("?mode=ro", "?immutable=1"):
            db = self._connect(base + query, uri=True)
            try:
                db.execute("SELECT count(*) FROM sqlite_master").fetchall()
                return db
            except sqlite3.OperationalError:
                db.close()
            except sqlite3.DatabaseError as exc:
                db.close()
                raise StorageError(f"storage {self.path!r} is damaged or not a SQLite database "
                                   f"({exc}): name another file") from None
        raise StorageError(f"storage {self.path!r} cannot be read: SQLite cannot open it")

    def _migrate(self) -> None:
        """Add the columns newer than this file (:data:`_ADDED_COLUMNS`)."""
        for table, columns in _ADDED_COLUMNS.items():
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if column.split()[0] not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def _retry(self, call, patience: float | None = None):
        """``call()``, again with backoff while another connection holds the write lock, for up
        to ``patience`` seconds (:data:`BUSY_PATIENCE`); then (or on any other failure) one
        clear line. A wait of more than :data:`BUSY_SAID_AFTER` s is said once, on stderr: a
        study whose file another process held (a sqlite3 shell, a database browser with an
        open transaction) sat still with nothing said (first-day test, round 12)."""
        patience = (self.patience if self.patience is not None else BUSY_PATIENCE) \
            if patience is None else patience
        started = time.monotonic()
        deadline, pause, said = started + patience, 0.05, False
        while True:
            try:
                return call()
            except sqlite3.OperationalError as exc:
                now = time.monotonic()
                if _is_busy(exc) and now + pause < deadline:
                    if not said and now - started >= BUSY_SAID_AFTER:
                        said = True
                        print(f"nbtune: waiting for {self.path!r}: another process holds its "
                              f"write lock (a sqlite3 shell, a database browser with unsaved "
                              f"changes?); nbtune waits up to {patience:g} s", file=sys.stderr)
                    time.sleep(pause)
                    pause = min(2.0, pause * 2)
                    continue
                raise self._error(exc, patience) from None
            except sqlite3.DatabaseError as exc:
                raise self._error(exc) from None

    def _unwritable(self) -> bool:
        """Whether this process cannot write the file, or the folder its -wal file goes in."""
        folder = os.path.dirname(os.path.abspath(self.path))
        return not (os.access(self.path, os.W_OK) and os.access(folder, os.W_OK))

    def _unwritable_line(self) -> str:
        """A healthy file in a read-only folder was called "damaged or not a SQLite database"
        (first-day test, round 12)."""
        return (f"storage {self.path!r} is read-only here (the file or its folder): studies run "
                "in a file nbtune can write, with its -wal file beside it; copy it to a "
                "writable folder, or read its studies with nbtune.load_study, which opens it "
                "read-only")

    def _error(self, exc: sqlite3.DatabaseError, patience: float | None = None) -> StorageError:
        if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
            waited = BUSY_PATIENCE if patience is None else patience
            return StorageError(f"storage {self.path!r} stayed locked by another process for "
                                f"{waited:g} s; close what holds it and resume the study")
        if "readonly" in str(exc) and self._unwritable():
            return StorageError(self._unwritable_line())
        hint = " (is the disk full, or the file over a size limit?)" if "disk" in str(exc) else ""
        return StorageError(f"storage {self.path!r}: {exc}{hint}")

    def _run(self, sql: str, args: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._retry(lambda: self._db.execute(sql, tuple(args)).fetchall())

    def immediate(self, work: Callable[[sqlite3.Connection], T],
                  patience: float | None = None) -> T:
        """``work(connection)`` inside one write transaction (``BEGIN IMMEDIATE``: no other
        writer between its reads and its writes), retried whole while the file is locked (for
        ``patience`` seconds, :data:`BUSY_PATIENCE` by default)."""
        def run() -> T:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                out = work(self._db)
                self._db.execute("COMMIT")
                return out
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

        with self._lock:
            return self._retry(run, patience)

    def _transaction(self, statements: list[tuple[str, tuple]]) -> None:
        """Run ``statements`` as one transaction (retried whole while the file is locked)."""
        def run(db: sqlite3.Connection) -> None:
            for sql, args in statements:
                db.execute(sql, args)

        self.immediate(run)

    # -- studies -------------------------------------------------------------------------
    def study_names(self) -> list[str]:
        """Names of the studies in this file, oldest first."""
        if not self.has_schema:  # an empty file opened read-only
            return []
        return [r[0] for r in self._run("SELECT name FROM studies ORDER BY created")]

    def study_row(self, name: str) -> dict[str, Any] | None:
        """The stored header of study ``name``, or None."""
        if not self.has_schema:
            return None
        rows = self._run("SELECT name, space, metric, mode, settings, created, updated, status "
                         "FROM studies WHERE name = ?", (name,))
        if not rows:
            return None
        keys = ("name", "space", "metric", "mode", "settings", "created", "updated", "status")
        row = dict(zip(keys, rows[0]))
        row["settings"] = json.loads(row["settings"])
        return row

    def create_study(self, name: str, space_json: str, metric: str, mode: str,
                     settings: dict[str, Any]) -> None:
        """Add a new study (fails if the name is taken)."""
        now = time.time()
        self._run("INSERT INTO studies VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  (name, space_json, metric, mode, json.dumps(settings), now, now, "created"))

    def set_status(self, name: str, status: str, settings: dict[str, Any] | None = None) -> None:
        """Record the study's status (running, finished: reason)."""
        if settings is None:
            self._run("UPDATE studies SET status = ?, updated = ? WHERE name = ?",
                      (status, time.time(), name))
        else:
            self._run("UPDATE studies SET status = ?, updated = ?, settings = ? WHERE name = ?",
                      (status, time.time(), json.dumps(settings), name))

    def fold_log(self) -> None:
        """Copy what SQLite's write-ahead log holds into the file itself (a passive checkpoint:
        it waits for no reader and skips what a reader still needs). Writes are on disk once
        in the log, but the log is a file of its own (``NAME.db-wal``) until SQLite folds it in
        at about 4 MB or when the last connection closes: a kernel that dies before leaves the
        study's latest trials in the log alone, and a copy of the ``.db`` file without them."""
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.OperationalError:  # busy: the next fold takes it
                pass

    def fold_left_log(self) -> None:
        """Fold into the file what a dead run left in the write-ahead log (:meth:`fold_log`,
        through a connection of its own where this one reads only), where this process may
        write the file: a kernel killed between two of its run's folds left the study's latest
        seconds in ``NAME.db-wal`` alone, nothing folded them in until a study next ran there,
        and a copy of the ``.db`` file held an older study (first-day test, round 67)."""
        wal = self.path + "-wal"
        if not os.path.exists(wal) or not os.path.getsize(wal) or self._unwritable():
            return
        if not self.readonly:
            self.fold_log()
            return
        try:
            db = self._connect(self.path)
            try:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                db.close()
        except sqlite3.Error:  # busy, or not ours to write after all: the log keeps it
            pass

    def delete_study(self, name: str) -> None:
        """Remove a study with its trials and reports, and the checkpoints kept of its paused
        trials (:meth:`checkpoint_folder`)."""
        folder, shared = self.checkpoint_folder(name), self._shared(name)
        self._transaction([(f"DELETE FROM {table} WHERE {col} = ?", (name,)) for table, col in
                           (("reports", "study"), ("trials", "study"), ("studies", "name"))])
        self._give_back_pages()
        shutil.rmtree(folder, ignore_errors=True)
        if shared is None:
            with contextlib.suppress(OSError):
                os.rmdir(os.path.dirname(folder))  # the last study's: the file's folder of folders

    def _give_back_pages(self) -> None:
        """Return the pages a deletion freed to the file system: the file kept its size after
        its studies were deleted (first-day test, round 22). Files made before nbtune set
        ``auto_vacuum`` keep theirs (``VACUUM`` in sqlite3 gives them back)."""
        with self._lock:
            try:
                # a script steps the pragma to its end: execute() stepped it once, one page
                self._db.executescript("PRAGMA incremental_vacuum;")
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.OperationalError:  # busy: another's write; the next deletion's turn
                pass

    def checkpoint_folder(self, name: str) -> str:
        """Where the checkpoints of study ``name``'s paused trials are kept
        (:func:`checkpoint_folder`): beside the file, or in the shared folder the study was run
        with (``checkpoints=``)."""
        return checkpoint_folder(self.path, name, self._shared(name))

    def _shared(self, name: str) -> str | None:
        row = self.study_row(name)
        return (row["settings"] or {}).get("checkpoints") if row is not None else None

    # -- trials and reports --------------------------------------------------------------
    def save_trial(self, study: str, t: Trial) -> None:
        """Insert or update one trial's row."""
        self._run(f"INSERT OR REPLACE INTO trials (study, {', '.join(_TRIAL_COLUMNS)}) "
                  f"VALUES ({', '.join('?' * (len(_TRIAL_COLUMNS) + 1))})",
                  (study, t.id, json.dumps(t.config), t.state, t.value,
                   json.dumps(t.metrics) if t.metrics else None, t.error, t.worker, t.attempts,
                   t.created, t.started, t.finished, t.output or None,
                   json.dumps(t.warnings) if t.warnings else None, t.ran))

    def delete_trial(self, study: str, trial_id: int) -> None:
        """Remove one trial with its reports."""
        self._transaction([("DELETE FROM reports WHERE study = ? AND trial = ?", (study, trial_id)),
                           ("DELETE FROM trials WHERE study = ? AND id = ?", (study, trial_id))])

    def add_report(self, study: str, trial_id: int, attempt: int, seq: int,
                   data: dict[str, Any], when: float | None = None) -> None:
        """Append one report (ignored if that report was stored already)."""
        self._run("INSERT OR IGNORE INTO reports VALUES (?, ?, ?, ?, ?, ?)",
                  (study, trial_id, attempt, seq, when or time.time(), json.dumps(data)))

    def drop_reports(self, study: str, trial_id: int, attempt: int, after: int) -> None:
        """Remove a trial's reports of ``attempt`` past its ``after``-th (a trial resumed from
        an earlier checkpoint trains them again)."""
        self._run("DELETE FROM reports WHERE study = ? AND trial = ? AND attempt = ? AND seq > ?",
                  (study, trial_id, attempt, after))

    def load_trials(self, study: str, space: Any = None) -> list[Trial]:
        """The study's trials in id order, each with the reports of its latest attempt; with
        the study's ``space``, their configs as its trials got them (its tuples, where JSON
        keeps lists: :meth:`nbtune.space.Space.given`)."""
        have = {row[1] for row in self._run("PRAGMA table_info(trials)")}
        columns = [c if c in have else f"NULL AS {c}" for c in _TRIAL_COLUMNS]  # an older file
        rows = self._run(f"SELECT {', '.join(columns)} FROM trials WHERE study = ? "
                         "ORDER BY id", (study,))
        trials = []
        for row in rows:
            rec = dict(zip(_TRIAL_COLUMNS, row))
            rec["config"] = json.loads(rec["config"])
            if space is not None:
                rec["config"] = space.given(rec["config"])
            rec["metrics"] = json.loads(rec["metrics"]) if rec["metrics"] else {}
            rec["output"] = rec["output"] or ""
            rec["warnings"] = json.loads(rec["warnings"]) if rec["warnings"] else []
            trials.append(Trial(**rec))
        reports = self._run("SELECT trial, attempt, data FROM reports WHERE study = ? "
                            "ORDER BY trial, attempt, seq", (study,))
        by_id = {t.id: t for t in trials}
        # one JSON document for them all: a study's reports decode in one call, not one each
        decoded = json.loads("[" + ",".join(row[2] for row in reports) + "]")
        for (trial_id, attempt, _), data in zip(reports, decoded):
            t = by_id.get(trial_id)
            if t is not None and attempt == t.attempts:
                t.reports.append(data)
        return trials
