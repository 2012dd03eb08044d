"""A script that runs a study outside ``if __name__ == "__main__":``, named before anything starts.

nbtune's local cluster starts its workers as new Python processes that import the script first, as
``multiprocessing`` does; a study at the script's top level then starts again in each of them.
What the user saw was a page of Dask's tracebacks ending in "Nanny failed to start.", or, with a
study name, that the study "is being run by process N" (the script itself) and should get
another name (first-day test, round 14: an Optuna script needs no such guard, so every ported
one met this). :func:`unguarded_line` finds the script's own line that led to the study and
whether a ``__name__`` test guards it, from the script's source.
"""
from __future__ import annotations

import ast
import os
import sys
from typing import Any


def unguarded_line() -> tuple[str, int] | None:
    """(script, line) where the running script's top level leads to this call outside an ``if``
    on ``__name__``; None in a notebook, an interactive session, a guarded script, or where the
    source cannot be read."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return None
    frame: Any = sys._getframe(1)
    top = None
    while frame is not None:  # the outermost frame of the script's own top level
        if frame.f_code.co_name == "<module>" and frame.f_globals is vars(main):
            top = frame
        frame = frame.f_back
    if top is None or os.path.abspath(top.f_code.co_filename) != os.path.abspath(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return None
    line = top.f_lineno
    return None if _guarded(tree.body, line) else (path, line)


def _guarded(body: list[ast.stmt], line: int) -> bool:
    """Whether ``line`` lies, within the statements ``body``, inside an ``if`` that tests
    ``__name__``."""
    for node in body:
        if not node.lineno <= line <= (node.end_lineno or node.lineno):
            continue
        if isinstance(node, ast.If) and any(isinstance(n, ast.Name) and n.id == "__name__"
                                            for n in ast.walk(node.test)):
            return True
        blocks = [getattr(node, name, None) for name in ("body", "orelse", "finalbody")]
        blocks += [h.body for h in getattr(node, "handlers", ())]
        return any(isinstance(b, list) and _guarded(b, line) for b in blocks)
    return False


def guard_line(path: str, line: int) -> str:
    """The one-line error for a study started at ``path``'s top level, line ``line``."""
    name = os.path.basename(path)
    return (f"{name}, line {line}, starts the study at the top level of the script, and nbtune's "
            f"local Dask workers start by importing {name}, so each would start it again: put "
            "the study under `if __name__ == \"__main__\":`")


def from_stdin() -> bool:
    """Whether the running script was read from standard input (``python - <<EOF``): worker
    processes that start by running the script's file find none (first-day test, round 16: a
    page of Dask's tracebacks ending in "Nanny failed to start.")."""
    return getattr(sys.modules.get("__main__"), "__file__", None) == "<stdin>"


STDIN_LINE = ("a script read from standard input (python -) cannot start nbtune's local cluster: "
              "its worker processes start by running the script's file, and it has none; save "
              "it as a file, with the study under `if __name__ == \"__main__\":`, or give "
              "cluster= the address of a running one")

