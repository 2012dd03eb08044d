"""What a failed trial could not import that the notebook can: a module of the notebook's own
folder (``mymod.py`` beside it), or a package installed where the notebook runs and not where the
workers do. The trial's traceback ends in ``ModuleNotFoundError: No module named 'mymod'``; the
notebook knows where ``mymod`` comes from, and says how the workers get it.
"""
from __future__ import annotations

import importlib.util
import os
import re
import sysconfig

_MISSING = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'\s*$")


def _origin(name: str) -> str | None:
    """Where this process imports ``name`` from (a file or a package folder), or None."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.origin and spec.origin not in ("built-in", "frozen"):
        return spec.origin
    locations = list(spec.submodule_search_locations or [])
    return locations[0] if locations else None


def _installed(path: str) -> bool:
    """Whether ``path`` lies in this Python's installed packages (site-packages)."""
    roots = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    return any(os.path.abspath(path).startswith(os.path.abspath(root) + os.sep)
               for root in roots)


def missing_module_hint(error: str | None, address: str | None = None) -> str | None:
    """``error`` (a failed trial's traceback) with a line added where it ends in a
    ``ModuleNotFoundError`` for a module this process imports: a file of the notebook's own
    (``client.upload_file`` sends it: the call names the cluster's scheduler at ``address``,
    where known) or an installed package (to install where the workers run). Unchanged
    otherwise."""
    if not error:
        return error
    found = _MISSING.search(error.rstrip())
    if found is None:
        return error
    top = found.group(1).split(".")[0]
    origin = _origin(top)
    if origin is None:
        return error
    if _installed(origin):
        hint = (f"the workers cannot import {top!r}, installed where the notebook runs: "
                f"install it in the workers' environment too (pip install {top})")
    else:
        path = origin if os.path.basename(origin) != "__init__.py" else os.path.dirname(origin)
        what = repr(path) if path.endswith(".py") else f"a zip of {path}"
        client = repr(address) if address else "SCHEDULER_ADDRESS"
        hint = (f"the workers cannot import {top!r}, the notebook's own: send it to "
                f"them, distributed.Client({client}).upload_file({what}), or put it "
                "where the workers' Python finds it")
    return f"{error.rstrip()}\nnbtune: {hint}"
