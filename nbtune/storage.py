"""Studies on disk: one SQLite file in WAL mode, JSON values, no pickle.

Every trial and every report is written, in its own transaction, the moment the loop announces it,
so a kernel that dies loses nothing that reached the notebook. Opening someone's study file never runs
code: everything in it is JSON text.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from typing import Any, Iterable

from .contract.events import Observer
from .trial import Trial

SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    name TEXT PRIMARY KEY, space TEXT NOT NULL, metric TEXT NOT NULL, mode TEXT NOT NULL,
    settings TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL, status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    study TEXT NOT NULL, id INTEGER NOT NULL, config TEXT NOT NULL, state TEXT NOT NULL,
    value REAL, metrics TEXT, error TEXT, worker TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    created REAL, started REAL, finished REAL,
    PRIMARY KEY (study, id)
);
CREATE TABLE IF NOT EXISTS reports (
    study TEXT NOT NULL, trial INTEGER NOT NULL, attempt INTEGER NOT NULL, seq INTEGER NOT NULL,
    time REAL NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (study, trial, attempt, seq)
);
"""

_TRIAL_COLUMNS = ("id", "config", "state", "value", "metrics", "error", "worker", "attempts",
                  "created", "started", "finished")


class Storage:
    """A SQLite file holding any number of studies."""

    def __init__(self, path: str | os.PathLike = "nbtune.db"):
        self.path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"storage {self.path!r}: the folder {folder!r} does not exist")
        # autocommit: each statement is its own transaction, on disk when execute() returns
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=30.0)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process crash (a dead kernel), not an OS crash
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def _run(self, sql: str, args: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    # -- studies -------------------------------------------------------------------------
    def study_names(self) -> list[str]:
        """Names of the studies in this file, oldest first."""
        return [r[0] for r in self._run("SELECT name FROM studies ORDER BY created")]

    def study_row(self, name: str) -> dict[str, Any] | None:
        """The stored header of study ``name``, or None."""
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

    def delete_study(self, name: str) -> None:
        """Remove a study with its trials and reports."""
        with self._lock:
            self._db.execute("BEGIN")
            for table, col in (("reports", "study"), ("trials", "study"), ("studies", "name")):
                self._db.execute(f"DELETE FROM {table} WHERE {col} = ?", (name,))
            self._db.execute("COMMIT")

    # -- trials and reports --------------------------------------------------------------
    def save_trial(self, study: str, t: Trial) -> None:
        """Insert or update one trial's row."""
        self._run("INSERT OR REPLACE INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (study, t.id, json.dumps(t.config), t.state, t.value,
                   json.dumps(t.metrics) if t.metrics else None, t.error, t.worker, t.attempts,
                   t.created, t.started, t.finished))

    def delete_trial(self, study: str, trial_id: int) -> None:
        """Remove one trial with its reports."""
        with self._lock:
            self._db.execute("BEGIN")
            for table in ("reports", "trials"):
                col = "trial" if table == "reports" else "id"
                self._db.execute(f"DELETE FROM {table} WHERE study = ? AND {col} = ?",
                                 (study, trial_id))
            self._db.execute("COMMIT")

    def add_report(self, study: str, trial_id: int, attempt: int, seq: int,
                   data: dict[str, Any], when: float | None = None) -> None:
        """Append one report (ignored if that report was stored already)."""
        self._run("INSERT OR IGNORE INTO reports VALUES (?, ?, ?, ?, ?, ?)",
                  (study, trial_id, attempt, seq, when or time.time(), json.dumps(data)))

    def load_trials(self, study: str) -> list[Trial]:
        """The study's trials in id order, each with the reports of its latest attempt."""
        rows = self._run(f"SELECT {', '.join(_TRIAL_COLUMNS)} FROM trials WHERE study = ? "
                         "ORDER BY id", (study,))
        trials = []
        for row in rows:
            rec = dict(zip(_TRIAL_COLUMNS, row))
            rec["config"] = json.loads(rec["config"])
            rec["metrics"] = json.loads(rec["metrics"]) if rec["metrics"] else {}
            trials.append(Trial(**rec))
        reports = self._run("SELECT trial, attempt, data FROM reports WHERE study = ? "
                            "ORDER BY trial, attempt, seq", (study,))
        by_id = {t.id: t for t in trials}
        for trial_id, attempt, data in reports:
            t = by_id.get(trial_id)
            if t is not None and attempt == t.attempts:
                t.reports.append(json.loads(data))
        return trials


class StorageRecorder(Observer):
    """Writes a running study's events to a :class:`Storage` as they happen."""

    def __init__(self, storage: Storage, study: str):
        self.storage, self.study = storage, study

    def study_started(self, info):
        self.storage.set_status(self.study, "running")

    def trial_created(self, trial):
        self.storage.save_trial(self.study, trial)

    def trial_started(self, trial):
        self.storage.save_trial(self.study, trial)

    def trial_reported(self, trial, report):
        self.storage.add_report(self.study, trial.id, trial.attempts, len(trial.reports), report)

    def trial_finished(self, trial):
        self.storage.save_trial(self.study, trial)

    def trial_withdrawn(self, trial):
        self.storage.delete_trial(self.study, trial.id)

    def study_finished(self, reason):
        self.storage.set_status(self.study, f"finished: {reason}")
