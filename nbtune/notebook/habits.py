"""Other tools' habits in a ``%%tune`` cell, each named in one line before any trial runs: a
primitive's typo, Ray Tune's ``tune.loguniform`` and ``grid_search``, Optuna's ``suggest_*``
lines, an import of a tool that is not installed, a space written as a dict. Pure: ``ast`` and
nbtune's tables of other tools' words (:mod:`nbtune.ported`)."""
from __future__ import annotations

import ast
from typing import Container

from nbtune.ported import module_note
from nbtune.typos import closest

from .cell_syntax import BUILTINS, INJECTED, PRIMITIVES, CellError, primitive, targets
from .scopes import module_names


def check_typos(tree: ast.Module, defined: Container[str]) -> None:
    """CellError for an assignment from a call of a name that is no primitive, but close to one
    (``difflib``), and defined neither by the cell nor in ``defined`` (the notebook's names):
    a misspelt primitive, wherever it is in the cell."""
    stores = module_names(tree.body).stores
    for stmt in tree.body:
        value = stmt.value if isinstance(stmt, (ast.Assign, ast.AnnAssign)) else None
        if not isinstance(value, ast.Call) or primitive(value.func):
            continue
        func, prefix = value.func, ""
        if isinstance(func, ast.Name):
            name = func.id
            if name in stores or name in defined or name in BUILTINS or name in INJECTED:
                continue
        elif isinstance(func, ast.Attribute) and ast.unparse(func).startswith("nbtune."):
            prefix, name = ast.unparse(func.value) + ".", func.attr
        else:
            continue
        near = closest(name, PRIMITIVES)
        if near:
            raise CellError(f"line {stmt.lineno}: unknown space primitive {prefix + name!r} "
                            f"(did you mean {prefix + near!r}?)")


def check_ported(tree: ast.Module, defined: Container[str]) -> None:
    """CellError for a space line in Ray Tune's words, ``lr = tune.loguniform(...)`` or
    ``batch = grid_search([16, 32])``, where neither the cell nor the notebook binds the name:
    it read "the cell declares no search space" or "run the cell that defines it first"
    (first-day test, round 16)."""
    stores = module_names(tree.body).stores
    for stmt in tree.body:
        _check_tool_import(stmt)
        value = stmt.value if isinstance(stmt, (ast.Assign, ast.AnnAssign)) else None
        if not isinstance(value, ast.Call) or primitive(value.func):
            continue
        func = value.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and \
                func.value.id in ("tune", "ray", "trial") and \
                func.value.id not in stores | set(defined):
            name, written = func.attr, ast.unparse(func)
        elif isinstance(func, ast.Name) and func.id not in stores and func.id not in defined:
            name = written = func.id
        else:
            continue
        target = ast.unparse(targets(stmt)[0])
        if name.startswith("suggest_"):  # Optuna's define-by-run line (round 36)
            raise CellError(f"line {stmt.lineno}: {written}(...) is Optuna's: a space line "
                            f"calls nbtune's primitive, {target} = {_suggested(value)}")
        if name in PRIMITIVES:
            raise CellError(f"line {stmt.lineno}: {written}(...) is Ray Tune's: a space line "
                            f"calls nbtune's primitive by its name, {target} = {name}(...)")
        note = module_note(name)
        if note is not None:
            raise CellError(f"line {stmt.lineno}: {written}(...) is Ray Tune's; here, "
                            f"{note.split('; here, ', 1)[1]}")


def _suggested(call: ast.Call) -> str:
    """nbtune's primitive for Optuna's ``suggest_float("lr", 1e-4, 1e-1, log=True)``, written
    with its bounds: ``loguniform(1e-4, 1e-1)`` (``choice(...)`` for a categorical)."""
    name = ast.unparse(call.func).rsplit(".", 1)[-1]
    args = [ast.unparse(a) for a in call.args[1:]]
    keywords = {k.arg: ast.unparse(k.value) for k in call.keywords if k.arg}
    if name == "suggest_categorical":
        options = call.args[1] if len(call.args) > 1 else None
        inner = (", ".join(ast.unparse(e) for e in options.elts)
                 if isinstance(options, (ast.List, ast.Tuple)) else "a, b, c")
        return f"choice({inner})"
    bounds = ", ".join(args[:2]) or "lo, hi"
    log = keywords.get("log") == "True" or name == "suggest_loguniform"
    if name == "suggest_int":
        return f"{'lograndint' if log else 'randint'}({bounds})"
    if "step" in keywords:
        return f"quniform({bounds}, {keywords['step']})"
    return f"{'loguniform' if log else 'uniform'}({bounds})"


OTHER_TOOLS = {"ray": "Ray Tune", "optuna": "Optuna"}  # packages a ported cell imports


def _check_tool_import(stmt: ast.stmt) -> None:
    """CellError for ``from ray import tune`` in a cell where Ray is not installed: each trial
    failed on it, three of them before the study stopped (first-day test, round 35); the cell
    needs no import for what it used it for."""
    if isinstance(stmt, ast.Import):
        modules = [alias.name for alias in stmt.names]
    elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module:
        modules = [stmt.module]
    else:
        return
    import importlib.util

    for top in dict.fromkeys(m.split(".")[0] for m in modules):
        if top in OTHER_TOOLS and importlib.util.find_spec(top) is None:
            raise CellError(f"line {stmt.lineno}: `{ast.unparse(stmt)}` imports "
                            f"{OTHER_TOOLS[top]}'s package, which is not installed here: a "
                            "%%tune cell calls report(epoch=N, accuracy=...) and "
                            "get_checkpoint() with no import")


def dict_space(body: list[ast.stmt]) -> ast.stmt | None:
    """A line that assigns a dict of space primitives (Ray Tune's ``config = {"lr":
    tune.loguniform(...)}``), or None."""
    for stmt in body:
        value = stmt.value if isinstance(stmt, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, ast.Dict) and any(
                isinstance(v, ast.Call) and (primitive(v.func) or isinstance(
                    v.func, ast.Attribute) and v.func.attr in PRIMITIVES)
                for v in value.values):
            return stmt
    return None


def listed_space(body: list[ast.stmt]) -> tuple[ast.stmt, str] | None:
    """The first of the cell's leading lines that assigns a literal list or tuple of values
    (``C = [0.01, 0.1, 1, 10]``, scikit-learn's ``param_grid`` habit) or numpy's
    ``logspace``/``linspace`` of constants, with the space line it was meant as
    (``choice(0.01, 0.1, 1, 10)``, ``logspace(0.001, 100, 6)``); None where there is none. As
    the only lines, such a cell read "declares no search space" (first-day test, round 41)."""
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)):
            return None  # the trial code has started
        value = stmt.value
        if isinstance(value, (ast.List, ast.Tuple)) and len(value.elts) >= 2 and all(
                _constant(e) for e in value.elts):
            return stmt, f"choice({', '.join(ast.unparse(e) for e in value.elts)})"
        meant = _numpy_grid(value)
        if meant is not None:
            return stmt, meant
    return None


def _constant(node: ast.expr) -> bool:
    """A literal value: ``0.1``, ``'l2'``, ``-3``, ``None``."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant)


def _numpy_grid(value: ast.expr) -> str | None:
    """nbtune's line for ``np.logspace(-3, 2, 6)`` (exponents: ``logspace(0.001, 100, 6)``,
    values) or ``np.linspace(0, 1, 5)``; None for anything else."""
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name)
            and value.func.value.id in ("np", "numpy")
            and value.func.attr in ("logspace", "linspace", "geomspace")
            and len(value.args) == 3 and not value.keywords
            and all(_constant(a) for a in value.args)):
        return None
    lo, hi, n = (ast.literal_eval(a) for a in value.args)
    if value.func.attr == "logspace":
        return f"logspace({10.0 ** lo:g}, {10.0 ** hi:g}, {n})"
    return f"{'logspace' if value.func.attr == 'geomspace' else 'linspace'}({lo}, {hi}, {n})"
