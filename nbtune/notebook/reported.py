"""What a ``%%tune`` cell reports against what its study asks for, checked before any trial
runs: the metric (assigned or reported), and the resource an early-stopping scheduler judges
trials at. A cell that cannot give one is refused, with the names it does give."""
from __future__ import annotations

import functools
import inspect
from typing import Any, Mapping

from ..findings import FOLDS, name_words
from ..typos import closest, did_you_mean
from .cell import ParsedCell
from .scopes import positional_report, reported_keys


def reports_elsewhere(parsed: ParsedCell, namespace: Mapping[str, Any]) -> bool:
    """Whether the cell uses a function or a class of the notebook's that calls ``report``
    (``report_epoch(e, loss)`` defined once in another cell, a callback class reused by several
    cells): what the cell reports is then more than its own ``report(...)`` calls say, and it
    was refused for a metric or a resource only that helper reported (check round 47)."""
    return any(_may_report(namespace.get(name)) for name in parsed.free_names)


def _may_report(value: Any) -> bool:
    """Whether ``value``, defined in the notebook (``__main__``), is or holds code that calls
    ``report``: a function, a class's methods, an instance's class, a ``functools.partial``."""
    if isinstance(value, functools.partial):
        value = value.func
    if not isinstance(value, type) and not inspect.isfunction(value) \
            and getattr(type(value), "__module__", None) == "__main__":
        value = type(value)  # a callback object of the notebook's class
    if getattr(value, "__module__", None) != "__main__":
        return False
    if isinstance(value, type):
        return any(_may_report(v) for c in value.__mro__ if c.__module__ == "__main__"
                   for v in vars(c).values() if inspect.isfunction(v))
    code = getattr(value, "__code__", None)
    return code is not None and _calls_report(code)


def _calls_report(code: Any, depth: int = 0) -> bool:
    return "report" in code.co_names or depth < 3 and any(
        _calls_report(c, depth + 1) for c in code.co_consts if inspect.iscode(c))


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
