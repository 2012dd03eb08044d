"""The words of a ``%%tune`` cell's space lines, as ``ast`` gives them: which calls are nbtune's
primitives, what a space line assigns, and how a message quotes it; the one error a cell's
mistakes raise. Shared by the cell's parser (:mod:`nbtune.notebook.cell`) and its checks for other
tools' habits (:mod:`nbtune.notebook.habits`). Pure: ``ast`` only."""
from __future__ import annotations

import ast
import builtins
import re

PRIMITIVES = ("uniform", "loguniform", "quniform", "randint", "lograndint", "choice", "grid",
              "linspace", "logspace", "fixed")
# names nbtune puts into every trial's namespace: get_checkpoint() too, the name of the README's
# recipe and Ray Tune's, which a cell refused as Ray Tune's (first-day test, round 35)
INJECTED = frozenset({"report", "checkpoint", "get_checkpoint"})
BUILTINS = frozenset(dir(builtins))
_QUALIFIED = re.compile(r"(?:nbtune(?:\.\w+)*\.)?(\w+)")


class CellError(ValueError):
    """A mistake in a %%tune cell; the message is one line naming the problem and the fix."""


def primitive(func: ast.AST) -> str | None:
    """The primitive `func` names (`uniform`, `nbtune.uniform`, `nbtune.space.uniform`), or None."""
    named = isinstance(func, (ast.Name, ast.Attribute))
    m = _QUALIFIED.fullmatch(ast.unparse(func)) if named else None
    return m[1] if m and m[1] in PRIMITIVES else None


def space_call(stmt: ast.stmt) -> ast.Call | None:
    """The primitive call an assignment statement assigns, else None."""
    value = stmt.value if isinstance(stmt, (ast.Assign, ast.AnnAssign)) else None
    return value if isinstance(value, ast.Call) and primitive(value.func) else None


def targets(stmt: ast.stmt) -> list[ast.expr]:
    return stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]  # type: ignore


def shown(stmt: ast.stmt) -> str:
    """`lr = loguniform(...)`: how messages quote a space line."""
    func = space_call(stmt).func  # type: ignore[union-attr]
    text = " = ".join(ast.unparse(t)[1:-1] if isinstance(t, ast.Tuple) else ast.unparse(t)
                      for t in targets(stmt))  # `a, b`, not `(a, b)`
    return f"{text} = {ast.unparse(func)}(...)"
