"""``nbtune.SearchCV``: scikit-learn's hyperparameter search on Dask, with early stopping."""
from __future__ import annotations

import contextlib
import functools
import time
from types import MethodType
from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.utils.validation import check_is_fitted

from .. import trial as T
from ..caller import shown_as_users, user_facing, warn, warn_note
from ..live import shows_progress
from ..panel import continued_by
from ..contract.events import Observer
from ..run.task import with_parameters
from ..search.grid import GridSearcher
from ..study import Study, StudyInterrupted
from ..starting import short_brackets_said
from ..connecting import starts_now
from ..tune import own_resume_note
from ..warm import data_as, measured_as
from . import checks, resources
from .grids import Union, convert_spaces
from .fitting import PARAM, PARTIAL_FIT, FoldTrial, Plan, Resource
from .notices import check_resumable, fingerprint, refit_announced, replaced_line, say
from .planning import candidates, fold_counts, schedule
from .raised import rebuilt
from .scoring import check_ranking_scorer, measured_by, scorers_of
from .results import best_index, collect, grid_cut_note, halving_attributes
from .training import fit_on, partial_fitted

EPOCH = "epoch"  # the report key of partial_fit epochs


def _no_refit(attr: str) -> AttributeError:
    return shown_as_users(AttributeError(
        f"{attr} is available only after refitting on the best parameters, and this SearchCV "
        "has refit=False: give refit=True, or fit estimator.set_params(**search.best_params_) "
        "yourself"))


def _data_error(exc: Exception, groups: Any) -> Exception:
    """scikit-learn's error about the data given to ``fit`` (X and y of different lengths, a
    group splitter without groups), rendered from the user's line with scikit-learn's frames and
    not nbtune's: two frames of nbtune's came first (first-day test, round 32)."""
    if groups is None and "groups" in str(exc):
        exc.add_note("give the groups to fit: search.fit(X, y, groups=groups)")
    return shown_as_users(exc)


class _refitted:
    """A method of the refitted estimator (``best_estimator_``): an attribute of the search where
    that estimator (before fit, ``estimator``) has it and refit is on, as scikit-learn's
    ``available_if`` makes them; with refit=False an AttributeError that says so."""

    def __init__(self, fn: Callable):
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self.fn
        if not obj.refit:
            raise _no_refit(self.fn.__name__)
        getattr(obj.best_estimator_ if hasattr(obj, "best_estimator_") else obj.estimator,
                self.fn.__name__)
        return MethodType(self.fn, obj)


class _Failures(Observer):
    """Remembers the first failed trial, for error_score='raise'."""

    def __init__(self):
        self.failed: T.Trial | None = None

    def trial_finished(self, trial: T.Trial) -> None:
        if trial.state == T.FAILED and self.failed is None:
            self.failed = trial


class SearchCV(MetaEstimatorMixin, BaseEstimator):
    """Cross-validated hyperparameter search on a Dask cluster, in place of scikit-learn's
    ``GridSearchCV``, ``RandomizedSearchCV`` and ``HalvingRandomSearchCV``: the same ``fit``
    and fitted attributes, with some parameters renamed (``param_grid=`` is ``space=`` with
    ``searcher="grid"``, ``n_iter=`` is ``n_trials=``, ``random_state=`` is ``seed=``,
    ``verbose=`` is ``progress=``; no ``n_jobs=``).

    Each candidate is one nbtune trial that fits and scores ``estimator`` on every CV split.
    ``space`` maps parameter names (``step__param`` in a pipeline) to lists, scipy.stats
    distributions or nbtune domains; or it is a list of such mappings of lists (a grid per model,
    as ``GridSearchCV``'s list of dicts), each candidate setting its own grid's keys only, searched
    by ``searcher="grid"`` or ``"random"`` (:mod:`nbtune.sklearn.grids`). With ``scheduler="asha"`` or ``"hyperband"`` a candidate is
    scored at each rung of ``resource`` (the mean CV score over the folds) and the poor ones stop:
    ``resource`` is ``"partial_fit"`` (epochs), a parameter that grows with warm starts
    (``"n_estimators"``, ``"clf__max_iter"``) or ``"n_samples"`` (training rows: each fold
    trains on min(rung, its rows), and max_t defaults to the largest training fold, so at max_t
    every fold trains on all its rows, as ``cross_val_score`` does); ``"auto"`` picks the first
    the estimator allows. After ``fit``: ``best_params_``, ``best_score_``,
    ``best_index_``, ``best_estimator_``, ``cv_results_`` (scikit-learn's format, plus
    ``iter`` and ``n_resources`` under early stopping, with ``HalvingRandomSearchCV``'s
    ``n_resources_``, ``n_candidates_`` and the rest of its attributes), ``n_splits_``, ``refit_time_``, ``scorer_`` and
    ``study_`` (the nbtune :class:`~nbtune.Study`). ``rung_folds="grow"`` scores a candidate on
    fewer folds at the early rungs (the first folds only, more at each rung after, all of them at
    max_t; linear growth, see :func:`fold_counts`), so that the many candidates stopped early cost a
    fraction of a full cross-validation; candidates are still compared on the same folds at each
    rung, and their unscored splits are NaN in ``cv_results_``. The default, ``"all"``, scores every
    fold at every rung. ``searcher_options`` go to the searcher named by ``searcher``, as
    :func:`nbtune.tune`'s do (``searcher="bayesopt", searcher_options={"cost_aware": True}``).
    ``storage=None`` keeps the study in memory; give a path to keep it. Each ``fit`` starts
    over, as scikit-learn's does: a stored study named ``study`` is replaced by the new one;
    with ``resume=True`` it continues that study instead (one cut by an interrupt, ``max_time``
    or a dead kernel, or given a larger ``n_trials``), on the same data only.
    ``warm_start`` (an earlier search's ``study_``, or a study name in ``storage``) seeds a
    model-based searcher (``"bayesopt"``, ``"kde"``, ``"tpe"``) with that study's candidates and
    scores, as :func:`nbtune.tune`'s does: a search on new data starts from what the last one
    learned.
    Where the search has fewer candidates left than the workers have threads, a trial's folds
    run as Dask tasks of their own, spread over the free threads
    (:mod:`nbtune.sklearn.fitting`); ``n_jobs`` of the estimator is left as you set it.
    """

    @user_facing
    def __init__(self, estimator: Any, space: Any = None, *, scoring: Any = None, cv: Any = 5,
                 n_trials: int | str | None = "auto", searcher: Any = "random",
                 searcher_options: dict | None = None, scheduler: Any = None,
                 resource: str = "auto", max_t: int | None = None,
                 grace_period: int | None = None, reduction_factor: int | None = None,
                 scheduler_options: dict | None = None, rung_folds: str = "all",
                 refit: bool | str | Callable = True,
                 error_score: Any = np.nan, return_train_score: bool = False,
                 seed: int | None = None, max_time: float | None = None, cluster: Any = None,
                 storage: str | None = None, study: str | None = None, resume: bool = False,
                 warm_start: Study | str | None = None,
                 progress: bool | str = "auto", **unknown: Any):
        if unknown or space is None:  # scikit-learn's names (n_iter=, ...) and typos, named
            checks.check_init_names(unknown, space, self._get_param_names())
        self.estimator, self.space, self.scoring, self.cv = estimator, space, scoring, cv
        self.n_trials, self.searcher, self.scheduler = n_trials, searcher, scheduler
        self.searcher_options = searcher_options
        self.resource, self.max_t, self.grace_period = resource, max_t, grace_period
        self.reduction_factor, self.scheduler_options = reduction_factor, scheduler_options
        self.rung_folds = rung_folds
        self.refit, self.error_score = refit, error_score
        self.return_train_score, self.seed, self.max_time = return_train_score, seed, max_time
        self.cluster, self.storage, self.study, self.progress = cluster, storage, study, progress
        self.resume = resume
        self.warm_start = warm_start

    def __sklearn_clone__(self) -> "SearchCV":
        """A clone shares the Dask client or cluster given as ``cluster``, and the study given
        as ``warm_start`` (never a copy of either)."""
        params = self.get_params(deep=False)
        shared = {k: params.pop(k) for k in ("cluster", "warm_start")}
        return type(self)(**{k: clone(v, safe=False) for k, v in params.items()}, **shared)

    def __getstate__(self) -> dict:
        """A search pickles with its cluster's address in place of a Client or cluster object,
        and a fitted one with a plain copy of its study (no thread, panel or scheduler)."""
        state = super().__getstate__() if hasattr(super(), "__getstate__") else dict(self.__dict__)
        cluster = state.get("cluster")
        if cluster is not None and not isinstance(cluster, str):
            state["cluster"] = getattr(cluster, "scheduler_address", None) or getattr(
                getattr(cluster, "scheduler", None), "address", None)
        for key in ("study_", "warm_start"):
            study = state.get(key)
            if isinstance(study, Study):
                state[key] = Study(study.name, study.space, study.metric, study.mode,
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
    def _resource(self, models: list[tuple[Any, str]]
                  ) -> tuple[str, str | None, bool, str | None, str] | None:
        """(kind, warm_start parameter, cumulative, the fit keyword that continues a model,
        report key) for the estimators the candidates fit, or None without a resource."""
        if self.resource == "auto" and self.scheduler is None:
            return None
        resource, (kind, warm, cumulative, continued) = resources.models_resource(
            models, self.resource)
        return kind, warm, cumulative, continued, EPOCH if kind == PARTIAL_FIT else resource

    # -- fit -----------------------------------------------------------------------------------
    @user_facing
    def fit(self, X: Any, y: Any = None, *, groups: Any = None, **fit_params: Any) -> "SearchCV":
        """Run the search on the cluster, then refit the best candidate on all of ``X``."""
        import nbtune
        from sklearn.model_selection import check_cv as sk_check_cv
        from sklearn.utils import indexable

        checks.check_estimator(self.estimator)
        checks.check_numbers(self.error_score, self.n_trials, self.max_time, self.max_t,
                             self.grace_period, self.reduction_factor)
        checks.check_cv(self.cv)
        checks.check_rung_folds(self.rung_folds)
        checks.check_rungs_need_a_scheduler(self.scheduler, self.resource, self.max_t,
                                            self.grace_period, self.reduction_factor,
                                            self.scheduler_options)
        converted = convert_spaces(self.space, self.searcher)
        checks.check_spaces_keys(self.estimator, converted)
        checks.check_sendable(self.estimator, converted.objects)
        checks.check_scoring_names(self.scoring)
        scorers, refit_name, multimetric = scorers_of(self.estimator, self.scoring, self.refit)
        check_ranking_scorer(scorers, self.refit, self.scheduler, self.searcher)
        metric = f"mean_test_{refit_name}"
        models = checks.space_models(self.estimator, converted)
        found = self._resource(models)
        try:  # scikit-learn's own checks of the data, shown as GridSearchCV shows them
            X, y, groups = indexable(X, y, groups)
            cv = sk_check_cv(self.cv, y, classifier=is_classifier(self.estimator))
            splits = list(cv.split(X, y, groups))
        except (ValueError, TypeError) as exc:
            raise _data_error(exc, groups)
        data = fingerprint(X, y, groups, splits) if self.storage is not None else None
        check_resumable(self.resume, self.storage, self.study, data)
        classes = np.unique(y) if is_classifier(self.estimator) and y is not None else None
        rng = np.random.default_rng(self.seed)
        resource, sched = None, None
        if found is not None:
            kind, warm, cumulative, continued, key = found
            if kind == PARAM and key in converted.space:
                raise ValueError(f"{key!r} is both the resource and a key of the space: early "
                                 f"stopping sets it rung by rung; drop it from the space, or "
                                 f"choose another resource")
            max_t = int(self.max_t) if self.max_t else resources.models_max_t(
                models, kind, key, max(len(tr) for tr, _ in splits))
            if kind == PARAM:
                from sklearn.utils.validation import _num_samples

                stops = {resources.self_stopping_note(
                    model, key, max(len(tr) for tr, _ in splits),
                    _num_samples(X) if self.refit else None) for model, _ in models} - {None}
                for note in sorted(stops):
                    warn(note)
            sched, levels = schedule(self.scheduler, self.scheduler_options,
                                     self.reduction_factor, self.grace_period, converted.space,
                                     metric, key, max_t, self.seed)
            resource = Resource(kind, key, levels, warm, cumulative, classes,
                                int(rng.integers(2 ** 31)),
                                fold_counts(len(splits), len(levels), self.rung_folds),
                                continued)
            if sched is None:  # a resource without a scheduler: how each candidate trains
                warn_note(resources.unscheduled_note(kind, key, max_t))
        elif self.rung_folds == "grow":
            warn("rung_folds='grow' needs a scheduler (scheduler='asha' or "
                 "'hyperband'): without rungs every candidate is scored on every fold")
        given = self.n_trials if self.n_trials is None or isinstance(self.n_trials, str) \
            else int(self.n_trials)  # numpy's integers too
        n_trials, points = candidates(given, self.searcher, converted, rng, sched)
        searcher, options = self.searcher, self.searcher_options
        if isinstance(converted, Union) and searcher == "grid":  # the grids, listed in order
            searcher = GridSearcher(converted.space, seed=self.seed, points_to_evaluate=points,
                                    mode="max", points_only=True, **(options or {}))
            points = options = None
        plan = Plan(clone(self.estimator), converted, scorers, metric, refit_name,
                    self.error_score, self.return_train_score, resource,
                    checks.weighted_scorers(scorers, fit_params))
        fn = with_parameters(FoldTrial(plan), X=X, y=y, splits=splits, fit_params=fit_params)
        failures = _Failures()
        replaced = None if self.resume else replaced_line(self.storage, self.study)
        if replaced is not None:
            say(replaced)
        if self.study is not None and self.storage is None:  # named as if to keep it, and
            # kept nowhere, in silence (first-day test, round 41)
            say(f"study {self.study!r} is kept in memory only (SearchCV's storage=None, unlike "
                f"nbtune.tune's): give storage='nbtune.db' to keep it in a file")
        # fit() starts anew (resume=True aside): its panel offers load_study; an interrupted fit
        # says its own line (_wait), where tune's offered a resume with a trial_fn a SearchCV
        # user never had, of a study kept in memory only, before it (first-day test)
        with continued_by("read"), own_resume_note("n_trials={}"), starts_now(), \
                short_brackets_said(), measured_as(measured_by(self.scoring, refit_name)), \
                data_as(data):
            study = nbtune.tune(
                fn, converted.space, metric=metric, mode="max", n_trials=n_trials,
                seed=self.seed, cluster=self.cluster, storage=self.storage, study=self.study,
                resume=bool(self.resume), replace=self.study is not None and not self.resume,
                max_time=self.max_time, searcher=searcher,
                searcher_options=options, points_to_evaluate=points,
                warm_start=self.warm_start, scheduler=sched,
                resource=resource.key if resource else EPOCH, observers=[failures],
                progress=self.progress, background=True,
                fail_fast=False)  # as scikit-learn's: error_score decides
        self._wait(study, failures)
        self.study_, self.n_splits_, self.multimetric_ = study, len(splits), multimetric
        chooses = refit_name if self.refit is not False and not callable(self.refit) else None
        self.cv_results_ = collect(study, converted, list(scorers), resource, len(splits),
                                   self.error_score, self.return_train_score, chooses)
        index, score = best_index(self.cv_results_, self.refit, refit_name, multimetric,
                                  resource)
        if index is not None:
            self.best_index_ = index
            self.best_params_ = self.cv_results_["params"][index]
        if score is not None:
            self.best_score_ = score
        cut = grid_cut_note(study, len(self.cv_results_["params"]), index is not None)
        if cut is not None:
            warn(cut)
        if resource is not None:
            for name, value in halving_attributes(self.cv_results_, resource.levels).items():
                setattr(self, name, value)
        self.scorer_ = scorers if multimetric else scorers["score"]
        if self.refit:
            self._refit(X, y, fit_params, resource, classes)
        return self

    def _wait(self, study: Study, failures: _Failures) -> None:
        """Wait for the study; with error_score='raise', end it at the first failed trial.
        Interrupted, the study is stopped (its running candidates end as interrupted), bound
        to ``study_``, and :class:`~nbtune.study.StudyInterrupted` says so in one line."""
        try:
            while study.running:
                study.wait(0.2)
                if failures.failed is not None and self.error_score == "raise":
                    study.stop()
        except KeyboardInterrupt:
            study.stop(reason="interrupted")  # recorded as an interrupted %%tune cell's
            self.study_ = study  # what ran is the user's to look at; the search is not fitted
            done = len(study.completed)
            kept = "" if study.storage is None else f", kept in {study.storage!r}"
            again = ("fit() again starts a new search" if study.storage is None else
                     "SearchCV(..., resume=True).fit() continues it")  # round 63
            raise StudyInterrupted(
                f"SearchCV.fit was interrupted: its study {study.name!r} stopped after {done} "
                f"candidate{'s' if done != 1 else ''} completed{kept}; `.study_` holds it, "
                f"and {again}") from None
        failed = failures.failed
        if failed is None or self.error_score != "raise":
            return
        why = (f"trial {failed.id} failed with error_score='raise' (config {failed.config}); "
               f"on its worker:\n{failed.error}")
        original = rebuilt(failed.error or "")
        if original is None:  # a type the notebook has not loaded, or that takes other arguments
            raise ValueError(why)
        if hasattr(original, "add_note"):  # Python >= 3.11
            original.add_note(why)
            raise original
        raise original from ValueError(why)

    def _refit(self, X: Any, y: Any, fit_params: dict, resource: Resource | None,
               classes: Any) -> None:
        """best_estimator_: the best candidate trained on all of X as its trial was; said in
        the cell where it takes a while (:func:`~nbtune.sklearn.notices.refit_announced`)."""
        est = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
        started = time.time()
        took = float(self.cv_results_["mean_fit_time"][self.best_index_])
        rows = X.shape[0] if hasattr(X, "shape") else len(X)
        said = refit_announced(took, self.n_splits_, rows, self.max_time is not None) \
            if shows_progress(self.progress) else contextlib.nullcontext()
        with said:
            if resource is not None and resource.kind == PARTIAL_FIT:
                partial_fitted(est, X, y, fit_params, 0,
                               int(self.cv_results_["n_resources"][self.best_index_]), classes)
            else:
                fit_on(est, X, y, fit_params)
        self.refit_time_ = time.time() - started
        self.best_estimator_ = est
        if hasattr(est, "feature_names_in_"):
            self.feature_names_in_ = est.feature_names_in_

    def __sklearn_is_fitted__(self) -> bool:
        """Fitted once a fit ended (``cv_results_``): an interrupted fit binds ``study_`` only,
        and ``predict`` then says "not fitted", as scikit-learn's searches do."""
        return hasattr(self, "cv_results_")

    # -- the refitted estimator's methods ------------------------------------------------------
    def score(self, X: Any, y: Any = None) -> float:
        """The refit scorer (``scoring``; the estimator's own score by default) on ``X``, ``y``."""
        if not self.refit:
            raise _no_refit("score")
        check_is_fitted(self)
        scorer = self.scorer_[self.refit] if self.multimetric_ else self.scorer_
        return scorer(self.best_estimator_, X) if y is None else scorer(self.best_estimator_, X, y)

    @_refitted
    def predict(self, X: Any) -> Any:
        """``best_estimator_.predict(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.predict(X)

    @_refitted
    def predict_proba(self, X: Any) -> Any:
        """``best_estimator_.predict_proba(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(X)

    @_refitted
    def predict_log_proba(self, X: Any) -> Any:
        """``best_estimator_.predict_log_proba(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.predict_log_proba(X)

    @_refitted
    def decision_function(self, X: Any) -> Any:
        """``best_estimator_.decision_function(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.decision_function(X)

    @_refitted
    def transform(self, X: Any) -> Any:
        """``best_estimator_.transform(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.transform(X)

    @_refitted
    def inverse_transform(self, X: Any) -> Any:
        """``best_estimator_.inverse_transform(X)``."""
        check_is_fitted(self)
        return self.best_estimator_.inverse_transform(X)

    @property
    def classes_(self) -> Any:
        """The classes of the refitted classifier."""
        if not self.refit:
            raise _no_refit("classes_")
        return self.best_estimator_.classes_

    @property
    def n_features_in_(self) -> int:
        """The number of features the refitted estimator saw."""
        return self.best_estimator_.n_features_in_
