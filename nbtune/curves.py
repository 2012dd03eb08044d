"""``study.plot.learning_curves()``: the metric against the resource, a line per trial (see
:meth:`nbtune.plots.StudyPlots.learning_curves`)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedFormatter, FixedLocator, MaxNLocator, NullLocator

from . import trial as T
from .drawing import FADED, LABELLED, MANY_CURVES, canvas, in_view, legible, titled
from .ranking import completed, curve, empty_message, rank_trials, resource_of, scored_once

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


def learning_curves(study: Any, resource: str | None = None, top: int | None = None,
                    ax: Axes | None = None, among: Sequence[T.Trial] | None = None) -> Figure:
    """The figure of :meth:`nbtune.plots.StudyPlots.learning_curves`."""
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
        keys = sorted({k for t in trials for r in t.reports[:1] for k in r} - {study.metric})
        other = (f"; they report {', '.join(keys)}: learning_curves(resource='NAME') draws "
                 "along the one that counts their training" if keys else "")  # (round 65)
        raise ValueError(scored_once(study, "learning curves")
                         or f"no trial reported {resource!r} with {study.metric!r}: learning "
                            f"curves need report({resource}=..., {study.metric}=...){other}")
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
        state = T.state_word(T.shown_state(by_id[trial_id]), study.stop_reason)
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
    rungs = _geometric_rungs(study, resource, [curves[t.id][0] for t in chosen])
    if rungs:  # ASHA's rungs 1, 3, 9, 27 evenly apart, not the first ones crowded at the left
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(rungs))
        ax.xaxis.set_major_formatter(FixedFormatter([f"{x:g}" for x in rungs]))
        ax.xaxis.set_minor_locator(NullLocator())
    elif all(float(x).is_integer() for t in chosen for x in curves[t.id][0]):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _focus(study, ax, [curves[t.id][1] for t in ranked], [curves[t.id][1] for t in chosen])
    _say_unseen(ax, labelled, named, {key: [curves[t.id][1] for t in chosen
                                            if _group(t, best, named) == key]
                                      for key in ("ended", "others")}, curves)
    ax.set_xlabel(f"{resource} (log scale, ticks at the rungs)" if rungs else resource)
    ax.set_ylabel(study.metric)
    left_out = len(trials) - len(chosen) if top is not None else 0
    titled(ax, f"{study.name}: learning curves" + (
        f", the best {len(chosen)} of {len(trials):,} trials" if left_out > 0 else ""))
    if handles:
        legible(ax.legend(handles=handles, loc="best", fontsize="small"))
    return fig


def _geometric_rungs(study: Any, resource: str, xs: list[list[float]]) -> list[int]:
    """The study's rung levels where they grow geometrically over a wide span (three or more,
    up to eight, the last at least nine times the first: ASHA's and Hyperband's 1, 3, 9, ...)
    and the curves drawn are of its resource, all above zero; else []. On a linear axis the
    rungs where most trials stop shared the left tenth of the plot (first-day test, round 63)."""
    levels = sorted(study.settings.get("rung_levels") or [])
    if resource != resource_of(study) or not 3 <= len(levels) <= 8 or levels[0] <= 0 or \
            levels[-1] < 9 * levels[0] or any(x <= 0 for line in xs for x in line):
        return []
    return levels


def _group(t: T.Trial, best: T.Trial | None, named: dict[int, str]) -> Any:
    """The legend's entry a trial's curve is drawn under: its own (its id), or a group's."""
    if (best is not None and t.id == best.id) or t.id in named:
        return t.id
    return "ended" if t.state in (T.STOPPED, T.FAILED, T.INTERRUPTED) else "others"


def _say_unseen(ax: Axes, labelled: dict[Any, Any], named: dict[int, str],
                groups: dict[str, list[list[float]]],
                curves: dict[int, tuple[list[float], list[float]]]) -> None:
    """Add "out of view" to a legend entry none of whose curves the y-range shows: the legend
    named "trial 1 (stopped)" and "stopped" where 9 of 12 curves lay below the range the best
    trials set, and nothing of them was drawn (first-day test, round 50)."""
    lo, hi = ax.get_ylim()

    def unseen(every: list[list[float]]) -> bool:
        return bool(every) and not any(lo <= y <= hi for ys in every for y in ys)

    for key in [*named, *groups]:
        line = labelled.get(key)
        every = [curves[key][1]] if key in named else groups[key]
        if line is not None and unseen(every):
            label = line.get_label()
            line.set_label(f"{label[:-1]}, out of view)" if label.endswith(")")
                           else f"{label} (out of view)")


def _focus(study: Any, ax: Axes, ranked: list[list[float]], every: list[list[float]]) -> None:
    """Fit the y-range to the curves that matter: the best quarter of the ``ranked`` ones (at
    least 3) by each one's best value, whose values past their worst tenth set the range, with
    a margin; the other curves of ``every`` may leave it. With few curves, or when that range
    is nearly all of it, all stay in view. The quarter is chosen by value, not by rank:
    completed trials rank first whatever their value, and two completed blown-up ones (RMSE
    5e12) made the range 0 to 5e12 (first-day test, round 42); a value orders of magnitude off
    within the quarter (a curve that blew up after a good start) is left out too
    (:func:`~nbtune.drawing.in_view`)."""
    if len(ranked) < 4:
        return
    better = max if study.mode == "max" else min
    best_first = sorted(ranked, key=better, reverse=study.mode == "max")
    focus = np.concatenate([np.asarray(ys, dtype=float)
                            for ys in best_first[:max(3, math.ceil(len(ranked) / 4))]])
    kept = in_view(focus, study.mode)
    if kept is not None:
        focus = focus[(focus >= kept.lo) & (focus <= kept.hi)]
    values = np.concatenate([np.asarray(ys, dtype=float) for ys in every])
    if study.mode == "max":
        lo, hi = float(np.quantile(focus, 0.1)), float(focus.max())
    else:
        lo, hi = float(focus.min()), float(np.quantile(focus, 0.9))
    span = hi - lo
    if span <= 0 or span > 0.8 * (values.max() - values.min()):
        return
    ax.set_ylim(lo - 0.08 * span, hi + 0.08 * span)
