"""What a ``%%tune`` cell reports against what its study asks for, checked before any trial
runs: the metric (assigned or reported), and the resource an early-stopping scheduler judges
trials at. A cell that cannot give one is refused, with the names it does give."""
from __future__ import annotations

import functools
import importlib.util
import inspect
import os
import sys
from typing import Any, Mapping

from ..findings import FOLDS, name_words
from ..typos import closest, did_you_mean
from .cell import ParsedCell
from .scopes import positional_report, reported_keys


def reports_elsewhere(parsed: ParsedCell, namespace: Mapping[str, Any]) -> bool:
    """Whether the cell may report through code nbtune does not read: a function, a class or
    an object of the notebook's (a ``report_epoch(e, loss)`` helper, a callback class, a list
    of callbacks, a helper that calls another), ``report`` under another name, or a module of
    the user's (imported in the cell or before it). Such a cell was refused for a metric or a
    resource only that code reported (check rounds 47 and 48); what it reports is then said
    after the fact, as for ``report(**metrics)``."""
    if any(_users_module(m) for m in parsed.imports):
        return True
    return any(_users_code(namespace.get(name)) for name in parsed.free_names)


def _users_code(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` may call ``report`` (see :func:`reports_elsewhere`): ``report`` itself
    (a ``functools.partial`` of it too), a module of the user's, or a function, class or object
    of the notebook's whose code names ``report`` or a global that may call it, through
    decorators (``__wrapped__``), static methods and containers, a few levels deep."""
    from ..run.channel import report

    if depth > 3:
        return False
    for _ in range(10):  # a proxy may answer every attribute: a few unwrappings at most
        if value is report:  # (itself wrapped: before its __wrapped__ is taken)
            return True
        if not (isinstance(value, functools.partial) or hasattr(value, "__wrapped__")):
            break
        value = value.func if isinstance(value, functools.partial) else value.__wrapped__
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        items = value.values() if isinstance(value, dict) else value
        return any(_users_code(v, depth + 1) for v in list(items)[:100])
    if inspect.ismodule(value):
        return _users_module(value.__name__)
    if inspect.isfunction(value) or inspect.ismethod(value):
        fn = getattr(value, "__func__", value)
        if not _users_module(getattr(fn, "__module__", None) or ""):
            return False
        names = _names(fn.__code__)
        return "report" in names or any(
            _users_code(fn.__globals__.get(n), depth + 1) for n in names
            if n in fn.__globals__ and not inspect.ismodule(fn.__globals__.get(n)))
    cls = value if inspect.isclass(value) else type(value)
    if cls.__module__ != "__main__":
        return False
    return any(_users_code(v, depth + 1) for c in cls.__mro__ if c.__module__ == "__main__"
               for v in vars(c).values()
               if inspect.isfunction(v) or isinstance(v, (staticmethod, classmethod)))


def _names(code: Any, depth: int = 0) -> set[str]:
    """The global and attribute names ``code`` (and the functions it defines) uses."""
    names = set(code.co_names)
    if depth < 3:
        for const in code.co_consts:
            if inspect.iscode(const):
                names |= _names(const, depth + 1)
    return names


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
    return not any(real.startswith(p + os.sep) for p in installed) and "site-packages" not in real


def unset_metric(parsed: ParsedCell, metric: str, elsewhere: bool = False) -> str | None:
    """Why the cell cannot give ``metric`` (it neither assigns nor reports it), naming what it
    does assign and report, or the name it likely meant; None when it can, or may
    (``elsewhere``: :func:`reports_elsewhere`)."""
    reported = reported_keys(parsed.body)
    if metric in parsed.assigned or reported is None or metric in reported or elsewhere:
        return None
    line = positional_report(parsed.body)
    if line is not None:  # the body's own line numbers are the cell's
        return (f"%%tune: line {line}: report(...) passes values without their names: give "
                f"each one, report(epoch=N, {metric}=value) (Optuna's trial.report(value, step) "
                f"is report(epoch=step, {metric}=value) here)")
    assigned = [n for n in parsed.assigned if n not in parsed.names]
    hint = did_you_mean(metric, [*assigned, *reported])
    if not hint and (assigned or reported):
        said = [f"{verb} {', '.join(names[:8])}{', ...' if len(names) > 8 else ''}"
                for verb, names in (("assigns", assigned), ("reports", sorted(reported)))
                if names]
        hint = f" (it {'; '.join(said)})"
    return (f"%%tune: the cell never sets {metric!r}{hint}: assign it in the body "
            f"(`{metric} = ...`), call report({metric}=...), or pass --metric NAME")


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
    if key is not None:
        return said + f"give --resource {key}{max_t}" + (
            f" (N the largest {key} a trial reports)" if max_t else "")
    return said + (f"report it as the trial goes, report({given}=N, {metric}=...), or name the "
                   f"key that counts progress, --resource KEY{max_t}")


# the words of report keys that count a trial's progress (n_estimators, cv_fold), which
# unreported_resource offers as --resource; another key is a value (loss, auc)
PROGRESS = FOLDS | frozenset({"epoch", "epochs", "step", "steps", "iter", "iters", "iteration",
                              "iterations", "round", "rounds", "boost", "tree", "trees",
                              "estimators", "batch", "batches", "stage", "stages", "level",
                              "rung", "t"})


def _counts_progress(key: str) -> bool:
    return bool(name_words(key) & PROGRESS)
