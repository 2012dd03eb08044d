"""Plots of a study: ``study.plot.history()``, ``.learning_curves()``, ``.parallel_coordinates()``, ...

Each method draws on a new :class:`matplotlib.figure.Figure` (never pyplot, so nothing pops up and no
figure is left behind in a kernel), or on the Axes passed as ``ax=``, and returns the figure. They
read only the trials and their reports, so a study from :func:`nbtune.load_study` plots as well as a
live one. A method with nothing to draw raises ValueError saying what is missing; on a study with
no completed trial (and, for the report plots, no report) that is "the study has no completed
trials yet".
"""
from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .caller import user_facing
from .images import BASE_SIZE, StudyFigure, figure_size
from .typos import did_you_mean
from . import trial as T
from .ranking import (completed, curve, empty_message, fmt, importance_basis, param_importances,
                      rank_trials, resource_of)

LOG_KINDS = frozenset({"loguniform", "lograndint", "logspace"})
CATEGORICAL_KINDS = frozenset({"choice", "grid"})
FADED = 0.3
"""Alpha of the lines of trials that did not run to the end (stopped, failed, interrupted)."""
LABELLED = 3
"""The best trials whose learning curves have a colour of their own and a legend entry."""
MANY_CURVES = 100
"""Past this many learning curves, those without a colour of their own are drawn together, one
collection per style: a line each cost ~1 ms (1.1 s for a 1,000-trial study's summary)."""


def canvas(ax: Axes | None, size: tuple[float, float] = BASE_SIZE) -> tuple[Figure, Axes]:
    """The figure and Axes to draw on: ``ax`` and its figure, or a new :class:`StudyFigure`
    of ``size`` inches (never pyplot's; scaled to the notebook's ``rcParams["figure.figsize"]``
    where it set one, see :func:`~nbtune.images.figure_size`)."""
    if ax is None:
        fig = StudyFigure(figsize=figure_size(*size), layout="constrained")
        return fig, fig.add_subplot()
    return ax.figure, ax  # type: ignore[return-value]


def _codes(domain: Any, values: list) -> list[float]:
    """Index of each value among a finite domain's values (NaN for a value not among them)."""
    n, out = len(domain.values), []
    for v in values:
        try:
            out.append(float(round(domain.to_unit(v) * n - 0.5)))
        except (ValueError, TypeError):
            out.append(math.nan)
    return out


def _legible(legend: Any) -> None:
    """The legend's marks of faded lines and dots, strong enough to read (the "stopped" line
    was near invisible: first-day test, round 27); the lines themselves stay faded."""
    for handle in legend.legend_handles:
        alpha = handle.get_alpha()
        if alpha is not None and alpha < 0.6:
            handle.set_alpha(0.6)


_PLAIN = {"ended": {"color": "C7", "linewidth": 1.0, "alpha": FADED},  # stopped, failed, ...
          "others": {"color": "C0", "linewidth": 1.0, "alpha": 0.8}}
"""The style of the learning curves without a colour of their own, by how their trials ended."""


def _plot_together(ax: Axes, curves: list[tuple[list[float], list[float]]], kind: str) -> Any:
    """Learning curves of one style (``kind``, a key of :data:`_PLAIN`) as one collection of
    lines (gid ``trials-KIND``) and, for the curves of one point, one line of dots
    (``trials-KIND-points``), under the curves drawn one by one. Each curve is drawn apart,
    so faded curves still darken where many overlap. Returns the first artist drawn, the one a
    legend names."""
    from matplotlib.collections import LineCollection

    style = _PLAIN[kind]
    lines = [np.column_stack([xs, ys]) for xs, ys in curves if len(xs) > 1]
    points = [(xs[0], ys[0]) for xs, ys in curves if len(xs) == 1]
    drawn = []
    if lines:
        drawn.append(ax.add_collection(
            LineCollection(lines, colors=style["color"], alpha=style["alpha"],
                           linewidths=style["linewidth"], zorder=1.9, gid=f"trials-{kind}"),
            autolim=True))
        ax.autoscale_view()
    if points:
        drawn.extend(ax.plot(*zip(*points), linestyle="none", marker=".", zorder=1.9,
                             gid=f"trials-{kind}-points", **style))
    return drawn[0]


class StudyPlots:
    """``study.plot``: figures of a study, each a matplotlib Figure (``ax=`` draws on your Axes)."""

    def __init__(self, study: Any) -> None:
        self.study = study

    def __getattr__(self, name: str) -> Any:  # only for names not found: a typo, most likely
        known = [n for n in dir(type(self)) if not n.startswith("_")]
        raise AttributeError(f"study.plot has no {name!r}{did_you_mean(name, known)}; its "
                             f"figures: {', '.join(known)}")

    @user_facing
    def history(self, ax: Axes | None = None) -> Figure:
        """The metric of each finished trial against its id, with the best so far.

        Completed trials are dots; stopped ones faded dots (their last value); failed ones an
        ``x`` at the worse edge (the bottom where the metric is maximised, the top where it is
        minimised).
        """
        study, trials = self.study, list(self.study.trials)
        done = completed(study)
        if not done:
            raise ValueError(empty_message(study))
        fig, ax = canvas(ax)
        ids, values = [t.id for t in done], np.array([t.value for t in done], dtype=float)
        small = 3 if len(trials) > MANY_CURVES else None  # dots that do not cover each other
        ax.plot(ids, values, "o", color="C0", label="completed", gid="completed", zorder=2.5,
                markersize=small)
        stopped = [t for t in trials if t.state == T.STOPPED and T.is_finite_number(t.value)]
        if stopped:  # grey, under the completed: faded blue hid them where thousands stopped
            ax.plot([t.id for t in stopped], [t.value for t in stopped], "o", color="C7",
                    alpha=FADED, label="stopped early", gid="stopped", zorder=1.5,
                    markersize=small)
        best = (np.maximum if study.mode == "max" else np.minimum).accumulate(values)
        ax.plot(ids, best, color="C3", drawstyle="steps-post", label="best so far", gid="best")
        failed = [t.id for t in trials if t.state == T.FAILED]
        if failed:  # x in data, y in axes coordinates: at the worse edge whatever the metric's
            # range (the bottom of a minimised loss read as the best of all: round 26)
            worse = 0.02 if study.mode == "max" else 0.98
            ax.plot(failed, [worse] * len(failed), "x", color="C7", label="failed", gid="failed",
                    transform=ax.get_xaxis_transform())
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("trial")
        ax.set_ylabel(study.metric)
        ax.set_title(f"{study.name}: {study.metric} ({study.mode}) by trial")
        _legible(ax.legend(loc="best", fontsize="small"))
        return fig

    @user_facing
    def learning_curves(self, resource: str | None = None, top: int | None = None,
                        ax: Axes | None = None, among: Sequence[T.Trial] | None = None
                        ) -> Figure:
        """The metric against the resource for each trial that reported both, one line per trial.

        Stopped, failed and interrupted trials are faded; the best trial is drawn thick in red,
        the next best (:data:`LABELLED` in all) in colours of their own, named in the legend.
        The y-range follows the best quarter of the trials (a stopped trial's early scores may
        fall outside it).
        ``top=N`` keeps the N best trials of :func:`~nbtune.ranking.rank_trials`; ``among``
        draws from those trials only (all the study's by default).
        Each curve is a line whose gid is ``trial-ID``; past :data:`MANY_CURVES` curves, those
        without a colour of their own are drawn together instead, a ``LineCollection`` per
        style (gid ``trials-others``, ``trials-ended``) and the one-point curves a line of
        dots (``trials-others-points``, ``trials-ended-points``).
        """
        study = self.study
        resource = resource or resource_of(study)
        # one snapshot: a running study adds trials meanwhile
        trials = list(study.trials if among is None else among)
        curves: dict[int, tuple[list[float], list[float]]] = {}

        def drawn(t: T.Trial) -> bool:  # only the curves it draws are computed
            if t.id not in curves:
                curves[t.id] = curve(t, resource, study.metric)
            return bool(curves[t.id][0])

        if top is None:
            chosen = [t for t in trials if drawn(t)]
            ranked = rank_trials(study, among=chosen)
        else:
            ranked = []
            for t in rank_trials(study, among=trials):
                if len(ranked) == top:
                    break
                if drawn(t):
                    ranked.append(t)
            chosen = ranked
        if not chosen and not any(drawn(t) for t in trials):
            if not completed(study):
                raise ValueError(empty_message(study))
            raise ValueError(f"no trial reported {resource!r} with {study.metric!r}: learning "
                             f"curves need report({resource}=..., {study.metric}=...)")
        fig, ax = canvas(ax)
        best = study.best
        # the best few, labelled in the legend, each in a colour of its own (the best in red)
        named = {t.id: colour for t, colour in zip(
            [t for t in ranked if best is None or t.id != best.id][:LABELLED - 1], ("C1", "C2"))}
        order = {t.id: i for i, t in enumerate(reversed(ranked))}  # the best drawn last, on top
        together: dict[str, list[tuple[list[float], list[float]]]] = {}  # see MANY_CURVES
        labelled: dict[Any, Any] = {}  # trial id, or a _PLAIN kind -> the line the legend names
        for t in sorted(chosen, key=lambda t: order.get(t.id, -1)):
            xs, ys = curves[t.id]
            key: Any = t.id
            if best is not None and t.id == best.id:
                style = {"color": "C3", "linewidth": 2.5, "zorder": 3}
            elif t.id in named:  # its own colour, faded too if it did not run to the end
                style = {"color": named[t.id], "linewidth": 1.6, "zorder": 2.5,
                         "alpha": 0.8 if t.state not in (T.STOPPED, T.FAILED, T.INTERRUPTED)
                         else FADED}
            else:
                key = "ended" if t.state in (T.STOPPED, T.FAILED, T.INTERRUPTED) else "others"
                if len(chosen) > MANY_CURVES:
                    together.setdefault(key, []).append((xs, ys))
                    continue
                style = _PLAIN[key]
            line, = ax.plot(xs, ys, marker="." if len(xs) < 2 else None, gid=f"trial-{t.id}",
                            **style)
            labelled.setdefault(key, line)
        for kind, drawn_together in together.items():
            labelled[kind] = _plot_together(ax, drawn_together, kind)
        # the legend names the lines themselves, so that ax.legend(loc=...) after it keeps it
        handles = []
        if best is not None and best.id in labelled:
            labelled[best.id].set_label(f"best: trial {best.id}")
            handles.append(labelled[best.id])
        by_id = {t.id: t for t in chosen}
        for trial_id in named:
            state = T.state_word(by_id[trial_id].state, study.stop_reason)
            labelled[trial_id].set_label(f"trial {trial_id} ({state})")
            handles.append(labelled[trial_id])
        if "others" in labelled:
            labelled["others"].set_label("other trials")
            handles.append(labelled["others"])
        states = {t.state for t in chosen if (best is None or t.id != best.id)
                  and t.id not in named}
        ended = [T.state_word(s, study.stop_reason)
                 for s in (T.STOPPED, T.FAILED, T.INTERRUPTED) if s in states]
        if "ended" in labelled:  # named as they ended: "stopped", "stopped or failed", ...
            label = ended[-1] if len(ended) == 1 else f"{', '.join(ended[:-1])} or {ended[-1]}"
            labelled["ended"].set_label(label)
            handles.append(labelled["ended"])
        if all(float(x).is_integer() for t in chosen for x in curves[t.id][0]):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        self._focus(ax, [curves[t.id][1] for t in ranked], [curves[t.id][1] for t in chosen])
        ax.set_xlabel(resource)
        ax.set_ylabel(study.metric)
        left_out = len(trials) - len(chosen) if top is not None else 0
        ax.set_title(f"{study.name}: learning curves" + (
            f", the best {len(chosen)} of {len(trials):,} trials" if left_out > 0 else ""))
        if handles:
            _legible(ax.legend(handles=handles, loc="best", fontsize="small"))
        return fig

    def _focus(self, ax: Axes, ranked: list[list[float]], every: list[list[float]]) -> None:
        """Fit the y-range to the trials that matter: the best quarter of the curves (at least
        3), whose values past their worst tenth set the range, with a margin; other curves may
        leave it. With few curves, or when that range is nearly all of it, all stay in view."""
        if len(ranked) < 4:
            return
        focus = np.concatenate([np.asarray(ys, dtype=float)
                                for ys in ranked[:max(3, math.ceil(len(ranked) / 4))]])
        values = np.concatenate([np.asarray(ys, dtype=float) for ys in every])
        if self.study.mode == "max":
            lo, hi = float(np.quantile(focus, 0.1)), float(focus.max())
        else:
            lo, hi = float(focus.min()), float(np.quantile(focus, 0.9))
        span = hi - lo
        if span <= 0 or span > 0.8 * (values.max() - values.min()):
            return
        ax.set_ylim(lo - 0.08 * span, hi + 0.08 * span)

    @user_facing
    def parallel_coordinates(self, ax: Axes | None = None) -> Figure:
        """One vertical axis per hyperparameter and one for the metric; a line per trial.

        Completed trials are drawn with their final value; stopped and paused ones (an early
        stopping scheduler's) with the last value they reported, faded. Numeric ranges span
        their domain (log domains in log10); choices and grids are evenly spaced in declared
        order. Lines are coloured by the metric, brighter is better. Past
        :data:`MANY_CURVES` trials they are coloured by rank (the colour bar names the metric
        at its ranks), and all but the best tenth are drawn faint, a collection each for the
        completed ones (gid ``trials-completed``) and the others (``trials-ended``): on a
        linear scale most lines of a 3,000-trial study were one colour (first-day test, 27).
        """
        from .parallel import parallel_coordinates

        return parallel_coordinates(self.study, ax)

    @user_facing
    def importance(self, ax: Axes | None = None, seed: int = 0,
                   at: float | None = None) -> Figure:
        """Horizontal bars of :func:`param_importances`, the most important on top; ``at``: fitted
        on the values at that level of the resource (see :func:`importance_basis`)."""
        basis = importance_basis(self.study, at=at)
        shares = param_importances(self.study, seed=seed, basis=basis)
        fig, ax = canvas(ax, (BASE_SIZE[0], 1.2 + 0.4 * len(shares)))
        bars = ax.barh(range(len(shares)), list(shares.values()), color="C0")
        ax.set_yticks(range(len(shares)), list(shares))
        ax.invert_yaxis()
        ax.bar_label(bars, fmt="%.2f", padding=2, fontsize="small")
        width = max(40, int(12 * fig.get_figwidth()))  # the figure's width, in characters
        ax.set_xlabel("\n".join(textwrap.fill(line, width) for line in (
            f"share of permutation importance for {self.study.metric}",
            *f"(a forest fitted on {basis[2]})".split("\n"))))
        ax.set_title(f"{self.study.name}: hyperparameter importance")
        return fig

    @user_facing
    def slice(self, name: str | None = None, ax: Axes | None = None) -> Figure:
        """The metric of each completed trial against each hyperparameter (or only ``name``)."""
        study, done = self.study, completed(self.study)
        names = study.space.unit_names if name is None else [name]
        if name is not None and name not in study.space:
            raise ValueError(f"unknown hyperparameter {name!r} (known: {', '.join(study.space)})")
        if not done:
            raise ValueError(empty_message(study))
        if not names:
            raise ValueError("the space has no hyperparameter to plot: every one is fixed")
        if ax is not None and len(names) > 1:
            raise ValueError("ax= takes one hyperparameter's plot: give name=...")
        if ax is None:
            cols = min(3, len(names))
            rows = math.ceil(len(names) / cols)
            fig = StudyFigure(figsize=figure_size(3.4 * cols, 3.0 * rows), layout="constrained")
            axes = list(fig.subplots(rows, cols, squeeze=False, sharey=True).ravel())
            for extra in axes[len(names):]:
                extra.remove()
            note = textwrap.fill(self._left_out(done).strip(),  # to the figure's width
                                 width=max(40, int(12 * fig.get_figwidth())))
            fig.suptitle(f"{study.name}: {study.metric} by hyperparameter"
                         + (f"\n{note}" if note else ""), fontsize="medium")
        else:
            fig, axes = ax.figure, [ax]
            if self._left_out(done):  # said on the user's own axes too
                ax.set_title(f"{study.metric} by {names[0]}{self._left_out(done)}",
                             fontsize="small")
        ys = [t.value for t in done]
        ended = [t for t in list(study.trials) if t.is_finished] if self._left_out(done) else []
        for i, (n, a) in enumerate(zip(names, axes)):
            self._slice_one(a, n, [t.config.get(n) for t in done], ys, first=i % 3 == 0,
                            tried=[t.config.get(n) for t in ended])
        return fig  # type: ignore[return-value]

    def _left_out(self, done: list[T.Trial]) -> str:
        """What a slice leaves out: an early-stopping study's unfinished trials, whose values are
        of other epochs (it drew 10 of 60 trials, and said nothing: first-day test, round 26)."""
        shown = {t.id for t in done}
        ended = [t for t in list(self.study.trials) if t.is_finished]
        left: dict[str, int] = {}
        for t in ended:
            if t.id not in shown:
                state = t.state if t.state != T.COMPLETED else "without a value"
                left[state] = left.get(state, 0) + 1
        if not left:
            return ""
        hint = ("; parallel_coordinates() draws the stopped at their last value"
                if T.STOPPED in left else "")
        choices = any(self.study.space[n].kind in CATEGORICAL_KINDS
                      for n in self.study.space.unit_names)
        return (f"\n({len(done)} completed trials of {len(ended)}; left out: "
                + ", ".join(f"{n} {state}" for state, n in left.items()) + f"{hint}"
                + ("; under each choice: completed/ended" if choices else "") + ")")

    def _slice_one(self, ax: Axes, name: str, xs: list, ys: list, first: bool,
                   tried: list | None = None) -> None:
        """One hyperparameter's slice; under each choice, with ``tried`` (the values of every
        ended trial, where some are left out), how many completed of how many ended: a choice
        none of whose 747 trials outlived the rungs had no point, and no word (round 27)."""
        domain = self.study.space[name]
        if domain.kind in CATEGORICAL_KINDS:
            choices = domain.values
            ax.plot(_codes(domain, xs), ys, "o", alpha=0.7, gid=name)
            labels = [fmt(v) for v in choices]
            if tried:
                shown, ended = _codes(domain, xs), _codes(domain, tried)
                labels = [f"{label}\n{shown.count(k)}/{ended.count(k)}"
                          for k, label in enumerate(labels)]
            ax.set_xticks(range(len(choices)), labels)
            ax.set_xlim(-0.5, len(choices) - 0.5)
        else:
            ax.plot(xs, ys, "o", alpha=0.7, gid=name)
            if domain.kind in LOG_KINDS:
                ax.set_xscale("log")
            lo, hi = getattr(domain, "lo", None), getattr(domain, "hi", None)
            if T.is_finite_number(lo) and T.is_finite_number(hi) and lo < hi:  # the whole range
                if domain.kind in LOG_KINDS:  # searched, not the survivors' part of it, with a
                    pad = (hi / lo) ** 0.03  # margin for a point at an edge
                    ax.set_xlim(lo / pad, hi * pad)
                else:
                    pad = 0.03 * (hi - lo)
                    ax.set_xlim(lo - pad, hi + pad)
        ax.set_xlabel(name)
        if first:
            ax.set_ylabel(self.study.metric)

    @user_facing
    def rungs(self, levels: Sequence[float] | None = None, ax: Axes | None = None) -> Figure:
        """Bars: how many trials reported at least each resource level.

        The levels are ``levels``, else the rung levels the study knows (``settings["rung_levels"]``
        or the live scheduler's decision points, with the furthest level reached), else the levels
        at which completed, stopped and paused trials ended (the rungs, for a loaded study).
        """
        study, resource = self.study, resource_of(self.study)
        trials = list(study.trials)
        reached = {t.id: t.resource(resource) for t in trials}
        reached = {k: v for k, v in reached.items() if T.is_finite_number(v)}
        if not reached:
            if not completed(study):
                raise ValueError(empty_message(study))
            raise ValueError(f"no trial reported {resource!r}: rungs need report({resource}=...)")
        if levels is None and study.settings.get("scheduler") == "fifo":
            raise ValueError(f"study {study.name!r} ran without a scheduler: every trial trained "
                             "to its end, so it has no rungs; plot.learning_curves() shows how "
                             "they trained, plot.rungs(levels=[1, 3, 9]) counts the trials "
                             "that reached those levels")
        chosen = sorted(levels) if levels is not None else self._levels(trials, reached, resource)
        counts = [sum(1 for r in reached.values() if r >= level) for level in chosen]
        fig, ax = canvas(ax, (BASE_SIZE[0], 3.6))
        bars = ax.bar(range(len(chosen)), counts, color="C0", tick_label=[fmt(v) for v in chosen])
        ax.bar_label(bars, padding=2, fontsize="small")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # it counts trials: no 2.5
        ax.set_xlabel(f"{resource} (rung level)")
        ax.set_ylabel("trials that reached it")
        ax.set_title(f"{study.name}: trials per rung")
        return fig

    def _levels(self, trials: list[T.Trial], reached: dict[int, Any], resource: str) -> list:
        known: Any = self.study.settings.get("rung_levels")
        scheduler = getattr(self.study, "scheduler", None)
        if not known and scheduler is not None:
            try:
                known = scheduler.decision_points()
            except Exception:  # a scheduler not set up: fall back on the reports
                known = None
        if known:
            top = max(reached.values())
            return sorted(known) + ([top] if top > max(known) else [])
        ended = {reached[t.id] for t in trials if t.id in reached
                 and t.state in (T.COMPLETED, T.STOPPED, T.PAUSED)}
        return sorted(ended or set(reached.values()))
