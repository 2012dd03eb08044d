"""What ``SearchCV.fit`` says in the cell beside its panel: that it replaces the stored study of
its name, and that its refit, which runs in the notebook's process after the panel has become
the summary, takes a while.

A second fit replaced its stored study in silence, and the notebook's earlier summary no longer
matched the file (first-day test, round 22). A 46 s refit on 2M rows, past ``max_time``, left a
cell that looked done busy, with nothing said (round 21); an 84 s refit after a guess of 3 s
from the folds' fits, the notebook's own threads on a busy machine, too (round 23).
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Any, Iterator

REFIT_SAID_FROM = 5.0  # seconds a refit takes (or is guessed to) past which the cell says so


def say(line: str) -> None:
    """One line of SearchCV's in the cell (its stderr)."""
    print(f"nbtune: {line}", file=sys.stderr, flush=True)


def replaced_line(storage: str | None, study: str | None) -> str | None:
    """Where a fit will replace the stored study of its name (an earlier fit's), a line that
    says so; else None."""
    if storage is None or study is None or not os.path.exists(storage):
        return None
    from ..studies import list_studies

    if study not in list_studies(storage):
        return None
    return (f"this fit replaces study {study!r} in {storage!r}, an earlier fit's (each fit "
            "starts a new search; another study= keeps both, resume=True continues it)")


def fingerprint(X: Any, y: Any, groups: Any, splits: list) -> str:
    """The data a search runs on, hashed (joblib's hash: arrays, frames and sparse matrices by
    their bytes, about a second a gigabyte): X, y, groups and the folds' indices."""
    import joblib
    import numpy as np

    return joblib.hash((X, y, groups, [(np.asarray(tr), np.asarray(te)) for tr, te in splits]))


def check_resumable(resume: Any, storage: str | None, study: str | None, data: str) -> None:
    """``resume=True`` needs a stored search by name, and one that ran on the same data: one
    ValueError otherwise (a search that does not exist yet starts, as tune's resume does)."""
    if not resume:
        return
    if storage is None or study is None:
        raise ValueError("resume=True continues a stored search: give storage='nbtune.db' and "
                         "study='NAME' (the ones the interrupted fit had)")
    if not os.path.exists(storage):
        return
    from ..storage import Storage

    db = Storage(storage, readonly=True)
    try:
        row = db.study_row(study)
    finally:
        db.close()
    ran_on = None if row is None else (row["settings"] or {}).get("data")
    if ran_on is not None and ran_on != data:
        raise ValueError(f"study {study!r} in {storage!r} ran on other data (X, y, groups or "
                         f"the folds differ): resume=True continues a search on the data it ran "
                         f"on; another study= starts a new one")


def refit_line(took: float, n_splits: int, rows: int, bounded: bool,
               late: bool = False) -> str | None:
    """The line before a refit guessed to take :data:`REFIT_SAID_FROM` seconds or more from
    the best candidate's fit on its folds (``took``, their mean; all ``rows`` are more than a
    fold's ``n_splits - 1`` parts of them), else None; with ``late``, the line once a refit the
    guess missed has run that long. ``bounded``: the search had a ``max_time``."""
    guess = took * n_splits / max(n_splits - 1, 1)
    if not (guess >= REFIT_SAID_FROM or late):
        return None
    bound = "; max_time bounds the search, not the refit" if bounded else ""
    so_far = (f"{REFIT_SAID_FROM:.0f} s so far, where its folds' fits took {took:.1f} s"
              if late else f"about {guess:.0f} s, from its folds' fits")
    return (f"refitting the best candidate on all {rows:,} rows, in this process "
            f"({so_far}{bound}; refit=False skips it) ...")


@contextlib.contextmanager
def refit_announced(took: float, n_splits: int, rows: int, bounded: bool) -> Iterator[None]:
    """Within it the refit runs: said before it where it is guessed long, else once it has run
    :data:`REFIT_SAID_FROM` seconds (a timer, cancelled at its end)."""
    line = refit_line(took, n_splits, rows, bounded)
    if line is not None:
        say(line)
        yield
        return
    late = threading.Timer(REFIT_SAID_FROM, say,
                           (refit_line(took, n_splits, rows, bounded, late=True),))
    late.daemon = True
    late.start()
    try:
        yield
    finally:
        late.cancel()
