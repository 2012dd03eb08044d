"""What a worker's nbtune is: its version, where it was imported from, and a digest of its code.

The notebook asks each worker with :data:`PROBE`, an expression the worker evaluates with the
builtin ``eval``: nothing of nbtune travels with it, so a worker that cannot import nbtune answers
with its ImportError instead of failing to unpickle the question, and a worker with an older
nbtune, which lacks this module, answers with its version alone. Two copies of the same version
whose files differ (a worker started from another checkout) tell apart by their digests.
"""
from __future__ import annotations

import functools
import hashlib
import os
from typing import Any

PROBE = ("(lambda n: __import__('nbtune.run.probe', fromlist=['_']).answer() "
         "if __import__('importlib.util').util.find_spec('nbtune.run.probe') "
         "else {'version': n.__version__})(__import__('nbtune'))")


def answer() -> dict[str, Any]:
    """This process's nbtune: ``version``, ``folder`` (the package's) and ``digest``."""
    import nbtune

    folder = os.path.dirname(os.path.abspath(nbtune.__file__))
    return {"version": nbtune.__version__, "folder": folder, "digest": _digest(folder)}


@functools.lru_cache(maxsize=4)
def _digest(folder: str) -> str:
    """A digest of the package's Python files (their paths and contents), once per process."""
    h = hashlib.sha1()
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                h.update(os.path.relpath(path, folder).encode())
                with open(path, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


def read(got: Any) -> dict[str, Any]:
    """A worker's answer to :data:`PROBE` as :func:`answer`'s dict (an older nbtune's answer has
    its version alone); an exception (nbtune did not import there) as it came."""
    return got if isinstance(got, (dict, BaseException)) else {"version": got}


def differs(theirs: dict[str, Any], mine: dict[str, Any]) -> str:
    """How a worker's nbtune (``theirs``) differs from the notebook's, in words; "" where not."""
    if theirs.get("version") != mine["version"]:
        return f"nbtune {theirs.get('version')}"
    if theirs.get("digest") not in (None, mine["digest"]):
        return f"another copy of nbtune {mine['version']} ({theirs.get('folder')})"
    return ""


def missing_nbtune(exc: BaseException) -> bool:
    """Whether a worker's import error is nbtune's absence (not a dependency's, or its own bug)."""
    return isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "nbtune"
