"""What one ``SearchCV`` trial runs on a Dask worker: fit and score every fold of one candidate.

Where threads are free (the search has fewer candidates left than the workers have threads) a
trial's folds run as Dask tasks of their own (:mod:`nbtune.run.subtasks`): they spread over the
free threads, so a candidate is scored in the time of one fold, not of all its folds one after
another. The trial itself only sends its folds, averages their scores and reports them; it holds
no thread while its folds run, so they never run beside it on an oversubscribed worker. Each
fold's estimator comes back to the trial at every level, as the checkpoint a paused trial
resumes from. Elsewhere (trials keep every thread busy; trials hold Dask resources such as a
GPU; outside a cluster) the folds run one after the other in the trial: tasks of their own would
only add their round trips there.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..run.channel import TrialStopped, get_checkpoint, report
from ..run.output import muted
from ..run.subtasks import subtasks
from ..run.task import TrialFailed, user_traceback
from .failures import FIT, SCORE, candidate_error
from .training import final_step, fit_on, partial_fitted

PARTIAL_FIT, N_SAMPLES, PARAM = "partial_fit", "n_samples", "param"


class CandidateFailed(TrialFailed):
    """A candidate whose mean score of the study's metric is not finite because its fits or its
    scorer failed: the trial's error reads as scikit-learn's warning would
    (:func:`nbtune.sklearn.failures.candidate_error`), with the tracebacks of the user's code."""


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
    folds: tuple[int, ...] | None = None  # folds scored at each level (None: all of them)
    continued: str | None = None  # fit's keyword that takes the model so far (init_model)


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
    weighted: frozenset = frozenset()  # the scorers that take fit's sample_weight


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
    """One fold of one trial: its estimator (kept between rungs), the level it was trained to,
    time spent, first error."""

    estimator: Any = None
    level: int = 0
    fit_time: float = 0.0
    error: str | None = None


@dataclass
class State:
    """A trial's checkpoint: the level its folds reached, and the folds."""

    level: int = 0
    folds: list[Fold] = field(default_factory=list)


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
        sub = subtasks() if len(splits) > 1 else None
        step = self._tasks_step(sub, base) if sub is not None else \
            self._local_step(base, X, y, splits, fit_params)
        if self.plan.resource is None:
            folds, scores = step([Fold() for _ in splits], 0)
            summary = self._summary(folds, scores)
            if self._failed(summary):
                report(**summary)  # its cv_results_ row, before the trial fails
                self._fail(summary, len(folds))
            return summary
        return self._staged(step, len(splits))

    def _failed(self, summary: dict[str, Any]) -> bool:
        """Whether the candidate's metric is not finite because a fit or a scorer failed."""
        return not np.isfinite(summary[self.plan.metric]) \
            and any(key.endswith(("_" + FIT, "_" + SCORE)) for key in summary)

    @staticmethod
    def _untrainable(summary: dict[str, Any], n_folds: int) -> bool:
        """Whether every fold's fit failed at this level: a finite ``error_score`` gives it a
        score, but there is no model to train further. Under ASHA such candidates went on to
        max_t, failing again at each rung, and counted among those trained to the last rung
        (first-day test, round 63)."""
        return all(f"split{i}_{FIT}" in summary for i in range(n_folds))

    def _fail(self, summary: dict[str, Any], n_splits: int) -> None:
        """Fail the trial with the failures that made its metric non-finite, as scikit-learn
        says them."""
        raise CandidateFailed(candidate_error(summary, n_splits, self.plan.error_score))

    # A step brings every fold it is given (the first of the splits) from the level it reached
    # to the next and scores it: step(folds, level) -> (the folds, their scores)
    def _local_step(self, base: Any, X: Any, y: Any, splits: Sequence,
                    fit_params: dict[str, Any]) -> Any:
        """A step that trains the folds one after the other in this thread."""
        def step(folds: list[Fold], level: int) -> tuple[list[Fold], list[dict]]:
            return folds, [self._fold_step(base, fold, i, X, y, splits, fit_params, level)[1]
                           for i, fold in enumerate(folds)]
        return step

    def _tasks_step(self, sub: Any, base: Any) -> Any:
        """A step that brings every fold to a level as a task of its own (see the module)."""
        data = sub.data

        def step(folds: list[Fold], level: int) -> tuple[list[Fold], list[dict]]:
            futures = [sub.submit(self._fold_step, base, fold, i, data["X"], data["y"],
                                  data["splits"], data["fit_params"], level)
                       for i, fold in enumerate(folds)]
            results = sub.gather(futures)
            return [fold for fold, _ in results], [scores for _, scores in results]
        return step

    def _fold_step(self, base: Any, fold: Fold, i: int, X: Any, y: Any, splits: Sequence,
                   fit_params: dict[str, Any], level: int) -> tuple[Fold, dict]:
        """Fold ``i`` trained from the level it reached to ``level`` and scored: (fold, its
        scores)."""
        train, test = splits[i]
        self._train(fold, base, X, y, train, fit_params, level)
        return fold, self._split_scores(i, fold, X, y, train, test, fit_params)

    # -- training --------------------------------------------------------------------------
    def _train(self, fold: Fold, base: Any, X: Any, y: Any, train: np.ndarray,
               fit_params: dict[str, Any], level: int) -> None:
        """Bring ``fold`` from the level it reached to ``level`` (level 0: one plain fit)."""
        from sklearn.base import clone
        from sklearn.utils.metaestimators import _safe_split
        from sklearn.utils.validation import _num_samples

        if fold.error is not None:
            return
        res, done = self.plan.resource, fold.level
        fold.level = level
        if res is not None and res.kind == N_SAMPLES and fold.estimator is not None \
                and done >= len(train):
            # trained on all its rows at an earlier rung (a smaller fold of TimeSeriesSplit,
            # below max_t): a fit on the same rows again would only repeat it
            return
        started = time.time()
        try:
            if res is not None and res.kind == N_SAMPLES:
                train = self._subsample(train, y, level)
            X_train, y_train = _safe_split(base, X, y, train)
            params = index_params(fit_params, _num_samples(X), train)
            if res is None or res.kind == N_SAMPLES:
                fold.estimator = clone(base)
                fit_on(fold.estimator, X_train, y_train, params)
            elif res.kind == PARTIAL_FIT:
                if fold.estimator is None:
                    fold.estimator = clone(base)
                partial_fitted(fold.estimator, X_train, y_train, params, done, level,
                               res.classes)
            elif res.continued is not None:  # a booster: the rounds added to the model so far
                before, fold.estimator = fold.estimator, clone(base)
                fold.estimator.set_params(**{res.key: level - done})
                if before is not None:
                    params = {**params, res.continued: final_step(before)}
                fit_on(fold.estimator, X_train, y_train, params)
            else:
                if fold.estimator is None:
                    fold.estimator = clone(base).set_params(**{res.warm_start: True})
                step = level if res.cumulative else level - done
                fold.estimator.set_params(**{res.key: step})
                if level < res.levels[-1]:  # a rung's few iterations: not converging is the point
                    from sklearn.exceptions import ConvergenceWarning

                    with muted(ConvergenceWarning):
                        fit_on(fold.estimator, X_train, y_train, params)
                else:
                    fit_on(fold.estimator, X_train, y_train, params)
        except Exception as exc:
            if self.plan.error_score == "raise":
                raise
            fold.error = user_traceback(exc)
            fold.estimator = None
        fold.fit_time += time.time() - started

    def _subsample(self, train: np.ndarray, y: Any, n: int) -> np.ndarray:
        """``n`` rows of the training fold, stratified by class for a classifier; all of them
        where it has no more than ``n`` (every fold at max_t, the largest fold's rows: see
        :func:`nbtune.sklearn.resources.default_max_t`). Every candidate draws the same rows."""
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

    def _staged(self, step: Any, n_splits: int) -> None:
        """Train level by level; report the fold scores at each level, the state as checkpoint.
        Where ``resource.folds`` says so, a level trains and scores only the first folds, and a
        fold joins at a later level trained from scratch to it."""
        res = self.plan.resource
        restored = get_checkpoint()
        state = copy.deepcopy(restored) if restored is not None else \
            State(folds=[Fold() for _ in range(n_splits)])  # a copy: the stored one may resume
        counts = res.folds or (n_splits,) * len(res.levels)
        summary = None
        for level, count in zip(res.levels, counts):
            if level <= state.level:
                continue
            state.folds[:count], scores = step(state.folds[:count], level)
            state.level = level
            summary = self._summary(state.folds[:count], scores)
            if self._failed(summary) or self._untrainable(summary, count):  # failed now, and
                # at every level after: a failed fit is not trained further. It fails here,
                # where the scheduler stopped it at its rung and it was recorded "stopped", its
                # error nowhere (first-day test, 23)
                try:
                    report(**{res.key: level}, **summary)  # its cv_results_ row
                except TrialStopped:  # the scheduler's verdict on a NaN: the failure says why
                    pass
                self._fail(summary, count)
            report(**{res.key: level}, **summary, checkpoint=state)
        return None

    # -- scoring ---------------------------------------------------------------------------
    def _score(self, est: Any, X: Any, y: Any, weights: Any = None,
               errors: list | None = None) -> dict[str, float]:
        """Every scorer's score; ``weights`` (the split's sample_weight) go to those that take
        them. A scorer that raised scores error_score, its traceback (the user's code, as
        scikit-learn gives it) added to ``errors``."""
        errors = [] if errors is None else errors
        out = {}
        for name, scorer in self.plan.scorers.items():
            extra = {"sample_weight": weights} \
                if weights is not None and name in self.plan.weighted else {}
            try:
                value = scorer(est, X, **extra) if y is None else scorer(est, X, y, **extra)
            except Exception as exc:
                if self.plan.error_score == "raise":
                    raise
                value = self.plan.error_score
                errors.append(user_traceback(exc))
            if isinstance(value, dict):
                raise TypeError("a callable scoring must return one number; for several metrics "
                                "give scoring as a dict of scorers")
            out[name] = float(value)
        return out

    def _split_scores(self, i: int, fold: Fold, X: Any, y: Any, train: np.ndarray,
                      test: np.ndarray, fit_params: dict[str, Any]) -> dict[str, Any]:
        """Split ``i``'s scores and times, under the keys of ``cv_results_``, and its failure's
        traceback (the fit's, else the first scorer's) under ``split<i>_fit_error`` or
        ``split<i>_score_error`` (:mod:`nbtune.sklearn.failures`)."""
        from sklearn.utils.metaestimators import _safe_split
        from sklearn.utils.validation import _num_samples

        plan, out = self.plan, {}
        weights = fit_params.get("sample_weight") if plan.weighted else None
        started = time.time()
        if fold.error is None:
            X_test, y_test = _safe_split(fold.estimator, X, y, test, train)
            test_weights = None if weights is None else \
                index_params({"w": weights}, _num_samples(X), test)["w"]
            errors: list[str] = []
            test_scores = self._score(fold.estimator, X_test, y_test, test_weights, errors)
            if plan.return_train_score:
                X_train, y_train = _safe_split(fold.estimator, X, y, train)
                train_weights = None if weights is None else \
                    index_params({"w": weights}, _num_samples(X), train)["w"]
                train_scores = self._score(fold.estimator, X_train, y_train, train_weights,
                                           errors)
            if errors:
                out[f"split{i}_{SCORE}"] = errors[0]
        else:
            test_scores = train_scores = {n: float(plan.error_score) for n in plan.scorers}
            out[f"split{i}_{FIT}"] = fold.error
        out[f"split{i}_score_time"] = time.time() - started
        out[f"split{i}_fit_time"] = fold.fit_time
        for name, value in test_scores.items():
            out[f"split{i}_test_{name}"] = value
        if plan.return_train_score:
            for name, value in train_scores.items():
                out[f"split{i}_train_{name}"] = value
        return out

    def _summary(self, folds: list[Fold], scores: list[dict[str, Any]]) -> dict[str, Any]:
        """Every split's scores and failures, and the mean of the study's metric."""
        plan, out = self.plan, {}
        for split in scores:
            out.update(split)
        out[plan.metric] = float(np.mean([out[f"split{i}_test_{plan.refit_name}"]
                                          for i in range(len(folds))]))
        return out
