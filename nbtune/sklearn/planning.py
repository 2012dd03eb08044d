"""What a ``SearchCV`` fit runs: the scheduler and the levels its trials are scored at, how many
folds each level scores, and the candidates of a finite space."""
from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ..caller import warn
from ..schedule import make_scheduler, rung_levels
from ..schedule.rungs import check_reduction_factor
from ..starting import DEFAULT_TRIALS
from .grids import LISTED, Union, listed
from .space import Converted

def fold_counts(n_splits: int, n_levels: int, rung_folds: str) -> tuple[int, ...] | None:
    """How many folds each level scores: None (all, everywhere) for ``"all"``; for ``"grow"``,
    ``ceil(n_splits * k / n_levels)`` at the k-th level (one fold at the first rung where
    ``n_splits <= n_levels``, all of them at the last)."""
    if rung_folds == "all":
        return None
    return tuple(max(1, -(-n_splits * k // n_levels)) for k in range(1, n_levels + 1))


def schedule(scheduler: Any, options: dict | None, reduction_factor: Any, grace_period: Any,
             space: Any, metric: str, key: str, max_t: int, seed: int | None
             ) -> tuple[Any, tuple[int, ...]]:
    """The scheduler object set up for ``metric`` (maximised) over resource ``key``, and the
    resource levels a trial is scored at: the scheduler's decision points below its max_t and
    max_t itself (successive halving's rungs for a rule that may judge any report; max_t alone
    without a scheduler). The first rung defaults to three rungs below max_t."""
    options = dict(options or {})
    eta = check_reduction_factor(reduction_factor)
    grace = grace_period or max(1, -(-max_t // eta ** 3))
    if scheduler is None:
        return None, (max_t,)
    if isinstance(scheduler, str) and scheduler.lower() in ("asha", "hyperband"):
        options = {"max_t": max_t, "grace_period": grace, "reduction_factor": eta, **options}
    sched = make_scheduler(scheduler, **options)
    sched.setup(metric, "max", key, seed=seed, space=space)
    points = sched.decision_points()
    if points is None:  # a rule that may judge any report: score at successive halving's rungs
        points = rung_levels(max_t, grace, eta)
    top = int(getattr(sched, "max_t", None) or max_t)
    return sched, tuple(sorted({int(p) for p in points if p < top} | {top}))


def candidates(n_trials: Any, searcher: Any, converted: Converted, rng: np.random.Generator,
               sched: Any) -> tuple[Any, list | None]:
    """n_trials, and the configs of a finite space drawn without replacement (as
    RandomizedSearchCV does for lists): "auto" is all of them up to 50 (or what a hyperband
    scheduler's brackets start); elsewhere "auto" is resolved by :func:`nbtune.tune`."""
    n, space = n_trials, converted.space
    if isinstance(converted, Union):
        return _union_candidates(n, searcher, converted, rng, sched)
    lists = [listed(d) for d in space.values()]
    if searcher != "random" or any(values is None for values in lists):
        return n, None
    size = math.prod(len(values) for values in lists)
    if size > LISTED:
        return n, None
    n = _count(n, size, sched)
    combos = list(itertools.product(*lists))
    picks = rng.permutation(size)[:n]
    return n, [dict(zip(space, combos[i])) for i in picks]


def _union_candidates(n: Any, searcher: Any, union: Union, rng: np.random.Generator,
                      sched: Any) -> tuple[int, list]:
    """A list of spaces' n_trials and candidates: all of them in ``ParameterGrid``'s order
    for the grid searcher (n_trials, where given, takes the first), else drawn without
    replacement as for one finite space."""
    size = union.size
    if searcher == "grid":
        n = size if n in (None, "auto") else min(int(n), size)
        return n, list(union.candidates())
    n = _count(n, size, sched, "list more values in a space")
    return n, union.sample(n, rng)


def _count(n: Any, size: int, sched: Any,
           more: str = "give a wider range or a distribution of reals for a parameter") -> int:
    """How many of a finite space's ``size`` candidates ``n_trials=n`` runs; a warning where
    it is not all of them by default, or more than there are."""
    if n is None:
        n = size
    elif n == "auto":
        needed = getattr(sched, "trials_needed", None)
        n = min(needed or DEFAULT_TRIALS, size)
        if needed is None and n < size:
            warn(f"the space holds {size} candidates; n_trials='auto' tries {n} of them: "
                 f"n_trials={size} or searcher='grid' for all")
    elif isinstance(n, int) and n > size:
        held = f"{size} candidate" + ("s" if size != 1 else "")
        warn(f"the space holds {held}, fewer than n_trials={n}: running {size}; {more} to "
             f"draw more")
        n = size
    return n
