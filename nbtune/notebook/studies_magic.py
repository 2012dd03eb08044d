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


def _words(line: str, magic: str, most: int) -> tuple[list[str], str | None]:
    """The line's words, and the file that ``--storage PATH`` names there, as %%tune takes it
    (``%tune_show NAME --storage FILE`` looked for a file named '--storage': round 26). Any
    other option, or more than ``most`` words, is one line that says the form."""
    words, path, rest = line.split(), None, []
    form = {"tune_studies": "%tune_studies [PATH]", "tune_show": "%tune_show NAME [PATH]"}[magic]
    while words:
        word = words.pop(0)
        if word == "--storage" and words:
            path = words.pop(0)
        elif word.startswith("--storage="):
            path = word.split("=", 1)[1]
        elif word.startswith("-"):
            raise UsageError(f"%{magic}: unknown option {word!r}: it reads {form} "
                             "(or --storage PATH)")
        else:
            rest.append(word)
    if len(rest) > most or (path is not None and len(rest) == most):
        raise UsageError(f"%{magic}: too many words ({' '.join(rest)}): it reads {form}")
    return rest, path


def studies_table(line: str, storage: str) -> Any:
    """``%tune_studies [PATH]``: a DataFrame of the studies in PATH (else ``storage``), indexed
    by their names (a column of 0, 1, ... led it), or None with one line where it holds none."""
    words, named = _words(line, "tune_studies", 1)
    line = named or (words[0] if words else "")
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
    words, named = _words(line, "tune_show", 2)
    if not words:
        raise UsageError("%tune_show: give a study name (see %tune_studies)")
    path = named or (words[1] if len(words) > 1 else storage)
    try:
        study = load_study(words[0], storage=path)
    except (StudyNotFound, FileNotFoundError, StorageError) as exc:
        raise UsageError(f"%tune_show: {exc}") from None
    return study.summary()
