"""LightGBM and XGBoost, as a booster's user tunes them (first-day test, round 29): the README's
recipes run as %%tune cells, SearchCV trains their estimators round by round, and a LightGBM
trial left at its default n_jobs is told it takes more than its share of the cores. Neither
library is a dependency of nbtune: `make test-boosters` runs these in `.venv-boosters`; in
`.venv` they are skipped."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

import nbtune
from readme_blocks import python_blocks

lgb = pytest.importorskip("lightgbm")
xgb = pytest.importorskip("xgboost")


def recipes() -> list[str]:
    """The code blocks of the README's section on LightGBM and XGBoost."""
    return python_blocks("LightGBM and XGBoost")


@pytest.fixture(scope="module")
def data():
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    X, y = make_classification(3000, 20, n_informative=8, random_state=0)
    return train_test_split(X, y, random_state=0)


def test_the_readme_recipes_run_as_tune_cells_and_resume_their_boosters(shell, data):
    lightgbm_cell, xgboost_part = recipes()[:2]  # the callbacks'
    X_train, X_val, y_train, y_val = data
    shell.user_ns.update(lgb=lgb, xgb=xgb, X_train=X_train, X_val=X_val, y_train=y_train,
                         y_val=y_val)
    header = lightgbm_cell.splitlines()[0].replace("--trials 40", "--trials 12")
    cells = {"lgb": lightgbm_cell.replace(lightgbm_cell.splitlines()[0], header),
             "xgb": header + "\neta = loguniform(0.01, 0.3)\nmax_depth = randint(2, 8)\n"
             + xgboost_part}
    for name, cell in cells.items():
        result = shell.run_cell(cell.replace("%%tune ", f"%%tune --study {name} --seed 0 ", 1))
        assert result.success, (name, result.error_in_exec)
        study = shell.user_ns["study"]
        assert [t.state for t in study.trials].count("failed") == 0, name
        assert not [w for t in study.trials for w in t.warnings], name  # none was misled
        best = study.best
        assert best.state == "completed" and [r["round"] for r in best.reports] == \
            list(range(1, 82)), name  # paused at 1, 3, 9 and 27, each time from its booster
        assert 0.9 < best.value <= 1.0, name


def test_the_readme_k_fold_loop_is_judged_per_fold_and_gives_back_its_out_of_fold_predictions(
        shell):
    """A hand-written 5-fold loop, reported once a fold with --resource fold --max-t 5: ASHA
    stops poor configs after their first folds, and the best trial's out-of-fold predictions
    come back as study.best_checkpoint (user test: a Kaggle user's CV loop)."""
    from sklearn.datasets import make_classification
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    X, y = make_classification(1500, 20, n_informative=8, random_state=0)
    shell.user_ns.update(lgb=lgb, np=np, X=X, y=y, StratifiedKFold=StratifiedKFold,
                         roc_auc_score=roc_auc_score)
    cell = recipes()[2].replace("--trials 40", "--trials 9 --seed 0 --study kfold")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = shell.run_cell(cell)
    assert result.success, result.error_in_exec
    assert not [w for w in caught if issubclass(w.category, nbtune.NbtuneWarning)]
    study = shell.user_ns["study"]
    assert {t.state for t in study.trials} == {"completed", "stopped"}  # judged at folds 1, 3
    assert [r["fold"] for r in study.best.reports] == [1, 2, 3, 4, 5]
    oof = study.best_checkpoint
    assert oof.shape == y.shape and (oof > 0).all()  # every row predicted by its fold
    assert abs(roc_auc_score(y, oof) - study.best.value) < 0.02  # the pooled AUC, near the mean


def test_searchcv_adds_each_rungs_rounds_to_a_boosters_model(client, data):
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    X, _, y, _ = data
    space = {"learning_rate": stats.loguniform(0.02, 0.5), "max_depth": [2, 3, 4]}
    for estimator in (lgb.LGBMClassifier(n_estimators=27, n_jobs=1, verbose=-1),
                      xgb.XGBClassifier(n_estimators=27, n_jobs=1)):
        s = nbtune.SearchCV(estimator, space, scoring="roc_auc", cv=3, n_trials=8,
                            scheduler="asha", scheduler_options={"type": "promotion"}, seed=0,
                            cluster=client, storage=None, progress=False).fit(X, y)
        assert s.study_.settings["resource"] == "n_estimators"  # "auto": rounds, not rows
        assert s.best_params_["n_estimators"] == 27
        straight = estimator.__class__(**{**estimator.get_params(), **s.best_params_})
        once = cross_val_score(straight, X, y, scoring="roc_auc", cv=StratifiedKFold(3)).mean()
        assert s.best_score_ == pytest.approx(once, abs=1e-9)  # rounds added = one long fit


def lightgbm_defaults(config):
    X, y = config["data"]
    lgb.LGBMClassifier(n_estimators=300, verbose=-1, n_jobs=config["n_jobs"]).fit(X, y)
    return 0.0


def test_a_lightgbm_trial_at_its_default_n_jobs_is_told_it_takes_every_core(client):
    from sklearn.datasets import make_classification

    data = make_classification(20000, 40, random_state=0)
    fn = nbtune.with_parameters(lambda config, data: lightgbm_defaults({**config, "data": data}),
                                data=data)
    study = nbtune.tune(fn, {"n_jobs": nbtune.grid(None, 1)}, searcher="grid",
                        cluster=client, storage=None, progress=False)
    for t in study.trials:
        told = [w for w in t.warnings if "the trial ran more threads than its" in w["message"]]
        assert bool(told) == (t.config["n_jobs"] is None), (t.config, t.warnings)
    assert np.isfinite([t.value for t in study.trials]).all()
