"""A finished trial's result: its final metric value, or why it has none."""
from __future__ import annotations

from typing import Any

from .. import trial as T
from ..schedule.rungs import as_int


def final_value(trial: T.Trial, returned: Any, metric: str) -> tuple[float | None, str | None]:
    """The trial's result and, when it has none usable, the reason why."""
    if isinstance(returned, dict):
        trial.metrics = dict(returned)
        value = returned.get(metric)
        if value is None:
            value = trial.last(metric)
    elif returned is not None:
        trial.metrics = {metric: returned}
        value = returned
    else:
        value = trial.last(metric)
        if trial.reports:
            trial.metrics = {k: v for rep in trial.reports for k, v in rep.items()}
    if value is None:
        seen = sorted({k for rep in trial.reports for k in rep} | set(trial.metrics))
        also = f" (it reported {', '.join(seen)})" if seen else ""
        return None, (f"the trial never reported the metric {metric!r}{also}: return it, return a "
                      f"dict with it, or call report({metric}=...)")
    if not T.is_finite_number(value):
        return None, f"the metric {metric!r} is {value!r}, not a finite number"
    return float(value), None


def unjudged_note(trial: T.Trial, resource: str, scheduler: Any, metric: str) -> str | None:
    """Why ``scheduler``, which judges reports at whole levels of ``resource`` by ``metric``,
    could judge none of this finished trial's reports (no report at all, the resource missing or
    never a whole number, or the metric missing from every report at a level); None otherwise."""
    if scheduler.decision_points() == ():
        return None
    name = scheduler.name
    if not trial.reports:
        if trial.state != T.COMPLETED:
            return None
        return (f"trial {trial.id} ended without calling report(...): the {name} scheduler "
                f"judges the reports a trial makes while it runs, so it stopped none; call "
                f"report({resource}=N, {metric}=...) as the trial goes ({resource} counting up)")
    levels = [r.get(resource) for r in trial.reports]
    seen = ", ".join(dict.fromkeys(k for r in trial.reports for k in r))
    if not any(as_int(level) is not None for level in levels):
        what = (f"with {resource!r} never a whole number ({levels[-1]!r})" if any(
            level is not None for level in levels) else f"never with {resource!r} (it "
            f"reported {seen})")
        return (f"trial {trial.id} reported {len(trial.reports)} times, {what}: the {name} "
                f"scheduler judges trials at whole {resource} levels, so it stopped none; call "
                f"report({resource}=N, ...) with N counting up, or name the key that counts "
                "progress with resource=KEY (%%tune --resource KEY)")
    if any(metric in r for r in trial.reports if as_int(r.get(resource)) is not None):
        return None
    return (f"trial {trial.id} reported {resource!r} without {metric!r} (it reported {seen}): "
            f"the {name} scheduler judges each rung by {metric!r}, so it stopped the trial at "
            f"its first; report both at once, report({resource}=N, {metric}=...), or name the "
            f"key reported as the metric (metric=KEY, %%tune --metric KEY)")
