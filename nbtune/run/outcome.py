"""A finished trial's result: its final metric value, or why it has none."""
from __future__ import annotations

from typing import Any

from .. import trial as T


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
