"""Studies side by side: :func:`compare` draws the best value so far of each study, one line
per study, named in the legend (``study.plot.history(ax=ax)`` draws one study; two drawn on one
Axes had the same colours and legend entries, with no study's name: first-day test, round 9).
"""
from __future__ import annotations

import os
import re
import warnings
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import trial as T
from .caller import user_facing, warn_note
from .drawing import canvas, in_view, titled
from .formatting import fmt
from .ranking import completed, empty_message
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
    range anyway, everything stays in view, but for first bests orders of magnitude worse than
    the rest (a blown-up first trial: :func:`~nbtune.drawing.in_view`). :func:`_out_of_view`
    says what left the view."""
    seen = [b[~np.isnan(b)] for b in bests]
    view = in_view(np.concatenate(seen), mode)
    if view is not None:  # the blown-up first steps leave the view, and the focus below
        ax.set_ylim(*view.limits())
        seen = [b[(b >= view.lo) & (b <= view.hi)] for b in seen]
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


def _out_of_view(ax: Axes, drawn: list[np.ndarray], mode: str) -> str:
    """What of the drawn lines lies beyond the axis's worse edge, as the title's note ("not in
    view: first bests so far above 21.4 (up to 101)"), "" where nothing does. The note was
    made from the threshold of far values, and named 101 where the axis ended at 21 (check
    round 43)."""
    values = np.concatenate([d[np.isfinite(d)] for d in drawn]) if drawn else np.array([])
    low, high = ax.get_ylim()
    beyond = values[values > high] if mode == "min" else values[values < low]
    if not len(beyond):
        return ""
    edge, worst = (high, beyond.max()) if mode == "min" else (low, beyond.min())
    side, reach = ("above", "up to") if mode == "min" else ("below", "down to")
    return f"not in view: first bests so far {side} {fmt(float(edge), 3)} ({reach} " \
           f"{fmt(float(worst), 3)})"


def _curve(study: Study, by: str) -> tuple[np.ndarray, np.ndarray, int, int]:
    """A study's best value so far at each ended trial: (x, best, ended, completed), x the
    trial's count (``by="trial"``) or its end in seconds since the first trial started."""
    good = completed(study)
    if not good:
        # "study 'x': the study has ...", the study named twice (check round 43)
        raise ValueError(empty_message(study).replace("the study", f"study {study.name!r}", 1))
    kept = {t.id for t in good}
    done = sorted((t for t in list(study.trials) if t.state in ENDED or t.id in kept),
                  key=lambda t: (t.finished or 0.0, t.id))
    values = np.array([t.value if t.id in kept else np.nan for t in done], dtype=float)
    accumulate = np.fmax if study.mode == "max" else np.fmin
    best = accumulate.accumulate(values)  # NaN: none yet
    if by == "trial":
        x = np.arange(1, len(done) + 1)
    else:
        start = min(t.started for t in study.trials if t.started is not None)
        x = _running(study, start, np.array([t.finished or start for t in done], dtype=float))
    return x, best, len(done), len(good)


def _running(study: Study, origin: float, ends: np.ndarray) -> np.ndarray:
    """The seconds the study ran from ``origin`` to each of ``ends``: its runs' spans (kept
    in its settings by each run's end, and the run under way) and the spans its trials ran
    (a run that ended with its kernel kept none), not the time between a run and its resume.
    A study resumed three times was drawn over 7 minutes of its 87 s (first-day test, 58)."""
    spans = [tuple(span) for span in study.settings.get("run_spans", ())]
    if study.started_at is not None:
        spans.append((study.started_at, study.finished_at or max(ends.max(initial=origin),
                                                                 study.started_at)))
    spans += [(t.started, t.finished) for t in list(study.trials)
              if t.started is not None and t.finished is not None]
    merged: list[list[float]] = []
    for lo, hi in sorted((max(lo, origin), hi) for lo, hi in spans if hi > origin):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    if not merged:
        return ends - origin
    starts, stops = np.array(merged).T
    before = np.concatenate([[0.0], np.cumsum(stops - starts)])  # run seconds before each span
    i = np.searchsorted(starts, ends, side="right") - 1  # the span each end lies in, or after
    inside = np.clip(ends - starts[np.clip(i, 0, None)], 0.0, None)
    part = np.minimum(inside, (stops - starts)[np.clip(i, 0, None)])
    return np.where(i >= 0, before[np.clip(i, 0, None)] + part, 0.0)


def _at(x: np.ndarray, best: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The step line (x, best) read at each point of ``grid`` (NaN before its first step)."""
    where = np.searchsorted(x, grid, side="right") - 1
    return np.where(where >= 0, best[np.clip(where, 0, None)], np.nan)


def _groups(studies: tuple[Any, ...], storage: Any) -> list[tuple[str | None, list[Study]]]:
    """The arguments of :func:`compare` as (label, studies): a study or name alone (label None:
    its own name), a list or tuple of them (repeats: labelled by their names' common start), or
    one dict of label -> study or studies."""
    if len(studies) == 1 and isinstance(studies[0], dict):
        items = list(studies[0].items())
    else:
        items = [(None, s) for s in studies]
    out: list[tuple[str | None, list[Study]]] = []
    for label, item in items:
        many = isinstance(item, (list, tuple))
        members = list(item) if many else [item]
        if not members:
            raise ValueError(f"compare got an empty group{'' if label is None else f' {label!r}'}:"
                             " give each group one or more studies, {'asha': [a0, a1, a2]}")
        loaded = [s if isinstance(s, Study) else load_study(s, storage=storage) for s in members]
        if label is None and many and len(loaded) > 1:
            label = _common_start([s.name for s in loaded])
            if not label or all(re.match(r"study-\d{8}-\d{6}", s.name) for s in loaded):
                label = f"group {len(out) + 1}"  # default names: their time is no name (44)
            if label in [lab for lab, _ in out]:  # two lists of unnamed studies ("study-2026...")
                label = f"group {len(out) + 1}"  # read alike (check round 43)
        out.append((None if label is None else str(label), loaded))
    return out


def _members(label: str | None, members: list[Study], by: str) -> list[tuple]:
    """The curves of a group's studies (:func:`_curve`); a study with no completed trial is
    left out with a warning (one failed seed stopped the whole figure: check round 43), and a
    single study's error is raised as it is."""
    if len(members) == 1:
        return [_curve(members[0], by)]
    curves = []
    for study in members:
        try:
            curves.append(_curve(study, by))
        except ValueError as exc:
            warn_note(f"compare leaves {study.name!r} out of {label!r}: {exc}")
    if not curves:
        raise ValueError(f"no study of group {label!r} has a completed trial")
    return curves


def _common_start(names: list[str]) -> str:
    """The start the names share, without a trailing separator or seed number ("asha-s" of
    "asha-s0" and "asha-s1" reads "asha")."""
    start = os.path.commonprefix(names)
    return re.sub(r"([-_ .]+(seed|s|run|r)?)?\d*$", "", start, flags=re.IGNORECASE) or start


def compare(*studies: Any, by: str = "trial", storage: str | os.PathLike | None = None,
            ax: Axes | None = None) -> Figure:
    """The best metric so far of each study against its ended trials (``by="trial"``: completed,
    stopped early and failed, each a step, so that a study whose scheduler stopped most of its
    trials is drawn over all of them) or against the seconds since its first trial started
    (``by="time"``: the seconds it ran, without the time between a run and its resume), one
    line per study, its name, completed
    trials and best in the legend.

    ``studies``: :class:`~nbtune.Study` objects (``study``, a search's ``study_``) or names of
    studies in ``storage`` (the file :func:`nbtune.load_study` reads by default). A list of
    studies is one method run several times (seeds): drawn as the median of their best so far
    (from where every one of them has a best), with a band from the lowest to the highest (a study that ended before the others keeps its
    final best from there on), so that the line ends at the median of their final bests, which
    the legend gives with their range. A dict names the groups:
    ``compare({"asha": [a0, a1, a2], "random": [r0, r1, r2]})``. All must optimise in the same
    direction (``mode``). Returns the figure (``ax=`` draws on yours).
    """
    if not studies:
        raise ValueError("compare needs studies: nbtune.compare(study_a, study_b), or their "
                         "names in a storage file: nbtune.compare('a', 'b', storage='runs.db')")
    if by not in BY:
        raise ValueError(f"by must be 'trial' or 'time', got {by!r}")
    groups = _groups(studies, storage)
    every = [s for _, members in groups for s in members]
    modes = {s.mode for s in every}
    if len(modes) > 1:
        which = ", ".join(f"{s.name!r} ({s.metric}, {s.mode})" for s in every)
        raise ValueError(f"the studies optimise in different directions: {which}; compare "
                         "studies of one mode")
    mode = every[0].mode
    fig, ax = canvas(ax)
    bests, drawn = [], []  # what the zoom follows; every line and band edge drawn
    for i, (label, members) in enumerate(groups):
        curves = _members(label, members, by)
        dashes, marker = STYLES[i % len(STYLES)]
        style = {"drawstyle": "steps-post", "color": f"C{i % 10}", "linestyle": dashes,
                 "gid": f"compare-{i}"}
        if len(curves) == 1:
            x, best, ended, good = curves[0]
            of = f" of {ended}" if ended > good else ""
            ax.plot(x, best, marker=marker if ended <= MARKED else None,  # 3,000: a thick band
                    label=f"{label or members[0].name}: best {fmt(best[-1])} ({good} "
                          f"completed{of})", **style)
            bests.append(best)
            drawn.append(best)
            continue
        # to the longest member's end, a member that ended earlier keeping its final best: the
        # line ended at the shortest's end, short of the value its legend named (round 43)
        grid = np.unique(np.concatenate([c[0] for c in curves]).astype(float))
        read = np.array([_at(c[0].astype(float), c[1], grid) for c in curves])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN before any completed
            middle, low, high = (np.nanmedian(read, axis=0), np.nanmin(read, axis=0),
                                 np.nanmax(read, axis=0))
        # the median from where every member has a best: before, a median of the early ones
        # alone fell as later ones came in (0.80, then 0.57), under "best so far" (round 61)
        middle[np.isnan(read).any(axis=0)] = np.nan
        finals = [float(c[1][-1]) for c in curves]
        ax.fill_between(grid, low, high, step="post", color=f"C{i % 10}", alpha=0.2,
                        linewidth=0, gid=f"compare-{i}-band")
        # the last step has no width: its range, a best reached on the last trial, as a bar
        ax.plot([grid[-1]] * 2, [low[-1], high[-1]], color=f"C{i % 10}", alpha=0.35,
                linewidth=4, solid_capstyle="butt", gid=f"compare-{i}-end")
        ax.plot(grid, middle, label=f"{label}: median best {fmt(float(np.median(finals)))} of "
                f"{len(curves)} studies ({fmt(min(finals))} to {fmt(max(finals))})", **style)
        # the band's better edge stays in view; its worse one may leave it early, as first steps do
        bests.extend([middle, high if mode == "max" else low])
        drawn.extend([middle, low, high])
    _focus(ax, bests, mode)
    left_out = _out_of_view(ax, drawn, mode)
    metrics = list(dict.fromkeys(s.metric for s in every))
    if len(metrics) > 1:  # drawn on one axis without a word (first-day test, round 26)
        warn_note(f"compare draws {' and '.join(repr(m) for m in metrics)} on one axis: "
                  "they compare only where they measure the same thing on the same data")
    if by == "trial":  # trials are whole: no tick at 1.5
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("ended trials" if by == "trial" else "seconds since the first trial")
    ax.set_ylabel(f"best {' / '.join(metrics)} so far")
    shown = f"{len(every)} stud{'y' if len(every) == 1 else 'ies'}"
    if len(groups) < len(every):
        shown += f" in {len(groups)} group{'s' if len(groups) > 1 else ''}"
    titled(ax, f"{shown}: best so far ({mode})" + (f"\n({left_out})" if left_out else ""))
    if len(groups) > BESIDE:  # below the axes: "best" put six studies' legend on their lines
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize="small",
                  ncols=2 if len(groups) > 2 * BESIDE else 1)
    else:
        ax.legend(loc="best", fontsize="small")
    return fig
