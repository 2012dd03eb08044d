"""What every figure of a study shares: the Axes it draws on, how a finite domain's values sit
on an axis, the kinds of domains drawn on a log or a categorical axis, and the alphas and counts
the figures agree on (:mod:`nbtune.plots`, :mod:`nbtune.curves`, :mod:`nbtune.parallel`,
:mod:`nbtune.comparison`)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib import rcParams
from matplotlib.axes import Axes
from matplotlib.font_manager import FontProperties
from matplotlib.figure import Figure

from .images import BASE_SIZE, StudyFigure, figure_size
from .formatting import fmt

LOG_KINDS = frozenset({"loguniform", "lograndint", "logspace"})
FADED = 0.3
"""Alpha of the lines of trials that did not run to the end (stopped, failed, interrupted)."""
LABELLED = 3
"""The best trials whose learning curves have a colour of their own and a legend entry."""
MANY_CURVES = 100
"""Past this many learning curves, those without a colour of their own are drawn together, one
collection per style: a line each cost ~1 ms (1.1 s for a 1,000-trial study's summary)."""


def canvas(ax: Axes | None, size: tuple[float, float] = BASE_SIZE,
           text_height: float = 0.0) -> tuple[Figure, Axes]:
    """The figure and Axes to draw on: ``ax`` and its figure, or a new :class:`StudyFigure`
    of ``size`` inches (never pyplot's; scaled to the notebook's ``rcParams["figure.figsize"]``
    where it set one, see :func:`~nbtune.images.figure_size`). An ``ax`` that is not an Axes
    is refused, saying what ``ax=`` takes (``ax="left"`` failed in nbtune's code with "'str'
    object has no attribute 'figure'": first-day test, round 38)."""
    if ax is not None and not isinstance(ax, Axes):
        raise ValueError(f"ax= takes a matplotlib Axes (fig, ax = plt.subplots(); then ax=ax, "
                         f"or ax=axes[0] of several), got {type(ax).__name__} {ax!r}")
    if ax is None:  # ``text_height`` inches for titles and labels, which no size scales
        width, height = figure_size(*size)
        fig = StudyFigure(figsize=(width, height + text_height), layout="constrained")
        return fig, fig.add_subplot()
    return ax.figure, ax  # type: ignore[return-value]


def titled(ax: Axes, text: str, **kwargs: Any) -> None:
    """``ax``'s title, broken into lines that fit the axes' width: at a paper's column width
    (``figure.figsize`` 3.4 x 2.4 in) one line ran past both edges, cut off in the saved file
    (first-day test, round 38)."""
    import textwrap

    inches = ax.figure.get_figwidth() * ax.get_position().width
    points = FontProperties(size=kwargs.get("fontsize", rcParams["axes.titlesize"])
                            ).get_size_in_points()
    chars = max(16, int(inches * 72 / (0.6 * points)))  # a character: about 0.6 of its size
    ax.set_title("\n".join(textwrap.fill(line, chars) for line in text.split("\n")), **kwargs)


def codes(domain: Any, values: list) -> list[float]:
    """Index of each value among a finite domain's values (NaN for a value not among them)."""
    n, out = len(domain.values), []
    for v in values:
        try:
            out.append(float(round(domain.to_unit(v) * n - 0.5)))
        except (ValueError, TypeError):
            out.append(math.nan)
    return out


def legible(legend: Any) -> None:
    """The legend's marks of faded lines and dots, strong enough to read (the "stopped" line
    was near invisible: first-day test, round 27); the lines themselves stay faded."""
    for handle in legend.legend_handles:
        alpha = handle.get_alpha()
        if alpha is not None and alpha < 0.6:
            handle.set_alpha(0.6)


OUTLYING = 100.0
"""A value is out of a figure's range where it lies this many times farther from the best than
every value nearer the best (the nearer being at least half of them): a learning rate's blown-up
runs, RMSE 5e12 among values of 35, drew the rest as one flat line at 0 (first-day test,
round 42). A tail that grows by smaller steps stays in view: it is the study's own spread."""


@dataclass(frozen=True)
class InView:
    """The values a figure keeps in view, from ``lo`` to ``hi``; ``left`` values lie beyond
    them on the worse side, the farthest at ``worst``."""

    lo: float
    hi: float
    left: int
    worst: float
    mode: str

    def limits(self, margin: float = 0.05) -> tuple[float, float]:
        """The axis's range: the values in view, with a margin of that share of their span."""
        span = (self.hi - self.lo) or abs(self.hi) or 1.0
        return self.lo - margin * span, self.hi + margin * span

    def note(self, what: str | None = None) -> str:
        """What was left out, in words: "not in view: 2 trials above 36.8 (up to 5e+12)";
        ``what``: the words in place of "2 trials"."""
        side, edge = ("below", self.lo) if self.mode == "max" else ("above", self.hi)
        what = what or f"{self.left} trial{'s' if self.left > 1 else ''}"
        reach = "down to" if self.mode == "max" else "up to"
        return f"not in view: {what} {side} {fmt(edge, 3)} ({reach} {fmt(self.worst, 3)})"


def in_view(values: Any, mode: str) -> InView | None:
    """The range of ``values`` a figure shows where a few lie orders of magnitude worse than the
    rest (see :data:`OUTLYING`), None where all of them fit (or where there are too few, under
    5, to tell). The values are sorted by their distance from the best; the first step past the
    nearer half to a distance :data:`OUTLYING` times the one before it, and the values' median
    size, starts the values left out."""
    finite = np.asarray(values, dtype=float).ravel()  # None: NaN, left out with the others
    finite = finite[np.isfinite(finite)]
    if len(finite) < 5:
        return None
    best = float(finite.max() if mode == "max" else finite.min())
    order = np.argsort(np.abs(finite - best), kind="stable")
    far = np.abs(finite - best)[order]
    # a jump is OUTLYING times the distance before it and the values' own size: a model that
    # put most trials within 0.001 of an accuracy of 0.9 leaves those 0.3 below in view (their
    # spread is the study's, not a blow-up); a step from the best itself (0) is none
    scale = np.maximum(far[:-1], abs(float(np.median(finite))))
    jumps = np.flatnonzero((far[:-1] > 0) & (far[1:] > OUTLYING * scale)) + 1
    jumps = jumps[jumps > len(far) // 2]
    if not len(jumps):
        return None
    kept, left = finite[order[:jumps[0]]], finite[order[jumps[0]:]]
    return InView(float(kept.min()), float(kept.max()), len(left), float(left[-1]), mode)


def keep_in_view(ax: Axes, values: Any, mode: str) -> str:
    """Set ``ax``'s y-range to the values :func:`in_view` keeps, where some lie orders of
    magnitude worse; returns the note that says what was left out (for a title: "not in view:
    2 trials above 36.8 (up to 5e+12)"), or "" where every value is in view."""
    view = in_view(values, mode)
    if view is None:
        return ""
    ax.set_ylim(*view.limits())
    return view.note()
