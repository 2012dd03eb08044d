"""Plots of a study: ``study.plot.history()``, ``.learning_curves()``, ``.parallel_coordinates()``, ...

Each method draws on a new :class:`matplotlib.figure.Figure` (never pyplot, so nothing pops up and no
figure is left behind in a kernel), or on the Axes passed as ``ax=``, and returns the figure. They
read only the trials and their reports, so a study from :func:`nbtune.load_study` plots as well as a
live one. A method with nothing to draw raises ValueError saying what is missing; on a study with
no completed trial (and, for the report plots, no report) that is "the study has no completed
trials yet". The figures of their own size are in their own modules (:mod:`nbtune.curves`,
:mod:`nbtune.parallel`), with what all share in :mod:`nbtune.drawing`.
"""
from __future__ import annotations

import dataclasses
import math
import re
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .caller import user_facing
from .drawing import (FADED, LOG_KINDS, MANY_CURVES, canvas, codes,
                      in_view, keep_in_view, legible, titled)
from .images import BASE_SIZE, StudyFigure, figure_size
from .typos import did_you_mean, meant_key
from . import trial as T
from .domains import CATEGORICAL_KINDS
from .formatting import choice_text, fmt
from .importance import importance_basis, param_importances
from .ranking import completed, empty_message, resource_of, trials_per_rung


def _common_step(names: list[str]) -> str:
    """The pipeline step all of ``names`` belong to, with its ``__`` (``"clf__"`` of
    ``clf__alpha`` and ``clf__l1_ratio``); "" where they are not two or more of one step."""
    steps = {name.split("__", 1)[0] for name in names if "__" in name}
    if len(names) < 2 or len(steps) != 1 or not all("__" in name for name in names):
        return ""
    return steps.pop() + "__"


def _wrapped(label: str, width: int = 24) -> str:
    """A tick label over lines of about ``width`` characters, broken after an opening
    parenthesis or a comma (an estimator's repr: ``RandomForestClassifier(n_estimators=60,
    random_state=0)`` printed over its neighbours' in a slice plot, first-day test, round 59)."""
    if len(label) <= width:
        return label
    lines: list[str] = []
    for piece in re.split(r"(?<=[(,])", label):
        if lines and len(lines[-1]) + len(piece) <= width:
            lines[-1] += piece
        else:
            lines.append(piece.lstrip() if lines else piece)
    return "\n".join(lines)


def by_metric(study: Any, metric: str | None, mode: str | None = None) -> Any:
    """``study`` as if it had tuned ``metric``, another value its trials reported, for its
    plots: each trial's value is its last report of ``metric`` (None where it reported none),
    ``mode`` ("max" or "min") that given, else the study's for its own metric, else the one
    the name says (accuracy, f1: max; loss, rmse: min). A study that minimised a loss could not
    draw the accuracy it also reported (first-day test, round 38). The study itself where
    ``metric`` is None or its own and ``mode`` agrees."""
    from .directions import LOWER, looks_a_loss, looks_maximised
    from .study import Study

    if mode is not None and mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    if metric is None or (metric == study.metric and mode in (None, study.mode)):
        return study
    trials = list(study.trials)
    if metric != study.metric:
        reported = sorted({k for t in trials for k in t.metrics} - {study.metric})
        if metric not in reported:
            known = ", ".join(repr(k) for k in reported) or "none"
            near = meant_key(metric, reported)
            meant = f" (did you mean {near!r}?)" if near else ""
            raise ValueError(f"no trial reported {metric!r}{meant}; "
                             f"the study's metric is {study.metric!r}, its other values: "
                             f"{known}")
    if mode is None:
        mode = (study.mode if metric == study.metric else "max" if looks_maximised(metric)
                else "min" if looks_a_loss(metric) or metric.lower() in LOWER else None)
        if mode is None:
            raise ValueError(f"which way is {metric!r} better? give mode='max' or mode='min'")
    copies = [dataclasses.replace(t, value=t.metrics.get(metric)) for t in trials]
    return Study(study.name, study.space, metric, mode, trials=copies,
                 settings=study.settings, stop_reason=study.stop_reason)


class StudyPlots:
    """``study.plot``: figures of a study, each a matplotlib Figure (``ax=`` draws on your Axes)."""

    def __init__(self, study: Any) -> None:
        self.study = study

    def __getattr__(self, name: str) -> Any:  # only for names not found: a typo, most likely
        known = [n for n in dir(type(self)) if not n.startswith("_")]
        raise AttributeError(f"study.plot has no {name!r}{did_you_mean(name, known)}; its "
                             f"figures: {', '.join(known)}")

    @user_facing
    def history(self, ax: Axes | None = None, metric: str | None = None,
                mode: str | None = None) -> Figure:
        """The metric of each finished trial against its id, with the best so far.

        Completed trials are dots; stopped ones faded dots (their last value); failed ones an
        ``x`` at the worse edge (the bottom where the metric is maximised, the top where it is
        minimised). Values orders of magnitude worse than the rest (blown-up runs) are left
        out of the range, and the title says so (:func:`~nbtune.drawing.in_view`); ``slice``,
        ``parallel_coordinates`` and :func:`nbtune.compare` do the same. ``metric``: another
        value the trials reported (``mode``, "max" or "min", where its name does not say which
        is better), as in :func:`by_metric`.
        """
        study = by_metric(self.study, metric, mode)
        trials = list(study.trials)
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
        left_out = keep_in_view(ax, [*values, *(t.value for t in stopped)], study.mode)
        titled(ax, f"{study.name}: {study.metric} ({study.mode}) by trial"
               + (f"\n({left_out})" if left_out else ""))
        legible(ax.legend(loc="best", fontsize="small"))
        return fig

    @user_facing
    def learning_curves(self, resource: str | None = None, top: int | None = None,
                        ax: Axes | None = None, among: Sequence[T.Trial] | None = None,
                        metric: str | None = None, mode: str | None = None) -> Figure:
        """The metric against the resource for each trial that reported both, one line per trial.

        Stopped, failed and interrupted trials are faded; the best trial is drawn thick in red,
        the next best (:data:`~nbtune.drawing.LABELLED` in all) in colours of their own, named
        in the legend. The y-range follows the best quarter of the curves by their best value
        (a stopped trial's early scores, or a blown-up one's, may fall outside it).
        ``top=N`` keeps the N best trials of :func:`~nbtune.ranking.rank_trials`; ``among``
        draws from those trials only (all the study's by default).
        Each curve is a line whose gid is ``trial-ID``; past :data:`~nbtune.drawing.MANY_CURVES`
        curves, those without a colour of their own are drawn together instead, a
        ``LineCollection`` per style (gid ``trials-others``, ``trials-ended``) and the one-point
        curves a line of dots (``trials-others-points``, ``trials-ended-points``).
        ``metric``, ``mode``: another reported value's curves, as in :func:`by_metric`.
        """
        from .curves import learning_curves

        study = by_metric(self.study, metric, mode)
        if among is not None and study is not self.study:  # the same trials, of that metric
            ids = {t.id for t in among}
            among = [t for t in study.trials if t.id in ids]
        return learning_curves(study, resource, top, ax, among)

    @user_facing
    def parallel_coordinates(self, ax: Axes | None = None, metric: str | None = None,
                             mode: str | None = None) -> Figure:
        """One vertical axis per hyperparameter and one for the metric; a line per trial.

        Completed trials are drawn with their final value; stopped and paused ones (an early
        stopping scheduler's) with the last value they reported, faded. Numeric ranges span
        their domain (log domains in log10); choices and grids are evenly spaced in declared
        order. Lines are coloured by the metric, brighter is better. Past
        :data:`~nbtune.drawing.MANY_CURVES` trials they are coloured by rank (the colour bar
        names the metric at its ranks), and all but the best tenth are drawn faint, a collection each for the
        completed ones (gid ``trials-completed``) and the others (``trials-ended``): on a
        linear scale most lines of a 3,000-trial study were one colour (first-day test, 27).
        ``metric``, ``mode``: another reported value's axis, as in :func:`by_metric`.
        """
        from .parallel import parallel_coordinates

        return parallel_coordinates(by_metric(self.study, metric, mode), ax)

    @user_facing
    def importance(self, ax: Axes | None = None, seed: int = 0, at: float | None = None,
                   metric: str | None = None, mode: str | None = None) -> Figure:
        """Horizontal bars of :func:`param_importances`, the most important on top; ``at``: fitted
        on the values at that level of the resource (see :func:`importance_basis`); ``metric``,
        ``mode``: of another reported value, as in :func:`by_metric`."""
        study = by_metric(self.study, metric, mode)
        basis = importance_basis(study, at=at)
        shares = param_importances(study, seed=seed, basis=basis)
        fig, ax = canvas(ax, (BASE_SIZE[0], 0.4 * len(shares)), text_height=1.4)
        # a pipeline's one step, named once in the title: its names took three quarters of the
        # figure's width, and the bars the rest (first-day test, round 65)
        step = _common_step(list(shares))
        bars = ax.barh(range(len(shares)), list(shares.values()), color="C0")
        ax.set_yticks(range(len(shares)), [name[len(step):] for name in shares])
        ax.invert_yaxis()
        ax.bar_label(bars, fmt="%.2f", padding=2, fontsize="small")
        top = max(shares.values(), default=0.0)  # room for the longest bar's label, inside
        if top > 0:
            ax.set_xlim(0, top * 1.18)
        width = max(40, int(12 * fig.get_figwidth()))  # the figure's width, in characters
        ax.set_xlabel("\n".join(textwrap.fill(line, width) for line in (
            f"share of permutation importance for {study.metric}",
            *f"(a forest fitted on {basis[2]})".split("\n"))))
        titled(ax, f"{study.name}: hyperparameter importance"
                   + (f" ({step}...)" if step else ""))
        return fig

    @user_facing
    def slice(self, name: str | None = None, ax: Axes | None = None, metric: str | None = None,
              mode: str | None = None) -> Figure:
        """The metric of each completed trial against each hyperparameter (or only ``name``);
        ``metric``, ``mode``: another reported value, as in :func:`by_metric`."""
        if isinstance(ax, str):  # slice("lr", "momentum"): two names, the second taken as ax
            raise ValueError(f"slice() takes one hyperparameter's name, got {name!r} and "
                             f"{ax!r}: slice() with no name draws every hyperparameter, "
                             f"slice({name!r}) one")
        study = by_metric(self.study, metric, mode)
        done = completed(study)
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
        else:
            fig, axes = ax.figure, [ax]
        ys = [t.value for t in done]
        # one range for all (they share it): a blown-up value is left out of it, drawn as a
        # triangle at the edge where it was tried (the slice is where one sees that a large
        # eta0 diverges: check round 43), and said so
        view = in_view(ys, study.mode)
        if view is not None:
            axes[0].set_ylim(*view.limits())
        mark = "\u25b2" if study.mode == "min" else "\u25bc"  # the worse edge: top, bottom
        beyond = "" if view is None else f"{view.note()}, at the edge: {mark}"
        left_out = self._left_out(done) + (f"\n({beyond})" if beyond else "")
        if ax is None:  # each line at the figure's width: one panel's title, a default study
            width = max(40, int(12 * fig.get_figwidth()))  # name's, ran past both edges
            lines = [f"{study.name}: {study.metric} by hyperparameter"] + (  # (check round 44)
                left_out.strip().split("\n") if left_out else [])
            fig.suptitle("\n".join(textwrap.fill(line, width=width) for line in lines),
                         fontsize="medium")
        elif left_out:  # said on the user's own axes too
            ax.set_title(f"{study.metric} by {names[0]}{left_out}", fontsize="small")
        ended = self._ended() if self._left_out(done) else []
        for i, (n, a) in enumerate(zip(names, axes)):
            self._slice_one(a, n, [t.config.get(n) for t in done], ys,
                            study.metric if i % 3 == 0 else None,
                            tried=[t.config.get(n) for t in ended], view=view)
        return fig  # type: ignore[return-value]

    def _ended(self) -> list[T.Trial]:
        """The trials that ran and ended: finished, or cut by the study's end (a study of 33
        trials, 2 cut by max_time, read "8 completed trials of 31; left out: 23 stopped":
        first-day test, round 45); not those that never started."""
        return [t for t in list(self.study.trials) if t.is_finished
                or T.shown_state(t) == T.INTERRUPTED]

    def _left_out(self, done: list[T.Trial]) -> str:
        """What a slice leaves out: an early-stopping study's unfinished trials, whose values are
        of other epochs (it drew 10 of 60 trials, and said nothing: first-day test, round 26)."""
        shown = {t.id for t in done}
        ended = self._ended()
        left: dict[str, int] = {}
        for t in ended:
            if t.id not in shown:
                state = T.state_word(t.state, self.study.stop_reason) \
                    if t.state != T.COMPLETED else "without a value"
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

    def _slice_one(self, ax: Axes, name: str, xs: list, ys: list, ylabel: str | None,
                   tried: list | None = None, view: Any = None) -> None:
        """One hyperparameter's slice (``ylabel``: the metric, on the first of a row); under each
        choice, with ``tried`` (the values of every
        ended trial, where some are left out), how many completed of how many ended: a choice
        none of whose 747 trials outlived the rungs had no point, and no word (round 27)."""
        domain = self.study.space[name]
        far = [] if view is None else [i for i, y in enumerate(ys) if not view.lo <= y <= view.hi]
        if far:  # out of the range: a triangle at the worse edge, where it was tried
            at = codes(domain, [xs[i] for i in far]) if domain.kind in CATEGORICAL_KINDS \
                else [xs[i] for i in far]
            worse = (0.97, "^") if self.study.mode == "min" else (0.03, "v")
            ax.plot(at, [worse[0]] * len(far), worse[1], color="C3", alpha=0.8,
                    transform=ax.get_xaxis_transform(), gid=f"{name}-beyond", clip_on=False)
            gone = set(far)
            xs = [x for i, x in enumerate(xs) if i not in gone]
            ys = [y for i, y in enumerate(ys) if i not in gone]
        if domain.kind in CATEGORICAL_KINDS:
            choices = domain.values
            ax.plot(codes(domain, xs), ys, "o", alpha=0.7, gid=name)
            labels = [_wrapped(choice_text(v)) for v in choices]
            if tried:
                shown, ended = codes(domain, xs), codes(domain, tried)
                labels = [f"{label}\n{shown.count(k)}/{ended.count(k)}"
                          for k, label in enumerate(labels)]
            ax.set_xticks(range(len(choices)), labels)
            if len(choices) > 1 and max(len(line) for label in labels
                                        for line in label.split("\n")) > 12:
                # estimators' reprs printed over one another (first-day test, round 59)
                ax.tick_params(axis="x", labelrotation=30)
                for tick in ax.get_xticklabels():  # each label's end at its tick
                    tick.set_horizontalalignment("right")
                    tick.set_rotation_mode("anchor")
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
        if ylabel:
            ax.set_ylabel(ylabel)

    @user_facing
    def rungs(self, levels: Sequence[float] | None = None, ax: Axes | None = None) -> Figure:
        """Bars: how many trials reported at least each resource level.

        The levels are ``levels``, else the rung levels the study knows (``settings["rung_levels"]``
        or the live scheduler's decision points, with the furthest level reached), else the levels
        at which completed, stopped and paused trials ended (the rungs, for a loaded study).
        """
        study, resource = self.study, resource_of(self.study)
        per_rung = trials_per_rung(study, levels)
        chosen, counts = list(per_rung), list(per_rung.values())
        fig, ax = canvas(ax, (BASE_SIZE[0], 3.6))
        bars = ax.bar(range(len(chosen)), counts, color="C0", tick_label=[fmt(v) for v in chosen])
        ax.bar_label(bars, padding=2, fontsize="small")
        ax.set_ylim(0, max(max(counts) * 1.15, 1))  # the tallest bar's count below the frame
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # it counts trials: no 2.5
        ax.set_xlabel(f"{resource} (rung level)")
        ax.set_ylabel("trials that reached it")
        titled(ax, f"{study.name}: trials per rung")
        return fig
