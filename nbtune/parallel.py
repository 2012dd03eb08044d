"""``study.plot.parallel_coordinates()``: one vertical axis per hyperparameter and one for the
metric, a line per trial (see :meth:`nbtune.plots.StudyPlots.parallel_coordinates`)."""
from __future__ import annotations

import math
import re
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import trial as T
from .domains import CATEGORICAL_KINDS
from .images import BASE_SIZE
from .drawing import (FADED, LABELLED, LOG_KINDS, MANY_CURVES, canvas,
                      codes, in_view, titled)
from .formatting import choice_text, fmt
from .ranking import completed, empty_message, score


def _axis(domain: Any, values: list) -> tuple[list[float], list[tuple[float, str]]]:
    """Positions in [0, 1] of a hyperparameter's values on its axis, and the axis's ticks."""
    kind = getattr(domain, "kind", "")
    if kind in CATEGORICAL_KINDS:
        choices = domain.values
        n = len(choices)
        spread = [c / (n - 1) if n > 1 else 0.5 for c in codes(domain, values)]
        return spread, [(k / (n - 1) if n > 1 else 0.5, choice_text(v))
                        for k, v in enumerate(choices)]
    lo, hi = getattr(domain, "lo", None), getattr(domain, "hi", None)
    if lo is None or hi is None:  # the metric's axis: the values seen
        lo, hi = min(values), max(values)
    f = math.log10 if kind in LOG_KINDS else float
    a, b = f(lo), f(hi)
    span = (b - a) or 1.0
    spread = [(f(v) - a) / span if T.is_finite_number(v) else math.nan for v in values]
    inner = _inner_ticks(lo, hi, kind in LOG_KINDS, kind in ("randint", "lograndint"))
    return spread, [(0.0, fmt(lo)), *[((f(v) - a) / span, fmt(v)) for v in inner],
                    (1.0, fmt(hi))]


def _inner_ticks(lo: float, hi: float, log: bool, integer: bool) -> list[float]:
    """The ticks between an axis's ends: on a log axis its decades (at most three, every other
    where there are more), else a round value near its middle, a whole one on an integer
    axis. The geometric middle read 0.05477 on a learning rate's axis, and 7.071 on a
    lograndint(1, 50)'s (first-day test, round 65)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi or (log and lo <= 0):
        return []
    if log:
        decades = [10.0 ** k for k in range(math.ceil(math.log10(lo)),
                                             math.floor(math.log10(hi)) + 1)
                   if lo < 10.0 ** k < hi]
        while len(decades) > 3:
            decades = decades[::2]
        if decades:
            return decades
    f = math.log10 if log else float
    middle = 10 ** ((f(lo) + f(hi)) / 2) if log else (lo + hi) / 2
    for digits in range(1, 5):  # the roundest value in the middle half of the axis
        rounded = float(f"{middle:.{digits}g}")
        if integer:
            rounded = float(round(rounded))
        if (rounded > 0 or not log) and 0.25 <= (f(rounded) - f(lo)) / (f(hi) - f(lo)) <= 0.75:
            return [rounded]
    return []


def _wrapped(name: str, width: int = 14) -> str:
    """A long name on lines of about ``width`` characters, broken after its underscores
    ("sgdclassifier__\nalpha"), so that the names under neighbouring axes do not overlap."""
    if len(name) <= width:
        return name
    lines = [""]
    for part in re.split(r"(?<=_)(?=[^_])", name):
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)


def parallel_coordinates(study: Any, ax: Axes | None = None) -> Figure:
    """The figure of :meth:`nbtune.plots.StudyPlots.parallel_coordinates`."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.transforms import offset_copy

    if not completed(study):
        raise ValueError(empty_message(study))
    drawn = [t for t in list(study.trials) if t.state in (T.COMPLETED, T.STOPPED, T.PAUSED)
             and T.is_finite_number(score(study, t))]
    names = study.space.unit_names
    columns = [_axis(study.space[n], [t.config.get(n) for t in drawn]) for n in names]
    values = [float(score(study, t)) for t in drawn]
    # a few values orders of magnitude worse (blown-up runs) would squeeze the rest into one
    # colour at one end of the metric's axis: they sit at its edge instead, and are named
    view = in_view(values, study.mode)
    lo, hi = (view.lo, view.hi) if view else (min(values), max(values))
    columns.append(_axis(None, [min(max(v, lo), hi) for v in values]))
    labels = [_wrapped(n) for n in names + [study.metric]]
    longest = max(len(line) for label in labels for line in label.splitlines())
    per_axis = max(1.6, 0.08 * longest + 0.4)  # inches: room for the names under the axes
    fig, ax = canvas(ax, (max(BASE_SIZE[0], per_axis * len(columns)), BASE_SIZE[1]))
    xs = list(range(len(columns)))
    # the best on top: worse lines first, those that did not finish under all
    order = sorted(range(len(drawn)), key=lambda i: (
        drawn[i].state == T.COMPLETED, values[i] if study.mode == "max" else -values[i]))
    many = len(drawn) > MANY_CURVES
    if not many:
        cmap = colormaps["viridis" if study.mode == "max" else "viridis_r"]
        norm = Normalize(lo, hi if hi > lo else lo + 1.0)
        shade = {i: norm(values[i]) for i in range(len(drawn))}
        shown_apart = order
    else:  # by rank: on a linear scale most lines of a big study were one colour
        from matplotlib.collections import LineCollection

        cmap, norm = colormaps["viridis"], Normalize(0.0, 1.0)
        by_value = sorted(range(len(drawn)),  # worst first: the best is 1, the brightest
                          key=lambda i: values[i] if study.mode == "max" else -values[i])
        shade = {i: k / (len(drawn) - 1) for k, i in enumerate(by_value)}
        shown_apart = order[-max(LABELLED, len(order) // 10):]
        apart = set(shown_apart)  # the others in a collection each, faint: the best tenth shows
        for finished in (False, True):
            rest = [i for i in order if i not in apart
                    and (drawn[i].state == T.COMPLETED) == finished]
            if rest:
                ax.add_collection(LineCollection(
                    [list(zip(xs, [col[0][i] for col in columns])) for i in rest],
                    colors=[cmap(shade[i]) for i in rest], alpha=0.35 if finished else 0.12,
                    linewidths=0.8, zorder=2 if finished else 1,
                    gid="trials-completed" if finished else "trials-ended"))
    for i in shown_apart:
        t, finished = drawn[i], drawn[i].state == T.COMPLETED
        ax.plot(xs, [col[0][i] for col in columns], color=cmap(shade[i]),
                alpha=0.8 if finished else FADED, linewidth=1.2 if finished else 0.8,
                zorder=2.5 if finished else 1.5, gid=f"trial-{t.id}")
    ax.vlines(xs, 0.0, 1.0, colors="0.25", linewidth=1.0, zorder=3)
    beside = offset_copy(ax.transData, fig=fig, x=-5, units="points")  # left of the line
    for x, (_, ticks) in zip(xs, columns):
        for y, label in ticks:
            ax.text(x, y, label, ha="right", va="center", fontsize=7, color="0.2",
                    transform=beside, zorder=4, gid="tick",
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8,
                          "pad": 0.6})
    ax.set_xticks(xs, labels, fontsize="small")
    ax.set_yticks([])
    ax.set_xlim(-0.6, len(columns) - 0.5)
    ax.set_ylim(-0.05, 1.05)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    stopped = sum(1 for t in drawn if t.state != T.COMPLETED)
    note = f" ({stopped} stopped early, faded: their last value)" if stopped else ""
    titled(ax, f"{study.name}: parallel coordinates{note}"
           + (f"\n({view.note()}, at the edge of its axis)" if view else ""))
    if not many:  # the colours of the values out of view: the bar's arrow at that end
        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=study.metric,
                     extend="neither" if view is None else "min" if study.mode == "max"
                     else "max")
        return fig
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax,
                       label=f"{study.metric}, coloured by rank")
    ranked_values = [values[i] for i in by_value]
    ticks = [0.0, 0.25, 0.5, 0.75, 0.9, 1.0]
    bar.set_ticks(ticks, labels=[fmt(ranked_values[round(q * (len(drawn) - 1))])
                                 for q in ticks])
    return fig
