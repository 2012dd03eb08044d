"""Hyperparameter importance: which trials it is fitted on (the completed ones, or every trial's
value at a level most reached, where early stopping completed few), and the permutation
importance of a random forest fitted on them."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import trial as T
from .formatting import fmt
from .ranking import completed, curve, empty_message, resource_of


IMPORTANCE_FROM = 10  # completed trials from which importance is fitted on their values


def importance_basis(study: Any, at: float | None = None
                     ) -> tuple[list[T.Trial], list[float], str]:
    """The trials importance is fitted on, their values, and a phrase that says which: the
    completed trials' values, where there are :data:`IMPORTANCE_FROM` of them and they are at
    least half of the trials that reported (or no level was reached by more); else the values at
    the furthest level of the resource that half the trials reached. An early-stopping study
    completes few, and those it completes are the ones its rungs kept: fitted on 4 of 40 ASHA
    trials, the figure named batch size, where all 40 at epoch 1 said the learning rate
    (first-day test, round 26); fitted on the 130 completed of 3,000, a choice none of whose
    747 trials survived the rungs weighed little (round 27). ``at``: the values at that level
    of the resource instead, of the trials that reached it. Where the level chosen is the
    first of several, the phrase says what a later one would show: a booster's learning rate
    cannot move its AUC after one round, and weighed 0.00 there (round 29)."""
    done = completed(study)
    basis = (done, [float(t.value) for t in done],
             f"{len(done)} completed trial{'s' if len(done) != 1 else ''}")
    resource, levels = resource_of(study), {}
    for t in list(study.trials):
        for level, value in zip(*curve(t, resource, study.metric)):
            levels.setdefault(level, {})[t.id] = (t, value)
    if at is not None:
        return _at_level(study, resource, levels, at, len(done))
    valued = {t for trials in levels.values() for t in trials}
    if len(done) >= IMPORTANCE_FROM and 2 * len(done) >= len(valued):
        return basis
    reached = [level for level, trials in levels.items()
               if len(trials) > len(done) and 2 * len(trials) >= len(valued)]
    if not reached:
        return basis
    trials, values, phrase = _at_level(study, resource, levels, max(reached), len(done))
    later = [level for level in levels if level > max(reached)
             and len(levels[level]) >= IMPORTANCE_LATER]
    if max(reached) == min(levels) and later:  # the first level, and a later one to fit on
        level = max(later)
        phrase += (f";\nwhat shows only later weighs little at the first {resource}: "
                   f"importance(at={fmt(level)}) fits the {len(levels[level])} trials at "
                   f"{resource} {fmt(level)}")
    return trials, values, phrase


# trials at a later level that a study's importance suggests fitting on instead of the first
IMPORTANCE_LATER = 6


def _at_level(study: Any, resource: str | None, levels: dict[float, dict[int, tuple]],
              level: float, n_done: int) -> tuple[list[T.Trial], list[float], str]:
    """The trials at ``level`` of ``resource``, their values there, and the phrase for them."""
    found = levels.get(level, {})
    if len(found) < 3:
        known = ", ".join(f"{fmt(k)} ({len(v)})" for k, v in sorted(levels.items())
                          if len(v) >= 3)
        raise ValueError(f"importance at {resource} {fmt(level)} needs 3 trials that reached it;"
                         f" {len(found)} did" + (f" (levels with 3 or more: {known})" if known
                                                 else ""))
    trials, values = zip(*found.values())
    return (list(trials), [float(v) for v in values],
            f"{len(trials)} trials at {resource} {fmt(level)}; {n_done} completed")


IMPORTANCE_ROWS = 1000  # trials importance is fitted on at most: about a second at any size


def param_importances(study: Any, seed: int = 0,
                      basis: tuple[list[T.Trial], list[float], str] | None = None
                      ) -> dict[str, float]:
    """Permutation importance of each hyperparameter for a random forest fitted on the trials.

    The forest (scikit-learn, 100 trees) learns the metric from the configs, in unit-cube
    encoding (``study.space.to_unit``), of the trials :func:`importance_basis` picks (at most
    :data:`IMPORTANCE_ROWS` of them, a seeded sample, in a bigger study: it took 7 to 22 s of a
    loaded machine at 3,000 trials, first-day test, round 58): the
    completed ones, or, where an early-stopping study completed few, every trial's value at the
    furthest level half of them reached. A hyperparameter's importance is how much worse the
    forest fits when that column is shuffled (10 shuffles), floored at 0 and normalised to sum
    1. Most important first; fixed hyperparameters are left out. ``basis``: what
    :func:`importance_basis` gave, where the caller has it already.
    """
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    done, names = completed(study), study.space.unit_names
    trials, values, _ = basis if basis is not None else importance_basis(study)
    if not trials:
        raise ValueError(empty_message(study))
    if len(trials) < 3:
        raise ValueError(f"importance needs at least 3 completed trials; the study has {len(done)}")
    if not names:
        raise ValueError("the space has no hyperparameter to weigh: every one is fixed")
    x = np.array([study.space.to_unit(t.config) for t in trials])
    y = np.array(values)
    if len(y) > IMPORTANCE_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(len(y), IMPORTANCE_ROWS, replace=False))
        x, y = x[keep], y[keep]
    forest = RandomForestRegressor(n_estimators=100, random_state=seed, n_jobs=1).fit(x, y)
    result = permutation_importance(forest, x, y, n_repeats=10, random_state=seed, n_jobs=1)
    raw = np.clip(np.nan_to_num(result.importances_mean), 0.0, None)
    share = raw / raw.sum() if raw.sum() > 0 else raw
    order = sorted(range(len(names)), key=lambda i: (-share[i], i))
    return {names[i]: float(share[i]) for i in order}
