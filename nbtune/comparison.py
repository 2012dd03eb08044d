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

from .caller import user_facing
from .plots import canvas
from .ranking import completed, empty_message, fmt
from .study import Study, load_study

BY = ("trial", "time")


MARKED = 200  # a study's line has a marker per trial up to this many completed trials


@user_facing
def compare(*studies: Any, by: str = "trial", storage: str | os.PathLike | None = None,
            ax: Axes | None = None) -> Figure:
    """The best metric so far of each study against its completed trials (``by="trial"``) or
    against the seconds since its first trial started (``by="time"``; a resumed study's pause
    counts), one line per study, its name, trials and best in the legend.

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
    for i, study in enumerate(loaded):
        done = sorted(completed(study), key=lambda t: (t.finished or 0.0, t.id))
        if not done:
            raise ValueError(f"study {study.name!r}: {empty_message(study)}")
        best = better.accumulate(np.array([t.value for t in done], dtype=float))
        if by == "trial":
            x = np.arange(1, len(done) + 1)
        else:
            start = min(t.started for t in study.trials if t.started is not None)
            x = np.array([(t.finished or start) - start for t in done])
        marker = "." if len(done) <= MARKED else None  # 3,000 markers drew a thick band
        ax.plot(x, best, drawstyle="steps-post", marker=marker, color=f"C{i % 10}",
                label=f"{study.name}: best {fmt(best[-1])} ({len(done)} completed)",
                gid=f"compare-{i}")
    metrics = list(dict.fromkeys(s.metric for s in loaded))
    if by == "trial":  # trials are whole: no tick at 1.5
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("completed trials" if by == "trial" else "seconds since the first trial")
    ax.set_ylabel(f"best {' / '.join(metrics)} so far")
    ax.set_title(f"{len(loaded)} stud{'y' if len(loaded) == 1 else 'ies'}: best so far "
                 f"({loaded[0].mode})")
    ax.legend(loc="best", fontsize="small")
    return fig
