"""The magics' side of the storage file: ``%tune_studies`` lists its studies, ``%tune_show``
shows one of them."""
from __future__ import annotations

import os
from typing import Any

from IPython.core.error import UsageError

from ..paths import StorageError
from ..storage import Storage
from ..studies import StudyNotFound, list_studies, load_study
from ..listing import studies_frame


def studies_table(line: str, storage: str) -> Any:
    """``%tune_studies [PATH]``: a DataFrame of the studies in PATH (else ``storage``), indexed
    by their names (a column of 0, 1, ... led it), or None with one line where it holds none."""
    path = line.strip() or storage
    try:
        names = list_studies(path)
    except StorageError as exc:
        raise UsageError(f"%tune_studies: {exc}") from None
    if not names:  # a study kept in another file (--storage PATH) is not looked for
        other = "" if line.strip() else " (`%tune_studies PATH` lists another file)"
        if not os.path.exists(path):  # a mistyped Tune.storage read as an empty file (round 12)
            print(f"nbtune: there is no study file {path!r} (in {os.getcwd()}){other}")
        else:
            print(f"nbtune: no studies in {path!r}{other}")
        return None
    db = Storage(path, readonly=True)
    try:
        return studies_frame(db).set_index("study")
    finally:
        db.close()


def study_summary(line: str, storage: str) -> Any:
    """``%tune_show NAME [PATH]``: the summary of study NAME in PATH (else ``storage``)."""
    words = line.split()
    if not words:
        raise UsageError("%tune_show: give a study name (see %tune_studies)")
    path = words[1] if len(words) > 1 else storage
    try:
        study = load_study(words[0], storage=path)
    except (StudyNotFound, FileNotFoundError, StorageError) as exc:
        raise UsageError(f"%tune_show: {exc}") from None
    return study.summary()
