"""``nbtune.SearchCV``: scikit-learn's hyperparameter search on Dask, with early stopping."""
from __future__ import annotations

import itertools
import math
import time
import warnings
from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.utils.metaestimators import available_if

from .. import trial as T
from ..contract.events import Observer
from ..run.task import with_parameters
from ..schedule import make_scheduler, rung_levels
from ..schedule.rungs import check_reduction_factor
from ..study import Study
from . import checks
from .fitting import PARAM, PARTIAL_FIT, FoldTrial, Plan, Resource
from .results import evaluation, format_results
from .space import Converted, convert

EPOCH = "epoch"  # the report key of partial_fit epochs
GRID_LIMIT = 100_000  # finite spaces up to this size are sampled without replacement
DEFAULT_TRIALS = 50


def fold_counts(n_splits: int, n_levels: int, rung_folds: str) -> tuple[int, ...] | None:
    """How many folds each level scores: None (all, everywhere) for ``"all"``; for ``"grow"``,
    ``ceil(n_splits * k / n_levels)`` at the k-th level (one fold at the first rung where
    ``n_splits <= n_levels``, all of them at the last)."""
    if rung_folds == "all":
        return None
    return tuple(max(1, -(-n_splits * k // n_levels)) for k in range(1, n_levels + 1))


def _delegate(attr: str) -> Callable[[Any], bool]:
    """available_if check: the refitted estimator (or, before fit, the estimator) has ``attr``."""
    def check(self) -> bool:
        if not self.refit:
            raise AttributeError(f"{attr} is available only after refitting on the best "
                                 "parameters: this SearchCV has refit=False")
        getattr(self.best_estimator_ if hasattr(self, "best_estimator_") else self.estimator, attr)
        return True
    return check


class _Failures(Observer):
    """Remembers the first failed trial, for error_score='raise'."""

    def __init__(self):
        self.failed: T.Trial | None = None

    def trial_finished(self, trial: T.Trial) -> None:
        if trial.state == T.FAILED and self.failed is None:
            self.failed = trial


class SearchCV(MetaEstimatorMixin, BaseEstimator):
    """Cross-validated hyperparameter search on a Dask cluster: a drop-in for scikit-learn's
    ``GridSearchCV``, ``RandomizedSearchCV`` and ``HalvingRandomSearchCV``.

    Each candidate is one nbtune trial that fits and scores ``estimator`` on every CV split.
    ``space`` maps parameter names (``step__param`` in a pipeline) to lists, scipy.stats
    distributions or nbtune domains. With ``scheduler="asha"`` or ``"hyperband"`` a candidate is
    scored at each rung of ``resource`` (the mean CV score over the folds) and the poor ones stop:
    ``resource`` is ``"partial_fit"`` (epochs), a parameter that grows with warm starts
    (``"n_estimators"``, ``"clf__max_iter"``) or ``"n_samples"`` (training rows); ``"auto"``
    picks the first the estimator allows. After ``fit``: ``best_params_``, ``best_score_``,
    ``best_index_``, ``best_estimator_``, ``cv_results_`` (scikit-learn's format, plus
    ``n_resources`` under early stopping), ``n_splits_``, ``refit_time_``, ``scorer_`` and
    ``study_`` (the nbtune :class:`~nbtune.Study`). ``rung_folds="grow"`` scores a candidate on
    fewer folds at the early rungs (the first folds only, more at each rung after, all of them
    at max_t; linear growth, see :func:`fold_counts`), so that the many candidates stopped early cost a fraction of a full
    cross-validation; candidates are still compared on the same folds at each rung, and their
    unscored splits are NaN in ``cv_results_``. The default, ``"all"``, scores every fold at
    every rung. ``storage=None`` keeps the study in memory;
    give a path to keep it. Where the search has fewer candidates left than the workers have
    threads, a trial's folds run as Dask tasks of their own, spread over the free threads
    (:mod:`nbtune.sklearn.fitting`); ``n_jobs`` of the estimator is left as you set it.
    """

    def __init__(self, estimator: Any, space: Any, *, scoring: Any = None, cv: Any = 5,
                 n_trials: int | str | None = "auto", searcher: Any = "random",
                 scheduler: Any = None, resource: str = "auto", max_t: int | None = None,
                 grace_period: int | None = None, reduction_factor: int = 3,
                 scheduler_options: dict | None = None, rung_folds: str = "all",
                 refit: bool | str | Callable = True,
                 error_score: Any = np.nan, return_train_score: bool = False,
                 seed: int | None = None, max_time: float | None = None, cluster: Any = None,
                 storage: str | None = None, study: str | None = None,
                 progress: bool | str = "auto"):
        self.estimator, self.space, self.scoring, self.cv = estimator, space, scoring, cv
        self.n_trials, self.searcher, self.scheduler = n_trials, searcher, scheduler
        self.resource, self.max_t, self.grace_period = resource, max_t, grace_period
        self.reduction_factor, self.scheduler_options = reduction_factor, scheduler_options
        self.rung_folds = rung_folds
        self.refit, self.error_score = refit, error_score
        self.return_train_score, self.seed, self.max_time = return_train_score, seed, max_time
        self.cluster, self.storage, self.study, self.progress = cluster, storage, study, progress

    def __sklearn_clone__(self) -> "SearchCV":
        """A clone shares the Dask client or cluster given as ``cluster`` (never a copy of it)."""
        params = self.get_params(deep=False)
        cluster = params.pop("cluster")
        return type(self)(**{k: clone(v, safe=False) for k, v in params.items()}, cluster=cluster)

    def __getstate__(self) -> dict:
        """A search pickles with its cluster's address in place of a Client or cluster object,
        and a fitted one with a plain copy of its study (no thread, panel or scheduler)."""
        state = super().__getstate__() if hasattr(super(), "__getstate__") else dict(self.__dict__)
        cluster = state.get("cluster")
        if cluster is not None and not isinstance(cluster, str):
            state["cluster"] = getattr(cluster, "scheduler_address", None) or getattr(
                getattr(cluster, "scheduler", None), "address", None)
        study = state.get("study_")
        if study is not None:
            state["study_"] = Study(study.name, study.space, study.metric, study.mode,
                                    trials=list(study.trials), storage=study.storage,
                                    settings=study.settings, stop_reason=study.stop_reason)
        return state

    def __sklearn_tags__(self):
        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags, tags.regressor_tags = inner.classifier_tags, inner.regressor_tags
        tags.input_tags.pairwise, tags.input_tags.sparse = (inner.input_tags.pairwise,
                                                            inner.input_tags.sparse)
        return tags

    @property
    def _estimator_type(self) -> str | None:  # scikit-learn < 1.6 reads this
        return getattr(self.estimator, "_estimator_type", None)

    # -- checks --------------------------------------------------------------------------------
    def _scorers(self) -> tuple[dict[str, Any], str, bool]:
        """(scorers by name, the name the study optimises, multimetric)."""
        from sklearn.metrics import check_scoring

        if self.scoring is None or isinstance(self.scoring, str) or callable(self.scoring):
            return {"score": check_scoring(self.estimator, self.scoring)}, "score", False
        from sklearn.metrics._scorer import _check_multimetric_scoring

        scorers = _check_multimetric_scoring(self.estimator, self.scoring)
        if self.refit is not False and not callable(self.refit) and self.refit not in scorers:
            raise ValueError(f"with several scorers ({', '.join(scorers)}), refit must name the "
                             f"one to select and refit by, be a callable, or be False; got "
                             f"refit={self.refit!r}")
        return scorers, self.refit if isinstance(self.refit, str) else next(iter(scorers)), True

    def _resource(self) -> tuple[str, str | None, bool, str] | None:
        """(kind, warm_start parameter, cumulative, report key), or None without a resource."""
        resource = self.resource
        if resource == "auto":
            if self.scheduler is None:
                return None
            resource = checks.auto_resource(self.estimator)
        kind, warm, cumulative = checks.resource_kind(self.estimator, resource)
        return kind, warm, cumulative, EPOCH if kind == PARTIAL_FIT else resource

    def _schedule(self, space: Any, metric: str, key: str, max_t: int, seed: int | None
                  ) -> tuple[Any, tuple[int, ...]]:
        """The scheduler object, and the resource levels a trial is scored at."""
        options = dict(self.scheduler_options or {})
        eta = check_reduction_factor(self.reduction_factor)
        grace = self.grace_period or max(1, -(-max_t // eta ** 3))  # three rungs below max_t
        if self.scheduler is None:
            return None, (max_t,)
        if isinstance(self.scheduler, str) and self.scheduler.lower() in ("asha", "hyperband"):
            options = {"max_t": max_t, "grace_period": grace, "reduction_factor": eta, **options}
        sched = make_scheduler(self.scheduler, **options)
        sched.setup(metric, "max", key, seed=seed, space=space)
        points = sched.decision_points()
        if points is None:  # a rule that may judge any report: score at successive halving's rungs
            points = rung_levels(max_t, grace, eta)
        top = int(getattr(sched, "max_t", None) or max_t)
        return sched, tuple(sorted({int(p) for p in points if p < top} | {top}))

    def _trials(self, converted: Converted, rng: np.random.Generator, sched: Any
                ) -> tuple[Any, list | None]:
        """n_trials, and the configs of a finite space drawn without replacement (as
        RandomizedSearchCV does for lists): "auto" is all of them up to 50 (or what a hyperband
        scheduler's brackets start); elsewhere "auto" is resolved by :func:`nbtune.tune`."""
        n, space = self.n_trials, converted.space
        if self.searcher != "random" or any(d.values is None for d in space.values()):
            return n, None
        size = math.prod(len(d.values) for d in space.values())
        if size > GRID_LIMIT:
            return n, None
        if n is None:
            n = size
        elif n == "auto":
            n = min(getattr(sched, "trials_needed", None) or DEFAULT_TRIALS, size)
        elif isinstance(n, int) and n > size:
            warnings.warn(f"the space holds {size} candidates, fewer than n_trials={n}: running "
                          f"{size}; give a distribution for a parameter to draw more",
                          UserWarning, stacklevel=3)
            n = size
        combos = list(itertools.product(*(d.values for d in space.values())))
        picks = rng.permutation(size)[:n]
        return n, [dict(zip(space, combos[i])) for i in picks]

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, *, groups: Any = None, **fit_params: Any) -> "SearchCV":
        """Run the search on the cluster, then refit the best candidate on all of ``X``."""
        import nbtune
        from sklearn.model_selection import check_cv as sk_check_cv
        from sklearn.utils import indexable

        checks.check_estimator(self.estimator)
        checks.check_cv(self.cv)
        checks.check_rung_folds(self.rung_folds)
        converted = convert(self.space, self.searcher)
        checks.check_keys(self.estimator, converted.space)
        scorers, refit_name, multimetric = self._scorers()
        metric = f"mean_test_{refit_name}"
        found = self._resource()
        X, y, groups = indexable(X, y, groups)
        cv = sk_check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y, groups))
        classes = np.unique(y) if is_classifier(self.estimator) and y is not None else None
        rng = np.random.default_rng(self.seed)
        resource, sched = None, None
        if found is not None:
            kind, warm, cumulative, key = found
            if kind == PARAM and key in converted.space:
                raise ValueError(f"{key!r} is both the resource and a key of the space: early "
                                 f"stopping sets it rung by rung; drop it from the space, or "
                                 f"choose another resource")
            max_t = self.max_t or checks.default_max_t(self.estimator, kind, key,
                                                       min(len(tr) for tr, _ in splits))
            sched, levels = self._schedule(converted.space, metric, key, max_t, self.seed)
            resource = Resource(kind, key, levels, warm, cumulative, classes,
                                int(rng.integers(2 ** 31)),
                                fold_counts(len(splits), len(levels), self.rung_folds))
        elif self.rung_folds == "grow":
            warnings.warn("rung_folds='grow' needs a scheduler (scheduler='asha' or "
                          "'hyperband'): without rungs every candidate is scored on every fold",
                          UserWarning, stacklevel=2)
        n_trials, points = self._trials(converted, rng, sched)
        plan = Plan(clone(self.estimator), converted, scorers, metric, refit_name,
                    self.error_score, self.return_train_score, resource)
        fn = with_parameters(FoldTrial(plan), X=X, y=y, splits=splits, fit_params=fit_params)
        failures = _Failures()
        study = nbtune.tune(fn, converted.space, metric=metric, mode="max", n_trials=n_trials,
                            seed=self.seed, cluster=self.cluster, storage=self.storage,
                            study=self.study, max_time=self.max_time, searcher=self.searcher,
                            points_to_evaluate=points, scheduler=sched,
                            resource=resource.key if resource else EPOCH, observers=[failures],
                            progress=self.progress, background=True)
        self._wait(study, failures)
        self.study_, self.n_splits_, self.multimetric_ = study, len(splits), multimetric
        self._collect(study, converted, list(scorers), resource)
        self._select(refit_name, multimetric, resource)
        self.scorer_ = scorers if multimetric else scorers["score"]
        if self.refit:
            self._refit(X, y, fit_params, resource, classes)
        return self

    def _wait(self, study: Study, failures: _Failures) -> None:
        """Wait for the study; with error_score='raise', end it at the first failed trial."""
        try:
            while study.running:
                study.wait(0.2)
                if failures.failed is not None and self.error_score == "raise":
                    study.stop()
        except KeyboardInterrupt:
            study.stop()
            raise
        if failures.failed is not None and self.error_score == "raise":
            raise ValueError(f"trial {failures.failed.id} failed with error_score='raise' "
                                 f"(config {failures.failed.config}):\n{failures.failed.error}")

    def _collect(self, study: Study, converted: Converted, names: list[str],
                 resource: Resource | None) -> None:
        """cv_results_ from the trials that have an evaluation, in trial order."""
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
            raise ValueError(f"no candidate was evaluated ({len(study.trials)} trials, "
                             f"{study.stop_reason}){why}")
        total = len(rows) * self.n_splits_
        failed = sum(int(r.get("fit_failures", 0)) for r in rows)
        first = next((r["fit_error"] for r in rows if r.get("fit_error")), "")
        if failed == total:
            raise ValueError(f"All the {total} fits failed; the first error: {first}. Check the "
                             "estimator and the space, or set error_score='raise' to see the "
                             "whole traceback")
        if failed:
            from sklearn.exceptions import FitFailedWarning

            warnings.warn(f"{failed} fits failed out of a total of {total}; their score is "
                          f"error_score={self.error_score!r}. The first error: {first}",
                          FitFailedWarning, stacklevel=3)
        self.cv_results_ = format_results(rows, params, self.n_splits_, names,
                                          self.return_train_score,
                                          levels if resource is not None else None)

    def _select(self, refit_name: str, multimetric: bool, resource: Resource | None) -> None:
        """best_index_, best_score_, best_params_ as scikit-learn sets them; under early
        stopping the default choice is among the candidates trained to max_t."""
        results = self.cv_results_
        if callable(self.refit):
            index = self.refit(results)
            if not isinstance(index, (int, np.integer)):
                raise TypeError("best_index_ returned is not an integer")
            if not 0 <= index < len(results["params"]):
                raise IndexError("best_index_ index out of range")
        elif self.refit is False and multimetric:
            return
        else:
            ranks = results[f"rank_test_{refit_name}"].astype(float)
            if resource is not None and (results["n_resources"] == resource.levels[-1]).any():
                ranks = np.where(results["n_resources"] == resource.levels[-1], ranks, np.inf)
            index = int(np.argmin(ranks))
            self.best_score_ = float(results[f"mean_test_{refit_name}"][index])
        self.best_index_ = int(index)
        self.best_params_ = results["params"][self.best_index_]

    def _refit(self, X: Any, y: Any, fit_params: dict, resource: Resource | None,
               classes: Any) -> None:
        """best_estimator_: the best candidate trained on all of X as its trial was."""
        est = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
        started = time.time()
        if resource is not None and resource.kind == PARTIAL_FIT:
            for epoch in range(int(self.cv_results_["n_resources"][self.best_index_])):
                extra = {"classes": classes} if epoch == 0 and classes is not None else {}
                est.partial_fit(X, y, **extra, **fit_params) if y is not None \
                    else est.partial_fit(X, **extra, **fit_params)
        elif y is not None:
            est.fit(X, y, **fit_params)
        else:
            est.fit(X, **fit_params)
        self.refit_time_ = time.time() - started
        self.best_estimator_ = est
        if hasattr(est, "feature_names_in_"):
            self.feature_names_in_ = est.feature_names_in_

    # -- the refitted estimator's methods ------------------------------------------------------
    def score(self, X: Any, y: Any = None) -> float:
        """The refit scorer (``scoring``; the estimator's own score by default) on ``X``, ``y``."""
        if not self.refit:
            raise AttributeError("score needs refit=True (or a refit metric)")
        scorer = self.scorer_[self.refit] if self.multimetric_ else self.scorer_
        return scorer(self.best_estimator_, X) if y is None else scorer(self.best_estimator_, X, y)

    @available_if(_delegate("predict"))
    def predict(self, X: Any) -> Any:
        """``best_estimator_.predict(X)``."""
        return self.best_estimator_.predict(X)

    @available_if(_delegate("predict_proba"))
    def predict_proba(self, X: Any) -> Any:
        """``best_estimator_.predict_proba(X)``."""
        return self.best_estimator_.predict_proba(X)

    @available_if(_delegate("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> Any:
        """``best_estimator_.predict_log_proba(X)``."""
        return self.best_estimator_.predict_log_proba(X)

    @available_if(_delegate("decision_function"))
    def decision_function(self, X: Any) -> Any:
        """``best_estimator_.decision_function(X)``."""
        return self.best_estimator_.decision_function(X)

    @available_if(_delegate("transform"))
    def transform(self, X: Any) -> Any:
        """``best_estimator_.transform(X)``."""
        return self.best_estimator_.transform(X)

    @available_if(_delegate("inverse_transform"))
    def inverse_transform(self, X: Any) -> Any:
        """``best_estimator_.inverse_transform(X)``."""
        return self.best_estimator_.inverse_transform(X)

    @property
    def classes_(self) -> Any:
        """The classes of the refitted classifier."""
        return self.best_estimator_.classes_

    @property
    def n_features_in_(self) -> int:
        """The number of features the refitted estimator saw."""
        return self.best_estimator_.n_features_in_
