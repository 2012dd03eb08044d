"""The studies of a storage file, one row each (``%tune_studies``, ``nbtune studies``): what a
person scans to find a study, and what a resume of it would do."""
from __future__ import annotations

import time
from typing import Any

from . import trial as T
from .studies import DIED, SEARCH_DIED, stored_study


def _listed_status(study: Any, status: str) -> str:
    """A study's status in the listing: what a resume would do with it, for the two kinds a
    resume continues (it listed an interrupted study as "finished: interrupted")."""
    if study.stop_reason in (DIED, SEARCH_DIED):
        return "stopped with its kernel or process: resume it"
    if study.stop_reason == "interrupted":
        return "interrupted: resume it"
    return status


def studies_frame(db: Any) -> Any:
    """A storage file's studies as a pandas DataFrame, one row each: name, metric and mode,
    trials per state, best value, last change and status (``%tune_studies``, ``nbtune
    studies``)."""
    import pandas as pd

    rows = []
    for name in db.study_names():
        row = db.study_row(name)
        study = stored_study(db, name, row)
        best = study.best
        rows.append({"study": name, "metric": f"{row['metric']} ({row['mode']})",
                     "trials": T.counts_text(study.counts(), study.stop_reason) or "none",
                     "best": "-" if best is None else f"{best.value:.6g} (trial {best.id})",
                     "last change": time.strftime("%Y-%m-%d %H:%M:%S",
                                                  time.localtime(row["updated"])),
                     "status": _listed_status(study, row["status"])})
    return pd.DataFrame(rows, columns=["study", "metric", "trials", "best", "last change",
                                       "status"])

