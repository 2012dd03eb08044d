"""What a study found: its trials ranked, their curves, hyperparameter importances, and the summary.

``study.summary()`` is a :class:`StudySummary`: self-contained HTML (header, the top trials, a PNG of
the learning curves or of the history) that a saved notebook keeps where widgets do not render, and
the same facts as aligned text for a terminal. The functions read trials only; the plots use them.
"""
from __future__ import annotations

import base64
import html
from typing import Any

import numpy as np

from . import trial as T

EMPTY = "the study has no completed trials yet"
RANKED = (T.COMPLETED, T.RUNNING, T.PAUSED, T.STOPPED)


def fmt(value: Any) -> str:
    """A config value or metric as a short string (floats with 4 significant digits)."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def resource_of(study: Any) -> str:
    """The report key the study counts its resource in (``settings["resource"]``, "epoch")."""
    return study.settings.get("resource") or "epoch"


def completed(study: Any) -> list[T.Trial]:
    """The study's completed trials with a finite metric, in creation order."""
    return [t for t in list(study.trials) if t.state == T.COMPLETED and T.is_finite_number(t.value)]


def empty_message(study: Any) -> str:
    """"the study has no completed trials yet", with the counts of the trials it has."""
    counts = ", ".join(f"{n} {s}" for s, n in study.counts().items())
    return EMPTY + (f" ({counts})" if counts else "")


def score(study: Any, t: T.Trial) -> Any:
    """The trial's metric: its final value, else its last report of the metric."""
    return t.value if T.is_finite_number(t.value) else t.last(study.metric)


def rank_trials(study: Any) -> list[T.Trial]:
    """Trials that have a value, best first.

    Completed trials come first, by metric (the first is ``study.best``); then running, paused and
    stopped trials, the furthest along first (resource reached), then by their last value. Failed
    and interrupted trials are left out.
    """
    resource, sign = resource_of(study), -1.0 if study.mode == "max" else 1.0
    scored = [t for t in list(study.trials)
              if t.state in RANKED and T.is_finite_number(score(study, t))]

    def key(t: T.Trial) -> tuple:
        if t.state == T.COMPLETED:
            return (0, 0, sign * t.value, t.id)
        reached = t.resource(resource)
        return (1, -(reached if T.is_finite_number(reached) else 0), sign * score(study, t), t.id)

    return sorted(scored, key=key)


def curve(t: T.Trial, resource: str, metric: str) -> tuple[list[float], list[float]]:
    """A trial's metric against the resource, sorted; a level reported twice keeps its last value."""
    points = {}
    for rep in list(t.reports):
        x, y = rep.get(resource), rep.get(metric)
        if T.is_finite_number(x) and T.is_finite_number(y):
            points[x] = y
    xs = sorted(points)
    return xs, [points[x] for x in xs]


def param_importances(study: Any, seed: int = 0) -> dict[str, float]:
    """Permutation importance of each hyperparameter for a random forest fitted on the trials.

    The forest (scikit-learn, 100 trees) learns the metric of the completed trials from their
    configs in unit-cube encoding (``study.space.to_unit``); a hyperparameter's importance is how
    much worse the forest fits when that column is shuffled (10 shuffles), floored at 0 and
    normalised to sum 1. Most important first; fixed hyperparameters are left out.
    """
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    done, names = completed(study), study.space.unit_names
    if not done:
        raise ValueError(empty_message(study))
    if len(done) < 3:
        raise ValueError(f"importance needs at least 3 completed trials; the study has {len(done)}")
    if not names:
        raise ValueError("the space has no hyperparameter to weigh: every one is fixed")
    x = np.array([study.space.to_unit(t.config) for t in done])
    y = np.array([t.value for t in done])
    forest = RandomForestRegressor(n_estimators=100, random_state=seed, n_jobs=1).fit(x, y)
    result = permutation_importance(forest, x, y, n_repeats=10, random_state=seed, n_jobs=1)
    raw = np.clip(np.nan_to_num(result.importances_mean), 0.0, None)
    share = raw / raw.sum() if raw.sum() > 0 else raw
    order = sorted(range(len(names)), key=lambda i: (-share[i], i))
    return {names[i]: float(share[i]) for i in order}


def _config_text(config: dict[str, Any]) -> str:
    return ", ".join(f"{k}={fmt(v)}" for k, v in config.items())


def _numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return cell == ""
    return True


def _aligned(headers: list[str], rows: list[list[str]]) -> list[str]:
    columns = list(zip(headers, *rows))
    widths = [max(len(c) for c in col) for col in columns]
    right = [all(_numeric(c) for c in col[1:]) for col in columns]
    return ["  " + "  ".join(c.rjust(w) if r else c.ljust(w)
                             for c, w, r in zip(cells, widths, right)).rstrip()
            for cells in [headers, *rows]]


class StudySummary:
    """A study's outcome as HTML (``_repr_html_``, for notebooks) and as text (``str``, terminals).

    Built from the trials when ``study.summary()`` is called: header facts, the ``top`` trials of
    :func:`rank_trials`, and a PNG of the learning curves (the history when no trial reported).
    """

    def __init__(self, study: Any, top: int = 10) -> None:
        self.study, self.top = study, top
        self.resource = resource_of(study)
        self.ranked = rank_trials(study)[:top]
        self.best = study.best
        self._png: bytes | None = None

    def facts(self) -> list[tuple[str, str]]:
        """The header as (label, text) pairs: metric, trials per state, end, search, best."""
        s = self.study
        counts = s.counts()
        states = ", ".join(f"{counts[k]} {k}" for k in T.STATES if k in counts)
        trials = f"{sum(counts.values())}: {states}" if counts else "none yet"
        ended = s.stop_reason or ("still running" if getattr(s, "running", False)
                                  else "not recorded")
        out = [("metric", f"{s.metric} ({s.mode})"), ("trials", trials), ("ended", ended)]
        if s.settings.get("searcher"):
            out.append(("search", f"{s.settings['searcher']} searcher, "
                                  f"{s.settings.get('scheduler') or 'fifo'} scheduler"))
        if self.best is None:
            out.append(("best", "no completed trial yet"))
        else:
            out.append(("best", f"{s.metric} = {self.best.value:.6g} (trial {self.best.id})"))
            out.append(("best config", _config_text(self.best.config)))
        return out

    def table(self) -> tuple[list[str], list[list[str]]]:
        """Headers and cells of the top trials: rank, trial, metric, resource reached, state, config."""
        names = list(self.study.space.unit_names)
        reached = [t.resource(self.resource) for t in self.ranked]
        show_resource = any(T.is_finite_number(r) for r in reached)
        headers = ["#", "trial", self.study.metric] + ([self.resource] if show_resource else [])
        headers += ["state"] + names
        rows = []
        for i, (t, r) in enumerate(zip(self.ranked, reached), start=1):
            cells = [str(i), str(t.id), f"{float(score(self.study, t)):.6g}"]
            cells += [fmt(r) if r is not None else ""] if show_resource else []
            rows.append(cells + [t.state] + [fmt(t.config.get(n, "")) for n in names])
        return headers, rows

    def png(self) -> bytes | None:
        """The learning curves (or, without reports, the history) as PNG; None with nothing to draw."""
        if self._png is None:
            from .plots import StudyPlots, to_png

            plots = StudyPlots(self.study)
            for draw in (plots.learning_curves, plots.history):
                try:
                    self._png = to_png(draw(), dpi=80)
                    break
                except ValueError:
                    continue
        return self._png

    def _repr_html_(self) -> str:
        e = html.escape
        facts = "".join(f'<tr><th style="text-align:left">{e(k)}</th>'
                        f'<td style="text-align:left">{e(v)}</td></tr>' for k, v in self.facts())
        parts = [f'<div class="nbtune-summary"><h4>nbtune study <code>{e(self.study.name)}</code>'
                 f"</h4><table>{facts}</table>"]
        headers, rows = self.table()
        if rows:
            head = "".join(f"<th>{e(h)}</th>" for h in headers)
            body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                           for row in rows)
            parts.append(f"<p>top {len(rows)} trials</p><table><thead><tr>{head}</tr></thead>"
                         f"<tbody>{body}</tbody></table>")
        png = self.png()
        if png is not None:
            data = base64.b64encode(png).decode("ascii")
            parts.append(f'<img src="data:image/png;base64,{data}" '
                         f'alt="{e(self.study.name)}: learning curves or history"/>')
        return "".join(parts) + "</div>"

    def __str__(self) -> str:
        facts = self.facts()
        width = max(len(k) for k, _ in facts)
        lines = [f"nbtune study {self.study.name!r}"] + [f"  {k:<{width}}  {v}" for k, v in facts]
        headers, rows = self.table()
        if rows:
            lines += [f"top {len(rows)} trials:"] + _aligned(headers, rows)
        return "\n".join(lines)

    __repr__ = __str__
