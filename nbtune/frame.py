"""The table of a study's trials: a pandas DataFrame that shows its floats readably."""
from __future__ import annotations

from typing import Any

import pandas as pd

from . import trial as T
from .formatting import int_beside_float

FLOAT_FORMAT = "{:.6g}".format
"""Six significant digits: a log-scale value reads ``4.1e-06`` where pandas writes ``0.000004``."""


class TrialFrame(pd.DataFrame):
    """``study.to_dataframe()``: a DataFrame whose text and HTML show floats with
    :data:`FLOAT_FORMAT` (what it derives, ``sort_values`` or ``head``, shows them so too)."""

    @property
    def _constructor(self):
        return TrialFrame

    def __reduce__(self):
        """Pickled as a plain DataFrame: a colleague without nbtune could not read the pickle
        (``No module named 'nbtune.frame'``: first-day test, round 26); only the float format
        of its display is nbtune's."""
        return pd.DataFrame(self).__reduce__()

    def __repr__(self) -> str:
        with pd.option_context("display.float_format", FLOAT_FORMAT):
            return super().__repr__()

    def _repr_html_(self) -> str | None:
        with pd.option_context("display.float_format", FLOAT_FORMAT):
            return super()._repr_html_()

    def to_string(self, *args, **kwargs) -> str:
        """As :meth:`pandas.DataFrame.to_string`, floats written with :data:`FLOAT_FORMAT`."""
        kwargs.setdefault("float_format", FLOAT_FORMAT)
        return super().to_string(*args, **kwargs)

    def to_latex(self, *args, **kwargs) -> str | None:
        """As :meth:`pandas.DataFrame.to_latex`, floats written with :data:`FLOAT_FORMAT` as the
        notebook shows them (a paper's table read ``0.000007`` for ``7.47e-06``: first-day
        test, round 38)."""
        kwargs.setdefault("float_format", FLOAT_FORMAT)
        return super().to_latex(*args, **kwargs)


def trials_frame(trials: list[T.Trial], space: list[str], metric: str,
                 resource: str) -> TrialFrame:
    """``study.to_dataframe()`` of ``trials``, whose space names ``space`` (its columns)."""
    names = space + [k for t in trials for k in t.config if k not in space]
    config_columns = [f"config.{k}" for k in dict.fromkeys(names)]
    last = {t.id: {k: v for k, v in {**(t.reports[-1] if t.reports else {}),
                                       **t.metrics}.items()
                   if k not in (metric, resource)} for t in trials}
    metric_columns = [f"metrics.{k}" for k in dict.fromkeys(
        k for t in trials for k in last[t.id])]
    columns = (["trial", "state", metric] + config_columns + metric_columns
               + [resource, "reports", "attempts", "worker", "started", "finished",
                  "duration", "error", "output_lines"])
    rows = []
    for t in trials:
        # a trial cut by max_time had auc=None beside its 134 rounds of auc, which the
        # summary listed (first-day test, round 46)
        value = t.last(metric) if t.value is None and t.state == T.INTERRUPTED \
            else t.value
        row: dict[str, Any] = {"trial": t.id, "state": T.shown_state(t),
                               metric: value}
        row.update({f"config.{k}": v for k, v in t.config.items()})
        row.update({f"metrics.{k}": v for k, v in last[t.id].items()})
        row.update({resource: t.resource(resource), "reports": len(t.reports),
                    "attempts": t.attempts, "worker": t.worker,
                    "started": t.started, "finished": t.finished,
                    "duration": t.duration, "error": _last_line(t.error),
                    "output_lines": len(t.output.splitlines())})
        rows.append(row)
    frame = TrialFrame(rows, columns=columns)
    for name in dict.fromkeys(names):  # a choice of 1 and 1.0 is two values (max_df: one
        values = [t.config.get(name) for t in trials]  # document, or all): a float
        # column made them one (check round 47); choice(None, 3, 5): NaN, 3.0 and 5.0 where
        # the cell wrote None, 3 and 5 (first-day test, round 65)
        if int_beside_float(values) or (None in values and any(
                isinstance(v, int) and not isinstance(v, bool) for v in values)):
            frame[f"config.{name}"] = pd.Series(values, index=frame.index, dtype=object)
    for column in ("started", "finished"):  # one conversion per column, not one per cell
        frame[column] = pd.to_datetime(frame[column].astype(float), unit="s")
    return frame.set_index("trial")


def reports_frame(trials: list[T.Trial]) -> TrialFrame:
    """``study.reports_dataframe()`` of ``trials``: a row per report."""
    rows = [{"trial": t.id, "report": i, "state": t.state,
             **{f"config.{k}": v for k, v in t.config.items()}, **report}
            for t in trials for i, report in enumerate(list(t.reports))]
    keys = dict.fromkeys(k for row in rows for k in row)  # first seen first
    return TrialFrame(rows, columns=list(keys) or ["trial", "report", "state"])


def _last_line(text: str | None) -> str | None:
    if not text:
        return text
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else text
