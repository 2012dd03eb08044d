"""Parse a ``%%tune`` cell: the search-space lines at its top and the trial body below them.

Pure (``ast`` and :mod:`nbtune.space`; no IPython). Line numbers count from 1 at the first line of
``source``; a leading ``%%tune ...`` header line, if given, parses as a blank line 1.
"""
from __future__ import annotations

import ast
import inspect
import operator
import re
from dataclasses import dataclass, field
from typing import Any, Container

from nbtune import space as S

from .cell_syntax import (BUILTINS, INJECTED, PRIMITIVES, CellError, primitive, shown,
                          space_call, targets)
from .habits import check_ported, check_typos, dict_space, listed_space
from .scopes import imported, module_names

__all__ = ["CellError", "ParsedCell", "PRIMITIVES", "INJECTED", "parse_cell", "space_to_lines",
           "replace_space_lines", "domain_call"]

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_HEADER = re.compile(r"[ \t]*%%tune\b")
_MAGIC = re.compile(r"\s*(?:[A-Za-z_][\w.]*\s*=\s*)?[%!]")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Pow: operator.pow,
        ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_MAX_BITS = 10_000  # literal arithmetic refuses ints larger than this (no 9**9**9 hangs)
_LITERALS = "numbers, strings, lists, True/False/None or arithmetic on numbers"


@dataclass
class ParsedCell:
    """A %%tune cell split into its search space and its trial body."""

    space: S.Space
    space_lines: tuple[int, int]  # 1-based first and last line of the space block; (0, 0) if none
    space_source: list[str]       # the raw lines of the space block (comments included)
    body: str                     # the trial body: the space block blanked, line numbers kept
    names: list[str]              # hyperparameter names, in declared order
    free_names: list[str]         # notebook globals the body reads (sorted)
    assigned: list[str]           # names the body binds at module level (sorted)
    statements: list[str] = field(default_factory=list)  # each space line's code, as written
    # hyperparameters the body never reads by name, with their lines (see _unread)
    unread: dict[str, int] = field(default_factory=dict)
    imports: list[str] = field(default_factory=list)  # the modules the body imports
    passes_report: bool = False  # the body uses report other than by calling it (log = report)

    def metric_assigned(self, metric: str) -> bool:
        """Whether the body binds `metric` at module level (so it can be read after the run)."""
        return metric in self.assigned


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")):]


def _segment(lines: list[str], stmt: ast.stmt) -> str:
    """The source of a top-level statement, as written (its trailing comment left out)."""
    chunk = lines[stmt.lineno - 1:stmt.end_lineno or stmt.lineno]
    return "".join(chunk[:-1]) + chunk[-1].encode()[:stmt.end_col_offset].decode()


def _parse(source: str) -> tuple[list[str], ast.Module]:
    """The source's lines (endings kept) and its AST; a %%tune header line parses as blank."""
    lines = _LINE.findall(source)
    code = [_ending(lines[0]), *lines[1:]] if lines and _HEADER.match(lines[0]) else lines
    try:
        tree = ast.parse("".join(code))
        compile(tree, "<cell>", "exec")  # what parsing lets by: 'return' outside a function
        return lines, tree
    except SyntaxError as e:
        n = e.lineno or 0
        bad = code[n - 1] if 0 < n <= len(code) else ""
        if _MAGIC.match(bad):
            raise CellError(f"line {n}: IPython magics (%...) and shell escapes (!...) are not "
                            f"supported inside a %%tune cell; run `{bad.strip()}` in a cell of "
                            "its own") from None
        if e.msg == "'return' outside function":
            raise CellError(f"line {n}: 'return' outside a function: a %%tune cell's body "
                            "runs as a cell, not as a function; give the metric by its name "
                            "instead: assign it (`accuracy = ...` for --metric accuracy) or "
                            "call report(accuracy=...)") from None
        raise CellError(f"line {n}: invalid Python: {e.msg}") from None
    except ValueError as e:  # e.g. null bytes
        raise CellError(f"invalid Python: {e}") from None


# -- the space block ----------------------------------------------------------------------------

def _target(stmt: ast.stmt) -> str:
    """The one plain name a space line assigns; CellError otherwise."""
    assigned = targets(stmt)
    if len(assigned) == 1 and isinstance(assigned[0], ast.Name):
        return assigned[0].id
    fn = primitive(space_call(stmt).func)  # type: ignore[union-attr]
    raise CellError(f"line {stmt.lineno}: space line '{shown(stmt)}' must assign one plain "
                    f"name, like `lr = {fn}(...)`")


def _space_stmts(tree: ast.Module) -> tuple[list[ast.stmt], list[ast.stmt]]:
    """(the leading space statements, the trial body statements); checks one line each. Imports
    may come first (a cell often starts with them): they stay in the trial body, before the
    space lines' blank place."""
    lead, names = 0, set[str]()
    while lead < len(tree.body) and isinstance(tree.body[lead], (ast.Import, ast.ImportFrom)):
        names |= imported(tree.body[lead])  # type: ignore[arg-type]
        lead += 1
    stmts: list[ast.stmt] = []
    for stmt in tree.body[lead:]:
        call = space_call(stmt)
        if call is None or getattr(call.func, "id", None) in names:  # the import's own
            break
        _target(stmt)
        stmts.append(stmt)
    if not stmts:
        lead = 0
    head = tree.body[:lead + len(stmts) + 1]
    for a, b in zip(head, head[1:]):
        if b.lineno <= (a.end_lineno or a.lineno) and (a in stmts or b in stmts):
            what = "each hyperparameter" if b in stmts else "the trial code"
            raise CellError(f"line {b.lineno}: put {what} on a line of its own (no `;`)")
    return stmts, tree.body[:lead] + tree.body[lead + len(stmts):]


class _NotLiteral(Exception):
    """args[0]: the first node of a primitive's arguments that is not a literal."""


def _literal(node: ast.AST) -> Any:
    """The value of a literal, or of arithmetic on number literals; _NotLiteral otherwise."""
    if isinstance(node, ast.Constant) and node.value is not ...:
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return (list if isinstance(node, ast.List) else tuple)(_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values)}  # type: ignore
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        v = _literal(node.operand)
        if type(v) in (int, float):  # not bool, not complex
            return _UNARY[type(node.op)](v)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        a, b = _literal(node.left), _literal(node.right)
        if {type(a), type(b)} <= {int, float}:
            huge = isinstance(node.op, ast.Pow) and isinstance(a, int) and isinstance(b, int) \
                and abs(a) > 1 and b * a.bit_length() > _MAX_BITS
            v = None if huge else _OPS[type(node.op)](a, b)
            if huge or isinstance(v, int) and v.bit_length() > _MAX_BITS:
                raise OverflowError(f"{ast.unparse(node)} is too large")
            return v
    raise _NotLiteral(node)


def _build(stmt: ast.stmt, name: str) -> S.Domain:
    """Evaluate a space line's primitive call on its literal arguments; CellError on any problem."""
    call, n = space_call(stmt), stmt.lineno
    fn = primitive(call.func)  # type: ignore[union-attr]
    try:
        args = [_literal(a) for a in call.args]  # type: ignore[union-attr]
        kwargs = {k.arg: _literal(k.value) for k in call.keywords}  # type: ignore[union-attr]
        if None in kwargs:
            raise _NotLiteral(next(k for k in call.keywords if k.arg is None))  # type: ignore
    except _NotLiteral as e:
        got = ast.unparse(e.args[0])
        got = got if len(got) <= 40 else got[:37] + "..."
        raise CellError(f"line {n}: the arguments of {fn}(...) must be literal values "
                        f"({_LITERALS}), not `{got}`; write the value itself") from None
    except (ArithmeticError, TypeError) as e:
        raise CellError(f"line {n}: hyperparameter {name!r}: {e}") from None
    cls = getattr(S, fn)  # type: ignore[arg-type]
    try:
        inspect.signature(cls).bind(*args, **kwargs)
        dom = cls(*args, **kwargs)
        S.Space({name: dom})
    except TypeError as e:
        raise CellError(f"line {n}: hyperparameter {name!r}: bad arguments for {fn}(...): "
                        f"{e}") from None
    except (ValueError, ArithmeticError) as e:  # ArithmeticError: float(2**5000)
        msg = str(e) if str(e).startswith("hyperparameter") else f"hyperparameter {name!r}: {e}"
        raise CellError(f"line {n}: {msg}") from None
    return dom


def _check_nested(body: list[ast.stmt], bound: Container[str], defined: Container[str]) -> None:
    """CellError for a space line inside the trial code's blocks: Optuna's conditional
    ``if n_layers == 2: units2 = trial.suggest_int(...)``, ported as written, was told that the
    primitive "is not defined in the notebook" (first-day test, round 14). A name the cell or
    the notebook binds (numpy's ``uniform``, imported) is theirs, not a space line."""
    for outer in body:
        for stmt in ast.walk(outer):
            call = space_call(stmt) if stmt is not outer else None
            if call is None or (isinstance(call.func, ast.Name) and (
                    call.func.id in bound or call.func.id in defined)):
                continue
            name = _target(stmt)
            raise CellError(f"line {stmt.lineno}: space line '{shown(stmt)}' is inside the "
                            f"trial code (line {outer.lineno}); nbtune's spaces are flat: declare "
                            f"{name} at the top of the cell with the others, and leave it unused "
                            "where it does not apply")


def _code_start(space: list[ast.stmt], body: list[ast.stmt]) -> int:
    """The line the trial code starts on: the first statement after the space lines, or with
    none, the first that is not an import (imports may come before the space)."""
    if space:
        return next(s.lineno for s in body if s.lineno > space[-1].lineno)
    return next(s.lineno for s in body if not isinstance(s, (ast.Import, ast.ImportFrom)))


def parse_cell(source: str, need_space: bool = True,
               defined: Container[str] | None = None) -> ParsedCell:
    """Split a %%tune cell into its Space and its trial body; CellError names any mistake.

    With ``need_space=False`` a cell without space lines is a body alone (its space comes from
    elsewhere, e.g. ``%%tune --space NAME``). Given ``defined`` (the names the notebook
    defines), a call of an undefined name close to a primitive's is named as its typo."""
    lines, tree = _parse(source)
    if defined is not None:
        check_typos(tree, defined)
        check_ported(tree, defined)
    stmts, body_stmts = _space_stmts(tree)
    domains: dict[str, S.Domain] = {}
    first_seen: dict[str, int] = {}  # name -> line
    for stmt in stmts:
        name = _target(stmt)
        if name in domains:
            raise CellError(f"line {stmt.lineno}: hyperparameter {name!r} is declared twice "
                            f"(first on line {first_seen[name]}); keep one of the two lines")
        domains[name], first_seen[name] = _build(stmt, name), stmt.lineno
    stores, free, via_global = module_names(body_stmts)
    bound = stores | via_global
    for stmt in body_stmts:
        call = space_call(stmt)
        if call is not None and not (isinstance(call.func, ast.Name) and call.func.id in bound):
            raise CellError(f"line {stmt.lineno}: space line '{shown(stmt)}' comes after the "
                            f"trial code started (line {_code_start(stmts, body_stmts)}); move "
                            "it to the top of the cell")
    _check_nested(body_stmts, bound, defined or ())
    if not stmts and need_space:
        nested = dict_space(body_stmts)
        if nested is not None:  # it read "declares no search space" (round 35)
            raise CellError(f"line {nested.lineno}: a space in a dict is Ray Tune's; a %%tune "
                            "cell's space is flat, one line per hyperparameter at its top "
                            "(`lr = loguniform(1e-4, 1e-1)`), each read by its name (lr, not "
                            "config['lr'])")
        listed = listed_space(body_stmts)
        if listed is not None:
            stmt, meant = listed
            name, kind = ast.unparse(stmt.targets[0]), type(stmt.value).__name__.lower()
            kind = kind if kind in ("list", "tuple") else "array"
            raise CellError(f"line {stmt.lineno}: {ast.unparse(stmt)} is a plain {kind}: every "
                            f"trial would get all of it, and the cell declares no search "
                            f"space; to search over its values write {name} = {meant}")
        raise CellError("the cell declares no search space: start it with lines like "
                        "`lr = loguniform(1e-4, 1e-1)`")
    if not body_stmts:
        raise CellError("the cell has no trial code after the search space: add the code that "
                        "trains and sets the metric, e.g. `accuracy = clf.score(X_val, y_val)`")
    first, last = (stmts[0].lineno, stmts[-1].end_lineno or stmts[-1].lineno) if stmts else (0, 0)
    code = [_ending(ln) if i == 0 and _HEADER.match(ln) or first <= i + 1 <= last else ln
            for i, ln in enumerate(lines)]
    names = list(domains)
    return ParsedCell(
        space=S.Space(domains), space_lines=(first, last),
        space_source=[ln.rstrip("\r\n") for ln in lines[first - 1:last]] if stmts else [],
        body="".join(code),
        names=names, free_names=sorted(free - bound - set(names) - BUILTINS - INJECTED),
        assigned=sorted(bound), statements=[_segment(lines, s) for s in stmts],
        unread=_unread(domains, first_seen, free, body_stmts),
        imports=_imports(body_stmts), passes_report=_passes_report(body_stmts))


def _passes_report(body: list[ast.stmt]) -> bool:
    """Whether the body reads the name ``report`` other than to call it (``log = report``,
    ``partial(report, ...)``, ``callbacks=[report]``)."""
    tree = ast.Module(body=body, type_ignores=[])
    loads = sum(isinstance(n, ast.Name) and n.id == "report" and isinstance(n.ctx, ast.Load)
                for n in ast.walk(tree))
    calls = sum(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "report"
                for n in ast.walk(tree))
    return loads > calls


def _unread(domains: dict[str, Any], first_seen: dict[str, int], free: set[str],
            body: list[ast.stmt]) -> dict[str, int]:
    """The hyperparameters the body never reads by name, with their lines: not a ``fixed``
    value (``epochs = fixed(9)`` gives max_t), nor one a string reads as ``@name`` (pandas'
    ``df.query("n >= @min_count")``: check round 48); none where the body may read them
    otherwise (``locals()``, ``eval``)."""
    if free & DYNAMIC_READS:
        return {}
    at = {m for node in ast.walk(ast.Module(body=body, type_ignores=[]))
          if isinstance(node, ast.Constant) and isinstance(node.value, str)
          for m in re.findall(r"@([A-Za-z_]\w*)", node.value)}
    return {n: first_seen[n] for n, dom in domains.items()
            if n not in free and n not in at and not isinstance(dom, S.fixed)}


def _imports(body: list[ast.stmt]) -> list[str]:
    """The modules the body imports ("." for a relative import)."""
    out = []
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append("." if node.level else node.module or ".")
    return out


# builtins through which a body may read a hyperparameter without naming it
DYNAMIC_READS = frozenset({"locals", "vars", "globals", "eval", "exec"})


def domain_call(dom: S.Domain) -> str:
    """The call that rebuilds `dom` (the space line's right-hand side): its repr, except that one list-valued option stays wrapped."""
    text, vals = repr(dom), dom.values
    if isinstance(dom, (S.choice, S.grid)) and len(vals) == 1 and isinstance(vals[0], list):
        head = f"{dom.kind}({vals[0]!r}"  # choice([1, 2]) would mean choice(1, 2)
        return f"{dom.kind}([{vals[0]!r}]{text[len(head):]}"
    return text


def space_to_lines(space: S.Space, widths: bool = True) -> list[str]:
    """Cell lines such as `lr      = loguniform(0.0001, 0.1)`, names padded when `widths`."""
    bad = [k for k in space if not k.isidentifier()]
    if bad:
        raise ValueError(f"hyperparameter name {bad[0]!r} is not a Python name, so it cannot be "
                         "written as a cell line")
    w = max(map(len, space), default=0) if widths else 0
    return [f"{name:<{w}} = {domain_call(dom)}" for name, dom in space.items()]


def replace_space_lines(source: str, space: S.Space, rendered: list[str] | None = None) -> str:
    """`source` with its space block rewritten from `space`; the rest stays byte-identical.

    `rendered` (one line per name of `space`) replaces the canonical `space_to_lines(space)`, so
    a caller can keep a line as the person wrote it."""
    # Same names in the same order: each line is replaced in place, so comments survive;
    # otherwise the whole block is. No block yet: one goes at the top (after a %%tune header).
    lines, tree = _parse(source)
    stmts, _ = _space_stmts(tree)
    new = space_to_lines(space) if rendered is None else list(rendered)
    if not stmts:
        head = 1 if lines and _HEADER.match(lines[0]) else 0
        if head and not _ending(lines[0]):
            lines[0] += "\n"
        return "".join(lines[:head] + [ln + "\n" for ln in new] + lines[head:])
    out = lines[:]
    if [_target(s) for s in stmts] == list(space):
        for stmt, text in reversed(list(zip(stmts, new))):
            end = stmt.end_lineno or stmt.lineno
            tail = lines[end - 1].encode()[stmt.end_col_offset:].decode()  # `  # comment\n`
            out[stmt.lineno - 1:end] = [text + tail]
        return "".join(out)
    first, last = stmts[0].lineno, stmts[-1].end_lineno or stmts[-1].lineno
    ending = _ending(lines[last - 1])
    block = (ending or "\n").join(new) + ending if new else ""
    return "".join(lines[:first - 1]) + block + "".join(lines[last:])
