"""What a parsed ``%%tune`` cell is checked for against its notebook and its study before any
trial runs: a space line never read beside a notebook value one typo away
(:func:`unread_typo`), the metric (assigned or reported) and the resource an early-stopping
scheduler judges trials at. A cell that cannot give one is refused, with the names it does
give, unless it may report through the user's own code (:func:`reports_elsewhere`); a body
that saves to one fixed file is warned of (:func:`shared_file`)."""
from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
import numbers
import os
import re
import sys
import textwrap
import types
from typing import Any, Mapping

from ..directions import looks_maximised
from ..ranking import FOLDS, name_words
from ..typos import closest, did_you_mean, one_typo
from .cell import ParsedCell, domain_call
from .scopes import positional_report, reported_keys


def reports_elsewhere(parsed: ParsedCell, namespace: Mapping[str, Any]) -> bool:
    """Whether the cell may report through code nbtune does not read, so that what it reports
    is said after the fact (as for ``report(**metrics)``), never refused before: it reads an
    object of the user's (a function, class or object of the notebook's, or of a module of
    theirs, a container of those, ``report`` under another name), imports nbtune or a module
    of the user's, or passes ``report`` around (``log = report``). Helpers, callback classes,
    decorators, trainers holding callbacks: each shape the checks tried to follow was refused
    in the next round, "the cell never sets 'loss'" even with ``--metric loss`` (check rounds
    47 to 49); only a cell whose own code is all there is to read is judged by it."""
    if any(m == "." or m.split(".")[0] == "nbtune" or _users_module(m) for m in parsed.imports):
        return True
    if parsed.passes_report:
        return True
    return any(_users_code(namespace.get(name)) for name in parsed.free_names)


def _users_code(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is, holds or wraps something of the user's: ``report`` itself (or a
    ``functools.partial`` of it), or an object whose class, or which itself, comes from the
    notebook (``__main__``) or from a module of the user's."""
    from ..run.channel import report

    if depth > 2:
        return False
    while isinstance(value, functools.partial):
        value = value.func
    if value is report:
        return True
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        items = value.values() if isinstance(value, dict) else value
        return any(_users_code(v, depth + 1) for v in list(items)[:100])
    if inspect.ismodule(value):
        return _users_module(value.__name__)
    if value is None or isinstance(value, (numbers.Number, str, bytes)):
        return False
    own = getattr(value, "__module__", None) if (inspect.isfunction(value) or inspect.isclass(
        value) or inspect.ismethod(value)) else None
    return any(isinstance(m, str) and _users_module(m) for m in (own, type(value).__module__))


def _users_module(name: str) -> bool:
    """Whether module ``name`` is the notebook's (``__main__``), or a file of the user's rather
    than an installed library or Python's own (``.`` for a relative import)."""
    if name in ("__main__", "."):
        return True
    if name.split(".")[0] == "nbtune":
        return False
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if module is None:
        try:
            spec = importlib.util.find_spec(name.split(".")[0])
        except (ImportError, ValueError):
            return False
        path = getattr(spec, "origin", None)
    if not path or not os.path.isabs(path):  # built in, or frozen
        return False
    installed = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    real = os.path.realpath(path)
    return not any(real.startswith(p + os.sep) for p in installed) and not any(
        part in real for part in ("site-packages", "dist-packages"))


# report keys that count training (a resource), not a value to tune by
LEVEL_KEYS = frozenset({"epoch", "epochs", "step", "steps", "iteration", "iterations", "iter",
                        "round", "rounds", "n_estimators", "max_iter"})


def unset_metric(parsed: ParsedCell, metric: str, elsewhere: bool = False,
                 named: bool = False, mode_given: bool = True) -> str | None:
    """Why the cell cannot give ``metric`` (it neither assigns nor reports it), naming what it
    does assign and report, or the name it likely meant; None when it can, or may
    (``elsewhere``: :func:`reports_elsewhere`). ``named``: the metric was given by --metric
    (its fix is not "pass --metric NAME" then: check round 49). ``mode_given``: False where
    the mode is left at 'min', so that the one value it reports, named as a score
    (``accuracy``), is offered with --mode max (round 64: the fix took a second run)."""
    reported = reported_keys(parsed.body)
    if metric in parsed.assigned or reported is None or metric in reported:
        return None
    assigned = [n for n in parsed.assigned if n not in parsed.names]
    hint = did_you_mean(metric, [*assigned, *reported])
    if elsewhere and not hint:  # the notebook's code it calls may report it; a name the body
        return None  # sets beside it is the one meant (--metric accuarcy: check round 53)
    line = positional_report(parsed.body)
    if line is not None:  # the body's own line numbers are the cell's
        return (f"%%tune: line {line}: report(...) passes values without their names: give "
                f"each one, report(epoch=N, {metric}=value) (Optuna's trial.report(value, step) "
                f"is report(epoch=step, {metric}=value) here)")
    if not hint and (assigned or reported):
        said = [f"{verb} {', '.join(names[:8])}{', ...' if len(names) > 8 else ''}"
                for verb, names in (("assigns", assigned), ("reports", sorted(reported)))
                if names]
        hint = f" (it {'; '.join(said)})"
    other = "or name another with --metric NAME" if named else "or pass --metric NAME"
    values = sorted(set(reported) - LEVEL_KEYS)
    if not named and len(values) == 1:  # the one value it reports: the fix is that flag, said
        mode = " --mode max" if not mode_given and looks_maximised(values[0]) else ""
        other = f"or pass --metric {values[0]}{mode}, the one value it reports"  # (round 64)
    return (f"%%tune: the cell never sets {metric!r}{hint}: assign it in the body "
            f"(`{metric} = ...`), call report({metric}=...), {other}")


def unreported_resource(parsed: ParsedCell, scheduler: Any, resource: str | None, metric: str,
                         options: dict[str, Any], elsewhere: bool = False) -> str | None:
    """Why a scheduler that judges trials by ``resource`` (None: the default, 'epoch') cannot
    judge this cell's, whose report(...) calls pass keys and never the resource, naming what
    they pass and the flags that fit; None where the resource is reported, or the body reports
    nothing it can read (no report(...) at all, or ``**metrics``: the trial's own reports say
    after the fact, see :func:`nbtune.contract.outcome.unjudged_note`), or it may report through
    the notebook's code (``elsewhere``: :func:`reports_elsewhere`). A 5-fold loop that
    reported fold= ran all of its time with early stopping off, and said so only at its end, or
    asked for max_t "of the resource 'epoch'" that it never reported (user test, Kaggle CV)."""
    from ..schedule import SCHEDULERS
    from ..schedule.rungs import infer_max_t

    name = scheduler.lower() if isinstance(scheduler, str) else None
    reported = reported_keys(parsed.body)
    keys = sorted((reported or set()) - {"checkpoint"})  # the trial's state, not a value
    given = resource or "epoch"
    if name not in SCHEDULERS or name == "fifo" or not keys or given in keys or elsewhere:
        return None
    counts = [k for k in keys if k != metric and _counts_progress(k)]
    key = closest(given, [k for k in keys if k != metric]) or (
        counts[0] if len(counts) == 1 else None)
    try:
        known = options.get("max_t") or options.get("rung_levels") or infer_max_t(parsed.space)
    except ValueError:  # a max_t key of the space that is no number: tune() says so
        known = None
    max_t = " --max-t N" if name in ("asha", "hyperband") and not known else ""
    default = " (the default)" if resource is None else ""
    said = (f"%%tune: the {name} scheduler judges trials at the resource {given!r}{default}, "
            f"which this cell never reports (it reports {', '.join(keys)}): ")
    if key is not None and resource is None and one_typo(key, given):
        # report(epcoh=...) was told to give --resource epcoh (check round 49)
        return said + (f"{key!r} is a typo of {given!r}? report({given}=N, ...), or give "
                       f"--resource {key}{max_t}")
    if key is not None:
        return said + f"give --resource {key}{max_t}" + (
            f" (N the largest {key} a trial reports)" if max_t else "")
    return said + (f"report it as the trial goes, report({given}=N, {metric}=...), or name the "
                   f"key that counts progress, --resource KEY{max_t}")


def needs_max_t(scheduler: Any, options: dict[str, Any], space: Any) -> bool:
    """Whether the scheduler named ``scheduler`` (ASHA, Hyperband) is left without max_t: not
    given, and not in the space (``epochs = fixed(9)``); False where the space's is wrong,
    which tune() says."""
    from ..schedule.rungs import infer_max_t

    if not isinstance(scheduler, str) or scheduler.lower() not in ("asha", "hyperband") or \
            options.get("max_t") is not None:
        return False
    try:
        return infer_max_t(space) is None
    except ValueError:
        return False


# the words of report keys that count a trial's progress (n_estimators, cv_fold), which
# unreported_resource offers as --resource; another key is a value (loss, auc)
PROGRESS = FOLDS | frozenset({"epoch", "epochs", "step", "steps", "iter", "iters", "iteration",
                              "iterations", "round", "rounds", "boost", "tree", "trees",
                              "estimators", "batch", "batches", "stage", "stages", "level",
                              "rung", "t"})


def _counts_progress(key: str) -> bool:
    return bool(name_words(key) & PROGRESS)


def unread_typo(parsed: ParsedCell, namespace: Mapping[str, Any]) -> str | None:
    """Why the cell is refused where a hyperparameter the trial code never reads is a typo of a
    plain value (a number, a string) the code reads from the notebook: ``learnig_rate =
    loguniform(...)`` beside a body that reads the notebook's ``learning_rate`` trained every
    trial with 0.05, and the study's best config named a value no trial used (first-day test,
    round 46); else None. A name nothing reads is no mistake by itself (``rep = grid(1, 2)``,
    which runs each config again), nor one near a module, a function or a data set the code
    reads (``rep`` and ``re``, ``fold`` and ``folds``: check round 47), nor one more than a typo
    away (:func:`~nbtune.typos.one_typo`)."""
    plain = [g for g in parsed.free_names
             if isinstance(namespace.get(g), (numbers.Number, str)) and g in namespace]
    for name, line in parsed.unread.items():
        # one typo, not a name near it (difflib's): `repeat` beside `n_repeats`, `iteration`
        # beside `iterations`, `alpha` beside `alpha0` are names of their own (round 48)
        dom = parsed.space[name]
        near = next((g for g in plain if one_typo(name, g) and _could_be(dom, namespace[g])),
                    None)
        if near is not None:
            return (f"line {line}: hyperparameter {name!r} is never read; the trial code reads "
                    f"{near!r} from the notebook instead, so every trial would train with the "
                    f"notebook's {near} = {namespace[near]!r}: did you mean "
                    f"{near} = {domain_call(parsed.space[name])}?")
    return None


# calls that write a model or its state to the file they are given
SAVERS = {"save", "save_model", "save_weights", "save_checkpoint", "dump", "ModelCheckpoint",
          "savez", "savez_compressed", "to_pickle"}
_FILE_NAME = re.compile(r"[^{}\s]*\.\w{1,12}")  # best_model.pt, runs/best.keras


def shared_file(parsed: ParsedCell, namespace: Mapping[str, Any] | None = None) -> str | None:
    """A warning where the body, or a function of the notebook it calls (``namespace``: the
    notebook's), saves to one fixed file name (``torch.save(state, "best_model.pt")``): trials
    run side by side, each writes the file in turn, and the last to end leaves its model there,
    not the best trial's (it held one of 0.802 where the best reached 0.874: first-day test,
    round 50; in a helper of another cell, round 53); else None. A warning, not a refusal: a
    file a trial writes and reads back itself is its own business."""
    found = _fixed_save(parsed.body)
    where = f"line {found[0]}: " if found else ""
    if not found and namespace is not None:
        where, found = _helper_save(parsed, namespace)
    if not found:
        return None
    _, saver, path = found
    stem, _, ext = path.rpartition(".")
    return (f"{where}{saver}(...) writes {path!r} from every trial; they run side by side, and "
            f"the last to end leaves its file there, not the best trial's: give each trial its "
            f"own, f\"{stem}-{{nbtune.trial_id()}}.{ext}\", or report the state with "
            f"checkpoint= and take study.best_checkpoint afterwards")


def _helper_save(parsed: ParsedCell, namespace: Mapping[str, Any]
                 ) -> tuple[str, tuple[int, str, str] | None]:
    """(how the warning names it, :func:`_fixed_save`'s finding) in the first function of the
    notebook the cell calls that saves to one fixed file; ("", None) where none does."""
    for name in parsed.free_names:
        fn = namespace.get(name)
        if not isinstance(fn, types.FunctionType) or fn.__module__ != "__main__":
            continue
        try:
            found = _fixed_save(textwrap.dedent(inspect.getsource(fn)))
        except (OSError, TypeError):  # no source to read
            continue
        if found:
            return f"{name}(), which the cell calls: ", found
    return "", None


def _fixed_save(source: str) -> tuple[int, str, str] | None:
    """(line, the saving call's name, the file) of the first save in ``source`` to one fixed
    file name that every trial runs (see :func:`_one_trials_code`); else None."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    one_trial = {id(n) for code in _one_trials_code(tree) for n in ast.walk(code)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or id(node) in one_trial:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name not in SAVERS:
            continue
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            if (isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                    and _FILE_NAME.fullmatch(arg.value)):
                return node.lineno, ast.unparse(func), arg.value
    return None


def _one_trials_code(tree: ast.AST) -> list[ast.AST]:
    """The statements of ``tree`` that one trial alone runs: the branch of an ``if`` whose test
    holds for one trial id (``nbtune.trial_id() == 0``, ``tid == 0`` after ``tid =
    nbtune.trial_id()``, either beside others by ``and``), or the ``else`` of its negation
    (``!=``, ``not``). A test that names the trial id otherwise (``... or trial_id() == 0``)
    lets several trials through (check round 52: any mention of it spared the save, and a
    name bound to it did not)."""
    ids = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
           and _is_trial_id(node.value, set()) for t in node.targets if isinstance(t, ast.Name)}
    found: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            if _one_trial(node.test, ids):
                found.extend(node.body)
            elif _one_trial(node.test, ids, negated=True):
                found.extend(node.orelse)
    return found


def _is_trial_id(expr: ast.AST, ids: set[str]) -> bool:
    """Whether ``expr`` is the trial's id: ``trial_id()`` (``nbtune.trial_id()``), or a name
    bound to it."""
    if isinstance(expr, ast.Name):
        return expr.id in ids
    func = getattr(expr, "func", None) if isinstance(expr, ast.Call) else None
    return (isinstance(func, ast.Attribute) and func.attr == "trial_id") or (
        isinstance(func, ast.Name) and func.id == "trial_id")


def _one_trial(test: ast.AST, ids: set[str], negated: bool = False) -> bool:
    """Whether ``test`` holds for one trial alone (``negated``: fails for one alone)."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _one_trial(test.operand, ids, not negated)
    if isinstance(test, ast.BoolOp):  # A and B holds where both do: one of them narrows it
        narrows = ast.Or if negated else ast.And  # (A or B fails where both do)
        return isinstance(test.op, narrows) and any(_one_trial(v, ids, negated)
                                                    for v in test.values)
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and any(
            _is_trial_id(side, ids) for side in (test.left, test.comparators[0])):
        return isinstance(test.ops[0], ast.NotEq if negated else ast.Eq)
    return False


def _kind(value: Any) -> str:
    """A value's kind as a space holds it: "bool", "number", "str" or "other"."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, numbers.Number):
        return "number"
    return "str" if isinstance(value, str) else "other"


def _could_be(dom: Any, value: Any) -> bool:
    """Whether ``value`` (the notebook's) is of a kind ``dom`` draws: a number for a range, one
    of a choice's kinds (a date string was offered ``date = uniform(0.1, 0.5)``, and a run
    index ``trial = grid(0, 1)`` was refused beside a notebook's ``trail = 'A'``: round 49)."""
    size = getattr(dom, "size", None)  # a finite domain: its first values tell (a long
    values = [dom.value_at(i) for i in range(min(size, 50))] if size else None  # linspace)
    kinds = {_kind(v) for v in values} if values is not None else {"number"}
    return _kind(value) in kinds
