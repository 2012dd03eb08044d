"""nbtune.SearchCV against scikit-learn's own searches, on a real LocalCluster."""
from __future__ import annotations

import os
import re
import threading
import time
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.datasets import (load_breast_cancer, load_diabetes, load_iris, load_wine,
                              make_classification)
from sklearn.exceptions import FitFailedWarning, NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier, SGDRegressor
from sklearn.metrics import get_scorer, make_scorer, roc_auc_score
from sklearn.model_selection import (GridSearchCV, GroupKFold, KFold, StratifiedKFold,
                                     TimeSeriesSplit, cross_val_score)
from sklearn.model_selection._search import BaseSearchCV
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

import nbtune
from waiting import busy_threads, wait_for


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X[::2]), y[::2]  # 285 rows


# scikit-learn >= 1.9's searches give fit's sample_weight to the scorers that take it
SCORERS_WEIGHTED = hasattr(BaseSearchCV, "_check_scorers_accept_sample_weight")


def search(estimator, space, client, **kwargs):
    kwargs.setdefault("progress", False)
    return nbtune.SearchCV(estimator, space, cluster=client, **kwargs)


def test_a_grid_runs_in_parametergrids_order_and_auto_trials_name_a_larger_space(client, cancer):
    X, y = cancer
    grid = {"kind": ["b", "a"], "c": [2.0, 1.0, 3.0]}  # keys not sorted
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    ours = search(Fails(), grid, client, searcher="grid", cv=cv).fit(X, y)
    theirs = GridSearchCV(Fails(), grid, cv=cv).fit(X, y)
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    assert ours.best_index_ == theirs.best_index_ and ours.best_params_ == theirs.best_params_
    big = {"c": [float(c) for c in range(1, 31)], "kind": ["a", "b"]}  # 60 candidates
    with pytest.warns(UserWarning, match=r"^the space holds 60 candidates; n_trials='auto' tries "
                                         r"50 of them: n_trials=60 or searcher='grid' for all$"):
        s = search(Fails(), big, client, cv=2, refit=False).fit(X[:40], y[:40])
    assert len(s.cv_results_["params"]) == 50


def test_more_trials_than_a_finite_space_holds_warns_at_the_fit_line_and_runs_them_all(
        client, cancer):
    X, y = cancer
    with pytest.warns(UserWarning, match=r"^the space holds 2 candidates, fewer than "
                                         r"n_trials=5: running 2; give a wider range or a distribution") as warned:
        s = search(LogisticRegression(), {"C": [0.1, 1.0]}, client, n_trials=5, cv=3).fit(X, y)
    assert [w.filename for w in warned] == [__file__]  # the fit() line above, not nbtune's own
    assert sorted(p["C"] for p in s.cv_results_["params"]) == [0.1, 1.0]
    with pytest.warns(UserWarning, match=r"^the space holds 1 candidate, fewer than n_trials=2"):
        search(LogisticRegression(), {"C": [0.1]}, client, n_trials=2, cv=3).fit(X, y)
    # a small integer distribution is as finite as a list: n_trials="auto" runs each value once
    s = search(DecisionTreeClassifier(random_state=0),
               {"max_depth": stats.randint(1, 4), "criterion": ["gini", "entropy"]}, client,
               cv=3).fit(X, y)
    assert sorted((p["max_depth"], p["criterion"]) for p in s.cv_results_["params"]) == \
        [(d, c) for d in (1, 2, 3) for c in ("entropy", "gini")]


def by_params(results):
    """Row index of each candidate, keyed by its sorted params."""
    return {tuple(sorted((k, repr(v)) for k, v in p.items())): i
            for i, p in enumerate(results["params"])}


def test_grid_cv_results_match_gridsearchcv(client, cancer):
    X, y = cancer
    grid = {"C": [0.01, 0.1, 1.0, 10.0], "fit_intercept": [True, False]}
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    ours = search(LogisticRegression(max_iter=1000), grid, client, searcher="grid", cv=cv,
                  return_train_score=True).fit(X, y)
    theirs = GridSearchCV(LogisticRegression(max_iter=1000), grid, cv=cv,
                          return_train_score=True).fit(X, y)
    a, b = ours.cv_results_, theirs.cv_results_
    assert set(a) == set(b)
    assert len(a["params"]) == 8 and ours.n_splits_ == 4
    rows_a, rows_b = by_params(a), by_params(b)
    assert rows_a.keys() == rows_b.keys()
    for key, i in rows_a.items():
        j = rows_b[key]
        for name in b:
            if "time" in name or name == "params":
                continue
            if name.startswith("param_"):
                assert a[name][i] == b[name][j]
            else:
                assert abs(a[name][i] - b[name][j]) <= 1e-12, (name, a[name][i], b[name][j])
    assert a["params"] == b["params"] and ours.best_index_ == theirs.best_index_  # in order
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == pytest.approx(theirs.best_score_, abs=1e-12)
    assert ours.best_estimator_.get_params() == theirs.best_estimator_.get_params()
    assert ours.refit_time_ >= 0 and ours.study_.best.config["C"] == ours.best_params_["C"]
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X))
    assert ours.score(X, y) == theirs.score(X, y)
    assert list(ours.classes_) == [0, 1] and ours.n_features_in_ == X.shape[1]
    frame = pd.DataFrame(ours.cv_results_)
    assert len(frame) == 8 and "mean_test_score" in frame


def test_clone_and_nested_cross_validation(client, cancer):
    X, y = cancer
    s = search(LogisticRegression(max_iter=500), {"C": stats.loguniform(1e-3, 1e2)}, client,
               n_trials=4, cv=3, seed=0)
    twin = clone(s)
    assert twin is not s and twin.cluster is client
    assert twin.get_params()["estimator__max_iter"] == 500
    assert twin.set_params(n_trials=3).n_trials == 3 and s.n_trials == 4
    scores = cross_val_score(s, X, y, cv=3)
    assert scores.shape == (3,) and (scores > 0.85).all()
    assert not hasattr(s, "cv_results_")  # cross_val_score fitted clones


def test_a_search_on_new_data_starts_from_the_last_ones_study(client, cancer, capsys):
    """warm_start was refused ("SearchCV has no parameter 'warm_start'"): a search whose data
    changed started from nothing (first-day test, round 9)."""
    import pickle

    X, y = cancer
    space = {"C": stats.loguniform(1e-3, 1e2)}
    first = search(LogisticRegression(max_iter=500), space, client, n_trials=8, cv=3, seed=0,
                   searcher="bayesopt").fit(X[:200], y[:200])
    s = search(LogisticRegression(max_iter=500), space, client, n_trials=2, cv=3, seed=0,
               searcher="bayesopt", warm_start=first.study_)
    assert clone(s).warm_start is first.study_  # the study itself, not a copy
    s.fit(X, y)
    assert capsys.readouterr().out == (f"nbtune: warm start from {first.study_.name!r}: 8 of 8 "
                                       "ended trials\n")
    assert s.study_.settings["warm_start"] == first.study_.name
    assert s.study_.searcher.observations == 8 + 2  # the first search's candidates, then its own
    assert len(s.cv_results_["params"]) == 2  # theirs are not this search's candidates
    assert pickle.loads(pickle.dumps(s)).warm_start.name == first.study_.name


def test_a_warm_start_from_a_search_of_another_scoring_is_refused(client, cancer, tmp_path):
    """Every single-scorer search's metric is mean_test_score: a warm start from a roc_auc
    search into a neg_log_loss one was taken in silence, and its model held both scores as one
    (first-day test, round 57). The scoring is kept with the study, in memory and stored."""
    X, y = cancer
    X, y = X[:150], y[:150]
    space = {"C": stats.loguniform(1e-3, 1e2)}
    db = str(tmp_path / "w.db")
    first = search(LogisticRegression(max_iter=500), space, client, n_trials=3, cv=3, seed=0,
                   searcher="bayesopt", scoring="roc_auc", storage=db, study="auc").fit(X, y)
    assert first.study_.settings["measured"] == "'roc_auc'"
    for warm in (first.study_, "auc"):
        s = search(LogisticRegression(max_iter=500), space, client, n_trials=2, cv=3, seed=0,
                   searcher="bayesopt", scoring="neg_log_loss", storage=db, study="ll",
                   warm_start=warm)
        with pytest.raises(ValueError, match=r"^warm start from 'auc': it measured "
                           r"'mean_test_score' with scoring='roc_auc', this study with "
                           r"scoring='neg_log_loss': warm-start from a search of the same "
                           r"scoring$"):
            s.fit(X, y)
    # the same scorer, given as a dict's: taken
    same = search(LogisticRegression(max_iter=500), space, client, n_trials=2, cv=3, seed=0,
                  searcher="bayesopt", scoring={"score": "roc_auc"}, refit="score",
                  warm_start=first.study_).fit(X, y)
    assert same.study_.searcher.observations == 3 + 2
    from nbtune.sklearn.scoring import measured_by

    assert measured_by(make_scorer(roc_auc_score), "score") == repr(
        make_scorer(roc_auc_score))  # its words vary

    def auc(estimator, X, y):  # a function: named, never by its address (another each run)
        return 0.5

    assert measured_by(auc, "score") == f"{__name__}.{auc.__qualname__}"


def nested_scores(cluster, n_jobs):
    """cross_val_score of a SearchCV on iris: each of its two clones fitted by joblib."""
    X, y = load_iris(return_X_y=True)
    s = nbtune.SearchCV(LogisticRegression(max_iter=500), {"C": [0.01, 0.1, 1.0]}, cv=2,
                        searcher="grid", seed=0, progress=False, cluster=cluster)
    return cross_val_score(s, X, y, cv=2, n_jobs=n_jobs)


def test_nested_cross_validation_with_n_jobs_starts_the_embedded_cluster_in_lokys_workers(
        client):
    """cross_val_score(search, n_jobs=2) fits each clone in one of joblib's loky processes,
    where a cluster of worker processes cannot start (their start method is "loky"): the
    clone's embedded cluster runs threads there, and the scores are those of the same search
    run serially."""
    parallel = nested_scores(None, 2)  # cluster=None: each loky worker's own embedded cluster
    assert parallel.shape == (2,) and np.isfinite(parallel).all()
    np.testing.assert_array_equal(parallel, nested_scores(client, None))


NESTED_SCRIPT = """\
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
import nbtune

if __name__ == "__main__":
    X, y = load_iris(return_X_y=True)
    s = nbtune.SearchCV(LogisticRegression(max_iter=500), {"C": [0.01, 0.1, 1.0]}, cv=2,
                        searcher="grid", seed=0, storage=None)
    print(list(cross_val_score(s, X, y, cv=2, n_jobs=2)))
"""


def test_nested_searches_in_joblibs_workers_write_nothing(tmp_path):
    """Each inner search of cross_val_score(search, n_jobs=2) wrote its starting line and its
    summary to the worker's stderr, which a notebook shows in the cell (first-day test, 23)."""
    import subprocess
    import sys

    (tmp_path / "nested.py").write_text(NESTED_SCRIPT)
    done = subprocess.run([sys.executable, "nested.py"], capture_output=True, text=True,
                          timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("[") and "nbtune" not in done.stdout, done.stdout
    assert "nbtune" not in done.stderr, done.stderr


def in_a_daemonic_process():
    """In a pool's worker: whether it is daemonic, the workers of the cluster nbtune starts
    there, and the scores of a search there."""
    import multiprocessing

    from nbtune.run.cluster import local_cluster

    with local_cluster() as cluster:
        workers = len(cluster.workers)
    return multiprocessing.current_process().daemon, workers, list(nested_scores(None, None))


def test_a_daemonic_process_starts_the_embedded_cluster_with_threads(client):
    """A multiprocessing.Pool's workers are daemonic, and may have no children: a search there
    starts its embedded cluster with a thread. (A spawned pool: a forked one would inherit this
    process's Dask threads, and their locks.)"""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        daemonic, workers, scores = pool.apply(in_a_daemonic_process)
    assert daemonic is True
    assert workers == 1  # one thread: the pool around it spreads the work over the cores
    assert scores == list(nested_scores(client, None))


def test_pipeline_inside_with_estimators_in_the_space(client, cancer):
    X, y = cancer
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500))])
    space = {"scale": [StandardScaler(), MinMaxScaler(), "passthrough"],
             "clf__C": nbtune.loguniform(1e-2, 10.0)}
    s = search(pipe, space, client, n_trials=6, cv=3, seed=1).fit(X, y)
    kinds = {type(v).__name__ for v in s.cv_results_["param_scale"]}
    assert kinds <= {"StandardScaler", "MinMaxScaler", "str"} and len(kinds) >= 2
    assert isinstance(s.best_estimator_, Pipeline)
    assert s.best_estimator_.named_steps["clf"].C == s.best_params_["clf__C"]
    # the study stores labels (a study file holds JSON only), the results the objects
    labels = {t.config["scale"] for t in s.study_.trials}
    assert labels <= {"StandardScaler()", "MinMaxScaler()", "passthrough"}
    assert s.predict(X[:5]).shape == (5,)


def test_a_step_the_space_chooses_takes_its_estimators_parameters_as_gridsearchcv(client,
                                                                                   cancer):
    X, y = cancer
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    space = {"clf": [SVC()], "clf__gamma": [0.01, 0.1]}  # gamma: SVC's, not LogisticRegression's
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    ours = search(pipe, space, client, searcher="grid", cv=cv).fit(X, y)
    theirs = GridSearchCV(pipe, space, cv=cv).fit(X, y)
    assert list(ours.cv_results_["param_clf__gamma"]) == [0.01, 0.1]
    np.testing.assert_array_equal(ours.cv_results_["mean_test_score"],
                                  theirs.cv_results_["mean_test_score"])
    assert isinstance(ours.best_estimator_.named_steps["clf"], SVC)
    bad = nbtune.SearchCV(pipe, {"clf": [SVC(), "passthrough"], "clf__max_depth": [1]},
                          cluster="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match=r"^space key 'clf__max_depth' is not a parameter of "
                                         r"SVC, which the space gives 'clf': give 'max_depth' "
                                         r"only with estimators that have it"):
        bad.fit(X, y)
    # classes where estimators go: every trial failed in scikit-learn's check of the pipeline
    classes = nbtune.SearchCV(pipe, {"clf": [LogisticRegression, SVC]},
                              cluster="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match=r"^space key 'clf' lists the classes "
                                         r"LogisticRegression, SVC, not estimators: give "
                                         r"instances, \[LogisticRegression\(\), SVC\(\)\]$"):
        classes.fit(X, y)


def test_searchcv_inside_a_pipeline(client, cancer):
    X, y = cancer
    inner = search(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]}, client, cv=3)
    pipe = make_pipeline(MinMaxScaler(), inner).fit(X, y)
    assert pipe.score(X, y) > 0.9
    assert pipe[-1].best_params_["C"] in (0.1, 1.0) and len(pipe[-1].cv_results_["params"]) == 2


def test_regressor_with_distributions_sparse_and_pandas(client):
    X, y = load_diabetes(return_X_y=True)
    space = {"alpha": stats.loguniform(1e-3, 1e2), "tol": stats.expon(scale=1e-3)}
    dense = search(Ridge(), space, client, n_trials=5, cv=3, seed=2,
                   scoring="neg_mean_squared_error").fit(X, y)
    assert (dense.cv_results_["mean_test_score"] < 0).all()
    assert all(1e-3 <= p["alpha"] <= 1e2 and p["tol"] > 0 for p in dense.cv_results_["params"])
    sparse = search(Ridge(), space, client, n_trials=5, cv=3, seed=2,
                    scoring="neg_mean_squared_error").fit(scipy.sparse.csr_matrix(X), y)
    assert sparse.cv_results_["params"] == dense.cv_results_["params"]  # same seed, same draws
    np.testing.assert_allclose(sparse.cv_results_["mean_test_score"],
                               dense.cv_results_["mean_test_score"], rtol=1e-3)  # iterative solver
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    pandas = search(Ridge(), {"alpha": [0.1, 1.0]}, client, cv=3).fit(frame, pd.Series(y))
    assert list(pandas.feature_names_in_) == list(frame.columns)
    assert pandas.predict(frame.iloc[:3]).shape == (3,)


def test_fit_params_are_indexed_per_fold_and_routed_to_the_estimator(client, cancer):
    X, y = cancer
    weights = np.where(y == 1, 5.0, 0.2)
    cv = KFold(3, shuffle=True, random_state=3)
    s = search(LogisticRegression(max_iter=500), {"C": [0.05]}, client, cv=cv)
    s.fit(X, y, sample_weight=weights)
    for i, (train, test) in enumerate(cv.split(X, y)):
        est = LogisticRegression(max_iter=500, C=0.05).fit(X[train], y[train],
                                                           sample_weight=weights[train])
        scored = {"sample_weight": weights[test]} if SCORERS_WEIGHTED else {}
        assert s.cv_results_[f"split{i}_test_score"][0] == est.score(X[test], y[test], **scored)
    unweighted = LogisticRegression(max_iter=500, C=0.05).fit(X[train], y[train])
    assert unweighted.score(X[test], y[test]) != est.score(X[test], y[test])  # weights matter


@pytest.mark.parametrize("scoring", [None, {"acc": "accuracy", "f1": "f1_macro"}])
def test_sample_weight_reaches_the_scorer_as_in_the_installed_gridsearchcv(client, scoring):
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    w = np.where(y == 0, 5.0, 1.0)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    kwargs = dict(scoring=scoring, refit="acc" if scoring else True, return_train_score=True)
    ours = search(LogisticRegression(max_iter=1000), {"C": [0.01, 1.0]}, client,
                  searcher="grid", cv=cv, **kwargs).fit(X, y, sample_weight=w)
    theirs = GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.01, 1.0]}, cv=cv,
                          **kwargs).fit(X, y, sample_weight=w)
    for name in theirs.cv_results_:
        if name.startswith(("mean_t", "split")) and "time" not in name:
            np.testing.assert_allclose(ours.cv_results_[name], theirs.cv_results_[name],
                                       rtol=0, atol=1e-12, err_msg=name)


def unweighted_accuracy(estimator, X, y):
    """A scorer of the user's that takes no sample_weight."""
    return plain_accuracy(y, estimator.predict(X))


def plain_accuracy(y_true, y_pred):
    """A metric of the user's that takes no sample_weight (for make_scorer)."""
    return float(np.mean(y_pred == y_true))


@pytest.mark.skipif(not SCORERS_WEIGHTED, reason="scikit-learn < 1.9 gives no scorer weights")
# (in a dict, a make_scorer: scikit-learn 1.9.1's own check fails on a plain function there)
@pytest.mark.parametrize("scoring", [unweighted_accuracy,
                                     {"acc": "accuracy", "plain": make_scorer(plain_accuracy)}])
def test_a_scorer_without_sample_weight_scores_unweighted_and_a_warning_names_it(client,
                                                                                 scoring):
    """A weighted fit whose scorer cannot take sample_weight: that scorer's scores are
    unweighted (the others', weighted), as GridSearchCV's on the same folds, and a warning at
    the fit line names it, since its scores then disagree with the weighted fit."""
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    w = np.where(y == 0, 5.0, 1.0)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    multi = isinstance(scoring, dict)
    kwargs = dict(scoring=scoring, refit="acc" if multi else True)
    with pytest.warns(UserWarning, match="sample_weight") as caught:
        ours = search(LogisticRegression(max_iter=1000), {"C": [0.01, 1.0]}, client,
                      searcher="grid", cv=cv, **kwargs).fit(X, y, sample_weight=w)
    plain = ours.scorer_["plain"] if multi else ours.scorer_
    assert [(str(c.message), c.filename) for c in caught] == [
        (f"the scoring {plain} does not take sample_weight: its scores are unweighted, while "
         f"the estimator's fit is weighted", __file__)]
    with pytest.warns(UserWarning, match="does not support sample_weight"):
        theirs = GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.01, 1.0]}, cv=cv,
                              **kwargs).fit(X, y, sample_weight=w)
    compared = [name for name in theirs.cv_results_
                if name.startswith(("mean_test", "split")) and "time" not in name]
    assert len(compared) == (8 if multi else 4)
    for name in compared:
        np.testing.assert_allclose(ours.cv_results_[name], theirs.cv_results_[name], rtol=0,
                                   atol=1e-12, err_msg=name)
    if multi:  # the weights reached "acc" only: it differs from the unweighted accuracy
        assert not np.allclose(ours.cv_results_["mean_test_acc"],
                               ours.cv_results_["mean_test_plain"])
        np.testing.assert_allclose(ours.cv_results_["split0_test_plain"], [
            unweighted_accuracy(LogisticRegression(max_iter=1000, C=c).fit(
                X[train], y[train], sample_weight=w[train]), X[test], y[test])
            for c in (0.01, 1.0) for train, test in list(cv.split(X, y))[:1]], rtol=1e-9)


def test_groups_reach_the_splitter(client):
    X, y = load_iris(return_X_y=True)
    groups = np.arange(len(y)) % 5
    ours = search(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]}, client,
                  searcher="grid", cv=GroupKFold(5)).fit(X, y, groups=groups)
    theirs = GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]},
                          cv=GroupKFold(5)).fit(X, y, groups=groups)
    for key, i in by_params(ours.cv_results_).items():
        j = by_params(theirs.cv_results_)[key]
        for k in range(5):
            name = f"split{k}_test_score"
            assert ours.cv_results_[name][i] == theirs.cv_results_[name][j]


def test_multimetric_scoring_with_refit_by_name_and_refit_callable(client, cancer):
    X, y = cancer
    s = search(LogisticRegression(max_iter=500), {"C": [0.01, 1.0]}, client, cv=3,
               scoring={"acc": "accuracy", "auc": "roc_auc"}, refit="auc").fit(X, y)
    r = s.cv_results_
    assert {"mean_test_acc", "mean_test_auc", "rank_test_acc", "rank_test_auc"} <= set(r)
    assert s.best_score_ == r["mean_test_auc"].max()
    assert s.score(X, y) == pytest.approx(s.scorer_["auc"](s.best_estimator_, X, y))

    def simplest(results):  # the smallest C
        return int(np.argmin([p["C"] for p in results["params"]]))

    c = search(LogisticRegression(max_iter=500), {"C": [0.01, 1.0]}, client, cv=3,
               refit=simplest).fit(X, y)
    assert c.best_params_ == {"C": 0.01} and not hasattr(c, "best_score_")
    assert c.best_estimator_.C == 0.01


def test_a_regression_scoring_dict_is_not_called_a_loss_and_the_best_line_names_its_means(
        client):
    """{"rmse": "neg_root_mean_squared_error"}: SearchCV warned that it maximised a loss
    ('mean_test_rmse') and said so in every summary; the best line listed folds' timings
    (first-day tests, rounds 41 and 42)."""
    X, y = load_diabetes(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", nbtune.NbtuneWarning)
        s = search(Ridge(), {"alpha": [0.1, 1.0]}, client, cv=3, refit="rmse",
                   scoring={"rmse": "neg_root_mean_squared_error", "r2": "r2"}).fit(X, y)
    text = str(s.study_.summary())
    assert "mode " not in text and "loss" not in text, text
    best = next(line for line in text.splitlines() if line.startswith("  best  "))
    i = s.best_index_
    std, r2 = s.cv_results_["std_test_rmse"][i], s.cv_results_["mean_test_r2"][i]
    assert f"; std_test_rmse {std:.6g}, mean_test_r2 {r2:.6g}" in best, best
    assert "time" not in best and "split" not in best, best


def test_error_score_nan_keeps_the_failed_candidates_and_raise_raises(client, cancer):
    X, y = cancer
    space = {"C": [1.0, -1.0]}  # C must be positive: that candidate fails on every fold
    with pytest.warns(FitFailedWarning, match="3 fits failed out of a total of 6") as caught:
        s = search(LogisticRegression(max_iter=500), space, client, cv=3,
                   searcher="grid").fit(X, y)
    said = {str(w.message).strip().split("\n")[0].split(":")[0]: w.filename for w in caught}
    # both warnings point at the user's own line (here: the fit call above), not nbtune's
    assert said == {"3 fits failed out of a total of 6.": __file__,
                    "One or more of the test scores are non-finite": __file__}, said
    failed = [i for i, p in enumerate(s.cv_results_["params"]) if p["C"] == -1.0]
    assert np.isnan(s.cv_results_["mean_test_score"][failed[0]])
    assert s.cv_results_["rank_test_score"][failed[0]] == 2 and s.best_params_ == {"C": 1.0}
    with pytest.raises(ValueError, match=r"(?s)failed with error_score='raise'.*'C' parameter"):
        search(LogisticRegression(max_iter=500), {"C": [-1.0]}, client, cv=3,
               error_score="raise").fit(X, y)


def test_a_candidate_that_fails_under_a_scheduler_is_failed_not_stopped(client, cancer):
    """Under a scheduler the rung's NaN got the candidate stopped: "40: 5 completed, 35
    stopped", its error nowhere, and a warning that blamed the budget (first-day test, 23)."""
    X, y = cancer
    space = {"alpha": [1e-4], "eta0": [0.01, 0.0]}  # a constant rate of 0: every fit raises
    with pytest.warns(FitFailedWarning, match="3 fits failed out of a total of 6") as caught:
        s = search(SGDClassifier(learning_rate="constant", random_state=0), space, client, cv=3,
                   searcher="grid", scheduler="asha", resource="partial_fit", max_t=9).fit(X, y)
    assert not [w for w in caught if "max_t" in str(w.message)]
    by_rate = {t.config["eta0"]: t for t in s.study_.trials}
    failed = by_rate[0.0]
    assert failed.state == "failed" and "eta0" in failed.error, (failed.state, failed.error)
    assert by_rate[0.01].state == "completed"
    assert "1 failed" in str(s.study_.summary())
    row = [i for i, p in enumerate(s.cv_results_["params"]) if p["eta0"] == 0.0]
    assert np.isnan(s.cv_results_["mean_test_score"][row[0]])
    assert s.best_params_["eta0"] == 0.01


def test_a_candidate_whose_every_fit_fails_under_a_scheduler_ends_there_whatever_its_score(
        client, cancer):
    """error_score=0.0 scored a candidate whose every fit raised, and under ASHA it went on to
    max_t, failing again at each rung, counted among the candidates trained to the last rung
    (first-day test, round 63). It fails at its first rung, its row the error_score."""
    X, y = cancer
    space = {"alpha": [1e-4], "eta0": [0.01, 0.0]}  # a constant rate of 0: every fit raises
    with pytest.warns(FitFailedWarning):
        s = search(SGDClassifier(learning_rate="constant", random_state=0), space, client, cv=3,
                   searcher="grid", scheduler="asha", resource="partial_fit", max_t=9,
                   error_score=0.0).fit(X, y)
    by_rate = {t.config["eta0"]: t for t in s.study_.trials}
    failed = by_rate[0.0]
    assert failed.state == "failed" and [r["epoch"] for r in failed.reports] == [1]
    assert by_rate[0.01].state == "completed"
    row = s.cv_results_["params"].index({"alpha": 1e-4, "eta0": 0.0})
    assert (s.cv_results_["mean_test_score"][row], s.cv_results_["n_resources"][row]) == (0.0, 1)
    assert s.n_remaining_candidates_ == 1 and s.best_params_["eta0"] == 0.01


def broken_scorer(estimator, X, y):
    """A scorer of the user's that raises (a module's function: its frame keeps its file)."""
    raise RuntimeError("the scorer broke")


def test_a_failing_scorer_is_named_in_a_warning_and_in_the_failed_trials(client):
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    s = search(LogisticRegression(), {"C": [0.1, 1.0]}, client, cv=3, scoring="roc_auc")
    # no candidate scored: scikit-learn refits the first failed one as the best; one line
    # here (first-day test, round 62)
    with pytest.warns(UserWarning) as caught, pytest.raises(
            ValueError, match=r"^\nNo candidate has a test score: the scorer raised on 6 of the "
                              r"6 splits, so none can be chosen as the best and refitted\. "
                              r"Check that the scoring suits the task \(for a multiclass "
                              r"target, roc_auc is 'roc_auc_ovr'\)"):
        s.fit(X, y)  # binary roc_auc on three classes
    assert not hasattr(s, "best_params_")
    said = {str(w.message).split(" Details: ")[0]: w.filename for w in caught}
    with pytest.raises(ValueError) as raised:  # scikit-learn's own words, which vary
        get_scorer("roc_auc")(LogisticRegression().fit(X, y), X, y)
    reason = f"ValueError: {raised.value}"
    assert said == {"Scoring failed on 6 of the 6 splits. The score on these train-test "
                    "partitions for these parameters will be set to nan.": __file__,
                    "One or more of the test scores are non-finite: [nan nan]": __file__}, said
    details = str(caught[0].message).split(" Details: \n")[1]
    # scikit-learn's whole traceback, from its scorer down to the metric that raised
    assert details.startswith("Traceback (most recent call last):\n") and "_scorer.py" in details
    assert details.strip().endswith(reason) and NBTUNE_DIR not in details, details
    assert {t.state for t in s.study_.trials} == {"failed"}
    for t in s.study_.trials:
        assert t.error.startswith("Scoring failed on 3 of the 3 splits.") and t.error.strip() \
            .endswith(reason)
    with pytest.warns(UserWarning):  # refit=False: cv_results_ alone, NaN, as scikit-learn's
        kept = search(LogisticRegression(), {"C": [0.1, 1.0]}, client, cv=3, scoring="roc_auc",
                      refit=False).fit(X, y)
    assert np.isnan(kept.cv_results_["mean_test_score"]).all()

    with pytest.warns(UserWarning, match=r"^Scoring failed on 3 of the 3 splits\. The score on "
                                         r"these train-test partitions for these parameters "
                                         r"will be set to 0\. Details: \n") as caught:
        s = search(LogisticRegression(), {"C": [0.1]}, client, cv=3, scoring=broken_scorer,
                   error_score=0).fit(X, y)
    # the user's scorer, its own frame and line, as scikit-learn's _score gives it
    assert str(caught[0].message).split(" Details: \n")[1] == (
        "Traceback (most recent call last):\n"
        f'  File "{__file__}", line {broken_scorer.__code__.co_firstlineno + 2}, in '
        'broken_scorer\n'
        '    raise RuntimeError("the scorer broke")\n'
        "RuntimeError: the scorer broke\n")
    assert s.cv_results_["mean_test_score"][0] == 0  # a number: the trial itself completes
    assert s.study_.trials[0].state == "completed"


class Boom(Exception):
    """The user's own exception."""


class TwoArgs(Exception):
    """An exception that cannot be made from its message alone."""

    def __init__(self, code, text):
        super().__init__(f"{code}: {text}")


class Fails(ClassifierMixin, BaseEstimator):
    """Raises ``kind`` in fit where c < 0."""

    def __init__(self, c=1.0, kind="boom"):
        self.c, self.kind = c, kind

    def fit(self, X, y):
        if self.c < 0:
            raise Boom(f"c={self.c} went boom") if self.kind == "boom" else TwoArgs(7, "no")
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(X.shape[0], self.classes_[0])


NBTUNE_DIR = os.path.dirname(nbtune.__file__)


def without_frames_of(text, filename):
    """A traceback text without the frames of the file that ends with ``filename``."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith('  File "'):
            skipping = line.split('"')[1].endswith(filename)
        elif not line.startswith("    "):
            skipping = False
        if not skipping:
            out.append(line)
    return "".join(out)


def test_failed_fits_are_said_as_gridsearchcv_says_them_with_the_users_frames(client, cancer):
    X, y = cancer
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    space = {"c": [1.0, -1.0]}  # c=-1: every fold's fit raises the user's Boom
    with pytest.warns(FitFailedWarning) as ours:
        s = search(Fails(), space, client, searcher="grid", cv=cv).fit(X, y)
    with pytest.warns(FitFailedWarning) as theirs:
        GridSearchCV(Fails(), space, cv=cv).fit(X, y)
    message = str(ours[0].message)
    assert message.startswith("\n3 fits failed out of a total of 6.\nThe score on these "
                              "train-test partitions for these parameters will be set to nan.")
    assert f'File "{__file__}", line' in message and "test_sklearn.Boom: c=-1.0 went boom" \
        in message and NBTUNE_DIR not in message and "CandidateFailed" not in message, message
    # word for word scikit-learn's, but for the frame of its own _fit_and_score
    assert message == without_frames_of(str(theirs[0].message), "model_selection/_validation.py")
    failed = s.study_.trials[s.cv_results_["params"].index({"c": -1.0})]
    # of one candidate, not scikit-learn's "your model is misconfigured" of a whole search
    assert failed.state == "failed" and failed.error.startswith(
        "\nAll the 3 fits of this candidate failed; its score is set to nan, and the search goes "
        "on with the other candidates.\n"), failed.error
    assert "misconfigured" not in failed.error
    assert failed.error.strip().endswith("test_sklearn.Boom: c=-1.0 went boom"), failed.error
    assert "CandidateFailed" not in failed.error and NBTUNE_DIR not in failed.error
    # every fit failed: scikit-learn's ValueError, said alike
    with pytest.raises(ValueError) as ours_all:
        search(Fails(), {"c": [-1.0]}, client, cv=cv).fit(X, y)
    with pytest.raises(ValueError) as theirs_all:
        GridSearchCV(Fails(), {"c": [-1.0]}, cv=cv).fit(X, y)
    assert str(ours_all.value).startswith("\nAll the 3 fits failed.\n")
    assert str(ours_all.value) == without_frames_of(str(theirs_all.value),
                                                    "model_selection/_validation.py")


def test_error_score_raise_raises_the_estimators_own_exception_type(client, cancer):
    X, y = cancer
    with pytest.raises(Boom, match=r"^c=-1.0 went boom") as caught:
        search(Fails(), {"c": [-1.0]}, client, cv=2, error_score="raise").fit(X, y)
    note = "\n".join(getattr(caught.value, "__notes__", [])) or str(caught.value.__cause__)
    assert str(caught.value) == "c=-1.0 went boom"
    assert "trial 0 failed with error_score='raise' (config {'c': -1.0})" in note, note
    assert "went boom" in note  # the worker's traceback
    # a type that takes other arguments than its message: the ValueError that names it
    with pytest.raises(ValueError, match=r"(?s)failed with error_score='raise'.*TwoArgs: 7: no"):
        search(Fails(kind="two"), {"c": [-1.0]}, client, cv=2, error_score="raise").fit(X, y)


@pytest.mark.parametrize("estimator, kwargs, message", [
    (LogisticRegression(), dict(scheduler="asha", resource="partial_fit"),
     r"resource='partial_fit' needs an estimator with partial_fit \(or a Pipeline whose last "
     r"step has it\), and LogisticRegression has none: use resource='n_samples', or "
     r"resource='max_iter', which grows with warm starts$"),
    (make_pipeline(StandardScaler(), Ridge()), dict(scheduler="asha", resource="partial_fit"),
     r"and Pipeline has none: use resource='n_samples', or a parameter that grows with warm "
     r"starts \(such as 'n_estimators'\)$"),
    # each pass adds the counts again: 27 epochs held 27 times them (first-day test)
    (make_pipeline(MinMaxScaler(), MultinomialNB()), dict(scheduler="asha",
                                                          resource="partial_fit"),
     r"^resource='partial_fit' cannot train MultinomialNB by epochs: naive Bayes' partial_fit "
     r"adds the same counts again at each pass, so k epochs count every row k times; give "
     r"resource='n_samples', or leave resource='auto' \(rows under a scheduler, one fit "
     r"without\)$"),
    (LogisticRegression(), dict(scheduler="asha", resource="n_estimators"),
     r"resource 'n_estimators' is not a parameter of LogisticRegression"),
    (make_pipeline(StandardScaler(), Ridge()), dict(scheduler="asha", resource="ridge__max_iter"),
     r"resource 'ridge__max_iter' needs warm starts, and Pipeline has no "
     r"'ridge__warm_start' parameter"),
    (LogisticRegression(), dict(cv=1), r"cv=1 is too few folds: cross-validation needs cv >= 2"),
    (LogisticRegression(), dict(error_score="oops"), r"^error_score must be a number \(the "
     r"score of a failed fit; NaN by default\) or 'raise' \(stop at the first failed fit\), "
     r"got error_score='oops'$"),
    (LogisticRegression(), dict(scheduler="asha", resource="n_samples", max_t="10"),
     r"^max_t must be a positive integer or None \(the resource's own\), got max_t='10'$"),
    (LogisticRegression(), dict(grace_period=0.5),
     r"^grace_period must be a positive integer or None \(max_t / reduction_factor\*\*3\), "
     r"got grace_period=0.5$"),
    (LogisticRegression(), dict(reduction_factor="3"),
     r"^reduction_factor must be an integer >= 2 .*got reduction_factor='3'$"),
    (LogisticRegression(), dict(n_trials="10"), r"^n_trials must be a positive integer, 'auto' "
     r"\(every candidate of a finite space up to 50\) or None \(no limit; give max_time\), got "
     r"n_trials='10'$"),
    (LogisticRegression(), dict(max_time="60"),
     r"^max_time must be a positive number of seconds or None, got max_time='60'$"),
    (LogisticRegression(), dict(scoring="acuracy"), r"^scoring='acuracy' is not a scorer of "
     r"scikit-learn \(did you mean 'accuracy'\?\): give a name of "
     r"sklearn.metrics.get_scorer_names\(\), a callable, or a list or dict of them$"),
    # a loss's short name (round 42: no suggestion at all)
    (Ridge(), dict(scoring="rmse"), r"^scoring='rmse' is not a scorer of scikit-learn \(did you "
     r"mean 'neg_root_mean_squared_error'\? scikit-learn's scorers are maximised: a loss is "
     r"negated\): give a name"),
    (Ridge(), dict(scoring={"rmse": "neg_root_mean_squared_error", "r2": "r2"}, refit="rmes"),
     r"refit must name the one to select .* got refit='rmes' \(did you mean 'rmse'\?\)$"),
    (LogisticRegression(), dict(rung_folds="some"), r"rung_folds must be 'all' \(every fold "
     r"scored at every rung\) or 'grow' \(fewer folds at the early rungs, all at max_t\), got "
     r"'some'"),
])
def test_bad_input_is_named_before_any_trial(estimator, kwargs, message, cancer):
    X, y = cancer
    s = nbtune.SearchCV(estimator, {}, cluster="tcp://127.0.0.1:1", progress=False, **kwargs)
    with pytest.raises(ValueError, match=message):
        s.fit(X, y)  # the address leads nowhere: the error comes before any connection


def test_an_estimators_class_for_an_instance_is_named(cancer):
    # it read "BaseEstimator.get_params() missing 1 required positional argument: 'self'"
    X, y = cancer
    s = nbtune.SearchCV(LogisticRegression, {"C": [1.0, 2.0]}, cluster="tcp://127.0.0.1:1",
                        progress=False)
    with pytest.raises(TypeError, match=r"^estimator is the class LogisticRegression: give an "
                                        r"instance, LogisticRegression\(\) \(with any settings "
                                        r"the search keeps fixed\)$"):
        s.fit(X, y)


def test_a_long_refit_is_said_before_it_runs(client, cancer, capsys, monkeypatch):
    """A 46 s refit on 2M rows, past max_time, left a cell that looked done busy, and nothing
    said why (first-day test, round 21)."""
    from nbtune.sklearn import notices

    X, y = cancer
    space = {"C": nbtune.loguniform(0.01, 10)}
    monkeypatch.setattr(notices, "REFIT_SAID_FROM", 0.0)  # any refit is long
    search(LogisticRegression(), space, client, n_trials=2, cv=3, max_time=60,
           progress=False).fit(X, y)
    assert "refitting" not in capsys.readouterr().err  # no views: nothing said
    fitted = search(LogisticRegression(), space, client, n_trials=2, cv=3, max_time=60,
                    progress=True).fit(X, y)  # the text view here: the line goes to stderr
    said = [line for line in capsys.readouterr().err.splitlines() if "refitting" in line]
    assert len(said) == 1 and re.fullmatch(
        r"nbtune: refitting the best candidate on all 285 rows, in this process \(about 0 s, "
        r"from its folds' fits; max_time bounds the search, not the refit; refit=False skips "
        r"it\) \.\.\.", said[0]), said
    assert fitted.refit_time_ > 0
    monkeypatch.setattr(notices, "REFIT_SAID_FROM", 3600.0)
    search(LogisticRegression(), space, client, n_trials=2, cv=3, progress=True).fit(X, y)
    assert "refitting" not in capsys.readouterr().err


class SlowOnAllRows(LogisticRegression):
    """Fits its folds at once and all 285 rows (the refit) in a second: a refit the folds'
    fits cannot foresee (the notebook's threads on a busy machine: first-day test, 23)."""

    def fit(self, X, y, sample_weight=None):
        if len(X) == 285:
            time.sleep(1.0)
        return super().fit(X, y, sample_weight)


def test_a_refit_longer_than_its_folds_foretold_is_said_once_it_runs_that_long(
        client, cancer, capsys, monkeypatch):
    from nbtune.sklearn import notices

    X, y = cancer
    monkeypatch.setattr(notices, "REFIT_SAID_FROM", 0.5)  # the folds' guess: far below
    search(SlowOnAllRows(), {"C": [1.0]}, client, cv=3, searcher="grid", progress=True).fit(X, y)
    said = [line for line in capsys.readouterr().err.splitlines() if "refitting" in line]
    assert len(said) == 1 and re.fullmatch(
        r"nbtune: refitting the best candidate on all 285 rows, in this process \(0 s so far, "
        r"where its folds' fits took [\d.]+ s; refit=False skips it\) \.\.\.", said[0]), said
    search(LogisticRegression(), {"C": [1.0]}, client, cv=3, searcher="grid",
           progress=True).fit(X, y)  # a quick refit: nothing said
    time.sleep(0.7)
    assert "refitting" not in capsys.readouterr().err


def test_before_fit_the_refitted_methods_raise_not_fitted_and_refit_false_says_why(cancer):
    X, y = cancer
    s = nbtune.SearchCV(LogisticRegression(), {"C": [1.0]}, cluster="tcp://127.0.0.1:1")
    for method in ("predict", "predict_proba", "decision_function", "score"):
        args = (X, y) if method == "score" else (X,)
        with pytest.raises(NotFittedError, match="This SearchCV instance is not fitted yet"):
            getattr(s, method)(*args)
    assert not hasattr(s, "transform")  # LogisticRegression has none
    s.set_params(refit=False)
    assert not hasattr(s, "predict")
    for method in ("predict", "score"):
        with pytest.raises(AttributeError, match=rf"^{method} is available only after refitting "
                                                 r"on the best parameters, and this SearchCV "
                                                 r"has refit=False: give refit=True"):
            getattr(s, method)(X, y) if method == "score" else getattr(s, method)(X)


def test_a_space_key_that_is_not_a_parameter_is_named_with_the_valid_ones(cancer):
    X, y = cancer
    s = nbtune.SearchCV(LogisticRegression(), {"Cc": [1.0]}, cluster="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match=r"space key 'Cc' is not a parameter of "
                                         r"LogisticRegression \(did you mean 'C'\?\); its "
                                         r"parameters are: C, class_weight, dual"):
        s.fit(X, y)
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    s = nbtune.SearchCV(pipe, {"C": [1.0]}, cluster="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match=r"space key 'C' is not a parameter of Pipeline \(did "
                                         r"you mean 'logisticregression__C'\?\); the parameters "
                                         r"of step 'logisticregression' are: C, class_weight, "
                                         r"dual, .*, warm_start$"):
        s.fit(X, y)  # that step's own: not every nested name of the pipeline
    s = nbtune.SearchCV(pipe, {"zzz": [1.0]}, cluster="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match=r"space key 'zzz' is not a parameter of Pipeline; its "
                                         r"parameters are: logisticregression, memory, "
                                         r"standardscaler, steps, .*verbose \(a step's own as "
                                         r"step__param\)$"):
        s.fit(X, y)


@pytest.mark.parametrize("kwargs, message", [
    (dict(param_distributions={"C": [1.0]}, n_iter=5, n_jobs=-1, random_state=0),
     "SearchCV names some of scikit-learn's parameters its own way: param_distributions= is "
     "space=, n_iter= is n_trials=, random_state= is seed= (an int); SearchCV has no n_jobs=: "
     "candidates run on the Dask cluster's workers, as many at once as they have threads "
     "(cluster= picks the cluster)"),
    (dict(param_grid={"C": [1.0]}),
     "SearchCV names some of scikit-learn's parameters its own way: param_grid= is space= with "
     "searcher=\"grid\""),
    (dict(space={"C": [1.0]}, n_candidates=8),
     "SearchCV names some of scikit-learn's parameters its own way: n_candidates= is n_trials="),
    (dict(space={"C": [1.0]}, scorng="accuracy"),
     "SearchCV has no parameter 'scorng' (did you mean 'scoring'?)"),
    (dict(), "SearchCV needs a space: SearchCV(estimator, {'C': loguniform(1e-3, 1e3), ...})"),
    # nbtune.tune's words (round 42: "SearchCV has no parameter 'mode'", and no why)
    (dict(space={"C": [1.0]}, mode="min"),
     "SearchCV has no mode=: scikit-learn's scorers are all maximised, a loss negated"),
    # HalvingRandomSearchCV's names: renamed alone they stop nothing (round 63)
    (dict(space={"C": [1.0]}, factor=3, min_resources=5, max_resources=60),
     "SearchCV names some of scikit-learn's parameters its own way: factor= is reduction_factor="
     " (with scheduler='asha'), min_resources= is grace_period= (with scheduler='asha'), "
     "max_resources= is max_t= (with scheduler='asha')"),
], ids=["scikit-learn's names", "param_grid", "n_candidates", "a typo", "no space", "mode",
        "halving"])
def test_scikit_learns_parameter_names_are_named_with_searchcvs(ip, kwargs, message):
    with pytest.raises(TypeError) as caught:
        nbtune.SearchCV(LogisticRegression(), **kwargs)
    assert str(caught.value).startswith(message), str(caught.value)
    # in a notebook: the message under the user's line, none of nbtune's frames
    text = "".join(caught.value._render_traceback_())
    assert __file__ in text and "nbtune/sklearn" not in text


@pytest.mark.parametrize("kwargs, named", [
    (dict(resource="max_iter", grace_period=5, reduction_factor=3, max_t=60),
     "grace_period=, reduction_factor= set"),
    (dict(grace_period=20, max_t=300), "max_t=, grace_period= set"),
    (dict(max_t=300), "max_t= sets"),
    (dict(scheduler_options={"type": "promotion"}), "scheduler_options= sets"),
], ids=["halving renamed", "no resource", "max_t alone", "options"])
def test_rungs_given_without_a_scheduler_are_one_line_before_any_trial(ip, cancer, kwargs,
                                                                     named):
    """A HalvingRandomSearchCV ported by the renames above, without scheduler='asha', trained
    every candidate in full and said nothing (first-day test, round 63)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = cancer
    s = nbtune.SearchCV(HistGradientBoostingClassifier(max_iter=60), {"learning_rate": [0.1]},
                        storage=None, progress=False, **kwargs)
    with pytest.raises(ValueError) as caught:
        s.fit(X, y)
    assert str(caught.value) == (
        f"{named} early stopping's rungs, and this search has no scheduler: give "
        f"scheduler='asha' (successive halving, as HalvingRandomSearchCV runs it), or leave "
        f"{'it' if ',' not in named else 'them'} out"), str(caught.value)
    assert not hasattr(s, "study_")  # before any trial


def test_several_scorers_under_a_scheduler_need_refit_to_name_the_one_it_compares_by(
        client, cancer):
    """refit=a callable or False with several scorers under ASHA: the rungs stopped candidates
    by the first key of scoring, where the refit chose by another, and nothing said so
    (first-day test, round 63). Without a scheduler or a model, nothing is decided by a score
    before the refit, and scikit-learn's refit=False and callables work as there."""
    X, y = cancer
    scoring = {"acc": "accuracy", "auc": "roc_auc"}

    def best_auc(results):
        return int(np.nanargmax(np.asarray(results["mean_test_auc"])))

    for refit, kwargs in ((best_auc, dict(scheduler="asha", resource="n_samples")),
                          (False, dict(searcher="bayesopt"))):
        s = search(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]}, client, cv=2,
                   scoring=scoring, refit=refit, **kwargs)
        with pytest.raises(ValueError) as caught:
            s.fit(X, y)
        who = "scheduler='asha'" if "scheduler" in kwargs else "searcher='bayesopt'"
        assert str(caught.value).startswith(
            f"with several scorers (acc, auc), {who} compares candidates by one: name it as "
            f"refit='acc' (refit="), str(caught.value)
    plain = search(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]}, client, cv=2,
                   searcher="grid", scoring=scoring, refit=best_auc).fit(X, y)
    assert plain.best_index_ == best_auc(plain.cv_results_)
    named = search(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]}, client, cv=2,
                   searcher="grid", scoring=scoring, refit="auc", scheduler="asha",
                   resource="n_samples").fit(X, y)
    assert named.study_.metric == "mean_test_auc"


def test_a_search_whose_kernel_died_loads_offering_its_own_resume(client, cancer, db):
    """A SearchCV fit cut by a kernel restart loaded as "resume it to go on", as tune's
    studies, where SearchCV's own resume=True continues it; its checkpoint line read as if it
    held the refit model (first-day test, round 63)."""
    import socket
    import sqlite3
    import subprocess
    import sys
    import time

    from sklearn.linear_model import SGDClassifier

    from nbtune.listing import studies_frame
    from nbtune.storage import Storage
    from nbtune.studies import SEARCH_DIED

    X, y = cancer
    search(SGDClassifier(random_state=0), {"alpha": [1e-4, 1e-3, 1e-2]}, client,
           searcher="grid", cv=2, scheduler="asha", resource="partial_fit", max_t=3,
           storage=db, study="cut").fit(X, y)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with sqlite3.connect(db) as con:  # the file as a restarted kernel leaves it, mid-fit
        con.execute("UPDATE studies SET status = 'running' WHERE name = 'cut'")
        con.execute("INSERT INTO leases VALUES ('cut', 'gone', ?, ?, NULL, ?, ?)",
                    (socket.gethostname(), gone.pid, time.time(), time.time()))
    study = nbtune.load_study("cut", storage=db)
    facts = dict(study.summary().facts())
    assert study.stop_reason == facts["ended"] == SEARCH_DIED == (
        "its run stopped with its kernel or process before the search ended "
        "(SearchCV(..., resume=True) continues it on the same data)")
    assert facts["checkpoint"].endswith(
        ": search.study_.best_checkpoint (its folds' models; the refit is best_estimator_)")
    listing = studies_frame(Storage(db, readonly=True)).set_index("study").loc["cut"]
    assert listing["status"] == "stopped with its kernel or process: resume it"


def test_a_stored_search_resumes_on_its_data_and_not_on_other_data(client, cancer, db, capsys):
    """An interrupted two-hour fit could not be continued: fit() again started anew (first-day
    test, round 63). resume=True continues the stored search, as tune's does, on the data it
    ran on."""
    from sklearn.linear_model import SGDClassifier

    X, y = cancer
    space = {"alpha": nbtune.loguniform(1e-6, 1e-1)}

    def fit(n, data=(X, y), **kwargs):
        return search(SGDClassifier(random_state=0), space, client, cv=2, n_trials=n, seed=0,
                      scheduler="asha", resource="partial_fit", max_t=3, storage=db,
                      study="long", **kwargs).fit(*data)

    first = fit(4)
    before = {t.id: (t.config, t.value) for t in first.study_.trials}
    more = fit(7, resume=True)
    assert {t.id: (t.config, t.value) for t in more.study_.trials[:4]} == before  # kept
    assert len(more.study_.trials) == 7 and len(more.cv_results_["params"]) == 7
    assert more.best_score_ == max(t.value for t in more.study_.trials
                                   if t.state == "completed")
    capsys.readouterr()
    fit(7, resume=True)
    assert ("nbtune: study 'long' has run its 7 trials: nothing is left to run; n_trials=14 "
            "runs 7 more") in capsys.readouterr().out  # SearchCV's words, not --trials
    with pytest.raises(ValueError, match=r"^study 'long' in '.*' ran on other data \(X, y, "
                                         r"groups or the folds differ\): resume=True continues"):
        fit(8, data=(X[:200], y[:200]), resume=True)
    with pytest.raises(ValueError, match=r"^resume=True continues a stored search: give "):
        search(SGDClassifier(), space, client, resume=True).fit(X, y)


def test_a_resource_without_a_scheduler_says_that_it_stops_nothing(client, cancer):
    """resource='partial_fit' without a scheduler trained 27 partial_fit epochs in place of
    fit, its scores unlike GridSearchCV's, and nothing said (first-day test, round 63)."""
    from sklearn.linear_model import SGDClassifier

    X, y = cancer
    with pytest.warns(nbtune.NbtuneWarning) as caught:
        s = search(SGDClassifier(random_state=0), {"alpha": [1e-4, 1e-3]}, client,
                   searcher="grid", cv=2, resource="partial_fit", max_t=3).fit(X, y)
    said = [str(w.message) for w in caught if "without a scheduler" in str(w.message)]
    assert said == ["resource='partial_fit' without a scheduler stops no candidate early: each "
                    "trains 3 partial_fit epochs, not one fit; give scheduler='asha' to stop "
                    "the poor ones at its rungs, or leave resource= out to fit each candidate "
                    "once, as GridSearchCV does"], said
    assert list(s.cv_results_["n_resources"]) == [3, 3]


def test_dicts_lists_and_an_int_beside_its_float_are_candidates_as_in_gridsearchcv(client,
                                                                                  cancer):
    """class_weight={...} failed inside nbtune ("unhashable type: 'dict'"), and [1, 0.5, 1.0]
    was refused as a duplicate, where scikit-learn reads max_df=1 as one document and 1.0 as
    all (first-day test, round 45): GridSearchCV keeps every one of them."""
    X, y = cancer
    grid = {"C": [1, 0.5, 1.0], "class_weight": [None, {0: 1, 1: 3}]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    ours = search(LogisticRegression(max_iter=1000), grid, client, searcher="grid",
                  cv=cv).fit(X, y)
    theirs = GridSearchCV(LogisticRegression(max_iter=1000), grid, cv=cv).fit(X, y)
    a, b = ours.cv_results_, theirs.cv_results_
    assert a["params"] == b["params"] and len(a["params"]) == 6
    assert [type(p["C"]) for p in a["params"]] == [type(p["C"]) for p in b["params"]]
    assert np.allclose(a["mean_test_score"], b["mean_test_score"], rtol=0, atol=1e-12)
    assert ours.best_params_ == theirs.best_params_
    with pytest.raises(ValueError, match=r"^space entry 'C': choice has duplicate value 0.5$"):
        nbtune.SearchCV(LogisticRegression(), {"C": [0.5, 1, 0.5]},
                        cluster="tcp://127.0.0.1:1").fit(X, y)


def test_a_bad_entry_is_named(cancer):
    X, y = cancer
    for space, message in (({"C": {"a": 1}}, "space entry 'C' is a dict"),
                           ({"C": stats.uniform(0, 1)}, "cannot enumerate")):
        s = nbtune.SearchCV(LogisticRegression(), space, searcher="grid",
                            cluster="tcp://127.0.0.1:1")
        with pytest.raises(ValueError, match=message):
            s.fit(X, y)


SVC_GRIDS = [{"kernel": ["linear"], "C": [0.1, 1, 10]},  # a grid per kernel: gamma is rbf's
             {"kernel": ["rbf"], "C": [1, 10], "gamma": [0.01, 0.1]}]


def test_a_list_of_grids_is_searched_as_gridsearchcv_searches_it(client, cancer):
    """GridSearchCV's list of dicts was refused ("run one SearchCV per grid"): a grid per model
    or kernel is the common case, and its candidates set only their own grid's keys."""
    X, y = cancer
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    ours = search(SVC(), SVC_GRIDS, client, searcher="grid", cv=cv).fit(X, y)
    theirs = GridSearchCV(SVC(), SVC_GRIDS, cv=cv).fit(X, y)
    a, b = ours.cv_results_, theirs.cv_results_
    assert a["params"] == b["params"] and len(a["params"]) == 7  # ParameterGrid's order
    assert set(a) == set(b)
    for key in ("param_C", "param_kernel", "param_gamma"):  # gamma masked for linear
        assert list(a[key].mask) == list(b[key].mask) and list(a[key]) == list(b[key]), key
    for key in ("mean_test_score", "std_test_score"):
        assert np.allclose(a[key], b[key], rtol=0, atol=1e-12)
    assert list(a["rank_test_score"]) == list(b["rank_test_score"])
    assert ours.best_index_ == theirs.best_index_ and ours.best_params_ == theirs.best_params_
    assert ours.best_estimator_.get_params() == theirs.best_estimator_.get_params()
    # the study names the grid each trial came from, and what its grid lacks, apart from a
    # None of its own (max_depth=None read as a forest's key in another grid: round 59)
    frame = ours.study_.to_dataframe()
    assert list(frame["config.grid"]) == [0, 0, 0, 1, 1, 1, 1]
    assert list(frame["config.gamma"]) == ["(not in grid)"] * 3 + [0.01, 0.1, 0.01, 0.1]


def test_a_list_of_lists_is_drawn_without_replacement_as_randomizedsearchcv_draws_it(
        client, cancer):
    X, y = cancer
    s = search(SVC(), SVC_GRIDS, client, n_trials=5, seed=3, cv=3).fit(X, y)
    params = s.cv_results_["params"]
    assert len(params) == 5 and len({tuple(sorted(p.items())) for p in params}) == 5
    for p in params:  # each one a candidate of its own grid, with that grid's keys only
        grid = SVC_GRIDS[p["kernel"] == "rbf"]
        assert set(p) == set(grid) and all(p[k] in grid[k] for k in p)
    again = search(SVC(), SVC_GRIDS, client, n_trials=5, seed=3, cv=3).fit(X, y)
    assert again.cv_results_["params"] == params  # the seed draws the same ones
    with pytest.warns(UserWarning, match=r"^the space holds 7 candidates, fewer than "
                                         r"n_trials=9: running 7; list more values in a space "
                                         r"to draw more$"):
        every = search(SVC(), SVC_GRIDS, client, n_trials=9, cv=3).fit(X, y)
    def candidates(results):
        return sorted(repr(sorted(p.items())) for p in results["params"])

    assert candidates(every.cv_results_) == \
        candidates(GridSearchCV(SVC(), SVC_GRIDS).fit(X, y).cv_results_)


def test_a_list_of_grids_chooses_a_pipelines_model_as_gridsearchcv_does(client):
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", SVC())])
    grids = [{"clf": [SVC()], "clf__gamma": [0.01, 0.1],
              "scale": [StandardScaler(), MinMaxScaler()]},
             {"clf": [LogisticRegression(max_iter=500)], "clf__C": [0.1, 1.0]}]
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    ours = search(pipe, grids, client, searcher="grid", cv=cv).fit(X, y)
    theirs = GridSearchCV(pipe, grids, cv=cv).fit(X, y)
    a, b = ours.cv_results_, theirs.cv_results_
    assert [{k: repr(v) for k, v in p.items()} for p in a["params"]] == \
        [{k: repr(v) for k, v in p.items()} for p in b["params"]]
    assert np.allclose(a["mean_test_score"], b["mean_test_score"], rtol=0, atol=1e-12)
    assert repr(ours.best_estimator_) == repr(theirs.best_estimator_)


FAMILIES = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500))])
FAMILY_GRIDS = [{"clf": [LogisticRegression(max_iter=500)], "clf__C": [0.1, 1.0]},
                {"clf": [SVC()], "clf__C": [1.0, 10.0]},
                {"clf": [DecisionTreeClassifier(random_state=0)], "clf__max_depth": [2, 4]}]


def test_a_resource_is_checked_against_each_model_the_spaces_choose(cancer):
    """The resource was checked against the pipeline's own clf, which no candidate of the other
    grids fit: every fit of those failed on a warm_start nbtune set, and the best model was the
    best of one family (first-day test, round 59)."""
    X, y = cancer
    for resource, message in (
            ("clf__max_iter", r"^space\[1\] with clf=SVC: resource 'clf__max_iter' needs warm "
                              r"starts, and Pipeline has no 'clf__warm_start' parameter"),
            ("partial_fit", r"^space\[0\] with clf=LogisticRegression: resource='partial_fit' "
                            r"needs an estimator with partial_fit")):
        s = nbtune.SearchCV(FAMILIES, FAMILY_GRIDS, scheduler="asha", resource=resource,
                            cluster="tcp://127.0.0.1:1")
        with pytest.raises(ValueError, match=message):
            s.fit(X, y)
    # one space that chooses the model: the same
    s = nbtune.SearchCV(FAMILIES, {"clf": [LogisticRegression(), SVC()]}, scheduler="asha",
                        resource="clf__max_iter", cluster="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match=r"^the space with clf=SVC: resource 'clf__max_iter'"):
        s.fit(X, y)
    # a resource all of them have, whose values differ: max_t is asked for
    forests = [{"clf": [SGDClassifier(max_iter=5, tol=None)], "clf__alpha": [1e-4]},
               {"clf": [SGDClassifier(max_iter=9, tol=None)], "clf__alpha": [1e-2]}]
    s = nbtune.SearchCV(FAMILIES, forests, scheduler="asha", resource="clf__max_iter",
                        cluster="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match=r"^resource 'clf__max_iter' has different values in the "
                                         r"space's models: 5 \(space\[0\] with clf=SGDClassifier"
                                         r"\), 9 \(space\[1\] with clf=SGDClassifier\); give "
                                         r"SearchCV\(..., max_t=N\)"):
        s.fit(X, y)


def test_auto_resource_of_models_that_grow_differently_is_rows(client, cancer):
    X, y = cancer
    s = search(FAMILIES, FAMILY_GRIDS, client, scheduler="asha", cv=3, seed=0).fit(X, y)
    assert s.study_.settings["resource"] == "n_samples"
    assert np.isfinite(s.cv_results_["mean_test_score"]).all()  # every model's fits ran
    assert {type(p["clf"]).__name__ for p in s.cv_results_["params"]} == {
        "LogisticRegression", "SVC", "DecisionTreeClassifier"}
    assert list(s.cv_results_["params"][0]) == sorted(s.cv_results_["params"][0])


def test_a_misspelt_key_names_the_parameters_of_the_model_its_space_chooses(cancer):
    X, y = cancer
    grids = [FAMILY_GRIDS[0], {"clf": [SVC()], "cfl__C": [1.0]}]
    s = nbtune.SearchCV(FAMILIES, grids, cluster="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match=r"^space\[1\]: space key 'cfl__C' is not a parameter of "
                                         r"Pipeline \(did you mean 'clf__C'\?\); the parameters "
                                         r"of step 'clf' are: C, break_ties, cache_size"):
        s.fit(X, y)


def test_a_grid_cut_short_by_n_trials_or_asked_for_more_says_so(client, cancer):
    """A grid of three models cut at n_trials=5 ran the first model's candidates alone, in
    silence; above the grid's size, silence too, where the random searcher warns (round 59)."""
    X, y = cancer
    for space, size in ((FAMILY_GRIDS, 6), ({"C": [0.1, 1.0, 10.0]}, 3)):
        estimator = FAMILIES if isinstance(space, list) else LogisticRegression()
        with pytest.warns(UserWarning, match=rf"^the grid holds {size} candidates; n_trials=2 "
                                             r"runs the first 2, in ParameterGrid's order: "
                                             r"n_trials=None for all of them, or "
                                             r"searcher='random' to draw 2 at random$"):
            s = search(estimator, space, client, searcher="grid", n_trials=2, cv=2).fit(X, y)
        assert len(s.cv_results_["params"]) == 2
        with pytest.warns(UserWarning, match=rf"^the grid holds {size} candidates, fewer than "
                                             rf"n_trials=9: running {size}$"):
            s = search(estimator, space, client, searcher="grid", n_trials=9, cv=2).fit(X, y)
        assert len(s.cv_results_["params"]) == size


def test_brackets_that_run_short_are_said_once_in_searchcvs_words(client, cancer):
    """"running 12" beside "give n_trials=17 (or --trials 17)" after n_trials=17 was given: two
    lines that contradicted each other, one in the magic's words (first-day test, round 59)."""
    X, y = cancer
    for n_trials in (17, "auto"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            search(FAMILIES, FAMILY_GRIDS, client, scheduler="hyperband", resource="n_samples",
                   n_trials=n_trials, cv=2, seed=0).fit(X, y)
        said = [str(w.message) for w in caught if "brackets" in str(w.message)
                or "n_trials" in str(w.message)]
        assert said == ["the space holds 6 candidates, and the hyperband scheduler's brackets "
                        "start 17: its last brackets run short; list more values, or give "
                        "scheduler_options={'brackets': 1}"], said
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search(LogisticRegression(), {"C": stats.loguniform(1e-2, 1)}, client, n_trials=5,
               scheduler="hyperband", resource="n_samples", cv=2, seed=0).fit(X, y)
    said = [str(w.message) for w in caught if "brackets" in str(w.message)]
    assert said == ["the hyperband scheduler's brackets start 17 candidates, but n_trials=5: its "
                    "last brackets run short; give n_trials=17, or "
                    "scheduler_options={'brackets': 1}"], said


def test_the_curves_of_a_search_without_a_scheduler_say_why_there_are_none(client, cancer):
    X, y = cancer
    s = search(LogisticRegression(), {"C": [0.1, 1.0]}, client, cv=2).fit(X, y)
    for plot, what in ((s.study_.plot.learning_curves, "learning curves"),
                       (s.study_.plot.rungs, "rungs")):
        with pytest.raises(ValueError, match=rf"^study '.+' is a SearchCV search without a "
                                             rf"scheduler: each candidate was scored once, on "
                                             rf"all its folds, so it has no {what}; SearchCV\("
                                             rf"..., scheduler='asha'\) scores them at rungs"):
            plot()


@pytest.mark.parametrize("space, searcher, message", [
    ([], "random", r"^space is an empty list: give a mapping of parameter names to values, or "
                   r"a list of them \(one per model, as GridSearchCV's list of dicts\)$"),
    ([{"C": [1.0]}, 3], "random", r"^space\[1\] is not a mapping \(int\): a list of spaces "
                                  r"holds mappings of parameter names to values"),
    ([{"C": [1.0]}, {"C": stats.uniform(0, 1)}], "random",
     r"^space\[1\] draws 'C' from a range: a list of spaces takes lists of values only; list "
     r"the values, or give one space and run one SearchCV for each$"),
    ([{"C": [1.0]}, {"C": {"a": 1}}], "random", r"^space\[1\]: space entry 'C' is a dict"),
    ([{"C": [1.0]}, {"gama": [0.1]}], "random",
     r"^space\[1\]: space key 'gama' is not a parameter of SVC \(did you mean 'gamma'\?\)"),
    (SVC_GRIDS, "bayesopt", r"^a list of spaces is searched with searcher='random' or 'grid'; "
                            r"searcher='bayesopt' models one space: give one, and run one "
                            r"SearchCV for each$"),
], ids=["empty", "not a mapping", "a range", "a bad entry", "a wrong key", "a model"])
def test_a_wrong_list_of_spaces_is_named_before_any_trial(cancer, space, searcher, message):
    X, y = cancer
    s = nbtune.SearchCV(SVC(), space, searcher=searcher, cluster="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match=message):
        s.fit(X, y)


def test_a_parameter_of_the_pipelines_step_is_checked_against_the_step_the_space_chooses():
    """The pipeline's own SVC has gamma, so gamma for a chosen LogisticRegression passed the
    check, and its fits failed on the cluster (a candidate gone from cv_results_)."""
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", SVC())])
    for space, where in (({"clf": [LogisticRegression()], "clf__gamma": [1.0]}, ""),
                         ([{"clf": [SVC()], "clf__gamma": [1.0]},
                           {"clf": [LogisticRegression()], "clf__gamma": [1.0]}], r"space\[1\]: ")):
        s = nbtune.SearchCV(pipe, space, cluster="tcp://127.0.0.1:1")
        with pytest.raises(ValueError, match=rf"^{where}space key 'clf__gamma' is not a parameter "
                                             r"of LogisticRegression, which the space gives 'clf': "
                                             r"give 'gamma' only with estimators that have it, or "
                                             r"give a list of spaces, one for each estimator$"):
            s.fit(X, y)


def test_a_function_or_a_class_in_the_space_is_named_before_any_trial(cancer):
    """A lambda meant to draw C was taken as C's one value: a misleading warning, then every
    fit failed on the cluster (first-day test, round 32). scikit-learn's searches reject it."""
    X, y = cancer
    for entry, message in (
            (lambda: 1.0, r"^space entry 'C' is a function \(<lambda>\), not a range of "
                          r"values: give a list of values, a scipy.stats distribution "
                          r"\(stats.loguniform\(1e-3, 10\)\) or an nbtune domain "
                          r"\(nbtune.loguniform\(1e-3, 10\)\)$"),
            (np.exp, r"is a function \(exp\).*goes in a list \(\[exp\]\)$"),
            (LogisticRegression, r"^space entry 'C' is the class LogisticRegression, not a "
                                 r"value: give an instance, in a list to search over several "
                                 r"\(\[LogisticRegression\(\)\]\)$")):
        s = nbtune.SearchCV(LogisticRegression(), {"C": entry}, cluster="tcp://127.0.0.1:1")
        with pytest.raises(ValueError, match=message):
            s.fit(X, y)


def test_scikit_learns_errors_about_the_data_show_the_users_line_not_nbtunes(ip, cancer):
    """X and y of different lengths, a group splitter without groups: scikit-learn's own
    message, as GridSearchCV shows it, under the user's line; two of nbtune's frames came
    first (first-day test, round 32)."""
    X, y = cancer
    s = nbtune.SearchCV(LogisticRegression(), {"C": [1.0]}, cluster="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="inconsistent numbers of samples: \\[285, 280\\]") as a:
        s.fit(X, y[:-5])
    s.set_params(cv=GroupKFold(3))
    with pytest.raises(ValueError, match="The 'groups' parameter should not be None") as b:
        s.fit(X, y)
    assert b.value.__notes__ == ["give the groups to fit: search.fit(X, y, groups=groups)"]
    for caught in (a, b):
        text = "".join(caught.value._render_traceback_())
        assert __file__ in text and "sklearn" in text, text
        assert NBTUNE_DIR not in text, text
    s = nbtune.SearchCV(LogisticRegression(), {"C": [1.0]}, refit=False)
    with pytest.raises(AttributeError, match="refit=False") as c:
        s.predict(X)
    assert NBTUNE_DIR not in "".join(c.value._render_traceback_())


class Holds(FunctionTransformer):
    """A step that holds what its parameter is given (a lock, an open connection)."""

    def __init__(self, held=None):
        self.held = held
        super().__init__()


class Connection:
    """Copies as itself, cannot be pickled: an open connection."""

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        raise TypeError("cannot pickle 'Connection' object")


def test_a_step_that_cannot_be_copied_or_sent_is_named_by_its_parameter(ip, cancer):
    """A lock showed 14 frames of copy.deepcopy and named no step; an open connection, a
    message about "the trial function" (first-day test, round 32)."""
    X, y = cancer
    for held, verb, why in ((threading.Lock(), "copied", "cannot pickle '_thread.lock' object"),
                            (Connection(), "pickled", "cannot pickle 'Connection' object")):
        pipe = Pipeline([("lookup", Holds(held)), ("clf", LogisticRegression())])
        s = nbtune.SearchCV(pipe, {"clf__C": [1.0, 2.0]}, cluster="tcp://127.0.0.1:1")
        with pytest.raises(TypeError) as caught:
            s.fit(X, y)
        assert str(caught.value) == (
            f"the estimator cannot go to the Dask workers: its parameter 'lookup__held' holds a "
            f"{type(held).__name__} that cannot be {verb} ({why}). Each candidate's estimator is "
            f"cloned and sent to a worker: create objects such as open files, locks or "
            f"connections inside the step's fit, not in its parameters")
        assert NBTUNE_DIR not in "".join(caught.value._render_traceback_())
    s = nbtune.SearchCV(Pipeline([("lookup", Holds()), ("clf", LogisticRegression())]),
                        {"lookup": [Holds(), Holds(Connection())]}, cluster="tcp://127.0.0.1:1")
    with pytest.raises(TypeError, match=r"the space's choice Holds\(.* for 'lookup' cannot "
                                        r"be pickled \(cannot pickle 'Connection' object\)"):
        s.fit(X, y)


def test_class_weight_balanced_trains_by_partial_fit_weighed_as_fit_weighs_it(client, cancer):
    """SGD's partial_fit refuses class_weight='balanced' (it needs all of y before the first
    epoch): every candidate with it failed once the search ran, where RandomizedSearchCV, which
    calls fit, takes it (first-day test, round 32). Each fold weighs its own rows' classes."""
    from sklearn.utils.class_weight import compute_class_weight

    X, y = cancer
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    sgd = SGDClassifier(loss="log_loss", class_weight="balanced", random_state=0)
    s = search(sgd, {"alpha": [1e-3]}, client, cv=cv, searcher="grid", scheduler="asha",
               resource="partial_fit", max_t=3).fit(X, y)
    scores = []
    for train, test in cv.split(X, y):
        present = np.unique(y[train])
        weights = compute_class_weight("balanced", classes=present, y=y[train])
        est = clone(sgd).set_params(alpha=1e-3, class_weight=dict(zip(present, weights)))
        for epoch in range(3):
            est.partial_fit(X[train], y[train], **({"classes": np.unique(y)} if epoch == 0 else {}))
        scores.append(est.score(X[test], y[test]))
    assert s.cv_results_["n_resources"][0] == 3
    assert s.cv_results_["mean_test_score"][0] == pytest.approx(np.mean(scores), abs=1e-12)
    assert s.best_estimator_.class_weight == "balanced"  # as given, though trained weighed
    mixed = search(make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss", random_state=0)),
                   {"sgdclassifier__class_weight": [None, "balanced"]}, client, cv=cv,
                   searcher="grid", scheduler="asha", resource="partial_fit", max_t=3).fit(X, y)
    assert np.isfinite(mixed.cv_results_["mean_test_score"]).all()


def test_a_halving_searchs_attributes_and_iter_column_under_early_stopping(client, cancer):
    """Code moved over from HalvingRandomSearchCV read n_resources_, n_candidates_ and the
    iter column, and got a bare AttributeError (first-day test, round 32): here the rungs are
    the iterations."""
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV

    X, y = cancer
    space = {"alpha": stats.loguniform(1e-5, 1.0)}
    s = search(SGDClassifier(random_state=0), space, client, cv=3, scheduler="asha", max_t=9,
               n_trials=12, seed=0).fit(X, y)
    levels = [1, 3, 9]
    assert list(s.cv_results_)[:2] == ["iter", "n_resources"]  # first, as the halving search's
    assert [levels[i] for i in s.cv_results_["iter"]] == list(s.cv_results_["n_resources"])
    reached = s.cv_results_["n_resources"]
    assert s.n_iterations_ == 3 and s.n_resources_ == levels
    assert s.n_candidates_ == [int((reached >= level).sum()) for level in levels]
    assert s.n_candidates_[0] == 12 and s.n_candidates_[-1] < 12
    assert s.n_remaining_candidates_ == s.n_candidates_[-1]
    assert (s.min_resources_, s.max_resources_) == (1, 9)
    assert s.n_possible_iterations_ == s.n_required_iterations_ == 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter of SGD: ConvergenceWarning
        h = HalvingRandomSearchCV(SGDClassifier(random_state=0), space, resource="max_iter",
                                  min_resources=1, max_resources=9, random_state=0,
                                  cv=3, return_train_score=False).fit(X, y)
    theirs = {name for name in vars(h) if name.endswith("_") and not name.startswith("_")}
    assert theirs <= set(vars(s)), theirs - set(vars(s))
    # its resource is a parameter (param_max_iter); epochs of partial_fit are not
    assert set(h.cv_results_) - set(s.cv_results_) == {"param_max_iter"}


class Where(ClassifierMixin, BaseEstimator):
    """Prints the process that fits it; each fit takes a while, so that free workers take folds."""

    def __init__(self, c=1.0):
        self.c = c

    def fit(self, X, y):
        import os
        import time

        import threading

        time.sleep(0.5)
        print(f"fitted in thread {threading.current_thread().name!r} of process {os.getpid()}")
        warnings.warn("Where fitted a fold", UserWarning)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(X.shape[0], self.classes_[0])


def test_a_candidates_folds_run_as_tasks_on_the_free_workers(client, cancer):
    """One candidate, two folds, two workers: each worker fits a fold while the trial waits
    without holding a thread, and what the folds print and warn joins the trial's own."""
    X, y = cancer
    wait_for(lambda: not busy_threads(client), "both workers to be free", 30)  # an earlier
    s = search(Where(), {"c": [1.0]}, client, cv=2, refit=False)  # test's trial may still end
    s.fit(X, y)
    [trial] = s.study_.trials
    printed = [line for line in trial.output.splitlines() if line.startswith("fitted in")]
    assert len(printed) == 2
    import os

    assert {int(line.split()[-1]) for line in printed} == set(client.run(os.getpid).values())
    assert len({line.split("'")[1] for line in printed}) == 2
    [warned] = [w for w in trial.warnings if w["message"] == "Where fitted a fold"]
    assert warned["category"] == "UserWarning" and warned["count"] == 2


CELL_CLASS = """\
import time
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class Slow(ClassifierMixin, BaseEstimator):
    def __init__(self, c=1.0):
        self.c = c

    def fit(self, X, y):
        time.sleep(0.3)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(X.shape[0], self.classes_[0])
"""


def test_a_class_defined_in_the_notebook_keeps_its_code_when_its_folds_run_as_tasks(
        client, cancer, tmp_path):
    """The scheduler (in the notebook's process with a local cluster) unpickled the folds a
    trial sent, and with them the user's class, pickled by value: cloudpickle set the class's
    methods to the copies, named ``<dynamic-code>``, and the class lost its source lines for the
    rest of the session (first-day test, round 9)."""
    import inspect
    import linecache

    cell = tmp_path / "cell.py"  # as IPython keeps a cell: a file name linecache can read
    cell.write_text(CELL_CLASS)
    linecache.checkcache(str(cell))
    ns = {"__name__": "__main__"}  # a notebook's class: cloudpickle sends it by value
    exec(compile(CELL_CLASS, str(cell), "exec"), ns)
    Slow = ns["Slow"]
    X, y = cancer
    wait_for(lambda: not busy_threads(client), "both workers to be free", 30)
    s = search(Slow(), {"c": [1.0]}, client, cv=2, refit=False).fit(X, y)
    assert s.best_params_ == {"c": 1.0}
    assert Slow.fit.__code__.co_filename == str(cell)
    assert "time.sleep(0.3)" in inspect.getsource(Slow.fit)


def test_folds_sent_as_tasks_need_no_second_thread(cancer):
    """On one worker with one thread the trial's folds still run: the waiting trial gave its
    thread to them."""
    from distributed import Client, LocalCluster

    X, y = cancer
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address="127.0.0.1:0") as cluster, \
            Client(cluster, set_as_default=False) as c:
        s = search(LogisticRegression(), {"C": [0.1, 1.0]}, c, cv=3, refit=False)
        s.fit(X, y)
    reference = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3).fit(X, y)
    ours, theirs = by_params(s.cv_results_), by_params(reference.cv_results_)
    assert ours.keys() == theirs.keys()
    for params, i in ours.items():
        assert abs(s.cv_results_["mean_test_score"][i] -
                   reference.cv_results_["mean_test_score"][theirs[params]]) < 1e-12


def test_where_trials_hold_resources_their_folds_stay_in_the_trial(cancer):
    """Beside GPU workers a trial asks for a CPU and keeps it while it waits: its folds run in its
    own thread, one after the other, rather than wait for the CPU it holds."""
    from distributed import Client, SpecCluster, Worker

    X, y = cancer
    workers = {name: {"cls": Worker, "options": {"nthreads": 1, "resources": {name: 1}}}
               for name in ("CPU", "GPU")}
    with SpecCluster(workers=workers, scheduler={"cls": __import__("distributed").Scheduler,
                                                 "options": {"dashboard_address": ":0"}}) \
            as cluster, Client(cluster, set_as_default=False) as c:
        s = search(Where(), {"c": [1.0, 2.0]}, c, cv=2, refit=False)
        s.fit(X, y)
    for trial in s.study_.trials:
        threads = {line.split("'")[1] for line in trial.output.splitlines()
                   if line.startswith("fitted in")}
        assert len(threads) == 1  # both folds in the trial's own thread
    assert len(s.cv_results_["params"]) == 2


class Slow(ClassifierMixin, BaseEstimator):
    """A fit of ten seconds in short sleeps, so that a halt reaches it between two."""

    def __init__(self, c=1.0):
        self.c = c

    def fit(self, X, y):
        import time

        for _ in range(200):
            time.sleep(0.05)
        self.classes_ = np.unique(y)
        return self


def test_a_search_out_of_time_halts_the_folds_its_trials_sent(client, cancer):
    import time

    X, y = cancer
    with pytest.raises(ValueError, match=r"no candidate was evaluated .*max_time.*: give a "
                                         r"longer max_time, or fewer folds"):
        search(Slow(), {"c": [1.0, 2.0]}, client, cv=2, max_time=1, refit=False).fit(X, y)
    deadline = time.monotonic() + 5  # the halt's own grace; the fits would take 10 s more
    while any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(client.processing().values())
    busy = client.run(lambda dask_worker: len(dask_worker.state.executing) +
                      len(dask_worker.state.long_running))
    assert not any(busy.values())


class Nap(ClassifierMixin, BaseEstimator):
    """A fit of 0.1 s."""

    def __init__(self, c=1.0):
        self.c = c

    def fit(self, X, y):
        time.sleep(0.1)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(X.shape[0], self.classes_[0])


def test_a_grid_search_cut_by_max_time_says_how_much_of_the_grid_ran(client, cancer):
    """max_time ended a grid search after 62 of its 400 candidates, in ParameterGrid's order
    (the smallest C values only): best_params_ came without a word, and the summary said
    "trials 62: 62 completed", not of how many (first-day test)."""
    X, y = cancer
    # 300 candidates of 0.2 s on 2 threads, 30 s at least: the first may take seconds to start
    # on a busy machine
    grid = {"c": [float(c) for c in range(1, 301)]}
    with pytest.warns(UserWarning) as caught:
        s = search(Nap(), grid, client, searcher="grid", cv=2, max_time=8).fit(X, y)
    ran = len(s.cv_results_["params"])
    assert s.study_.stop_reason == "max_time" and 0 < ran < 300
    said = [(str(w.message), w.filename) for w in caught]
    line = (f"the grid search ended on max_time after {ran} of 300 candidates, in the grid's "
            f"order: best_params_ is the best of those; give max_time=None (or a larger one) "
            f"to search the whole grid")
    assert said.count((line, __file__)) == 1, said  # once, at the fit line
    trials = dict(s.study_.summary().facts())["trials"]
    assert trials.startswith(f"{len(s.study_.trials)} of 300: "), trials
    # the whole grid run: no word, and no "of"
    small = {"c": [1.0, 2.0, 3.0]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        done = search(Nap(), small, client, searcher="grid", cv=2, max_time=60).fit(X, y)
    assert dict(done.study_.summary().facts())["trials"] == "3: 3 completed"


def test_an_interrupted_fit_says_its_own_line_and_not_tunes(client, cancer, capsys):
    """An interrupted fit printed nbtune.tune's line first ("Continue it with
    nbtune.tune(trial_fn, space, study=..., resume=True)"), for a study kept in memory only and
    a user with no trial_fn, then its own, which said the opposite (first-day test)."""
    import _thread
    import signal

    X, y = cancer
    # Ctrl-C as in an interactive Python (see tests/test_faults.py)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Timer(1.5, _thread.interrupt_main).start()
    s = search(Slow(), {"c": [1.0, 2.0]}, client, cv=2, study="cut")
    try:
        with pytest.raises(nbtune.StudyInterrupted, match=r"^SearchCV.fit was interrupted: its "
                                                          r"study 'cut' stopped after 0 "
                                                          r"candidates completed; "):
            s.fit(X, y)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert s.study_.stop_reason == "interrupted" and not s.study_.running
    said = capsys.readouterr()
    assert "nbtune.tune(" not in said.out + said.err and "resume=True" not in said.out + said.err
    assert "interrupted" not in said.out + said.err, said  # the exception's line is the one


# -- early stopping ------------------------------------------------------------------------------
class Counter(ClassifierMixin, BaseEstimator):
    """Scores q times the partial_fit calls it had: an epoch lost or repeated on resume shows."""

    def __init__(self, q=1.0):
        self.q = q

    def partial_fit(self, X, y, classes=None):
        if not hasattr(self, "calls_"):
            assert classes is not None, "the first partial_fit of a classifier gets the classes"
            self.classes_, self.calls_ = np.asarray(classes), 0
        self.calls_ += 1
        return self

    def fit(self, X, y):
        return self.partial_fit(X, y, np.unique(y))

    def predict(self, X):
        return np.full(X.shape[0], self.classes_[0])

    def score(self, X, y):
        return self.q * self.calls_


class SlowCounter(Counter):
    """A Counter whose epochs take 0.2 s."""

    def partial_fit(self, X, y, classes=None):
        import time

        time.sleep(0.2)
        return super().partial_fit(X, y, classes)


def test_a_search_that_ends_before_any_candidate_reaches_max_t_says_so(client, cancer):
    X, y = cancer
    with pytest.warns(UserWarning) as caught:
        s = search(SlowCounter(), {"q": [1.0, 2.0, 3.0]}, client, cv=2, scheduler="asha",
                   max_t=200, grace_period=1, max_time=8).fit(X, y)
    level = s.cv_results_["n_resources"][s.best_index_]
    assert level < 200 and s.best_estimator_.calls_ == level
    said = {str(w.message): w.filename for w in caught}
    assert said.get(f"no candidate reached max_t=200 before the search ended: the best had "
                    f"epoch={level} of 200, and best_estimator_ is refitted with that; give "
                    f"more max_time, or a smaller max_t") == __file__, said


class Grower(RegressorMixin, BaseEstimator):
    """An ensemble that grows under warm starts; scores q * trees + fits / 1000, NaN when a fit
    rebuilt trees it had (warm_start not set)."""

    def __init__(self, n_estimators=10, warm_start=False, q=1.0):
        self.n_estimators, self.warm_start, self.q = n_estimators, warm_start, q

    def fit(self, X, y):
        if self.warm_start and hasattr(self, "trees_"):
            self.built_ += self.n_estimators - self.trees_
            self.fits_ += 1
        else:
            self.built_, self.fits_ = self.n_estimators, 1
        self.trees_ = self.n_estimators
        return self

    def predict(self, X):
        return np.zeros(X.shape[0])

    def score(self, X, y):
        return self.q * self.trees_ + self.fits_ / 1000 if self.built_ == self.trees_ else np.nan


def reported(study, key):
    return {t.id: [r[key] for r in t.reports] for t in study.trials}


def test_partial_fit_trials_pause_and_resume_from_their_fold_checkpoints(client, cancer):
    X, y = cancer
    s = search(Counter(), {"q": [9, 8, 7, 6, 5, 4, 3, 2, 1]}, client, cv=2, scheduler="asha",
               scheduler_options={"type": "promotion"}, max_t=9, grace_period=1, seed=0)
    s.fit(X, y)
    assert s.study_.settings["resource"] == "epoch"
    epochs = reported(s.study_, "epoch")
    for trial in s.study_.trials:
        for rep in trial.reports:  # every fold trained exactly `epoch` epochs, none repeated
            assert rep["mean_test_score"] == trial.config["q"] * rep["epoch"]
            assert rep["split0_test_score"] == rep["split1_test_score"]
    assert all(v == [1, 3, 9][:len(v)] for v in epochs.values())  # paused, then resumed
    resumed = [t for t in s.study_.trials if epochs[t.id] == [1, 3, 9]]
    assert 9 in {t.config["q"] for t in resumed}  # the best is promoted at every rung
    # which trials pass the first rung depends on the order their first epochs arrive (an early
    # trial is promoted when it leads the few there), but the four worst never lead any three of
    # the first ones (q = 5, 4, 7, 3 start first), and the three best always rank in the top third
    q_and_epochs = sorted((t.config["q"], epochs[t.id]) for t in s.study_.trials)
    assert all(e == [1] for q, e in q_and_epochs if q <= 4), q_and_epochs
    assert all(len(e) >= 2 for q, e in q_and_epochs if q >= 7), q_and_epochs
    assert sorted(s.cv_results_["n_resources"]) == sorted(len(v) and v[-1] for v in
                                                          epochs.values())
    assert s.best_params_ == {"q": 9} and s.best_score_ == 81
    assert s.best_estimator_.calls_ == 9  # refitted with as many partial_fit epochs


def test_growing_rung_folds_score_fewer_folds_early_and_a_joining_fold_trains_from_scratch(
        client, cancer):
    from nbtune.sklearn.planning import fold_counts

    assert fold_counts(3, 3, "grow") == (1, 2, 3) and fold_counts(5, 4, "grow") == (2, 3, 4, 5)
    assert fold_counts(3, 4, "grow") == (1, 2, 3, 3) and fold_counts(3, 4, "all") is None
    X, y = cancer
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "non-finite scores" warning for unscored splits
        s = search(Counter(), {"q": [9, 8, 7, 6, 5, 4, 3, 2, 1]}, client, cv=3,
                   scheduler="asha", scheduler_options={"type": "promotion"}, max_t=9,
                   grace_period=1, rung_folds="grow", seed=0).fit(X, y)
    scored = {1: 1, 3: 2, 9: 3}  # folds scored at each level
    for trial in s.study_.trials:
        for rep in trial.reports:  # each fold scored has trained exactly `epoch` epochs, the
            n = scored[rep["epoch"]]  # ones that joined at this level from scratch included
            assert [rep.get(f"split{i}_test_score") for i in range(3)] == \
                [trial.config["q"] * rep["epoch"]] * n + [None] * (3 - n)
            assert rep["mean_test_score"] == trial.config["q"] * rep["epoch"]
    assert {len(r) for r in reported(s.study_, "epoch").values()} >= {1, 3}
    results = s.cv_results_
    for i, level in enumerate(results["n_resources"]):
        splits = [results[f"split{k}_test_score"][i] for k in range(3)]
        q = results["params"][i]["q"]
        assert np.isnan(splits[scored[level]:]).all() and splits[:scored[level]] == \
            [q * level] * scored[level]
        assert results["mean_test_score"][i] == q * level and results["std_test_score"][i] == 0
    assert s.best_params_ == {"q": 9} and s.best_score_ == 81
    with pytest.warns(UserWarning, match=r"rung_folds='grow' needs a scheduler \(scheduler="
                                         r"'asha' or 'hyperband'\): without rungs every candidate "
                                         r"is scored on every fold") as warned:
        plain = search(Counter(), {"q": [1, 2]}, client, cv=3, rung_folds="grow").fit(X, y)
    assert warned[0].filename == __file__  # the fit() line above, not nbtune's own
    assert not np.isnan(plain.cv_results_["split2_test_score"]).any()


def test_a_warm_start_parameter_grows_between_rungs(client):
    X, y = load_diabetes(return_X_y=True)
    s = search(Grower(n_estimators=9), {"q": [float(q) for q in range(1, 10)]}, client, cv=2,
               scheduler="asha", scheduler_options={"type": "promotion"}, seed=0)
    s.fit(X, y)  # max_t: the estimator's n_estimators; grace period 9 / 3**3, rounded up
    assert s.study_.settings["rung_levels"] == [1, 3, 9]
    for trial in s.study_.trials:
        for k, rep in enumerate(trial.reports, start=1):  # one fold estimator, k warm fits
            assert rep["mean_test_score"] == pytest.approx(trial.config["q"] * rep["n_estimators"]
                                                           + k / 1000)
    top = s.best_index_
    assert s.cv_results_["n_resources"][top] == 9 and s.best_params_["q"] == 9.0
    assert s.best_params_["n_estimators"] == 9 and s.best_estimator_.n_estimators == 9
    assert [r["n_estimators"] for r in s.study_.trials[s.best_index_].reports] == [1, 3, 9]


class Booster(RegressorMixin, BaseEstimator):
    """A booster as LightGBM's and XGBoost's estimators are: no warm_start, and a fit that adds
    n_estimators rounds to the model it is given (init_model); scores q * rounds + fits / 1000."""

    def __init__(self, n_estimators=10, q=1.0):
        self.n_estimators, self.q = n_estimators, q

    def fit(self, X, y, init_model=None):
        before = (0, 0) if init_model is None else (init_model.rounds_, init_model.fits_)
        self.rounds_, self.fits_ = before[0] + self.n_estimators, before[1] + 1
        return self

    def predict(self, X):
        return np.zeros(X.shape[0])

    def score(self, X, y):
        return self.q * self.rounds_ + self.fits_ / 1000


def test_a_boosters_rounds_are_added_to_its_model_between_rungs(client):
    """LightGBM's and XGBoost's estimators have no warm_start: SearchCV fell back to n_samples,
    whose first rung of 15 rows LightGBM cannot split, and refused resource='n_estimators',
    though their fit continues a model (init_model, xgb_model) (first-day test, round 29)."""
    from nbtune.sklearn.resources import auto_resource, resource_kind

    assert auto_resource(Booster()) == "n_estimators"
    assert resource_kind(Booster(), "n_estimators") == ("param", None, False, "init_model")
    piped = make_pipeline(StandardScaler(), Booster())
    assert resource_kind(piped, "booster__n_estimators")[3] == "booster__init_model"
    X, y = load_diabetes(return_X_y=True)
    s = search(Booster(n_estimators=9), {"q": [float(q) for q in range(1, 10)]}, client, cv=2,
               scheduler="asha", scheduler_options={"type": "promotion"}, seed=0).fit(X, y)
    assert s.study_.settings["rung_levels"] == [1, 3, 9]
    for trial in s.study_.trials:
        for k, rep in enumerate(trial.reports, start=1):  # each rung's fit adds to the last
            assert rep["mean_test_score"] == pytest.approx(trial.config["q"] * rep["n_estimators"]
                                                           + k / 1000)
    assert s.best_params_ == {"q": 9.0, "n_estimators": 9}
    assert (s.best_estimator_.rounds_, s.best_estimator_.fits_) == (9, 1)  # refitted at once
    p = search(piped, {"booster__q": [1.0, 2.0, 3.0]}, client, cv=2, scheduler="asha",
               resource="booster__n_estimators", max_t=9, seed=0).fit(X, y)
    top = p.study_.trials[p.best_index_]
    assert [r["mean_test_score"] for r in top.reports] == pytest.approx(
        [3 * level + k / 1000 for k, level in enumerate((1, 3, 9), start=1)])


def test_a_resource_with_no_largest_value_says_where_to_give_it(client):
    """XGBClassifier's n_estimators is None: "give max_t=N" did not say where (first-day test,
    round 30)."""
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(ValueError, match=r"^resource 'n_estimators' needs its largest value: "
                                         r"give SearchCV\(\.\.\., max_t=N\), or "
                                         r"Booster\(n_estimators=N\); the estimator's "
                                         r"n_estimators=None is not a positive integer$"):
        search(Booster(n_estimators=None), {"q": [1.0, 2.0]}, client, cv=2,
               scheduler="asha").fit(X, y)


def test_a_rungs_truncated_fits_raise_no_convergence_warning_but_the_last_level_does(client):
    """Every trial's summary line read "lbfgs failed to converge after 8 iteration(s) ...
    Increase the number of iterations (max_iter=8)" (raised by 30 of 30 trials), at max_iter=200:
    the rungs' few iterations, which are the point (first-day test, round 20). A fit at the
    search's full max_iter that does not converge still says so."""
    X, y = load_wine(return_X_y=True)  # unscaled: lbfgs converges slowly
    s = search(LogisticRegression(max_iter=27), {"C": stats.loguniform(1e-2, 1e2)}, client,
               cv=2, scheduler="asha", scheduler_options={"type": "promotion"}, n_trials=6,
               seed=0, refit=False).fit(X, y)
    levels = s.study_.settings["rung_levels"]
    assert levels[-1] == 27 and len(levels) > 1
    for trial in s.study_.trials:
        reached = trial.reports[-1]["max_iter"]
        said = [w["message"] for w in trial.warnings if w["category"] == "ConvergenceWarning"]
        assert bool(said) == (reached == 27), (reached, said)  # lbfgs needs more than 27 here


def test_n_samples_and_partial_fit_of_real_estimators_stop_the_poor_candidates(client, cancer):
    X, y = cancer
    s = search(LogisticRegression(max_iter=500), {"C": stats.loguniform(1e-4, 1e2)}, client,
               cv=3, scheduler="asha", resource="n_samples", reduction_factor=2, n_trials=12,
               seed=4).fit(X, y)
    levels = s.study_.settings["rung_levels"]
    assert levels[-1] == max(len(tr) for tr, _ in StratifiedKFold(3).split(X, y)) == 190
    assert set(s.cv_results_["n_resources"]) <= set(levels)
    assert min(s.cv_results_["n_resources"]) < 190  # some stopped early
    assert s.cv_results_["n_resources"][s.best_index_] == 190
    sgd = search(SGDClassifier(random_state=0), {"alpha": stats.loguniform(1e-6, 1.0)}, client,
                 cv=3, scheduler="asha", max_t=9, n_trials=9, seed=5).fit(X, y)
    assert sgd.study_.settings["resource"] == "epoch"  # resource="auto": partial_fit
    assert min(sgd.cv_results_["n_resources"]) < 9 and sgd.best_score_ > 0.8
    assert hasattr(sgd.best_estimator_, "coef_")


@pytest.mark.parametrize("cv, groups", [
    (TimeSeriesSplit(4), None),  # training folds of 90, 178, 266 and 354 rows
    (GroupKFold(3), np.repeat(np.arange(5), [30, 50, 70, 100, 192])),  # 250, 312 and 322
])
def test_n_samples_at_max_t_trains_every_fold_on_all_its_rows(client, cv, groups):
    """max_t of n_samples was the smallest training fold: on TimeSeriesSplit the later folds
    trained on a fraction of their rows at the top rung, and the candidate's CV score was not
    cross-validation's (-31.09 for cross_val_score's -24.62; first-day test). Now
    max_t is the largest fold, a fold trains on min(level, its rows), and a candidate at max_t
    scores what cross_val_score scores."""
    X, y = load_diabetes(return_X_y=True)
    splits = list(cv.split(X, y, groups))
    sizes = [len(train) for train, _ in splits]
    scoring = "neg_root_mean_squared_error"
    plain = cross_val_score(Ridge(alpha=0.1), X, y, groups=groups, cv=cv, scoring=scoring)
    s = search(Ridge(), {"alpha": [0.1]}, client, searcher="grid", scoring=scoring, cv=cv,
               scheduler="asha", resource="n_samples").fit(X, y, groups=groups)
    assert s.max_resources_ == max(sizes) and s.n_resources_[-1] == max(sizes)
    assert list(s.cv_results_["n_resources"]) == [max(sizes)]
    assert s.study_.settings["rung_levels"][-1] == max(sizes)
    assert s.best_score_ == pytest.approx(plain.mean(), abs=1e-12)
    assert [s.cv_results_[f"split{i}_test_score"][0] for i in range(len(splits))] == \
        pytest.approx(list(plain), abs=1e-12)
    reports = s.study_.trials[0].reports  # a rung at or above a fold's rows trains all of them
    assert len(reports) > 1
    for rep, after in zip(reports, reports[1:]):
        for i, size in enumerate(sizes):
            if rep["n_samples"] >= size:
                assert rep[f"split{i}_test_score"] == pytest.approx(plain[i], abs=1e-12)
                # and the rungs after keep that fit: the same rows are not fitted again
                assert after[f"split{i}_fit_time"] == rep[f"split{i}_fit_time"]
    # a max_t given is kept: the folds larger than it train on max_t rows, the others on all
    given = search(Ridge(), {"alpha": [0.1]}, client, searcher="grid", scoring=scoring, cv=cv,
                   scheduler="asha", resource="n_samples", max_t=min(sizes) + 10,
                   refit=False).fit(X, y, groups=groups)
    assert given.max_resources_ == min(sizes) + 10
    assert list(given.cv_results_["n_resources"]) == [min(sizes) + 10]
    first = sizes.index(min(sizes))
    assert given.cv_results_[f"split{first}_test_score"][0] == \
        pytest.approx(plain[first], abs=1e-12)


def test_a_pipeline_whose_last_step_has_partial_fit_trains_it_by_epochs(client, cancer):
    """Scaling then SGD: the scaler is fitted once per fold, the SGD a partial_fit an epoch;
    each rung's fold scores are those of that training done by hand."""
    X, y = cancer
    pipe = make_pipeline(StandardScaler(), SGDClassifier(random_state=0))
    s = search(pipe, {"sgdclassifier__alpha": [1e-4, 1e-2]}, client, cv=3, searcher="grid",
               scheduler="asha", resource="partial_fit", max_t=9, grace_period=1,
               reduction_factor=3).fit(X, y)
    assert s.study_.settings["resource"] == "epoch"
    splits = list(StratifiedKFold(3).split(X, y))
    assert max(r["epoch"] for t in s.study_.trials for r in t.reports) == 9
    for trial in s.study_.trials:
        for row in trial.reports:
            by_hand = []
            for train, test in splits:
                scaler = StandardScaler().fit(X[train])
                sgd = SGDClassifier(random_state=0, alpha=trial.config["sgdclassifier__alpha"])
                for epoch in range(row["epoch"]):
                    sgd.partial_fit(scaler.transform(X[train]), y[train],
                                    **({"classes": np.unique(y)} if epoch == 0 else {}))
                by_hand.append(sgd.score(scaler.transform(X[test]), y[test]))
            assert row["mean_test_score"] == pytest.approx(np.mean(by_hand), abs=1e-12)
    best = s.best_estimator_  # refitted the same way, on all rows: a fitted Pipeline
    epochs = s.cv_results_["n_resources"][s.best_index_]
    scaler = StandardScaler().fit(X)
    sgd = SGDClassifier(random_state=0, alpha=s.best_params_["sgdclassifier__alpha"])
    for epoch in range(epochs):
        sgd.partial_fit(scaler.transform(X), y, **({"classes": np.unique(y)} if epoch == 0
                                                   else {}))
    np.testing.assert_array_equal(best.predict(X), sgd.predict(scaler.transform(X)))


def test_naive_bayes_under_asha_trains_on_rows_and_scores_what_gridsearchcv_scores(client,
                                                                                   cancer):
    """resource="auto" trained a naive Bayes pipeline by partial_fit epochs, each adding the
    fold's counts again: at 27 epochs its alpha counted for 1/27 of itself, and the CV scores
    and best_estimator_ were those of no fit (first-day test). One pass is the whole model: its
    rungs are rows, and at max_t a candidate scores what GridSearchCV scores."""
    X, y = cancer
    pipe = make_pipeline(MinMaxScaler(), MultinomialNB())
    grid = {"multinomialnb__alpha": [0.01, 0.1, 1.0, 10.0]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    s = search(pipe, grid, client, searcher="grid", cv=cv, scoring="neg_log_loss",
               scheduler="asha").fit(X, y)
    theirs = GridSearchCV(pipe, grid, cv=cv, scoring="neg_log_loss").fit(X, y)
    assert s.study_.settings["resource"] == "n_samples"
    assert s.max_resources_ == max(len(train) for train, _ in cv.split(X, y))
    rows = by_params(theirs.cv_results_)
    full = [i for i, level in enumerate(s.cv_results_["n_resources"])
            if level == s.max_resources_]
    assert full
    for i in full:
        j = rows[tuple(sorted((k, repr(v)) for k, v in s.cv_results_["params"][i].items()))]
        assert s.cv_results_["mean_test_score"][i] == \
            pytest.approx(theirs.cv_results_["mean_test_score"][j], abs=1e-12)
    alone = clone(pipe).set_params(**s.best_params_).fit(X, y)  # one fit's counts, not 27's
    np.testing.assert_array_equal(s.best_estimator_[-1].feature_count_,
                                  alone[-1].feature_count_)


def test_a_pipeline_of_one_partial_fit_step_trains_as_the_step_alone(cancer):
    from nbtune.sklearn.training import partial_fitted

    X, y = cancer
    alone, piped = SGDClassifier(random_state=0), make_pipeline(SGDClassifier(random_state=0))
    partial_fitted(alone, X, y, {}, 0, 3, np.unique(y))
    partial_fitted(piped, X, y, {}, 0, 3, np.unique(y))
    np.testing.assert_array_equal(piped.predict(X), alone.predict(X))


def test_auto_resource_picks_what_the_estimator_allows():
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.neural_network import MLPClassifier

    from nbtune.sklearn.resources import auto_resource, resource_kind

    assert auto_resource(MLPClassifier()) == "partial_fit"
    assert auto_resource(RandomForestClassifier()) == "n_estimators"
    assert auto_resource(make_pipeline(StandardScaler(), HistGradientBoostingClassifier())) \
        == "histgradientboostingclassifier__max_iter"
    assert auto_resource(Ridge()) == "n_samples"
    # preprocessing, then a partial_fit model: epochs, where it chose sgdclassifier__max_iter,
    # whose tol made the rungs nominal (first-day test, round 23)
    assert auto_resource(make_pipeline(StandardScaler(), SGDClassifier())) == "partial_fit"
    # a partial_fit that adds the rows again at each pass is no epoch: rows (first-day test)
    from sklearn.decomposition import IncrementalPCA
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.naive_bayes import BernoulliNB, CategoricalNB, ComplementNB, GaussianNB

    for nb in (MultinomialNB(), ComplementNB(), BernoulliNB(), CategoricalNB(), GaussianNB(),
               OneVsRestClassifier(MultinomialNB()), IncrementalPCA()):
        assert auto_resource(make_pipeline(MinMaxScaler(), nb)) == "n_samples", nb
        with pytest.raises(ValueError, match="partial_fit adds the same .* again at each pass"):
            resource_kind(nb, "partial_fit")
    assert auto_resource(OneVsRestClassifier(SGDClassifier())) == "partial_fit"
    assert resource_kind(HistGradientBoostingClassifier(), "max_iter")[2] is True  # a total
    assert resource_kind(SGDRegressor(), "max_iter")[2] is False  # more per warm fit


def test_hyperband_runs_its_brackets_on_partial_fit_epochs(client, cancer):
    X, y = cancer
    s = search(Counter(), {"q": stats.uniform(0, 1)}, client, cv=2, scheduler="hyperband",
               max_t=9, seed=6).fit(X, y)  # n_trials "auto": the 17 trials of its brackets
    assert len(s.study_.trials) == 17 and s.study_.stop_reason == "scheduler"
    assert sorted(set(s.cv_results_["n_resources"])) == [1, 3, 9]
    for trial in s.study_.trials:
        for rep in trial.reports:
            assert rep["mean_test_score"] == pytest.approx(trial.config["q"] * rep["epoch"])
    finished = s.cv_results_["n_resources"] == 9
    assert s.best_score_ == s.cv_results_["mean_test_score"][finished].max()


def test_the_resource_parameter_cannot_also_be_searched(cancer):
    from sklearn.ensemble import RandomForestClassifier

    X, y = cancer
    s = nbtune.SearchCV(RandomForestClassifier(), {"n_estimators": [10, 20]}, scheduler="asha",
                        cluster="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match=r"'n_estimators' is both the resource and a key of the "
                                         r"space"):
        s.fit(X, y)


def test_scikit_learn_spaces_become_nbtune_spaces():
    from nbtune.sklearn.space import convert

    scaler = StandardScaler()
    c = convert({"a": stats.uniform(1, 2), "b": stats.loguniform(1e-3, 1.0),
                 "c": stats.randint(1, 10), "d": stats.norm(5, 2), "e": [scaler, "passthrough"],
                 "f": [(8,), (8, 8)], "g": np.array([0.1, 1.0]), "h": 3})
    space = c.space
    assert space["a"] == nbtune.uniform(1, 3) and space["b"] == nbtune.loguniform(1e-3, 1.0)
    assert space["c"] == nbtune.randint(1, 9) and space["h"] == nbtune.fixed(3)
    assert space["e"] == nbtune.choice("StandardScaler()", "passthrough")
    assert space["f"] == nbtune.choice("(8,)", "(8, 8)") and space["g"] == nbtune.choice(0.1, 1.0)
    draws = np.array([space.sample(i)["d"] for i in range(2000)])
    assert abs(draws.mean() - 5) < 0.2 and abs(draws.std() - 2) < 0.2  # its own law
    assert space["d"].to_dict()["type"] == "uniform"  # stored as its range: JSON only
    nbtune.Space.from_json(space.to_json())
    params = c.params({"e": "StandardScaler()", "f": "(8, 8)", "h": 3})
    assert params["e"] is scaler and params["f"] == (8, 8) and params["h"] == 3
    assert convert({"a": [1, 2]}, "grid").space["a"] == nbtune.grid(1, 2)


def test_a_kept_checkpoint_is_named_as_the_search_holds_its_study(client, cancer, db):
    """The summary said "kept: study.best_checkpoint" of a SearchCV's study, which is
    search.study_ (first-day test, round 57)."""
    X, y = cancer
    s = search(SGDClassifier(random_state=0), {"alpha": [1e-4, 1e-2, 1e-1]}, client, cv=2,
               scheduler="asha", storage=db, study="kept").fit(X, y)
    said = dict(s.study_.summary().facts())["checkpoint"]
    assert said.endswith(": search.study_.best_checkpoint (its folds' models; the refit is "
                         "best_estimator_)"), said


def test_the_study_stays_in_memory_unless_storage_is_given(client, cancer, db, tmp_path,
                                                           monkeypatch, capsys):
    X, y = cancer
    monkeypatch.chdir(tmp_path)
    search(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]}, client, cv=3).fit(X, y)
    assert not list(tmp_path.glob("*.db"))  # nothing left in the working folder
    s = search(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]}, client, cv=3, storage=db,
               study="lr").fit(X, y)
    stored = nbtune.load_study("lr", storage=db)
    assert stored.metric == "mean_test_score" and stored.mode == "max"
    assert {t.config["C"] for t in stored.trials} == {0.1, 1.0}
    assert stored.best.value == s.best_score_
    assert stored.trials[0].metrics["split0_test_score"] == s.study_.trials[0].metrics[
        "split0_test_score"]
    assert "replaces" not in capsys.readouterr().err
    # a second fit starts over, as scikit-learn's does: it replaces the study of that name, and
    # says so (it did in silence: first-day test, round 22)
    s.set_params(space={"C": [0.5]}).fit(X, y)
    assert [t.config for t in nbtune.load_study("lr", storage=db).trials] == [{"C": 0.5}]
    assert (f"nbtune: this fit replaces study 'lr' in {db!r}, an earlier fit's (each fit starts "
            "a new search; another study= keeps both, resume=True continues it)\n"
            ) in capsys.readouterr().err


def test_searcher_options_reach_the_searcher_and_a_bad_one_is_one_line(client, cancer):
    X, y = cancer
    options = {"n_initial": 2, "cost_aware": True}
    s = search(LogisticRegression(max_iter=500), {"C": stats.loguniform(1e-2, 1e2)}, client,
               cv=3, n_trials=4, seed=0, searcher="bayesopt", searcher_options=options)
    assert clone(s).get_params()["searcher_options"] == options
    s.fit(X, y)
    assert s.study_.settings["searcher"] == "bayesopt"
    assert {k: s.study_.settings["searcher_options"][k] for k in options} == options
    assert "bayesopt searcher (ei per second)" in str(s.study_.summary())
    with pytest.raises(ValueError, match=r"^kappa must be a finite number > 0, got kappa=0 "):
        search(LogisticRegression(), {"C": stats.loguniform(1e-2, 1e2)}, client, cv=3,
               searcher="bayesopt", searcher_options={"acquisition": "ucb", "kappa": 0}).fit(X, y)


def test_a_fitted_search_pickles_with_its_study(client, cancer):
    import pickle

    X, y = cancer
    s = search(LogisticRegression(max_iter=500), {"C": stats.loguniform(1e-2, 10.0)}, client,
               cv=3, n_trials=3, seed=0).fit(X, y)
    back = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(back.predict(X), s.predict(X))
    assert back.study_.best.id == s.study_.best.id and back.best_params_ == s.best_params_
    assert back.cluster == client.scheduler.address  # a Client travels as its address


def test_import_nbtune_leaves_scikit_learn_until_searchcv_is_used():
    import subprocess
    import sys

    code = ("import sys, nbtune; assert 'sklearn' not in sys.modules; "
            "from nbtune import SearchCV; assert 'sklearn' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_booster_that_stops_itself_early_under_max_iter_rungs_is_said(client, cancer):
    """HistGradientBoosting's early_stopping ended max_iter short of each rung: a candidate
    "completed" at 90 had trained 38, and nothing said so (first-day test, round 42)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = cancer
    with pytest.warns(UserWarning, match=r"^HistGradientBoostingClassifier stops its own "
                                         r"boosting early \(early_stopping=True\): the max_iter "
                                         r"rungs then count fewer"):
        search(HistGradientBoostingClassifier(max_iter=9, early_stopping=True),
               {"learning_rate": [0.1]}, client, cv=2, scheduler="asha",
               resource="max_iter").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from nbtune.sklearn.resources import self_stopping_note

        assert self_stopping_note(HistGradientBoostingClassifier(), "max_iter", 9_000) is None
        assert "10,000 rows (12,000 here)" in self_stopping_note(
            make_pipeline(StandardScaler(), HistGradientBoostingClassifier()),
            "histgradientboostingclassifier__max_iter", 12_000)
        assert self_stopping_note(HistGradientBoostingClassifier(), "max_iter", 6_000,
                                  9_000) is None
    # folds under 10,000 rows, the refit on all of them over: best_estimator_ stopped itself at
    # 31 of the 60 its candidate trained, in silence (first-day test, round 57)
    X, y = make_classification(n_samples=10_002, n_features=4, random_state=0)
    with pytest.warns(UserWarning, match=r"^HistGradientBoostingClassifier stops its own "
                                         r"boosting early on over 10,000 rows \(early_stopping="
                                         r"'auto'\): the folds' 5,001 rows train each rung in "
                                         r"full, but best_estimator_, refitted on all 10,002 "
                                         r"rows, holds some out"):
        search(HistGradientBoostingClassifier(max_iter=3), {"learning_rate": [0.1]}, client,
               cv=2, scheduler="asha", resource="max_iter").fit(X, y)


def test_a_named_search_kept_in_memory_only_says_so(client, cancer, capsys):
    """SearchCV(study="rf-cv") with no storage kept the study nowhere, in silence (first-day
    test, round 41): nbtune.tune's storage defaults to a file, SearchCV's to None."""
    X, y = cancer
    search(LogisticRegression(max_iter=200), {"C": [1.0]}, client, cv=2, study="rf-cv").fit(X, y)
    assert "nbtune: study 'rf-cv' is kept in memory only (SearchCV's storage=None, unlike " \
           "nbtune.tune's): give storage='nbtune.db' to keep it in a file" in capsys.readouterr().err
