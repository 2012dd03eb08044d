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
    eta = check_reduction_factor(3 if reduction_factor is None else reduction_factor)
    grace = grace_period or max(1, -(-max_t // eta ** 3))
    if scheduler is None:
        return None, (max_t,)
    if isinstance(scheduler, str) and scheduler.lower() in ("asha", "hyperband"):
        shape = {} if "rung_levels" in options else {"grace_period": grace,
                                                      "reduction_factor": eta}
        options = {"max_t": max_t, **shape, **options}
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
    scheduler's brackets start); elsewhere "auto" is resolved by :func:`nbtune.tune`. Brackets
    that would run short are said here, in SearchCV's words (:func:`_say_short`)."""
    n, points, size = _candidates(n_trials, searcher, converted, rng, sched)
    _say_short(n, sched, size)
    return n, points


def _candidates(n: Any, searcher: Any, converted: Converted, rng: np.random.Generator,
                sched: Any) -> tuple[Any, list | None, int | None]:
    """:func:`candidates`, and the size of a finite space (None for another)."""
    space = converted.space
    if isinstance(converted, Union):
        size = converted.size
        if searcher == "grid":
            return _grid_count(n, size), list(converted.candidates()), size
        n = _count(n, size, sched, "list more values in a space")
        return n, converted.sample(n, rng), size
    if searcher == "grid":
        return _grid_count(n, space.grid_size), None, space.grid_size
    lists = [listed(d) for d in space.values()]
    if searcher != "random" or any(values is None for values in lists):
        return n, None, None
    size = math.prod(len(values) for values in lists)
    if size > LISTED:
        return n, None, None
    n = _count(n, size, sched)
    combos = list(itertools.product(*lists))
    picks = rng.permutation(size)[:n]
    return n, [dict(zip(space, combos[i])) for i in picks], size


def _say_short(n: Any, sched: Any, size: int | None) -> None:
    """A warning where a hyperband scheduler's brackets start more trials than the search runs:
    its last brackets run short. tune's own line advised ``n_trials=17 (or --trials 17)`` to a
    search of 12 candidates given n_trials=17 (first-day test, round 59)."""
    needed = getattr(sched, "trials_needed", None)
    if needed is None or not isinstance(n, int) or n >= needed:
        return
    if size is not None and size < needed:
        warn(f"the space holds {size} candidate{'s' if size != 1 else ''}, and the "
             f"{sched.name} scheduler's brackets start {needed}: its last brackets run short; "
             f"list more values, or give scheduler_options={{'brackets': 1}}")
    else:
        warn(f"the {sched.name} scheduler's brackets start {needed} candidates, but "
             f"n_trials={n}: its last brackets run short; give n_trials={needed}, or "
             f"scheduler_options={{'brackets': 1}}")


def _grid_count(n: Any, size: int) -> Any:
    """n_trials of a grid search: all its ``size`` candidates by default; a warning where
    n_trials cuts it short, or asks for more than it holds. A grid of three models cut at 5 ran
    the first model's candidates alone, in silence (first-day test, round 59)."""
    if n in (None, "auto"):
        return size
    if n < size:
        warn(f"the grid holds {size} candidates; n_trials={n} runs the first {n}, in "
             f"ParameterGrid's order: n_trials=None for all of them, or searcher='random' to "
             f"draw {n} at random")
    elif n > size:
        warn(f"the grid holds {size} candidates, fewer than n_trials={n}: running {size}")
    return min(n, size)


def _count(n: Any, size: int, sched: Any,
           more: str = "give a wider range or a distribution of reals for a parameter") -> int:
    """How many of a finite space's ``size`` candidates ``n_trials=n`` runs; a warning where
    it is not all of them by default, or more than there are."""
    needed = getattr(sched, "trials_needed", None)
    if n is None:
        n = size
    elif n == "auto":
        n = min(needed or DEFAULT_TRIALS, size)
        if needed is None and n < size:
            warn(f"the space holds {size} candidates; n_trials='auto' tries {n} of them: "
                 f"n_trials={size} or searcher='grid' for all")
    elif isinstance(n, int) and n > size:
        if needed is None or needed <= size:  # else the brackets' shortfall says it
            held = f"{size} candidate" + ("s" if size != 1 else "")
            warn(f"the space holds {held}, fewer than n_trials={n}: running {size}; {more} "
                 f"to draw more")
        n = size
    return n
