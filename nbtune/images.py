"""Figures as PNG bytes: once (:func:`to_png`, a notebook's image of a figure) or again and
again at half the cost (:class:`FixedFrame`, the live panel's curves)."""
from __future__ import annotations

import io
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure


BASE_SIZE = (6.4, 4.0)
"""The inches of nbtune's one-Axes figures: matplotlib's width, a little less tall."""


def figure_size(width: float, height: float) -> tuple[float, float]:
    """The size of a figure nbtune would draw ``width`` by ``height`` inches: that, unless the
    notebook set ``matplotlib.rcParams["figure.figsize"]``, which then stands for
    :data:`BASE_SIZE` and scales the other sizes alike (a figure sized to its content, a grid of
    plots). A size set for a report's figures was ignored."""
    import matplotlib

    asked = tuple(matplotlib.rcParams["figure.figsize"])
    if asked == tuple(matplotlib.rcParamsDefault["figure.figsize"]):
        return width, height
    return width * asked[0] / BASE_SIZE[0], height * asked[1] / BASE_SIZE[1]


class StudyFigure(Figure):
    """A Figure that shows itself as a PNG in a notebook, with or without a pyplot backend,
    with its titles as the image's alternative text (nbconvert's HTML named the figures of
    ``compare`` and ``study.plot`` as images without one: first-day test, round 22)."""

    def _repr_png_(self) -> tuple[bytes, dict[str, str]]:
        return to_png(self), {"alt": self.alt_text()}

    def alt_text(self) -> str:
        """The figure's title, else its axes' titles, in words: "nbtune figure" where none."""
        title = self._suptitle.get_text() if self._suptitle is not None else ""
        titles = [title] if title else [ax.get_title() for ax in self.axes if ax.get_title()]
        return "; ".join(titles) or "nbtune figure"


def to_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


class FixedFrame:
    """Images of one kind of figure drawn again and again (the live panel's curves), at half
    the cost of :func:`to_png`'s: the axes keep the place a constrained layout found for an
    earlier image (of this frame, or of another of the same size in this process), with no
    layout solved and no tight box measured (0.08 s against 0.16 s an image of 50 curves,
    here). Where an image's labels leave that place (longer tick labels, a taller title), the
    layout is solved again and its place kept. The title stays at the axes' top: these figures
    have no tick labels above the axes for it to clear."""

    places: dict[tuple, Any] = {}  # the latest place of each (size, dpi), for the next frame

    def __init__(self, size: tuple[float, float] = (6.4, 4.0), dpi: int = 80) -> None:
        self.size, self.dpi = size, dpi

    def png(self, draw: Any) -> bytes:
        """PNG bytes of what ``draw(ax)`` puts on a new Axes (its ValueError, nothing to draw,
        passes through)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig = Figure(figsize=self.size, dpi=self.dpi)
        FigureCanvasAgg(fig)  # drawn by Agg, whose renderer then knows the labels' sizes
        ax = fig.add_subplot()
        key = (self.size, self.dpi)
        place = self.places.get(key)
        if place is not None:
            ax.set_position(place)
        draw(ax)
        ax.set_title(ax.get_title(), y=1.0)  # not placed above top tick labels: none
        if place is not None:
            png = self._render(fig)
            if self._fits(fig, ax):
                return png
        ax.set_in_layout(True)  # which set_position took away
        fig.set_layout_engine("constrained")
        png = self._render(fig)
        self.places[key] = ax.get_position()
        return png

    @staticmethod
    def _render(fig: Figure) -> bytes:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi="figure")
        return buffer.getvalue()

    @staticmethod
    def _fits(fig: Figure, ax: Axes) -> bool:
        """Whether the labels round the axes lie in the image (they were just drawn: their
        sizes are known without drawing again). A title wider than the image is let be: no
        layout would make it fit."""
        renderer = fig.canvas.get_renderer()
        width, height = fig.bbox.width, fig.bbox.height
        frame = ax.bbox  # a tick label is drawn where its tick lies in the axes' span only

        def boxes(texts: list, along: str = "") -> list:
            out = [t.get_window_extent(renderer) for t in texts
                   if t.get_visible() and t.get_text()]
            if not along:
                return out
            lo, hi = (frame.x0, frame.x1) if along == "x" else (frame.y0, frame.y1)
            return [b for b in out
                    if lo - 1 <= ((b.x0 + b.x1) if along == "x" else (b.y0 + b.y1)) / 2 <= hi + 1]

        left = boxes(ax.get_yticklabels(), "y") + boxes([ax.yaxis.label])
        below = boxes(ax.get_xticklabels(), "x") + boxes([ax.xaxis.label])
        return (all(0 <= b.x0 and 0 <= b.y0 and b.y1 <= height for b in left)
                and all(0 <= b.y0 and 0 <= b.x0 and b.x1 <= width for b in below)
                and all(b.y1 <= height for b in boxes([ax.title])))
