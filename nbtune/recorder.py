"""The study's writer: a running study's events written to its :class:`~nbtune.storage.Storage`
as they happen (each report on disk when it arrives), its lease given back at its end."""
from __future__ import annotations

import time
from typing import Any, Callable

from .contract.events import Observer
from .paths import StorageError
from .storage import Storage

STOPPING_PATIENCE = 5.0  # seconds a write waits for another's lock once the user cut a study short
FOLD_EVERY = 5.0  # seconds between two folds of the write-ahead log into the study file


class StorageRecorder(Observer):
    """Writes a running study's events to a :class:`Storage` as they happen, and gives the study's
    :class:`~nbtune.lease.Lease` back when it ends; ``settings`` (the study's, as they are when
    it ends) are written again with its end."""

    def __init__(self, storage: Storage, study: str, lease: Any = None,
                 settings: dict[str, Any] | None = None):
        self.storage, self.study, self.lease, self.settings = storage, study, lease, settings
        self._folded = time.monotonic()
        self.stopping = False  # the user cut the study short (study_stopping)
        self.gave_up: StorageError | None = None  # then, the locked file's error: none tried

    def _fold(self) -> None:
        """Fold the write-ahead log into the file every :data:`FOLD_EVERY` seconds, so that
        the ``.db`` file alone holds all but the latest seconds of a study whose kernel died
        (see :meth:`Storage.fold_log`)."""
        if time.monotonic() - self._folded >= FOLD_EVERY:
            self._folded = time.monotonic()
            self.storage.fold_log()

    def _skip(self) -> bool:
        """Whether to write nothing: another run took the study's lease over (this run would
        overwrite that run's trials). Once the user cut the study short and a write found the
        file locked, that error again, at once: the rest are not tried, the user waits no
        longer."""
        if self.gave_up is not None:
            raise self.gave_up
        return self.lease is not None and self.lease.lost

    def study_stopping(self, reason):
        """An interrupt: a write waits :data:`STOPPING_PATIENCE` s for another's lock, not
        :data:`BUSY_PATIENCE` (the stop button did nothing for as long as a foreign write lock
        held the file: first-day test, round 12), and after one such wait none is tried."""
        self.storage.patience = STOPPING_PATIENCE
        self.stopping = True

    def _write(self, write: Callable[[], None]) -> None:
        try:
            write()
        except StorageError as exc:
            if self.stopping and "stayed locked" in str(exc):
                self.gave_up = exc
            raise

    def study_started(self, info):
        self.storage.set_status(self.study, "running")
        self.storage.fold_log()

    def trial_created(self, trial):
        if not self._skip():
            self._write(lambda: self.storage.save_trial(self.study, trial))

    def trial_started(self, trial):
        if not self._skip():
            self._write(lambda: self.storage.save_trial(self.study, trial))

    trial_waiting = trial_started  # its worker and start, None again

    def trial_reported(self, trial, report):
        if not self._skip():
            self._write(lambda: self.storage.add_report(self.study, trial.id, trial.attempts,
                                                        len(trial.reports), report))
            self._fold()

    def trial_finished(self, trial):
        if not self._skip():
            self._write(lambda: self.storage.save_trial(self.study, trial))
            self._fold()

    def trial_rewound(self, trial):
        if not self._skip():
            self._write(lambda: self.storage.drop_reports(self.study, trial.id, trial.attempts,
                                                          after=len(trial.reports)))

    def trial_withdrawn(self, trial):
        if not self._skip():
            self._write(lambda: self.storage.delete_trial(self.study, trial.id))

    def study_finished(self, reason):
        try:
            if not self._skip():
                self._write(lambda: self.storage.set_status(self.study, f"finished: {reason}",
                                                            self.settings))
        finally:
            if self.lease is not None:
                self.lease.release()
