"""Studies kept in a storage file: open one (:func:`load_study`), list them, delete one, and the
messages for a study that is not where it was looked for. The :class:`~nbtune.study.Study` they
return is the object itself."""
from __future__ import annotations

import fnmatch
import os
from typing import Any

from . import trial as T
from .caller import user_facing
from .lease import Lease, StudyBusy, run_died
from .paths import check_path, default_file
from .shown import outdated
from .setup_text import made_by_searchcv
from .space import Space
from .storage import Storage
from .study import Study
from .typos import did_you_mean

# the stop reason of a loaded study whose run ended with its process, not with the study
DIED = "its run stopped with its kernel or process before the study ended (resume it to go on)"
# a SearchCV search's, which tune's resume does not continue (first-day test, round 63)
SEARCH_DIED = ("its run stopped with its kernel or process before the search ended "
               "(SearchCV(..., resume=True) continues it on the same data)")


class StudyNotFound(LookupError):
    """No study of that name in the storage file."""


def _file(storage: str | os.PathLike | None) -> str | os.PathLike:
    """The study file a reading function was given, or else the default one."""
    return storage if storage is not None else default_file()


@user_facing
def load_study(name: str, storage: str | os.PathLike | None = None) -> Study:
    """Open study ``name`` from a storage file (another process's, or before a kernel restart):
    ``storage``, or by default ``nbtune.db`` (in a notebook, the file ``%config Tune.storage``
    names)."""
    if storage is None and isinstance(name, (str, os.PathLike)) and os.path.isfile(name):
        raise _a_file_for_a_name(os.fspath(name))
    path = os.fspath(_file(storage))
    pathlike = storage is None and isinstance(name, (str, os.PathLike)) and (
        os.fspath(name).endswith(".db") or os.sep in os.fspath(name))
    try:
        db = Storage(path, readonly=True)  # nothing written: someone else's file, or read-only
    except FileNotFoundError as exc:
        if pathlike:  # a file's path that names none, taken for a study's name (round 17)
            raise FileNotFoundError(_no_such_file(os.fspath(name))) from None
        raise FileNotFoundError(f"{exc}{_found_beside(name, path)}") from None
    try:
        row = db.study_row(name)
        if row is None and pathlike:
            raise FileNotFoundError(_no_such_file(os.fspath(name)))
        if row is None:
            raise _not_found(db, name, path)
        return stored_study(db, name, row)
    finally:
        db.close()


def _no_such_file(name: str) -> str:
    """The line for a study's name that reads as a file's path, where no such file is."""
    return (f"no study file {name!r} (and no study of that name in the default file): "
            "load_study(NAME, storage=PATH) opens a study of a file")


def _a_file_for_a_name(path: str) -> Exception:
    """The error for a study file given as a study's name (Ray Tune's ``Tuner.restore(path)``,
    first-day test, round 16: it read "no study storage at 'nbtune.db'"): the call to write,
    with the studies the file holds."""
    try:
        db = Storage(path, readonly=True)
    except Exception as exc:  # not a study file: that is the error
        return exc
    try:
        names = db.study_names()
    finally:
        db.close()
    one = repr(names[0]) if len(names) == 1 else "NAME"
    known = ", ".join(map(repr, names)) or "none"
    return StudyNotFound(f"{path!r} is a study file, not a study's name: "
                         f"load_study({one}, storage={path!r}) (studies there: {known})")


def _not_found(db: Storage, name: str, path: str) -> StudyNotFound:
    """The error for study ``name`` missing from the file ``path`` (``db``): the studies there,
    and the file beside it that holds one of that name, if any."""
    names = db.study_names()
    known = ", ".join(repr(n) for n in names) or "none"
    near = did_you_mean(name, names, cutoff=0.6) if isinstance(name, str) else ""
    return StudyNotFound(f"no study named {name!r} in {path!r}{near} (studies there: {known})"
                         f"{_found_beside(name, path)}")


def _found_beside(name: str, path: str, most: int = 50) -> str:
    """"; a study named so is in 'runs.db': load_study(...)", where another storage file in the
    folder of ``path`` holds study ``name`` (a study a notebook ran under ``%config
    Tune.storage = 'runs.db'``, looked for in nbtune.db from a script or another kernel); ""
    where none does."""
    import glob

    folder = os.path.dirname(os.path.abspath(path))
    for candidate in sorted(glob.glob(os.path.join(folder, "*.db")))[:most]:
        if os.path.abspath(candidate) == os.path.abspath(path):
            continue
        try:
            db = Storage(candidate, readonly=True)
        except Exception:  # not a study file, or unreadable: not the one
            continue
        try:
            held = db.study_row(name) is not None
        except Exception:
            held = False
        finally:
            db.close()
        if held:
            other = os.path.relpath(candidate) if os.path.dirname(path) == "" else candidate
            return (f"; a study named {name!r} is in {other!r}: load_study({name!r}, "
                    f"storage={other!r}) (%tune_show {name} {other})")
    return ""


def stored_study(db: Storage, name: str, row: dict[str, Any]) -> Study:
    """The study of a storage file's row (``Storage.study_row``). One stored as running whose run
    died with its kernel or process (:func:`~nbtune.lease.run_died`) ends with :data:`DIED`, its
    unfinished trials interrupted, as a resume of it will take them."""
    status = row["status"]
    reason = status.split(": ", 1)[1] if status.startswith("finished: ") else None
    space = Space.from_json(row["space"])
    # its configs as the run's trials got them: a loaded study gave lists where the cell wrote
    # tuples, and its frame's groupby failed on them (first-day test, round 65)
    trials = db.load_trials(name, space)
    if run_died(db, name, status):
        db.fold_left_log()
        reason = SEARCH_DIED if made_by_searchcv(row["settings"]) else DIED
        for t in trials:
            if t.state in (T.RUNNING, T.PENDING):
                t.state = T.INTERRUPTED
    study = Study(name, space, row["metric"], row["mode"],
                  trials=trials, storage=db.path, settings=row["settings"], stop_reason=reason)
    study.running_elsewhere = reason is None and status in ("running", "resumed")
    return study


@user_facing
def delete_study(name: str, storage: str | os.PathLike | None = None) -> None:
    """Remove study ``name`` from a storage file (by default as :func:`load_study`'s), with its
    trials and reports, for good.

    A study that a run is running (in this kernel, another, or another process) is refused
    (:class:`~nbtune.lease.StudyBusy`, naming that run): stop it first. To run a study again
    under its name, ``replace=True`` (``%%tune --study NAME --replace``) does both at once."""
    path = check_path(_file(storage))
    if not os.path.exists(path):
        raise FileNotFoundError(f"no storage file {path!r}{_found_beside(name, path)}")
    db = Storage(path)
    try:
        lease = Lease(db, name)
        lease.acquire(f"stop it first (nbtune.load_study({name!r}).stop() in the kernel that "
                      f"runs it, or interrupt its cell), then delete it")
        try:
            if db.study_row(name) is None:
                raise _not_found(db, name, path)
            db.delete_study(name)
            outdated(path, name, "deleted")  # the summaries this kernel shows of it say so
        finally:
            lease.release()
    finally:
        db.close()


@user_facing
def delete_studies(pattern: str, storage: str | os.PathLike | None = None) -> list[str]:
    """Remove every study whose name matches ``pattern``, a shell-style pattern
    (``"study-*"``: the studies of ``%%tune`` cells run without ``--study``), as
    :func:`delete_study` removes one; returns the names removed, in the file's order.

    A pattern that matches nothing is refused (:class:`StudyNotFound`, naming the studies
    there). A matching study that a run is running is kept, the others removed, and then
    :class:`~nbtune.lease.StudyBusy` names what was removed and what was kept: stop that run and
    call it again."""
    if not isinstance(pattern, str):
        raise TypeError(f"delete_studies takes a name pattern such as 'study-*', got "
                        f"{type(pattern).__name__}")
    path = os.fspath(_file(storage))
    known = list_studies(path)  # none where there is no file
    names = [n for n in known if fnmatch.fnmatchcase(n, pattern)]
    if not names:
        if not os.path.exists(check_path(path)):
            raise FileNotFoundError(f"no storage file {path!r}")
        raise StudyNotFound(f"no study in {path!r} has a name that matches {pattern!r} "
                            f"(studies there: {', '.join(repr(n) for n in known) or 'none'})")
    deleted, busy = [], []
    for name in names:
        try:
            delete_study(name, storage=path)
            deleted.append(name)
        except StudyBusy as exc:
            busy.append(str(exc))
    if busy:
        gone = f" ({', '.join(repr(n) for n in deleted)})" if deleted else ""
        raise StudyBusy(f"deleted {len(deleted)} of the {len(names)} studies that match "
                        f"{pattern!r}{gone}; kept {len(busy)}: " + "; ".join(busy))
    return deleted


@user_facing
def list_studies(storage: str | os.PathLike | None = None) -> list[str]:
    """Names of the studies kept in a storage file (by default as :func:`load_study`'s)."""
    path = check_path(_file(storage))
    if not os.path.exists(path):
        return []
    db = Storage(path, readonly=True)
    try:
        return db.study_names()
    finally:
        db.close()
