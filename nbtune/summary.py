"""What a study found, for people: the summary, and the parts of it the live panel shows too.

``study.summary()`` is a :class:`StudySummary`: self-contained HTML (facts, the top trials, the
learning curves or the history as a PNG, failed trials, the trials' output and warnings) that a
saved notebook keeps where widgets do not render, and the same facts as aligned text for a
terminal. Its table (:func:`table_html`) and the trials' messages (:mod:`nbtune.trial_messages`)
are shared with the live panel, so both show a study alike.
"""
from __future__ import annotations

import base64
import html
import os
import re
import statistics
from typing import Any, Iterable

from . import background
from . import trial as T
from .directions import mode_note
from .domains import CATEGORICAL_KINDS
from .findings import edge_notes, falling_note, flat_note, unjudged_note
from .formatting import choice_text, column_texts, config_text, duration_text, one_line
from .ranking import (earlier_ids, is_ranked, no_best_text, pace_text, rank_rule, rank_trials,
                      resource_of, score, training_text)
from .run.kept import header
from .setup_text import (asks_text, made_by_searchcv, retried_text, scheduler_text, searcher_text,
                         seed_text)
from .styles import BORDER
from .trial_messages import (errors_html, failure_lines, outputs_html, overdue_text,
                             study_warnings, warnings_html, wrote_output)

# what JupyterLab's rendered HTML gives a table and a widget's HTML (the live panel) does not: the
# tables carry it themselves, so the panel's reads like the summary's (and nbviewer's like both)
CELL = "padding:0.5em;line-height:normal;vertical-align:middle"
TABLE = ' style="border-collapse:collapse;border-spacing:0"'
HEAD = f' style="border-bottom:1px solid {BORDER}"'
# the trials table's cells keep to one line, its box scrolling sideways: a narrow output split
# "1.855e-" from "02" (first-day test, round 24); the facts table's text wraps
RIGHT = f' style="text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap;{CELL}"'
LEFT = f' style="text-align:left;{CELL}"'
ONE_LINE = f' style="text-align:left;white-space:nowrap;{CELL}"'


def _trials(n: int) -> str:
    """"1 trial", "3 trials"."""
    return f"{n} trial{'' if n == 1 else 's'}"


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


def _run_elsewhere(study: Any) -> str:
    """Where a loaded study that runs now runs: this kernel's background read "in another
    run", which read as another kernel's (first-day test, round 60)."""
    if background.running_here(getattr(study, "storage", None), study.name) is not None:
        return ("still running, in this kernel's background (study.wait() waits for it, "
                "study.stop() stops it)")
    return "still running, in another run (study.wait() waits for it)"


def _config_column(space: Any, name: str, ranked: list) -> list[str]:
    """The cells of hyperparameter ``name``: a choice's values as they were listed, each the
    same in every table (``C`` of ``[0.01, 0.1, 1.0]`` read ``1.000e-01`` in one, ``0.1000`` in
    another, after the rows shown: first-day test, round 59); a range's numbers written alike
    (:func:`~nbtune.formatting.column_texts`)."""
    values = [t.config[name] if name in t.config else _UNSET for t in ranked]
    kind = getattr(space[name], "kind", None) if name in space else None
    if kind in CATEGORICAL_KINDS:
        return ["" if v is _UNSET else choice_text(v) for v in values]
    return column_texts([None if v is _UNSET else "None" if v is None else v for v in values],
                        exponent=_spans_decades(space, name), config=True)


_UNSET = object()  # a key a trial's config lacks


def _spans_decades(space: Any, name: str) -> bool:
    """Whether hyperparameter ``name`` is a log-scale range of reals over two decades or more
    (``loguniform(1e-4, 1e-1)``): its column is in exponent form from the first trial on."""
    try:
        domain = space[name]
    except (KeyError, TypeError):
        return False
    return bool(getattr(domain, "log", False) and not getattr(domain, "integer", False)
                and domain.hi / domain.lo >= 100)


def trials_table(study: Any, top: int, among: Iterable[T.Trial] | None = None,
                 unfinished: bool | None = None, unvalued: int | None = None
                 ) -> tuple[list[str], list[list[str]], str]:
    """Headers and cells of the ``top`` trials of :func:`rank_trials`: rank, trial, metric,
    resource reached (when any trial reported it), state, one column per hyperparameter (a
    column empty in every row is left out), each column's numbers written alike
    (:func:`column_texts`); and the ranking rule, in words, with the stopped trials it could not
    rank (no finite value: ``unvalued``, counted here where the caller does not know). ``among``
    and ``unfinished``: the trials to rank (all by default) and whether unfinished trials rank
    (see :func:`rank_rule`)."""
    ranked = rank_trials(study, top=top, among=among)
    rule = rank_rule(study, unfinished=unfinished)
    if unvalued is None:
        unvalued = sum(1 for t in list(study.trials)
                       if t.state == T.STOPPED and not is_ranked(study, t))
    if unvalued:  # stopped at a NaN: left out of the table, unsaid (first-day test, round 28)
        rule += (f"; {unvalued} stopped trial{'s' if unvalued != 1 else ''} without a finite "
                 f"{study.metric}, not ranked")
    resource = resource_of(study)
    names = list(study.space.unit_names)
    headers = ["#", "trial", study.metric, resource, "state"] + names
    columns = [[str(i) for i in range(1, len(ranked) + 1)], [str(t.id) for t in ranked],
               column_texts([float(score(study, t)) for t in ranked], 6),
               column_texts([t.resource(resource) for t in ranked]),
               [T.state_word(T.shown_state(t), getattr(study, "stop_reason", None))
                for t in ranked]]
    columns += [_config_column(study.space, n, ranked) for n in names]
    keep = [j for j, col in enumerate(columns) if j < 3 or any(c != "" for c in col)]
    rows = [[columns[j][i] for j in keep] for i in range(len(ranked))]
    return [headers[j] for j in keep], rows, rule


def table_html(study: Any, top: int, css: str = "nbtune-summary-table",
               among: Iterable[T.Trial] | None = None, unfinished: bool | None = None,
               unvalued: int | None = None) -> str:
    """The top trials as an HTML table, numbers right-aligned, the ranking rule as its caption
    (``among``, ``unfinished`` and ``unvalued`` as in :func:`trials_table`); its cells padded as
    JupyterLab pads an output's tables, also where it does not (a widget's HTML, the live
    panel)."""
    headers, rows, rule = trials_table(study, top, among, unfinished, unvalued)
    if not rows:
        return ""
    e = html.escape
    right = [all(_numeric(row[j]) for row in rows) for j in range(len(headers))]
    head = "".join(f"<th{RIGHT if r else ONE_LINE}>{e(h)}</th>" for h, r in zip(headers, right))
    body = "".join("<tr>" + "".join(f"<td{RIGHT if r else ONE_LINE}>{e(c)}</td>"
                                    for c, r in zip(row, right)) + "</tr>" for row in rows)
    caption = f"top {_trials(len(rows))}, ranked: {rule}"
    # in a box that scrolls sideways: a table wider than the output (SearchCV's long
    # step__param columns) was cut at its right edge, its last columns out of reach. Its caption
    # wraps to the box's width, not the table's, and stays in view as the table scrolls: a
    # caption cut mid-word read as a broken page (first-day test, round 24)
    return (f'<div style="overflow-x:auto;max-width:100%;container-type:inline-size">'
            f'<table class="{css}"{TABLE}>'
            '<caption style="caption-side:top;text-align:left;line-height:normal;'
            'padding-bottom:0.25em;max-width:100cqw;position:sticky;left:0">'
            f"{e(caption)}</caption>"
            f"<thead{HEAD}><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


OTHER_METRICS = 4  # of the best trial's other reported values, those the summary names


def _other_metrics(trial: T.Trial, metric: str, resource: str) -> str:
    """``; accuracy 0.967, f1 0.95``: the best trial's other values as it last reported them (a
    study that minimised a loss and reported accuracy said its accuracy nowhere: first-day
    test, round 38), the first :data:`OTHER_METRICS`; "" where it reported none."""
    if metric.startswith("mean_test_"):  # a SearchCV trial's: its folds' scores, summed up
        others = _cv_means(trial.metrics, metric)
    else:
        others = [(k, v) for k, v in trial.metrics.items()
                  if k not in (metric, resource) and T.is_finite_number(v)]
    if not others:
        return ""
    shown = ", ".join(f"{k} {v:.6g}" for k, v in others[:OTHER_METRICS])
    return "; " + shown + (f" (+{len(others) - OTHER_METRICS} more in trial.metrics)"
                           if len(others) > OTHER_METRICS else "")


def _cv_means(metrics: dict[str, Any], metric: str) -> list[tuple[str, float]]:
    """A SearchCV candidate's other values as ``cv_results_`` names them: the spread of its
    folds' scores for ``metric`` (``std_test_mae``), then the mean of each other scorer's
    (``mean_test_rmse``, ``mean_train_r2``). Its metrics are its folds' (``split0_test_rmse``,
    ``split0_fit_time``): the first four of those filled the line (first-day tests, 41 and 42)."""
    folds: dict[str, list[float]] = {}
    for key, value in metrics.items():
        found = re.match(r"split\d+_((?:test|train)_.+)$", key)
        if found and T.is_finite_number(value):
            folds.setdefault(found.group(1), []).append(float(value))
    own = folds.get(metric[len("mean_"):], [])
    out = [(f"std_{metric[len('mean_'):]}", statistics.pstdev(own))] if len(own) > 1 else []
    return out + [(f"mean_{name}", statistics.fmean(values)) for name, values in folds.items()
                  if f"mean_{name}" != metric]


def _checkpoint_level(trial: T.Trial, path: str, resource: str) -> str:
    """`` (from epoch 25; its value is of epoch 27)`` where the kept checkpoint came with an
    earlier report than the trial's last (it reported one every few epochs: the model is not
    the one its value measured; first-day test, round 37), else ``""``."""
    head = header(os.path.dirname(path), trial.id, final=True) or {}
    level, last = head.get("level"), trial.resource(resource)
    if not T.is_finite_number(level) or not T.is_finite_number(last) or level >= last:
        return ""
    return f" (from {resource} {level:g}; its value is of {resource} {last:g})"


def planned_trials(study: Any) -> int | None:
    """The trials a study was to run: its ``n_trials``, else the points of a grid searcher's
    grid, which ends the study at its last (``n_trials`` is None then): a grid search cut by
    max_time read "62: 62 completed", and not of how many (first-day test). A study loaded
    from its file has no searcher object: its space's grid."""
    planned = study.settings.get("n_trials")
    if isinstance(planned, int):
        return planned
    searcher = getattr(study, "searcher", None)
    if searcher is not None:
        return getattr(searcher, "max_trials", None)
    if study.settings.get("searcher") == "grid" and getattr(study.space, "grid_names", None):
        return study.space.grid_size
    return None


class StudySummary:
    """A study's outcome as HTML (``_repr_html_``, for notebooks) and as text (``str``, terminals).

    Built from the trials when ``study.summary()`` is called: facts, the ``top`` trials of
    :func:`rank_trials`, a PNG of the learning curves (the history when no trial reported), the
    failed trials, the trials' output and their warnings (each distinct one once, counted).
    """

    def __init__(self, study: Any, top: int = 10) -> None:
        self.study, self.top = study, top
        self.resource = resource_of(study)
        self.best = study.best
        self._png: bytes | None = None
        self._alt = ""  # the image's titles, as its alternative text

    def facts(self) -> list[tuple[str, str]]:
        """The header as (label, text) pairs: metric, trials per state, end, time, search, best,
        output and warnings."""
        s = self.study
        # as the live panel counts them: trials no worker started yet are queued
        counts = T.shown_counts(s.trials)
        states = T.counts_text(counts, s.stop_reason)
        total, planned = sum(counts.values()), planned_trials(s)
        # a study cut short says what it was to run: "16: 14 completed, 2 interrupted" did not
        # say of how many (first-day test, round 26)
        of = (f" of {planned}" if isinstance(planned, int) and 0 < total < planned
              and s.stop_reason not in (None, "n_trials") else "")
        trials = f"{total}{of}: {states}" if counts else "none yet"
        ended = s.stop_reason or ("still running" if getattr(s, "running", False) else
                                  _run_elsewhere(s) if getattr(s, "running_elsewhere", False)
                                  else "not recorded")
        out = [("metric", f"{s.metric} ({s.mode})")]
        # a loss maximised (or a score minimised): said where the study is read the next day,
        # not only in the cell that started it (first-day test, round 31)
        # a mode given, min too, is the user's choice: "mode='min' is the default" was said of
        # a study run with --mode min (check round 43)
        direction = mode_note(s.metric, s.mode, given=s.mode == "max" or bool(
            (s.settings or {}).get("mode_given")))
        if direction:
            out.append(("mode", direction))
        out += [("trials", trials), ("ended", ended)]
        retried = retried_text(s.settings)
        if retried:
            out.append(("retried", retried))
        overdue = overdue_text(s)
        if overdue:
            out.append(("trial time", overdue))
        earlier = earlier_ids(s)
        ran = sum(counts.values()) - len(earlier)
        if s.elapsed is not None and earlier and ran == 0:  # a rerun with nothing left to run
            out.append(("time", "no trial ran in this run: its trials ran before"))
        elif s.elapsed is not None:  # ("11 ms for this run's 0 trials": round 62)
            took = duration_text(s.elapsed)
            if earlier:  # a resumed study: its time and pace are this run's
                took += f" for this run's {ran} trial{'s' if ran != 1 else ''}"
            out.append(("time", " · ".join(x for x in (took, pace_text(s)) if x)))
        if s.settings.get("searcher"):
            asks = asks_text(s.settings)
            out.append(("search", f"{searcher_text(s)}; {scheduler_text(s.settings)}"
                                  + (f"; {asks}" if asks else "")))
        trained = training_text(s)
        if trained:
            out.append(("trained", trained))
        unjudged = unjudged_note(s)
        if unjudged:
            out.append(("scheduler", unjudged))
        seed = seed_text(s)
        if seed:
            out.append(("seed", seed))
        if self.best is None:
            out.append(("best", no_best_text(s)))
        else:
            out.append(("best", f"{s.metric} = {self.best.value:.6g} (trial {self.best.id})"
                                + _other_metrics(self.best, s.metric, self.resource)))
            out.append(("best config", config_text(self.best.config)))
            path = s.kept_checkpoint(self.best)
            if path is not None:
                # a SearchCV's study is search.study_ (first-day test, round 57), whose
                # checkpoint is its folds' models, not the refit (round 63)
                searchcv = made_by_searchcv(s.settings)
                whose = "search.study_" if searchcv else "study"
                out.append(("checkpoint", f"trial {self.best.id}'s last, kept"
                            + _checkpoint_level(self.best, path, self.resource)
                            + f": {whose}.best_checkpoint"
                            + (" (its folds' models; the refit is best_estimator_)"
                               if searchcv else "")))
            flat = flat_note(s)
            out += [("range", note) for note in ([flat] if flat else edge_notes(s))]
            falling = falling_note(s)
            if falling:
                out.append(("curves", falling))
        wrote = len(wrote_output(s))
        if wrote:
            out.append(("output", f"{wrote} trial{'s' if wrote != 1 else ''} wrote output "
                                  "(trial.output)"))
        found = study_warnings(s)
        if found:
            out.append(("warnings", "; ".join(
                f"{r['category']}: {one_line(r['message'], 100, first=True)} ({_trials(k)})"
                for r, k in found[:3])))
        return out

    def table(self) -> tuple[list[str], list[list[str]]]:
        """Headers and cells of the top trials (see :func:`trials_table`)."""
        return trials_table(self.study, self.top)[:2]

    def png(self) -> bytes | None:
        """The learning curves (or, with at most one report a trial, the history) as PNG; None
        with nothing to draw."""
        if self._png is None:
            from .images import to_png
            from .plots import StudyPlots
            from .tracker import CURVES

            plots = StudyPlots(self.study)
            # the best CURVES, as the panel draws them: 3,000 curves were a solid mass, and a
            # 250 KB image in each summary (first-day test, round 27)
            draws = [lambda: plots.learning_curves(top=CURVES), plots.history]
            if not any(len(t.reports) > 1 for t in list(self.study.trials)):
                draws.pop(0)  # one report a trial: its "curves" were a line of dots at epoch 1
            for draw in draws:
                try:
                    fig = draw()
                    self._png, self._alt = to_png(fig, dpi=80), fig.alt_text()
                    break
                except ValueError:
                    continue
        return self._png

    def _repr_html_(self) -> str:
        e = html.escape
        facts = "".join(f"<tr><th{LEFT}>{e(k)}</th><td{LEFT}>{e(v)}</td></tr>"
                        for k, v in self.facts() if k != "warnings")
        parts = [f'<div class="nbtune-summary"><h4>nbtune study <code>{e(self.study.name)}</code>'
                 f'</h4><table class="nbtune-summary-facts">{facts}</table>',
                 table_html(self.study, self.top)]
        png = self.png()
        if png is not None:
            data = base64.b64encode(png).decode("ascii")
            parts.append(f'<img class="nbtune-summary-curves" src="data:image/png;base64,{data}" '
                         f'alt="{e(self._alt)}"/>')
        for css, part in (("warnings", warnings_html(self.study)),
                          ("errors", errors_html(self.study)),
                          ("outputs", outputs_html(self.study))):
            if part:
                parts.append(f'<div class="nbtune-summary-{css}">{part}</div>')
        return "".join(parts) + "</div>"

    def __str__(self) -> str:
        facts = self.facts()
        width = max(len(k) for k, _ in facts)
        lines = [f"nbtune study {self.study.name!r}"] + [f"  {k:<{width}}  {v}" for k, v in facts]
        # why trials failed, as the HTML summary says it
        lines += [f"  {line}" for line in failure_lines(self.study)]
        headers, rows, rule = trials_table(self.study, self.top)
        if rows:
            lines += [f"ranked: {rule}", f"top {_trials(len(rows))}:"]
            lines += _aligned(headers, rows)
        return "\n".join(lines)

    __repr__ = __str__
