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
    integer = dom.kind in ("randint", "lograndint")
    if dom.values is not None:  # finite: the exact probabilities, nothing to sample
        vals, weights = dom.values, getattr(dom, "weights", None)
        # a numeric grid (linspace, logspace) has its ends written below it, as a range has
        numeric = len(vals) > 1 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                        for v in vals) and dom.kind in ("linspace", "logspace")
        ax = fig.add_axes((0.02, 0.34, 0.96, 0.62) if numeric else (0.02, 0.06, 0.96, 0.9))
        ax.bar(range(len(vals)), weights or [1 / len(vals)] * len(vals), color="#4c72b0")
        ends = (vals[0], vals[-1]) if numeric else None
    else:
        ax = fig.add_axes((0.02, 0.34, 0.96, 0.62))
        rng = np.random.default_rng(0)
        draws = np.array([dom.sample(rng) for _ in range(samples)], dtype=float)
        lo, hi = dom.lo, dom.hi  # type: ignore[attr-defined]
        log = getattr(dom, "log", False)
        weights = None
        if integer and not log:  # bins of whole values, each bar its values' mean share: 20
            # bins over randint(20, 60)'s 41 values drew its last bin half again as tall
            # (first-day test, round 66)
            bins = np.unique(np.round(np.linspace(lo, hi + 1, 21))) - 0.5
            counts = np.diff(bins)
            weights = 1 / counts[np.clip(np.searchsorted(bins, draws) - 1, 0, len(counts) - 1)]
        else:
            bins = np.geomspace(lo, hi, 21) if log else np.linspace(lo, hi, 21)
        ax.hist(draws, bins=bins, weights=weights, color="#4c72b0")
        if log:
            ax.set_xscale("log")
        ends = (lo, hi)
    if ends is not None:
        for x, end, align in ((0.02, ends[0], "left"), (0.98, ends[1], "right")):
            shown = str(int(end)) if integer or (float(end).is_integer() and abs(end) < 1e6) \
                else f"{end:.3g}"  # lograndint(1, 1000)'s end read 1e+03
            fig.text(x, 0.02, shown, ha=align, va="bottom", fontsize=9, color="0.45")
    ax.tick_params(which="both", bottom=False, left=False, labelbottom=False, labelleft=False)
    return fig


def preview_png(dom: S.Domain, samples: int = 400) -> bytes:
    """:func:`preview_figure` as PNG, drawn once per domain."""
    key = repr(dom)
    if key not in _PREVIEWS:
        buf = io.BytesIO()
        # on no background of its own: a white box on JupyterLab's dark theme (round 66); its
        # grey ends read on either
        preview_figure(dom, samples).savefig(buf, format="png", transparent=True)
        if len(_PREVIEWS) > 256:
            _PREVIEWS.clear()
        _PREVIEWS[key] = buf.getvalue()
    return _PREVIEWS[key]
