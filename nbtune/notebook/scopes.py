"""The names a block of module-level code reads from outside and binds, by Python's scoping rules.

A ``%%tune`` cell's body runs as a module in each trial: the names it reads and does not bind are
the notebook values it needs (shipped with the trial), and the names it binds are what it can
report by assignment. Functions, classes, lambdas and comprehensions open scopes of their own, as
Python's do (a class body's names are not closures of its methods; a comprehension's walrus target
binds in the enclosing scope; ``global`` in a function binds at module level). And the keys its
``report(...)`` calls pass, which it reports by name, and the largest resource level a loop over
literal bounds reports. Pure ``ast``.
"""
from __future__ import annotations

import ast
from typing import Any, Iterable, NamedTuple


class ModuleNames(NamedTuple):
    stores: set[str]  # names the statements bind at module level themselves
    free: set[str]  # names they, or the scopes they open, read from outside the module
    via_global: set[str]  # names functions among them bind at module level through `global`


def module_names(stmts: Iterable[ast.stmt]) -> ModuleNames:
    """What the module-level statements ``stmts`` bind and read (see the module)."""
    root = _Scope("module")
    for stmt in stmts:
        _walk(stmt, root)
    free, via_global = _resolve(root)
    return ModuleNames(root.stores, free, via_global)


def imported(node: ast.Import | ast.ImportFrom) -> set[str]:
    """The names an import statement binds (``import a.b`` binds ``a``; ``*`` none known)."""
    return {a.asname or a.name.split(".")[0] for a in node.names if a.name != "*"}


class _Scope:
    """What one scope binds and reads, its global/nonlocal declarations and its child scopes."""

    def __init__(self, kind: str) -> None:
        self.kind, self.children = kind, list[_Scope]()  # kind: module, function, class, comp
        self.stores, self.loads, self.globals = set[str](), set[str](), set[str]()
        self.declared, self.leaks = set[str](), set[str]()  # global/nonlocal; comp walrus targets


def _child(sc: _Scope, kind: str, nodes: list, params: Any = frozenset()) -> None:
    child = _Scope(kind)
    child.stores |= params
    for node in nodes:
        _walk(node, child)
    (sc.leaks if sc.kind == "comp" else sc.stores).update(child.leaks)
    sc.children.append(child)


def _walk(node: ast.AST, sc: _Scope) -> None:
    """Record the names `node` binds and reads into `sc`, opening child scopes as Python does."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        a = node.args
        params = [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, [a.vararg, a.kwarg])]
        outer = [*a.defaults, *filter(None, a.kw_defaults), *(p.annotation for p in params)]
        if not isinstance(node, ast.Lambda):
            sc.stores.add(node.name)
            outer += [*node.decorator_list, node.returns]
        for n in filter(None, outer):
            _walk(n, sc)
        body = [node.body] if isinstance(node, ast.Lambda) else node.body
        _child(sc, "function", body, {p.arg for p in params})
    elif isinstance(node, ast.ClassDef):
        sc.stores.add(node.name)
        for n in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            _walk(n, sc)
        _child(sc, "class", node.body)
    elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        gens = node.generators
        _walk(gens[0].iter, sc)  # the first iterable is evaluated outside the comprehension
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        inner = [g.target for g in gens] + [g.iter for g in gens[1:]]
        _child(sc, "comp", inner + [c for g in gens for c in g.ifs] + parts)
    elif isinstance(node, ast.NamedExpr):
        (sc.leaks if sc.kind == "comp" else sc.stores).add(node.target.id)
        _walk(node.value, sc)
    elif isinstance(node, ast.Name):
        (sc.loads if isinstance(node.ctx, ast.Load) else sc.stores).add(node.id)
    elif isinstance(node, (ast.Global, ast.Nonlocal)):
        sc.declared.update(node.names)
        if isinstance(node, ast.Global):
            sc.globals.update(node.names)
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        sc.stores |= imported(node)
    else:
        binders = (ast.ExceptHandler, ast.MatchAs, ast.MatchStar, ast.MatchMapping)
        bound = node.rest if isinstance(node, ast.MatchMapping) else getattr(node, "name", None)
        if isinstance(node, binders) and bound:  # `except E as e`, match captures
            sc.stores.add(bound)
        for child in ast.iter_child_nodes(node):
            _walk(child, sc)


def _resolve(sc: _Scope) -> tuple[set[str], set[str]]:
    """(names sc and its children read from outside sc, names they bind through `global`)."""
    local = sc.stores - sc.declared
    free, gbound = sc.loads - local, sc.stores & sc.globals
    for child in sc.children:
        cfree, cg = _resolve(child)
        free |= cfree if sc.kind == "class" else cfree - local  # class names are not closures
        gbound |= cg
    return free, gbound


def reported_keys(body: str) -> set[str] | None:
    """The keywords the body's report(...) calls pass (``report(...)`` or an attribute's,
    ``nbtune.report(...)``); None where one passes ``**metrics`` (then any key may be
    reported)."""
    keys: set[str] = set()
    for node in ast.walk(ast.parse(body)):
        if isinstance(node, ast.Call) and \
                getattr(node.func, "id", getattr(node.func, "attr", None)) == "report":
            if len(node.args) == 1:  # one dict, Ray Tune's report(metrics): a literal's keys
                given = node.args[0]
                if not isinstance(given, ast.Dict) or not all(
                        isinstance(k, ast.Constant) and isinstance(k.value, str)
                        for k in given.keys):
                    return None
                keys.update(k.value for k in given.keys)
            for k in node.keywords:
                if k.arg is None:
                    return None
                keys.add(k.arg)
    return keys


def positional_report(body: str) -> int | None:
    """The line of the body's first report(...) call that passes values without names
    (``report(acc, epoch)``, Optuna's ``trial.report(value, step)``), else None. One dict
    (Ray Tune's ``report(metrics)``) has its names."""
    for node in ast.walk(ast.parse(body)):
        if isinstance(node, ast.Call) and node.args and \
                getattr(node.func, "id", getattr(node.func, "attr", None)) == "report" and (
                    len(node.args) > 1 or isinstance(node.args[0], ast.Constant)):
            return node.lineno
    return None


def _report_values(call: ast.Call) -> list[tuple[str, ast.expr]]:
    """The (key, value expression) pairs a report(...) call passes by name or in one dict."""
    pairs = [(k.arg, k.value) for k in call.keywords if k.arg is not None]
    if len(call.args) == 1 and isinstance(call.args[0], ast.Dict):
        pairs += [(k.value, v) for k, v in zip(call.args[0].keys, call.args[0].values)
                  if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    return pairs


def _range_last(node: ast.expr) -> int | None:
    """The last value of ``range(...)`` over int literals (``range(1, 10)``: 9), else None."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "range" and 1 <= len(node.args) <= 3 and not node.keywords):
        return None
    try:
        bounds = [ast.literal_eval(arg) for arg in node.args]
    except ValueError:
        return None
    if not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds) or \
            (len(bounds) == 3 and bounds[2] == 0):
        return None
    steps = range(*bounds)
    return steps[-1] if steps else None


def _counter(value: ast.expr) -> tuple[str, int] | None:
    """``epoch`` as (``epoch``, 0) and ``epoch + 1`` as (``epoch``, 1); else None."""
    if isinstance(value, ast.Name):
        return value.id, 0
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add) and \
            isinstance(value.left, ast.Name) and isinstance(value.right, ast.Constant) and \
            type(value.right.value) is int:
        return value.left.id, value.right.value
    return None


def loop_max_t(body: str, resource: str) -> int | None:
    """The largest ``resource`` the body reports, where each report of it counts a loop over
    literal bounds (``for epoch in range(1, 10): ... report(epoch=epoch, ...)`` gives 9,
    ``range(10)`` with ``report(epoch=epoch + 1, ...)`` gives 10); None where a report passes
    it otherwise or passes ``**metrics``, or none passes it. What a ``%%tune`` cell with ASHA
    and no ``--max-t`` trains to (first-day test, round 64: the default cell took three runs to
    start, max_t the third)."""
    if reported_keys(body) is None:
        return None
    tree = ast.parse(body)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    levels: list[int] = []
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and
                getattr(call.func, "id", getattr(call.func, "attr", None)) == "report"):
            continue
        for key, value in _report_values(call):
            if key != resource:
                continue
            counter = _counter(value)
            if counter is None:
                return None
            node = parents.get(call)
            while node is not None and not (isinstance(node, ast.For) and isinstance(
                    node.target, ast.Name) and node.target.id == counter[0]):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                     ast.ClassDef)):
                    return None  # called who knows how often: not the loop's count
                node = parents.get(node)
            last = None if node is None else _range_last(node.iter)
            if last is None or last + counter[1] < 1:
                return None
            levels.append(last + counter[1])
    return max(levels) if levels else None
