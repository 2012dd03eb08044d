"""Studies side by side: :func:`compare` draws the best value so far of each study, one line
per study, named in the legend (``study.plot.history(ax=ax)`` draws one study; two drawn on one
Axes had the same colours and legend entries, with no study's name: first-day test, round 9).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import trial as T
from .caller import user_facing, warn_note
from .drawing import canvas, titled
from .ranking import completed, empty_message, fmt
from .studies import load_study
from .study import Study

BY = ("trial", "time")


MARKED = 200  # a study's line has a marker per trial up to this many ended trials
BESIDE = 4  # studies whose legend is drawn on the axes; more: below them (first-day test, 38)
# each study's line its own dashes and marker, beside its colour: two studies of one seed share
# their first random trials, and the second line hid the first (first-day test, round 19)
STYLES = (("-", "."), ("--", "x"), (":", "+"), ("-.", "1"))
ENDED = (T.COMPLETED, T.STOPPED, T.FAILED)  # trials that spent what the study had


@user_facing
def _focus(ax: Axes, bests: list[np.ndarray], mode: str) -> None:
    """Fit the y-range to where the studies' bests differ: from each one's best after its first
    tenth of trials to the best of all, with a margin; the first trials' steps may leave it.
    The axis started at the first trial's value, and 0.77 against 0.78 was a few pixels at its
    top (first-day test, round 36). With few trials, or where that is nearly all of the
    range anyway, everything stays in view."""
    seen = [b[~np.isnan(b)] for b in bests]
    if any(len(b) < 10 for b in seen):
        return
    early = [float(b[len(b) // 10]) for b in seen]  # each study's best after a tenth
    final = [float(b[-1]) for b in seen]
    lo, hi = (min(early), max(final)) if mode == "max" else (min(final), max(early))
    every = np.concatenate(seen)
    span = hi - lo
    if span <= 0 or span > 0.8 * float(every.max() - every.min()):
        return
    ax.set_ylim(lo - 0.08 * span, hi + 0.08 * span)


def compare(*studies: Any, by: str = "trial", storage: str | os.PathLike | None = None,
            ax: Axes | None = None) -> Figure:
    """The best metric so far of each study against its ended trials (``by="trial"``: completed,
    stopped early and failed, each a step, so that a study whose scheduler stopped most of its
    trials is drawn over all of them) or against the seconds since its first trial started
    (``by="time"``; a resumed study's pause counts), one line per study, its name, completed
    trials and best in the legend.

    ``studies``: :class:`~nbtune.Study` objects (``study``, a search's ``study_``) or names of
    studies in ``storage`` (the file :func:`nbtune.load_study` reads by default). They must
    optimise in the same direction (``mode``). Returns the figure (``ax=`` draws on yours).
    """
    if not studies:
        raise ValueError("compare needs studies: nbtune.compare(study_a, study_b), or their "
                         "names in a storage file: nbtune.compare('a', 'b', storage='runs.db')")
    if by not in BY:
        raise ValueError(f"by must be 'trial' or 'time', got {by!r}")
    loaded = [s if isinstance(s, Study) else load_study(s, storage=storage) for s in studies]
    modes = {s.mode for s in loaded}
    if len(modes) > 1:
        which = ", ".join(f"{s.name!r} ({s.metric}, {s.mode})" for s in loaded)
        raise ValueError(f"the studies optimise in different directions: {which}; compare "
                         "studies of one mode")
    fig, ax = canvas(ax)
    better = np.maximum if loaded[0].mode == "max" else np.minimum
    bests = []
    for i, study in enumerate(loaded):
        good = completed(study)
        if not good:
            raise ValueError(f"study {study.name!r}: {empty_message(study)}")
        kept = {t.id for t in good}
        done = sorted((t for t in list(study.trials) if t.state in ENDED or t.id in kept),
                      key=lambda t: (t.finished or 0.0, t.id))
        values = np.array([t.value if t.id in kept else np.nan for t in done], dtype=float)
        best = (np.fmax if better is np.maximum else np.fmin).accumulate(values)  # NaN: none yet
        bests.append(best)
        if by == "trial":
            x = np.arange(1, len(done) + 1)
        else:
            start = min(t.started for t in study.trials if t.started is not None)
            x = np.array([(t.finished or start) - start for t in done])
        dashes, marker = STYLES[i % len(STYLES)]
        of = f" of {len(done)}" if len(done) > len(good) else ""
        ax.plot(x, best, drawstyle="steps-post", color=f"C{i % 10}", linestyle=dashes,
                marker=marker if len(done) <= MARKED else None,  # 3,000 drew a thick band
                label=f"{study.name}: best {fmt(best[-1])} ({len(good)} completed{of})",
                gid=f"compare-{i}")
    _focus(ax, bests, loaded[0].mode)
    metrics = list(dict.fromkeys(s.metric for s in loaded))
    if len(metrics) > 1:  # drawn on one axis without a word (first-day test, round 26)
        warn_note(f"compare draws {' and '.join(repr(m) for m in metrics)} on one axis: "
                  "they compare only where they measure the same thing on the same data")
    if by == "trial":  # trials are whole: no tick at 1.5
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("ended trials" if by == "trial" else "seconds since the first trial")
    ax.set_ylabel(f"best {' / '.join(metrics)} so far")
    titled(ax, f"{len(loaded)} stud{'y' if len(loaded) == 1 else 'ies'}: best so far "
               f"({loaded[0].mode})")
    if len(loaded) > BESIDE:  # below the axes: "best" put six studies' legend on their lines
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize="small",
                  ncols=2 if len(loaded) > 2 * BESIDE else 1)
    else:
        ax.legend(loc="best", fontsize="small")
    return fig
