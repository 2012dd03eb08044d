"""nbtune.SearchCV with ASHA against scikit-learn's RandomizedSearchCV and HalvingRandomSearchCV,
and Optuna's OptunaSearchCV where it is installed.

Three tasks, each searched by each method for the same wall-clock budget on two workers (two
joblib processes for scikit-learn, ``n_jobs=2``; a two-worker LocalCluster of single-threaded
workers for nbtune), on the same three stratified folds:

- ``mlp``: an sgd ``MLPClassifier``, 27 epochs at most (``partial_fit`` epochs for nbtune,
  ``max_iter`` for the halving search, 27 epochs for random search), 4,000 rows, 10 classes.
- ``hgb``: ``HistGradientBoostingClassifier``, 243 boosting iterations at most (``max_iter``
  grown with warm starts for nbtune, refitted per iteration count by the halving search).
- ``pipeline``: scaler choice, PCA size, ``SVC``; training rows are the resource (``n_samples``).

scikit-learn's searches have no time budget: each runs as a sequence of searches (random search
4 candidates at a time, the halving search whole runs), with new seeds, until the budget is spent;
a search's result counts at the moment it ends, and only if it ends within the budget. nbtune runs
one ``SearchCV(max_time=budget)``; a candidate counts when it has been trained to max_t.
Optuna's ``OptunaSearchCV`` (``make bench-searchcv-peers``: optuna-integration lives in the
benchmark-only ``.venv-peers``, never in nbtune's dependencies) runs with ``timeout=budget``, its
TPE sampler, pruning on ``partial_fit`` epochs with the Hyperband pruner where the estimator has
``partial_fit``, and ``n_jobs=2`` (two threads: Optuna runs trials side by side no other way).

For each method the script prints the resource it trained over all folds (epochs, boosting
iterations or training rows; a search of scikit-learn's counts if it ended within the budget).
With ``--rescore K`` it scores each method's chosen candidate again on K fresh shuffles of the folds
(the best of many noisy scores is biased upwards: what was chosen is worth less than the score it
was chosen for). For each baseline it prints its best mean CV score at the end of the budget and the
time it took to reach it, and the time SearchCV took to reach that same score: the goal is a ratio
<= 0.5, and a best score at least as high. ``--seeds 0,1,2`` runs each seed in turn and adds the
median ratio over seeds. ``--rung-folds all,grow`` runs SearchCV once with each ``rung_folds``
against the same baselines (``all``, every fold at every rung, by default), and ``--searcher
random,bayesopt`` once with each searcher (with both, once per pair). Run with ``make
bench-searchcv`` (about 10 minutes a seed).
"""
from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("PYTHONWARNINGS", "ignore")  # ConvergenceWarnings, in every worker too

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

import nbtune  # noqa: E402

SPLIT_SEED = 0


def tasks() -> dict[str, dict]:
    """Each task: estimator, space, data, the resource of the halving search."""
    from sklearn.datasets import make_classification
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, QuantileTransformer, StandardScaler
    from sklearn.svm import SVC

    X1, y1 = make_classification(n_samples=4000, n_features=40, n_informative=24, n_redundant=8,
                                 n_classes=10, n_clusters_per_class=2, flip_y=0.02,
                                 random_state=0)
    X1 = StandardScaler().fit_transform(X1)
    mlp = MLPClassifier(solver="sgd", max_iter=27, n_iter_no_change=1000, random_state=0)
    X2, y2 = make_classification(n_samples=6000, n_features=20, n_informative=10,
                                 flip_y=0.05, class_sep=0.8, random_state=1)
    hgb = HistGradientBoostingClassifier(max_iter=243, early_stopping=False, random_state=0)
    X3, y3 = make_classification(n_samples=4000, n_features=30, n_informative=12,
                                 n_redundant=10, flip_y=0.03, class_sep=0.9, random_state=2)
    pipe = Pipeline([("scale", StandardScaler()), ("pca", PCA()), ("svc", SVC())])
    return {
        "mlp": dict(estimator=mlp, X=X1, y=y1, halving=dict(resource="max_iter", min_resources=1,
                                                             max_resources=27),
                    space={"learning_rate_init": stats.loguniform(1e-4, 1.0),
                           "alpha": stats.loguniform(1e-6, 1e-1),
                           "hidden_layer_sizes": [(32,), (64,), (128,), (64, 64)],
                           "batch_size": [16, 32, 64, 128],
                           "momentum": stats.uniform(0.5, 0.49)}),
        "hgb": dict(estimator=hgb, X=X2, y=y2, halving=dict(resource="max_iter", min_resources=9,
                                                             max_resources=243),
                    space={"learning_rate": stats.loguniform(0.005, 0.5),
                           "max_leaf_nodes": stats.randint(4, 128),
                           "min_samples_leaf": stats.randint(2, 200),
                           "l2_regularization": stats.loguniform(1e-6, 10.0)}),
        "pipeline": dict(estimator=pipe, X=X3, y=y3, halving=dict(resource="n_samples",
                                                                  min_resources=150),
                         space={"scale": [StandardScaler(), MinMaxScaler(),
                                          QuantileTransformer(n_quantiles=200)],
                                "pca__n_components": [5, 10, 20, 30],
                                "svc__C": stats.loguniform(1e-2, 1e3),
                                "svc__gamma": stats.loguniform(1e-4, 1.0)}),
    }


def folds():
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(3, shuffle=True, random_state=SPLIT_SEED)


def run_sklearn(kind: str, task: dict, budget: float, seed: int) -> tuple[list, float, dict]:
    """(seconds since start, best score so far) each time a search of the sequence ends, the
    resource the searches that ended within the budget trained (see :func:`trained`), and the
    params of the best candidate."""
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV, RandomizedSearchCV

    start, points, best, i, work, params = time.time(), [], -np.inf, 0, 0.0, None
    while time.time() - start < budget:
        if kind == "random":
            search = RandomizedSearchCV(task["estimator"], task["space"], n_iter=4, cv=folds(),
                                        n_jobs=2, refit=False, random_state=seed * 1000 + i)
        else:
            search = HalvingRandomSearchCV(task["estimator"], task["space"], cv=folds(),
                                           n_jobs=2, refit=False, factor=3,
                                           random_state=seed * 1000 + i, **task["halving"])
        search.fit(task["X"], task["y"])
        elapsed = time.time() - start
        if elapsed <= budget:
            if search.best_score_ > best:
                best, params = float(search.best_score_), search.best_params_
            points.append((elapsed, best))
            work += trained(search, task)
        i += 1
    return points, work, params


def optuna_space(space: dict) -> dict:
    """The task's space as Optuna's distributions: a list as a categorical choice of its values
    themselves (OptunaSearchCV sets them on the estimator as drawn), a scipy.stats distribution
    as nbtune maps it (to an nbtune domain as SearchCV reads it, then to Optuna's distribution as
    nbtune's Optuna adapter does)."""
    import optuna

    from nbtune.search.optuna_adapter import dimension
    from nbtune.sklearn.space import from_scipy

    return {name: optuna.distributions.CategoricalDistribution(d) if isinstance(d, list)
            else dimension(optuna, from_scipy(name, d))[0] for name, d in space.items()}


def optuna_refuses(space: dict) -> str | None:
    """Why OptunaSearchCV cannot search ``space``, or None. Its categorical choices must be
    plain values: an estimator as a choice (a pipeline step) is stored as the object, and once
    TPE models the trials (after ten) it looks each stored value up among the choices, which a
    cloned estimator never equals, and the search fails."""
    for name, d in space.items():
        if isinstance(d, list) and any(hasattr(c, "get_params") for c in d):
            return f"{name}'s choices are estimators, which Optuna's categorical choices cannot be"
    return None


def run_optuna(task: dict, budget: float, seed: int) -> tuple[list, float, dict]:
    """Optuna's ``OptunaSearchCV`` for the budget (``timeout``; a trial counts when it completes
    within the budget), as :func:`run_sklearn` returns it. TPE; where the estimator has
    ``partial_fit``, pruning on its epochs with the Hyperband pruner (the setup of peers.py).
    ``n_jobs=2`` runs two trials in two threads of this process (Optuna's only way to run
    trials side by side), each held to one BLAS/OpenMP thread, as joblib's processes are."""
    import optuna
    from optuna_integration import OptunaSearchCV
    from threadpoolctl import threadpool_limits

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    prune = hasattr(task["estimator"], "partial_fit")
    epochs = task["halving"].get("max_resources")  # None: the resource is n_samples
    pruner = (optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs,
                                             reduction_factor=3) if prune else None)
    study = optuna.create_study(direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.TPESampler(seed=seed))
    with warnings.catch_warnings():  # "choices ... should be None, bool, int, float and str"
        warnings.simplefilter("ignore")
        space = optuna_space(task["space"])
    search = OptunaSearchCV(task["estimator"], space, cv=folds(), n_jobs=2, n_trials=None,
                            timeout=budget, refit=False, study=study, enable_pruning=prune,
                            max_iter=epochs if prune else 1000, random_state=seed, verbose=0)
    start = time.time()
    with threadpool_limits(1):
        search.fit(task["X"], task["y"])  # with pruning it passes partial_fit the classes
    n_folds = folds().get_n_splits()
    top = epochs if epochs is not None else len(task["y"]) * (n_folds - 1) / n_folds
    points, best, work, params = [], -np.inf, 0.0, None
    ended = sorted((t.datetime_complete.timestamp() - start, t) for t in study.trials
                   if t.datetime_complete is not None)
    for when, trial in ended:
        if when > budget:
            break
        work += (len(trial.intermediate_values) if prune else top) * n_folds
        if trial.state == optuna.trial.TrialState.COMPLETE and trial.value > best:
            best, params = float(trial.value), dict(trial.params)
            points.append((when, best))
    return points, work, params


def rescore(task: dict, params: dict | None, splits: int) -> float:
    """The mean CV score of ``params`` over ``splits`` fresh shuffles of three stratified folds,
    none of them the folds the searches chose by: what the chosen candidate is worth, without
    the luck of having been picked for a high score on those folds."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    if params is None:
        return float("nan")
    est = clone(task["estimator"]).set_params(**params)
    scores = [cross_val_score(est, task["X"], task["y"], n_jobs=2,
                              cv=StratifiedKFold(3, shuffle=True, random_state=1000 + k)).mean()
              for k in range(splits)]
    return float(np.mean(scores))


def trained(search, task: dict) -> float:
    """The resource one scikit-learn search trained, over all folds: epochs, boosting iterations
    or training rows, each fit counted at the resource it was fitted with (the halving search
    refits from scratch at each of its iterations)."""
    n_folds = search.n_splits_
    if "n_resources" in search.cv_results_:  # the halving search: a row per candidate and round
        return float(np.sum(search.cv_results_["n_resources"])) * n_folds
    top = task["halving"].get("max_resources")
    if top is None:  # n_samples: a fold's training rows
        top = len(task["y"]) * (n_folds - 1) / n_folds
    return float(len(search.cv_results_["params"])) * top * n_folds


def fold_work(trial, resource: str, n_splits: int) -> float:
    """The resource a trial trained over its folds: each fold counted to the last level it was
    scored at (with ``rung_folds="grow"`` a fold joins at a later level)."""
    return float(sum(max((r.get(resource, 0) for r in trial.reports
                          if f"split{i}_test_score" in r), default=0) for i in range(n_splits)))


SEARCHERS = {"bayesopt-cost": ("bayesopt", {"cost_aware": True})}  # --searcher names of setups


def run_nbtune(task: dict, budget: float, seed: int, client, kind: str,
               searcher: str = "random", brackets: int = 1,
               grace: int | None = None, rung_folds: str = "all") -> tuple[list, dict]:
    """(seconds since start, best score so far) at each candidate trained to max_t."""
    searcher, options = SEARCHERS.get(searcher, (searcher, None))
    search = nbtune.SearchCV(task["estimator"], task["space"], cv=folds(), scheduler="asha",
                             searcher=searcher, searcher_options=options,
                             scheduler_options={"type": kind, "brackets": brackets},
                             n_trials=None, max_time=budget, seed=seed, refit=False,
                             grace_period=grace, rung_folds=rung_folds, cluster=client,
                             progress=False)
    start = time.time()
    search.fit(task["X"], task["y"])
    study = search.study_
    done = sorted((t.finished - start, t.value) for t in study.completed if t.value is not None)
    points, best = [], -np.inf
    for when, value in done:
        if value > best:
            best = value
            points.append((when, best))
    resource = study.settings.get("resource")
    info = {"trials": len(study.trials), "completed": len(study.completed),
            "levels": study.settings.get("rung_levels"),
            "work": sum(fold_work(t, resource, search.n_splits_) for t in study.trials),
            "params": search.best_params_ if study.completed else None,
            "drawn": study.settings.get("searcher_quick_draws", 0)}
    return points, info


def drawn_text(drawn: int) -> str:
    """"; 12 random configs while the model was busy", or nothing when none was drawn."""
    return f"; {drawn} random configs while the model was busy" if drawn else ""


def first_reach(points: list[tuple[float, float]], score: float) -> float | None:
    return next((t for t, s in points if s >= score - 1e-12), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per search")
    parser.add_argument("--tasks", default="mlp,hgb,pipeline")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, run one after "
                        "another (default 0)")
    parser.add_argument("--type", default="stopping", choices=("stopping", "promotion"),
                        help="ASHA's type")
    parser.add_argument("--searcher", default="random",
                        help="SearchCV's searcher, comma-separated: one SearchCV run for each, "
                        "against the same baselines (default random; bayesopt-cost: bayesopt "
                        "with cost_aware=True)")
    parser.add_argument("--rescore", type=int, default=0, metavar="K",
                        help="score each method's chosen candidate again on K fresh shuffles of "
                        "the folds (default 0: not)")
    parser.add_argument("--grace", type=int, default=None,
                        help="SearchCV's first rung (default: max_t / 27, three rungs below it)")
    parser.add_argument("--brackets", type=int, default=1,
                        help="ASHA's brackets (> 1: asynchronous Hyperband; default 1)")
    parser.add_argument("--rung-folds", default="all",
                        help="SearchCV's rung_folds, comma-separated: one SearchCV run for each, "
                        "against the same baselines (default all)")
    parser.add_argument("--baselines", default=None,
                        help="comma-separated, of random, halving and optuna (Optuna's "
                        "OptunaSearchCV, where optuna-integration is installed: make "
                        "bench-searchcv-peers); default: all three, or the first two without it")
    args = parser.parse_args()
    if args.baselines is None:
        try:
            import optuna_integration  # noqa: F401
            args.baselines = "random,halving,optuna"
        except ImportError:
            print("OptunaSearchCV is not installed here (make bench-searchcv-peers runs it): "
                  "random and halving searches only")
            args.baselines = "random,halving"
    args.baselines = args.baselines.split(",")
    warnings.simplefilter("ignore")
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    client = Client(cluster)
    all_tasks = tasks()
    rows = []
    for seed in [int(x) for x in args.seeds.split(",")]:
        for name in args.tasks.split(","):
            rows += compare(name, all_tasks[name], args, seed, client)
    print("\n| task | seed | SearchCV (searcher/rung_folds) | baseline | its best | its time to it "
          "(s) | SearchCV best | SearchCV time to that score (s) | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, seed, variant, kind, best, t_best, our_best, t_ours in rows:
        print(f"| {name} | {seed} | {variant} | {kind} | {_cell(best, '.4f')} | "
              f"{_cell(t_best, '.1f')} | {our_best:.4f} | {_cell(t_ours, '.1f')} | "
              f"{_cell(_ratio(t_ours, t_best), '.2f')} |")
    print("\nOver the seeds (ratio: median, a seed where SearchCV never reached the baseline's "
          "best counted as infinite):\n")
    print("| task | SearchCV (searcher/rung_folds) | baseline | median ratio (goal <= 0.5) | "
          "seeds with SearchCV's best >= the baseline's |")
    print("|---|---|---|---|---|")
    for name in args.tasks.split(","):
        for variant in variants(args):
            for kind in args.baselines:
                mine = [r for r in rows if r[0] == name and r[2] == variant and r[3] == kind
                        and r[4] is not None]
                if not mine:
                    continue
                ratios = [_ratio(r[7], r[5]) for r in mine]
                ratio = float(np.median([np.inf if x is None else x for x in ratios]))
                held = sum(r[6] >= r[4] - 1e-12 for r in mine)
                print(f"| {name} | {variant} | {kind} | {ratio:.2f} | {held} of {len(mine)} |")
    client.close()
    cluster.close()


def variants(args) -> list[str]:
    """The SearchCV setups to run, "searcher/rung_folds", each against the same baselines."""
    return [f"{searcher}/{rung_folds}" for searcher in args.searcher.split(",")
            for rung_folds in args.rung_folds.split(",")]


def _ratio(t_ours, t_best):
    return None if t_ours is None or t_best is None else t_ours / t_best


def _cell(x, f):
    return "-" if x is None else format(x, f)


def compare(name: str, task: dict, args, seed: int, client) -> list[tuple]:
    """One task and seed: SearchCV for each searcher and rung_folds, then each baseline; a row
    per SearchCV run and baseline."""
    ours = {}
    for variant in variants(args):
        searcher, rung_folds = variant.split("/")
        ours[variant] = run_nbtune(task, args.budget, seed, client, args.type, searcher,
                                   args.brackets, args.grace, rung_folds)
    kinds = list(args.baselines)
    refused = optuna_refuses(task["space"]) if "optuna" in kinds else None
    if refused:
        print(f"\n{name}: no OptunaSearchCV: {refused}")
        kinds.remove("optuna")
    base = {kind: run_optuna(task, args.budget, seed) if kind == "optuna"
            else run_sklearn(kind, task, args.budget, seed) for kind in kinds}
    rows = []
    for variant, (points_ours, info) in ours.items():
        our_best = points_ours[-1][1] if points_ours else float("nan")
        searcher, rung_folds = variant.split("/")
        print(f"\n{name}, seed {seed}: SearchCV+ASHA ({args.type}, {searcher}, brackets "
              f"{args.brackets}, rung_folds {rung_folds}) best "
              f"{our_best:.4f} ({info['trials']} trials, {info['completed']} to max_t, rungs "
              f"{info['levels']}; trained {info['work']:.4g} of the resource over all folds"
              f"{drawn_text(info['drawn'])})",
              flush=True)
        if args.rescore:
            chosen = {"SearchCV": info["params"], **{kind: b[2] for kind, b in base.items()}}
            print("  the chosen candidates on " + str(args.rescore) + " fresh shuffles of the "
                  "folds: " + ", ".join(f"{kind} {rescore(task, params, args.rescore):.4f}"
                                        for kind, params in chosen.items()), flush=True)
        for kind, (points, work, _) in base.items():
            print(f"  {kind:8s} trained {work:.4g} of the resource over all folds "
                  f"(SearchCV: {info['work'] / work if work else float('nan'):.2f} of it)")
            if not points:
                print(f"  {kind}: no search ended within the budget")
                rows.append((name, seed, variant, kind, None, None, our_best, None))
                continue
            best, t_best = points[-1][1], first_reach(points, points[-1][1])
            t_ours = first_reach(points_ours, best)
            print(f"  {kind:8s} best {best:.4f} at {t_best:6.1f} s; SearchCV reached it at "
                  + ("never" if t_ours is None else
                     f"{t_ours:6.1f} s (ratio {t_ours / t_best:.2f})"), flush=True)
            rows.append((name, seed, variant, kind, best, t_best, our_best, t_ours))
    return rows


if __name__ == "__main__":
    main()
