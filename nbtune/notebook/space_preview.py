"""The space editor's preview of a hyperparameter: a small histogram of the values its domain
draws (a finite domain's shares), as PNG, drawn once per domain."""
from __future__ import annotations

import io

import numpy as np

from nbtune import space as S

__all__ = ["preview_figure", "preview_png"]

_PREVIEWS: dict[str, bytes] = {}  # repr(domain) -> PNG; a domain's preview is drawn once


def preview_figure(dom: S.Domain, samples: int = 400):
    """A small histogram of values drawn from `dom` (finite domains: each value's share). No
    tick labels, which cannot be read at its size: a numeric range has its ends written below
    it, large enough to read; a finite one's values are in the row's inputs."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    fig = Figure(figsize=(2.4, 0.7), dpi=72)
    if dom.values is not None:  # finite: the exact probabilities, nothing to sample
        ax = fig.add_axes((0.02, 0.06, 0.96, 0.9))
        vals, weights = dom.values, getattr(dom, "weights", None)
        ax.bar(range(len(vals)), weights or [1 / len(vals)] * len(vals), color="#4c72b0")
    else:
        ax = fig.add_axes((0.02, 0.34, 0.96, 0.62))
        rng = np.random.default_rng(0)
        draws = [dom.sample(rng) for _ in range(samples)]
        lo, hi = dom.lo, dom.hi  # type: ignore[attr-defined]
        log = getattr(dom, "log", False)
        bins = np.geomspace(lo, hi, 21) if log else np.linspace(lo, hi, 21)
        ax.hist(draws, bins=bins, color="#4c72b0")
        if log:
            ax.set_xscale("log")
        for x, end, align in ((0.02, lo, "left"), (0.98, hi, "right")):
            fig.text(x, 0.02, f"{end:.3g}", ha=align, va="bottom", fontsize=9, color="0.2")
    ax.tick_params(which="both", bottom=False, left=False, labelbottom=False, labelleft=False)
    return fig


def preview_png(dom: S.Domain, samples: int = 400) -> bytes:
    """:func:`preview_figure` as PNG, drawn once per domain."""
    key = repr(dom)
    if key not in _PREVIEWS:
        buf = io.BytesIO()
        preview_figure(dom, samples).savefig(buf, format="png")
        if len(_PREVIEWS) > 256:
            _PREVIEWS.clear()
        _PREVIEWS[key] = buf.getvalue()
    return _PREVIEWS[key]
