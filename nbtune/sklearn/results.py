"""``cv_results_`` in scikit-learn's own format, from the trials of a ``SearchCV`` study, and the
best candidate in it."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from numpy.ma import MaskedArray

from ..caller import warn
from ..study import Study
from ..trial import Trial
from .failures import none_scored, warn_failures
from .fitting import PARAM, Resource
from .space import Converted


def evaluation(trial: Trial, first: str) -> dict[str, Any] | None:
    """The trial's last evaluation (its splits' scores), or None if it has none. Every split is
    scored in it, but where ``SearchCV(rung_folds="grow")`` scored only the first splits at the
    level the trial stopped at."""
    key = f"split0_test_{first}"
    if key in trial.metrics:
        return trial.metrics
    return next((rep for rep in reversed(trial.reports) if key in rep), None)


def _param_arrays(params: Sequence[dict[str, Any]]) -> dict[str, MaskedArray]:
    """``param_<name>`` masked arrays, as scikit-learn builds them."""
    columns: dict[str, dict[int, Any]] = {}
    for i, p in enumerate(params):
        for name, value in p.items():
            columns.setdefault(f"param_{name}", {})[i] = value
    out = {}
    for key, column in columns.items():
        values = list(column.values())
        try:
            arr = np.array(values)
            dtype = arr.dtype if arr.dtype.kind != "U" and arr.ndim == 1 else object
        except ValueError:
            dtype = np.dtype(object)
        ma = MaskedArray(np.empty(len(params), dtype=dtype), mask=True)
        for i, value in column.items():
            ma[i] = value
        out[key] = ma
    return out


def _rank(means: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    if np.isnan(means).all():
        return np.ones_like(means, dtype=np.int32)
    filled = np.where(np.isnan(means), np.nanmin(means) - 1, means)
    return rankdata(-filled, method="min").astype(np.int32, copy=False)


def format_results(rows: Sequence[dict[str, Any]], params: Sequence[dict[str, Any]],
                   n_splits: int, scorer_names: Sequence[str], return_train_score: bool,
                   n_resources: Sequence[int] | None = None,
                   iterations: Sequence[int] | None = None) -> dict[str, Any]:
    """The ``cv_results_`` dict of one row (an evaluation, see :func:`evaluation`) per candidate.
    A split a row did not score (``rung_folds="grow"``) is NaN, and its means and deviations are
    over the splits it scored. Under early stopping, ``iter`` (the rung a candidate reached,
    from 0) and ``n_resources`` (its resource there) lead, as in ``HalvingRandomSearchCV``'s."""
    n = len(rows)
    results: dict[str, Any] = {}

    def store(name: str, keys: list[str], splits: bool = False, rank: bool = False) -> None:
        array = np.array([[row.get(k, np.nan) for k in keys] for row in rows],
                         dtype=np.float64).reshape(n, n_splits)
        scored = np.array([[k in row for k in keys] for row in rows]).reshape(n, n_splits)
        if splits:
            for i in range(n_splits):
                results[f"split{i}_{name}"] = array[:, i]
        counts = scored.sum(axis=1)
        filled = np.where(scored, array, 0.0)  # an error_score of NaN stays in the mean
        means = filled.sum(axis=1) / counts
        results[f"mean_{name}"] = means
        if name.startswith(("train_", "test_")) and np.any(~np.isfinite(means)):
            warn(f"One or more of the {name.split('_')[0]} scores are non-finite: {means}")
        deviations = np.where(scored, filled - means[:, np.newaxis], 0.0)
        results[f"std_{name}"] = np.sqrt((deviations ** 2).sum(axis=1) / counts)
        if rank:
            results[f"rank_{name}"] = _rank(means)

    for what in ("fit_time", "score_time"):
        store(what, [f"split{i}_{what}" for i in range(n_splits)])
    results.update(_param_arrays(params))
    results["params"] = list(params)
    for name in scorer_names:
        store(f"test_{name}", [f"split{i}_test_{name}" for i in range(n_splits)],
              splits=True, rank=True)
        if return_train_score:
            store(f"train_{name}", [f"split{i}_train_{name}" for i in range(n_splits)],
                  splits=True)
    if n_resources is not None:  # first, as HalvingRandomSearchCV's cv_results_ has them
        results = {"iter": np.asarray(iterations or [], dtype=np.int64),
                   "n_resources": np.asarray(n_resources, dtype=np.int64), **results}
    return results


def halving_attributes(results: dict[str, Any], levels: Sequence[int]) -> dict[str, Any]:
    """``HalvingRandomSearchCV``'s attributes of a search under early stopping, its iterations
    being the rungs (``levels``, max_t last): the resource of each rung reached
    (``n_resources_``), the candidates evaluated there (``n_candidates_``, those that reached
    it), and the candidates trained to the last rung reached (``n_remaining_candidates_``; the
    halving search's are those it would keep after its last iteration). They raised a bare
    AttributeError for code moved over from the halving search (first-day test, round 32)."""
    reached = np.asarray(results["n_resources"])
    counts = [int((reached >= level).sum()) for level in levels]
    done = sum(1 for count in counts if count)
    return {"n_resources_": [int(level) for level in levels[:done]],
            "n_candidates_": counts[:done],
            "n_remaining_candidates_": counts[done - 1] if done else 0,
            "min_resources_": int(levels[0]), "max_resources_": int(levels[-1]),
            "n_iterations_": done, "n_possible_iterations_": len(levels),
            "n_required_iterations_": len(levels)}


def collect(study: Study, converted: Converted, names: list[str], resource: Resource | None,
            n_splits: int, error_score: Any, return_train_score: bool,
            chooses: str | None = None) -> dict[str, Any]:
    """``cv_results_`` of the trials that have an evaluation, in trial order (under early
    stopping a warm-started parameter's value is the level each candidate reached). No
    candidate evaluated is a ValueError naming the first error; failed fits and scorers are said
    as scikit-learn's searches say them (:func:`nbtune.sklearn.failures.warn_failures`); where
    the search ``chooses`` a best by that score and no candidate has one, a ValueError."""
    rows, params, levels = [], [], []
    for trial in study.trials:
        ev = evaluation(trial, names[0])
        if ev is None:
            continue
        p = converted.params(trial.config)
        if resource is not None:
            levels.append(int(ev[resource.key]))
            if resource.kind == PARAM:
                p[resource.key] = int(ev[resource.key])
        rows.append(ev)
        params.append(p)
    if not rows:
        errors = [t.error for t in study.trials if t.error]
        why = f": {errors[0].strip().splitlines()[-1]}" if errors else ""
        if study.stop_reason == "max_time":  # it read as if something broke (round 59)
            why += ("; no candidate's folds all ended within max_time: give a longer max_time, "
                    "or fewer folds or cheaper candidates")
        raise ValueError(f"no candidate was evaluated ({len(study.trials)} trials, "
                         f"{study.stop_reason}){why}")
    scored = sum(f"split{i}_test_{names[0]}" in r for r in rows for i in range(n_splits))
    warn_failures(rows, scored, error_score)  # rung_folds="grow": the splits scored only
    if resource is None:
        results = format_results(rows, params, n_splits, names, return_train_score)
    else:
        rungs = np.searchsorted(resource.levels, levels).tolist()
        results = format_results(rows, params, n_splits, names, return_train_score, levels,
                                 rungs)
    if chooses is not None and not np.isfinite(results[f"mean_test_{chooses}"]).any():
        raise ValueError(none_scored(rows, scored, chooses))
    return results


def best_index(results: dict[str, Any], refit: Any, refit_name: str, multimetric: bool,
               resource: Resource | None) -> tuple[int | None, float | None]:
    """(best_index_, best_score_) as scikit-learn sets them: ``refit`` as a callable chooses
    the index (no score); a multimetric search without refit has neither; otherwise the best
    rank of ``refit_name``, which under early stopping is among the candidates trained to
    max_t where there are any."""
    if callable(refit):
        index = refit(results)
        if not isinstance(index, (int, np.integer)):
            raise TypeError("best_index_ returned is not an integer")
        if not 0 <= index < len(results["params"]):
            raise IndexError("best_index_ index out of range")
        return int(index), None
    if refit is False and multimetric:
        return None, None
    ranks = results[f"rank_test_{refit_name}"].astype(float)
    top = resource.levels[-1] if resource is not None else None
    if resource is not None and (results["n_resources"] == top).any():
        ranks = np.where(results["n_resources"] == top, ranks, np.inf)
    index = int(np.argmin(ranks))
    scored = np.isfinite(results[f"mean_test_{refit_name}"][index])  # else every one failed,
    # which the failures' warning says: the budget is not what fell short (first-day test, 23)
    if resource is not None and results["n_resources"][index] != top and scored:
        warn(f"no candidate reached max_t={top} before the search ended: the best had "
             f"{resource.key}={results['n_resources'][index]} of {top}"
             + (", and best_estimator_ is refitted with that" if refit else "")
             + "; give more max_time, or a smaller max_t")
    return index, float(results[f"mean_test_{refit_name}"][index])


def grid_cut_note(study: Study, evaluated: int, chosen: bool) -> str | None:
    """The warning for a grid search that ``max_time`` ended before its last candidate, else
    None. A grid runs in ParameterGrid's order, so what ran is its first corner (62 of 400
    candidates: the smallest C values only), and best_params_ came from it without a word
    (first-day test). ``evaluated``: the candidates in ``cv_results_``; ``chosen``: whether
    the search has a best_params_."""
    searcher = study.searcher
    size = getattr(searcher, "max_trials", None)
    if study.stop_reason != "max_time" or getattr(searcher, "name", None) != "grid" \
            or size is None or evaluated >= size:
        return None
    held = "best_params_ is the best of those" if chosen else "cv_results_ holds those only"
    return (f"the grid search ended on max_time after {evaluated} of {size} candidates, in the "
            f"grid's order: {held}; give max_time=None (or a larger one) to search the whole "
            f"grid")
