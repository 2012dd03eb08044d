"""Where a study file is: the default file (``nbtune.db``, or what ``%config Tune.storage``
names), whether a path can be one, and the checkpoint folder beside it. Nothing here opens
SQLite: :mod:`nbtune.storage` holds what is in the file.
"""
from __future__ import annotations

import contextlib
import os
import urllib.parse


class StorageError(ValueError):
    """A storage path that cannot hold nbtune's studies, or a study file that cannot be written."""


SQLITE_HEADER = b"SQLite format 3\x00"

# how the Python API and the magic each keep a study in memory only, for the messages of both
IN_MEMORY_ONLY = "storage=None (%%tune --storage none) to keep the study in memory only"
DEFAULT_FILE = "nbtune.db"
_default_file = [DEFAULT_FILE]  # set by the notebook magic from %config Tune.storage


def default_file() -> str:
    """The study file used where none is given (:func:`~nbtune.tune`,
    :func:`~nbtune.load_study`, :func:`~nbtune.list_studies`, :func:`~nbtune.delete_study`):
    ``nbtune.db``, or, in a kernel with nbtune's extension loaded, the file ``%config
    Tune.storage`` names (a setting that keeps studies in memory leaves ``nbtune.db``)."""
    return _default_file[0]


def remove_file(path: str) -> None:
    """Remove a study file with the log files SQLite keeps beside it."""
    for name in (path, path + "-wal", path + "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(name)


class _DefaultFile(str):
    """The default of :func:`nbtune.tune`'s ``storage``: it reads as 'nbtune.db' and stands for
    :func:`default_file` (in a notebook, the file ``%config Tune.storage`` names)."""


DEFAULT_STORAGE = _DefaultFile(DEFAULT_FILE)


def chosen_file(storage: str | os.PathLike | None) -> str | os.PathLike | None:
    """``storage`` as given (``~`` expanded), :func:`default_file` where it is
    :data:`DEFAULT_STORAGE` (None, and ``"none"`` as the magic writes it, keep a study in
    memory: None)."""
    if isinstance(storage, _DefaultFile):
        return default_file()
    if isinstance(storage, str) and storage.strip().lower() == "none":
        return None  # the word of %%tune --storage none and %config Tune.storage (round 43)
    return _home(storage) if storage is not None else None


def relative_to_cwd(path: str | os.PathLike) -> str:
    """`` (in /home/me/nb: a relative path is read from the working folder)`` for a relative
    ``path``, which a notebook moved to another folder, or a script run from one, no longer finds
    ("no study storage at 'paper.db'" named no folder: first-day tests, rounds 38 and 39); ""
    for an absolute one."""
    if os.path.isabs(os.fspath(path)):
        return ""
    return f" (in {os.getcwd()}: a relative path is read from the working folder)"


def _home(path: str | os.PathLike) -> str | os.PathLike:
    """``path`` with a leading ``~`` expanded to the home folder ('~/paper.db' was taken as a
    folder named '~': first-day tests, rounds 38 and 39); any other path as given."""
    text = os.fspath(path)
    return os.path.expanduser(text) if text.startswith("~") else path


def names_no_file(path: str | os.PathLike | None) -> bool:
    """Whether a setting such as ``%config Tune.storage`` keeps studies in memory: None, an empty
    text, or ``"none"`` in any case and spacing."""
    text = "" if path is None else os.fspath(path)
    return not text.strip() or text.strip().lower() == "none"


def set_default_file(path: str | os.PathLike | None) -> None:
    """Make ``path`` the file :func:`default_file` names (one that :func:`names_no_file`, which
    keeps studies in memory: ``nbtune.db`` again)."""
    _default_file[0] = DEFAULT_FILE if names_no_file(path) else os.fspath(path)


def check_path(path: str | os.PathLike) -> str:
    """``path`` as a study file's name; :class:`StorageError` with one line where it cannot be one
    (an empty name, ``:memory:``, a folder, a missing folder, a file that is not SQLite); a
    leading ``~`` is the home folder."""
    text = os.fspath(_home(path))
    if not text:
        raise StorageError("storage '' names no file: give a path such as 'nbtune.db', or "
                           f"{IN_MEMORY_ONLY}")
    scheme = text.split("://", 1)[0] if "://" in text else None
    if scheme is not None and scheme.replace("+", "").isalnum():  # Optuna's (SQLAlchemy's) URL
        path = text.split("://", 1)[1][1:] if scheme.startswith("sqlite") else None
        fix = (f"storage={path!r}" if path else "a file path such as storage='nbtune.db' (nbtune "
               "keeps studies in SQLite files)")
        raise StorageError(f"storage {text!r} is a database URL, Optuna's form: nbtune takes "
                           f"{fix}")
    if text == ":memory:" or text.startswith("file:"):
        raise StorageError(f"storage {text!r} would keep nothing once the study ends: give a file "
                           f"path such as 'nbtune.db', or {IN_MEMORY_ONLY}")
    if names_no_file(text):  # the magic's and %config's word for memory only, not a file
        raise StorageError(f"storage {text!r} names no file here: {IN_MEMORY_ONLY}, or a path "
                           "such as 'nbtune.db'")
    if text.endswith(("/", os.sep)) or os.path.isdir(text):
        raise StorageError(f"storage {text!r} is a folder: name a file in it, e.g. "
                           f"{os.path.join(text, 'nbtune.db')!r}")
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise StorageError(f"storage {text!r}: the folder {folder!r} does not exist")
    if os.path.exists(text):
        if not os.path.isfile(text):
            raise StorageError(f"storage {text!r} is not a regular file: name a study file")
        try:
            with open(text, "rb") as f:
                head = f.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise StorageError(f"storage {text!r} cannot be read ({exc.strerror})") from None
        if head and head != SQLITE_HEADER:
            raise StorageError(f"storage {text!r} is not a study file (not a SQLite database"
                               f"{', but text' if _is_text(text) else ''}): name another file")
    return text


def checkpoint_folder(path: str | os.PathLike, name: str,
                      shared: str | os.PathLike | None = None) -> str:
    """The folder, beside the study file ``path``, where the workers keep the checkpoints of
    study ``name``'s paused trials, so that a study cut short resumes them where they paused
    (``nbtune.db.checkpoints/NAME``; nothing of it exists until a trial pauses). The file itself
    holds no pickle: these are apart from it. ``shared``: a folder that every worker and the
    notebook reach (``checkpoints=``, a shared file system), which holds ``NAME`` instead."""
    folder = urllib.parse.quote(name, safe="")
    if folder in (".", ".."):
        folder = folder.replace(".", "%2E")
    root = os.path.abspath(path) + ".checkpoints" if shared is None else os.path.abspath(shared)
    return os.path.join(root, folder)


def shared_folder(folder: str | os.PathLike) -> str:
    """``checkpoints=``, checked: an existing folder (its missing last part is made), as an
    absolute path; :class:`StorageError` with one line where it cannot be one."""
    text = os.path.abspath(os.fspath(folder))
    if os.path.exists(text) and not os.path.isdir(text):
        raise StorageError(f"checkpoints={os.fspath(folder)!r} is a file: name a folder that "
                           "every worker and the notebook reach (a shared file system)")
    if not os.path.isdir(os.path.dirname(text)):
        raise StorageError(f"checkpoints={os.fspath(folder)!r}: the folder "
                           f"{os.path.dirname(text)!r} does not exist")
    os.makedirs(text, exist_ok=True)
    return text


def _is_text(path: str) -> bool:
    with open(path, "rb") as f:
        chunk = f.read(4096)
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in chunk


def create_private(path: str) -> None:
    """Create a missing study file readable by its owner alone (less where the umask says so);
    SQLite gives its -wal and -shm files the same permissions."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass

