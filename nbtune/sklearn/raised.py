"""``SearchCV(error_score="raise")``: the estimator's own exception, rebuilt in the notebook.

A candidate's exception is raised on a Dask worker, and only its traceback text reaches the
notebook (the trial's ``error``). Its last part, ``module.Type: message`` as Python writes it,
names the type; where that type is loaded in the notebook (a builtin, a class of ``__main__``
such as one defined in a notebook cell, or of a module already imported) and takes the message
as its one argument, ``except Type:`` around ``fit`` catches it as it would around a local fit.
"""
from __future__ import annotations

import builtins
import sys
from typing import Any


def _exception_part(text: str) -> str:
    """The ``Type: message`` part of a traceback text: what follows its frames."""
    lines = text.rstrip("\n").splitlines()
    if lines and lines[0].startswith("Traceback"):
        lines = lines[1:]
        while lines and (not lines[0] or lines[0][0].isspace()):
            lines = lines[1:]
    return "\n".join(lines)


def _find_type(name: str) -> Any:
    """The class that ``name`` (``Qualname`` or ``module.Qualname``) stands for, among what the
    notebook has loaded; None where it has not."""
    places = [(builtins, name), (sys.modules.get("__main__"), name)]
    parts = name.split(".")
    places += [(sys.modules.get(".".join(parts[:i])), ".".join(parts[i:]))
               for i in range(len(parts) - 1, 0, -1)]
    for module, qualname in places:
        found: Any = module
        for part in qualname.split(".") if module is not None else ():
            found = getattr(found, part, None)
        if module is not None and isinstance(found, type) and issubclass(found, Exception):
            return found
    return None


def rebuilt(traceback_text: str) -> Exception | None:
    """The exception a traceback text ends with, as an instance of its own type with its
    message; None where that type cannot be found or made from the message."""
    part = _exception_part(traceback_text)
    name, sep, message = part.partition(": ")
    if not name or any(c.isspace() for c in name):
        return None
    cls = _find_type(name)
    if cls is None:
        return None
    try:
        return cls(message) if sep else cls()
    except Exception:
        return None
