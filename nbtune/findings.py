"""What a study's trials say of its space, in the summary: where the best trials crowd an edge
of a range (the better values may lie beyond it, which no searcher can reach), and a metric that
no trial moved.

A learning rate whose range tops out too low has its best trials at the top, and a model pushed
to a bound suggests it again and again (bayesopt put a learning rate at 0.5, the top of its
range, in four trials of SearchCV; first-day test, round 19), and nothing on screen said so. The
summary names such a range, for any searcher.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import trial as T
from .contract.outcome import listed, rungs_fix
from .domains.ranges import Range
from .formatting import fmt
from .ranking import FOLDS, completed, name_words, resource_of

BEST_NEAR = 0.05  # of a range's width, on its own scale (log for log ranges): the best at its edge
CROWD_NEAR = 0.25  # ... and most of the next best within this much of the same edge
TOP_SHARE = 0.1  # the best trials looked at: this share of the completed ones, four at least
FEWEST = 8  # completed trials a study needs before its edges are judged
WIDE = 4  # integer ranges of fewer values than this are left alone (1..3 layers: a choice)
FEW = 20  # values of a finite domain or integer range up to which its edge is its last value


def edge_notes(study: Any) -> list[str]:
    """"lr: the best trials crowd the top of its range (the best at 0.0098, the top 0.01):
    better values may lie beyond it (widen the range)", one for each range of the space whose
    edge holds the best completed trial (within :data:`BEST_NEAR`) and two thirds of the best
    few (within :data:`CROWD_NEAR`); [] where none does or fewer than :data:`FEWEST` completed."""
    done = completed(study)
    if len(done) < FEWEST:
        return []
    ranked = sorted(done, key=lambda t: t.value, reverse=study.mode == "max")
    top = ranked[:max(4, math.ceil(TOP_SHARE * len(done)))]
    notes = []
    for name, domain in study.space.items():
        best = _position(domain, top[0].config.get(name))
        if best is None or BEST_NEAR < best < 1 - BEST_NEAR:
            continue
        side = "top" if best >= 1 - BEST_NEAR else "bottom"
        # a few values (a linspace, an integer range): the edge's own value; a range: near it
        reach = 0.0 if _discrete(domain) else CROWD_NEAR
        near = [_position(domain, t.config.get(name)) for t in top]
        crowd = sum(1 for u in near if u is not None
                    and (u >= 1 - reach if side == "top" else u <= reach))
        if crowd < math.ceil(2 * len(top) / 3):
            continue
        if getattr(domain, "spread", "range") == "distribution":  # a scipy.stats law's tail
            share = 100 * (best if side == "bottom" else 1 - best)
            tail = "lowest" if side == "bottom" else "highest"
            notes.append(f"{name}: the best trials crowd the {side} of its distribution (the "
                         f"best at {fmt(top[0].config[name])}, in its {tail} {share:.2g}% of "
                         "draws): better values may lie beyond it (move or widen the "
                         "distribution)")
            continue
        ends = (domain.lo, domain.hi) if isinstance(domain, Range) else (domain.values[0],
                                                                         domain.values[-1])
        bound = ends[1] if side == "top" else ends[0]
        notes.append(f"{name}: the best trials crowd the {side} of its range (the best at "
                     f"{fmt(top[0].config[name])}, the {side} {fmt(bound)}): better values may "
                     "lie beyond it (widen the range)")
    return notes


def _discrete(domain: Any) -> bool:
    """Whether ``domain`` holds a few values (:data:`FEW` at most: a linspace, a choice, an
    integer range), each trial at one of them, rather than anywhere along a range."""
    if isinstance(domain, Range):
        return domain.integer and domain.hi - domain.lo + 1 <= FEW
    return domain.values is not None and len(domain.values) <= FEW


def _position(domain: Any, value: Any) -> float | None:
    """Where ``value`` lies in ``domain``, 0 at its low end and 1 at its high end: on a range's
    own scale (log for a log range), or by its index among ordered numbers (a linspace, a grid
    or a choice of increasing numbers, ``WIDE`` of them at least); None for a value outside it,
    or a domain without ends."""
    if isinstance(domain, Range):
        if domain.integer and domain.hi - domain.lo + 1 < WIDE:
            return None
        try:
            domain.validate(value)
        except (ValueError, TypeError):
            return None
        return domain.position(value)
    values = domain.values  # a finite domain's, else None
    numbers = values is not None and len(values) >= WIDE and all(
        T.is_finite_number(v) for v in values) and all(a < b for a, b in zip(values, values[1:]))
    if not numbers or not T.is_finite_number(value) or value not in values:
        return None
    return values.index(value) / (len(values) - 1)


def flat_note(study: Any) -> str | None:
    """"all 16 completed trials ended at 0.846296: ..." where :data:`FEWEST` completed trials or
    more all have one value; None otherwise. Ten identical values in a ranked table, and a flat
    slice plot, said nothing (first-day test, round 20)."""
    done = completed(study)
    if len(done) < FEWEST:
        return None
    values = [float(t.value) for t in done]
    if max(values) - min(values) > 1e-12 * max(1.0, abs(values[0])):
        return None
    return (f"all {len(done)} completed trials ended at {values[0]:.6g}: in these ranges the "
            "metric does not move (ranges too narrow, a learning rate too small to train, or "
            "hyperparameters that do not reach the model)")


FALL_SHARE = 0.25  # a curve's fall from its peak to its end, of its rise: past it, it falls
FALLING_FEW = 3  # trials trained to the top level a study needs before its curves are judged


JITTER_FROM = 8  # reports a curve needs for its last half to say how much its values jitter


def _jitter(curves: Any) -> float:
    """How far a curve's value moves from one report to the next where it has levelled out:
    the median, over the curves of :data:`JITTER_FROM` reports or more, of the median step in
    their second half; 0 where the curves are shorter (a few rung levels apart, whose steps are
    their trend, not noise)."""
    steps = [float(np.median(np.abs(np.diff([v for _, v in points][len(points) // 2:]))))
             for points in curves if len(points) >= JITTER_FROM]
    return float(np.median(steps)) if steps else 0.0


# SearchCV's resource of training rows: a score that falls with more rows is noise or a small
# sample's luck, and "a smaller max_t" would train on fewer rows (check round 48)
ROWS = "n_samples"


def _over_folds(resource: str) -> bool:
    """Whether the resource ``resource`` names counts folds (:data:`FOLDS`), not training."""
    return bool(name_words(resource) & FOLDS)


def falling_note(study: Any) -> str | None:
    """"the metric falls with clf__max_iter: 3 of 4 trials trained to 200 peaked earlier (the
    highest peak, trial 13: 0.69254 at 24, 0.672285 at 200; the best at 200: trial 13): ..."
    where two thirds of the completed trials trained to the highest level reached
    (:data:`FALLING_FEW` at least) ended below their own peak by more than :data:`FALL_SHARE`
    of their rise, and the highest peak among them is above the best value at that level by
    more than the curves' jitter (:func:`_jitter`: what a smaller max_t would gain is more than
    noise); None otherwise. SearchCV over an overfitting estimator's
    max_iter returned its 18th candidate of 24, and nothing said why (first-day test, 23); the
    note named the overall best trial as the one that peaked earlier where it had not, and
    spoke of gains within the curves' noise (round 27). Where every such trial was at its best
    at its first report, the note asks whether the mode is the wrong way round instead. A
    resource that counts folds (:func:`_over_folds`), or rows (:data:`ROWS`), is no training:
    nothing is said of it; nor
    of a curve whose resource goes back (a loop over folds counting each fold's rounds from 1,
    read as "peaked at 30, ... at 30": check round 47)."""
    key = (getattr(study, "settings", None) or {}).get("resource")
    if isinstance(key, str) and (_over_folds(key) or key == ROWS):
        return None
    sign = 1.0 if study.mode == "max" else -1.0
    curves = {}
    for t in completed(study):
        points = [(r[key], float(r[study.metric])) for r in t.reports
                  if T.is_finite_number(r.get(key)) and T.is_finite_number(r.get(study.metric))]
        if len(points) >= 3 and all(a[0] <= b[0] for a, b in zip(points, points[1:])):
            curves[t.id] = points
    if not curves:
        return None
    top = max(points[-1][0] for points in curves.values())
    full = {i: p for i, p in curves.items() if p[-1][0] == top}
    falling = {}
    for i, points in full.items():
        scores = [sign * v for _, v in points]
        peak, low, end = max(scores), min(scores), scores[-1]
        if peak - end > FALL_SHARE * (peak - low) > 0:
            falling[i] = max(points, key=lambda p: sign * p[1])
    if len(full) < FALLING_FEW or len(falling) < math.ceil(2 * len(full) / 3):
        return None
    if len(falling) == len(full) and all(falling[i][0] == full[i][0][0] for i in falling):
        # every one at its best at its first report: the mode, most likely (a logloss
        # maximised), where "a smaller max_t" was the wrong advice (first-day test, round 29)
        other, better = ("min", "lower") if study.mode == "max" else ("max", "higher")
        return (f"the metric falls with {key} from the first report of each trial trained to "
                f"{fmt(top)} ({len(full)} of them): if {better} {study.metric} is better, the "
                f"study's mode is the wrong way round; give mode={other!r} (%%tune --mode "
                f"{other})")
    best = max(full, key=lambda i: sign * full[i][-1][1])
    highest = max(falling, key=lambda i: sign * falling[i][1])
    at, peak = falling[highest]
    if sign * (peak - full[best][-1][1]) <= _jitter(full.values()):  # nothing to gain
        return None
    best_too = ("" if best == highest else
                f"; the best at {fmt(top)}: trial {best}, {full[best][-1][1]:.6g}")
    # in a minimised metric's words: an rmse "falls" as it gets worse read backwards, and
    # its lowest value was "the highest peak" (first-day test, round 64)
    worse, peak_word, best_word = (("falls", "peaked", "the highest peak") if sign > 0 else
                                   ("rises", "were at their lowest", "the lowest"))
    return (f"the metric {worse} with {key}: {len(falling)} of {len(full)} trials trained to "
            f"{fmt(top)} {peak_word} earlier ({best_word}, trial {highest}: {peak:.6g} at "
            f"{fmt(at)}, {full[highest][-1][1]:.6g} at {fmt(top)}{best_too}): training longer "
            f"makes them worse; a smaller max_t, or the model's own early stopping, keeps the "
            f"{'peak' if sign > 0 else 'lowest value'}")


def unjudged_note(study: Any) -> str | None:
    """"the asha scheduler judged no trial: ..." where a study under ASHA or Hyperband has
    trials that reported past its first rung, and no report of any trial landed on a rung
    below max_t (n_trees=20, 40, ... against rungs 1, 3, 9, ...): early stopping was off, and
    the study read as one whose trials passed every rung, said once in the cell's output alone
    (first-day test, round 65). None otherwise."""
    name, levels = study.settings.get("scheduler"), study.settings.get("rung_levels") or []
    if name not in ("asha", "hyperband") or len(levels) < 2:
        return None
    resource, rungs = resource_of(study), set(levels[:-1])
    reported = sorted({v for t in list(study.trials) for r in t.reports
                       for v in [r.get(resource)] if type(v) is int})
    if not reported or reported[-1] <= min(rungs) or rungs & set(reported):
        return None
    options = study.settings.get("scheduler_options") or {}
    return (f"the {name} scheduler judged no trial: the trials reported {resource} "
            f"{listed(reported)}, and none is a rung ({listed(levels[:-1])} below max_t="
            f"{levels[-1]}), so each trained in full; report every {resource}"
            + rungs_fix(name, reported, levels[-1], options.get("reduction_factor")))
