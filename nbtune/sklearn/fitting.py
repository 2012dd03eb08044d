"""What one ``SearchCV`` trial runs on a Dask worker: fit and score every fold of one candidate.

A trial's folds run one after the other inside the trial. nbtune already keeps one trial in
flight per worker thread, so folds run in parallel would only compete with the other trials for
the same threads; and under early stopping the folds' estimators are one checkpoint, which must
stay together on the worker that paused the trial.
"""
from __future__ import annotations

import copy
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..run.channel import get_checkpoint, report

PARTIAL_FIT, N_SAMPLES, PARAM = "partial_fit", "n_samples", "param"


@dataclass(frozen=True)
class Resource:
    """How a trial spends its resource: epochs of ``partial_fit``, a warm-started parameter, or
    training rows; ``levels`` are the values it is scored at (the scheduler's rungs, then max_t)."""

    kind: str
    key: str  # the report key: "epoch", "n_samples" or the parameter's name
    levels: tuple[int, ...]
    warm_start: str | None = None  # the warm_start parameter that goes with a PARAM resource
    cumulative: bool = True  # a PARAM whose value is the total (n_estimators), not more per fit
    classes: Any = None  # all classes of y, for the first partial_fit of a classifier
    seed: int = 0  # subsamples of n_samples


@dataclass
class Plan:
    """Everything a trial needs besides the data: the estimator, scoring, the resource."""

    estimator: Any
    converted: Any  # nbtune.sklearn.space.Converted
    scorers: dict[str, Any]
    metric: str  # the report key of the scorer the study optimises
    refit_name: str  # its name among the scorers
    error_score: Any = np.nan
    return_train_score: bool = False
    resource: Resource | None = None


def index_params(params: dict[str, Any], n_samples: int, indices: np.ndarray) -> dict[str, Any]:
    """Fit parameters for a subset of rows: those of length n_samples are indexed, the others
    pass as they are (as scikit-learn's searches do)."""
    from sklearn.utils import _safe_indexing

    out = {}
    for key, value in params.items():
        sized = hasattr(value, "__len__") and not isinstance(value, (str, dict)) \
            and hasattr(value, "__getitem__")
        try:
            same = sized and len(value) == n_samples
        except TypeError:  # an object with __len__ that is not sized (a scalar array)
            same = False
        out[key] = _safe_indexing(value, indices) if same else value
    return out


@dataclass
class Fold:
    """One fold of one trial: its estimator (kept between rungs), time spent, first error."""

    estimator: Any = None
    fit_time: float = 0.0
    error: str | None = None


@dataclass
class State:
    """A trial's checkpoint: the level its folds reached, and the folds."""

    level: int = 0
    folds: list[Fold] = field(default_factory=list)


def _fit(est: Any, X: Any, y: Any, params: dict[str, Any], method: str = "fit", **extra: Any):
    fit = getattr(est, method)
    return fit(X, **extra, **params) if y is None else fit(X, y, **extra, **params)


class FoldTrial:
    """The trial function ``SearchCV`` hands to :func:`nbtune.tune`: ``fn(config, X=, y=,
    splits=, fit_params=)`` scores the config's estimator on every split."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def __call__(self, config: dict[str, Any], *, X: Any, y: Any, splits: Sequence,
                 fit_params: dict[str, Any]) -> dict[str, Any] | None:
        from sklearn.base import clone

        params = self.plan.converted.params(config)
        base = clone(self.plan.estimator).set_params(**clone(params, safe=False))
        if self.plan.resource is None:
            folds = [Fold() for _ in splits]
            for fold, (train, _) in zip(folds, splits):
                self._train(fold, base, X, y, train, fit_params, 0, 0)
            return self._scores(folds, X, y, splits)
        return self._staged(base, X, y, splits, fit_params)

    # -- training --------------------------------------------------------------------------
    def _train(self, fold: Fold, base: Any, X: Any, y: Any, train: np.ndarray,
               fit_params: dict[str, Any], done: int, level: int) -> None:
        """Bring ``fold`` from level ``done`` to ``level`` (0, 0: one plain fit)."""
        from sklearn.base import clone
        from sklearn.utils.metaestimators import _safe_split
        from sklearn.utils.validation import _num_samples

        if fold.error is not None:
            return
        res = self.plan.resource
        started = time.time()
        try:
            if res is not None and res.kind == N_SAMPLES:
                train = self._subsample(train, y, level)
            X_train, y_train = _safe_split(base, X, y, train)
            params = index_params(fit_params, _num_samples(X), train)
            if res is None or res.kind == N_SAMPLES:
                fold.estimator = clone(base)
                _fit(fold.estimator, X_train, y_train, params)
            elif res.kind == PARTIAL_FIT:
                for _ in range(done, level):
                    extra = {}
                    if fold.estimator is None:
                        fold.estimator = clone(base)
                        if res.classes is not None:
                            extra["classes"] = res.classes
                    _fit(fold.estimator, X_train, y_train, params, "partial_fit", **extra)
            else:
                if fold.estimator is None:
                    fold.estimator = clone(base).set_params(**{res.warm_start: True})
                step = level if res.cumulative else level - done
                fold.estimator.set_params(**{res.key: step})
                _fit(fold.estimator, X_train, y_train, params)
        except Exception:
            if self.plan.error_score == "raise":
                raise
            fold.error = traceback.format_exc(limit=-3)
            fold.estimator = None
        fold.fit_time += time.time() - started

    def _subsample(self, train: np.ndarray, y: Any, n: int) -> np.ndarray:
        """``n`` rows of the training fold, stratified by class for a classifier."""
        from sklearn.utils import resample

        if n >= len(train):
            return train
        res = self.plan.resource
        strata = None
        if res.classes is not None and y is not None:
            strata = np.asarray(y)[train]
            if n < len(np.unique(strata)):
                strata = None
        return np.sort(resample(train, replace=False, n_samples=n, stratify=strata,
                                random_state=res.seed))

    def _staged(self, base: Any, X: Any, y: Any, splits: Sequence,
                fit_params: dict[str, Any]) -> None:
        """Train level by level; report the fold scores at each level, the state as checkpoint."""
        res = self.plan.resource
        restored = get_checkpoint()
        state = copy.deepcopy(restored) if restored is not None else \
            State(folds=[Fold() for _ in splits])  # a copy: the stored one may be resumed again
        for level in res.levels:
            if level <= state.level:
                continue
            for fold, (train, _) in zip(state.folds, splits):
                self._train(fold, base, X, y, train, fit_params, state.level, level)
            state.level = level
            report(**{res.key: level}, **self._scores(state.folds, X, y, splits),
                   checkpoint=state)
        return None

    # -- scoring ---------------------------------------------------------------------------
    def _score(self, est: Any, X: Any, y: Any) -> dict[str, float]:
        out = {}
        for name, scorer in self.plan.scorers.items():
            try:
                value = scorer(est, X) if y is None else scorer(est, X, y)
            except Exception:
                if self.plan.error_score == "raise":
                    raise
                value = self.plan.error_score
            if isinstance(value, dict):
                raise TypeError("a callable scoring must return one number; for several metrics "
                                "give scoring as a dict of scorers")
            out[name] = float(value)
        return out

    def _scores(self, folds: list[Fold], X: Any, y: Any, splits: Sequence) -> dict[str, Any]:
        """Per-split scores and times, the mean of the study's metric, and the first error."""
        from sklearn.utils.metaestimators import _safe_split

        plan, out = self.plan, {}
        failed = [fold.error for fold in folds if fold.error is not None]
        for i, (fold, (train, test)) in enumerate(zip(folds, splits)):
            started = time.time()
            if fold.error is None:
                X_test, y_test = _safe_split(fold.estimator, X, y, test, train)
                test_scores = self._score(fold.estimator, X_test, y_test)
                if plan.return_train_score:
                    X_train, y_train = _safe_split(fold.estimator, X, y, train)
                    train_scores = self._score(fold.estimator, X_train, y_train)
            else:
                test_scores = train_scores = {n: float(plan.error_score) for n in plan.scorers}
            out[f"split{i}_score_time"] = time.time() - started
            out[f"split{i}_fit_time"] = fold.fit_time
            for name, value in test_scores.items():
                out[f"split{i}_test_{name}"] = value
            if plan.return_train_score:
                for name, value in train_scores.items():
                    out[f"split{i}_train_{name}"] = value
        out[plan.metric] = float(np.mean([out[f"split{i}_test_{plan.refit_name}"]
                                          for i in range(len(folds))]))
        out["fit_failures"] = len(failed)
        if failed:
            out["fit_error"] = failed[0].strip().splitlines()[-1][:500]
        return out
