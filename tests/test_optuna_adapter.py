"""Optuna's samplers as nbtune searchers (OptunaSearcher), in the contract's calls, in simulated
time, in real studies and in SearchCV. Optuna is not one of nbtune's dependencies: these tests
run in the venv `make peers-env` builds (`make test-peers`) and are skipped elsewhere (collected
and skipped one by one, so a run of this file alone is no "no tests collected" exit)."""
from __future__ import annotations

import numpy as np
import pytest

import nbtune
from nbtune.search import OptunaSearcher, make_searcher
from nbtune.sim import PowerLawCurves
from nbtune.setup_text import searcher_text


@pytest.fixture(scope="session")
def optuna():
    """Optuna, or the test is skipped."""
    return pytest.importorskip("optuna")


@pytest.fixture(scope="session")
def States(optuna):
    """Optuna's TrialState."""
    return optuna.trial.TrialState

SMOOTH = {"x": nbtune.uniform(0.0, 1.0), "y": nbtune.uniform(0.0, 1.0)}
EVERY = {"x": nbtune.uniform(-2.0, 2.0), "lr": nbtune.loguniform(1e-4, 1.0),
         "k": nbtune.randint(0, 5), "units": nbtune.lograndint(8, 512),
         "q": nbtune.quniform(0.1, 1.0, 0.25), "qi": nbtune.quniform(0, 100, 10),
         "act": nbtune.choice("relu", "tanh"), "odd": nbtune.choice(1, "two", [3], None),
         "wd": nbtune.grid(0.0, 0.1, 0.2), "lin": nbtune.linspace(0, 1, 5),
         "log": nbtune.logspace(1e-3, 1.0, 4), "bs": nbtune.fixed(32)}


def bowl(config: dict) -> float:
    return (config["x"] - 0.3) ** 2 + (config["y"] - 0.7) ** 2


def drive(searcher, fn, n: int) -> list[dict]:
    """Sequential study: suggest, start, report at level 1, end completed."""
    configs = []
    for i in range(n):
        config = searcher.suggest(i)
        searcher.on_trial_start(i, config)
        searcher.on_report(i, config, 1, fn(config))
        searcher.on_trial_end(i, config, "completed", fn(config))
        configs.append(config)
    return configs


def test_the_space_maps_to_optunas_distributions_and_back(optuna):
    s = make_searcher(optuna.samplers.TPESampler(seed=0, n_startup_trials=3), EVERY)
    assert isinstance(s, OptunaSearcher) and s.name == "optuna"
    d = s.distributions
    assert d["lr"] == optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)
    assert d["units"] == optuna.distributions.IntDistribution(8, 512, log=True)
    assert d["q"] == optuna.distributions.FloatDistribution(0.25, 1.0, step=0.25)
    assert d["qi"] == optuna.distributions.IntDistribution(0, 100, step=10)
    assert d["act"] == optuna.distributions.CategoricalDistribution(["relu", "tanh"])
    assert d["odd"] == optuna.distributions.CategoricalDistribution([0, 1, 2, 3])
    assert d["wd"] == optuna.distributions.IntDistribution(0, 2)
    assert "bs" not in d
    space = nbtune.Space(EVERY)
    configs = drive(s, lambda c: c["x"] ** 2 + c["k"], 12)  # past TPE's startup trials
    for config in configs:
        space.validate(config)
    assert {c["bs"] for c in configs} == {32}
    assert len({c["x"] for c in configs}) == 12


def test_a_seeded_sampler_gives_the_same_suggestions_and_other_seeds_differ(optuna):
    def run(seed):
        return drive(make_searcher(optuna.samplers.TPESampler(seed=seed, n_startup_trials=4),
                                   SMOOTH), bowl, 10)

    assert run(1) == run(1)
    assert run(1) != run(2)
    s = make_searcher(optuna.samplers.TPESampler(seed=1, n_startup_trials=4), SMOOTH)
    first = drive(s, bowl, 10)
    s.reset()  # a driver's reset: a fresh study and the sampler as it was given
    assert drive(s, bowl, 10) == first == run(1)
    by_name = make_searcher("optuna", SMOOTH, seed=1)
    assert isinstance(by_name.sampler, optuna.samplers.TPESampler)
    assert drive(by_name, bowl, 5) == drive(make_searcher("optuna", SMOOTH, seed=1), bowl, 5)


def test_tpe_beats_random_search_on_a_smooth_function_over_many_seeds(optuna):
    tpe, rnd = [], []
    for seed in range(15):
        tpe.append(min(map(bowl, drive(make_searcher(optuna.samplers.TPESampler(seed=seed),
                                                     SMOOTH), bowl, 30))))
        rnd.append(min(map(bowl, drive(make_searcher("random", SMOOTH, seed=seed), bowl, 30))))
    # stated margin: after 30 trials TPE's median best is under half of random search's, and
    # TPE is better in at least 10 of the 15 seeds
    assert np.median(tpe) < 0.5 * np.median(rnd), (tpe, rnd)
    assert sum(t < r for t, r in zip(tpe, rnd)) >= 10, (tpe, rnd)


def test_trial_ends_become_optuna_states_and_reports_intermediate_values(optuna, States):
    s = make_searcher(optuna.samplers.RandomSampler(seed=0), SMOOTH, mode="max",
                      points_to_evaluate=[{"x": 0.25}])
    c = [s.suggest(i) for i in range(5)]
    assert c[0] == {"x": 0.25, "y": 0.5}
    for i, config in enumerate(c):
        s.on_trial_start(i, config)
        s.on_report(i, config, 1, 0.1 * i)
        s.on_report(i, config, 3, 0.2 * i)
    s.on_trial_end(0, c[0], "completed", 0.5)
    s.on_trial_end(1, c[1], "stopped", 0.2)
    s.on_trial_end(2, c[2], "failed", None)
    s.on_trial_end(3, c[3], "paused", None)  # may resume: still running in Optuna's study
    trials = [s.study.trials[s.numbers[i]] for i in range(4)]
    assert s.numbers[0] == 4  # asked after the four suggestions asked ahead
    assert s.study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert trials[0].params == {"x": 0.25, "y": 0.5}  # the listed point, enqueued
    assert [t.state for t in trials[:4]] == [States.COMPLETE, States.PRUNED, States.FAIL,
                                             States.RUNNING]
    assert trials[1].intermediate_values == {1: 0.1, 3: 0.2} and trials[1].value == 0.2
    s.on_trial_start(3, c[3])  # resumed
    s.on_report(3, c[3], 9, 0.9)
    s.on_trial_end(3, c[3], "completed", 0.9)
    assert s.study.trials[s.numbers[3]].state == States.COMPLETE
    assert s.study.trials[s.numbers[3]].intermediate_values == {1: 0.1 * 3, 3: 0.2 * 3, 9: 0.9}
    assert s.observations == 4 and s.options == {"sampler": "RandomSampler"}


def test_a_simulated_study_with_asha_prunes_in_optuna(optuna, States):
    box = PowerLawCurves(max_t=27, noise=0.01)
    short = nbtune.simulate(box, searcher=optuna.samplers.TPESampler(seed=0),
                            scheduler="asha", n_trials=12, seed=0)
    study = nbtune.simulate(box, searcher=optuna.samplers.TPESampler(seed=0),
                            scheduler="asha", n_trials=40, seed=0)
    assert study.settings["searcher"] == "optuna"
    # the sampler's own seed draws its configs, not the study's: the summary says so, where
    # it said "seed=N draws these configs again" (first-day test, round 64)
    from nbtune.setup_text import seed_text

    assert study.settings["sampler_seeded"] is False
    assert seed_text(study).startswith("0, not the sampler's: an Optuna sampler passed as an "
                                       "object draws its configs by its own seed")
    by_name = nbtune.simulate(box, searcher="optuna", scheduler="asha", n_trials=4, seed=0)
    assert "sampler_seeded" not in by_name.settings and seed_text(by_name).startswith("0")
    assert [t.config for t in study.trials[:12]] == [t.config for t in short.trials]
    assert short.searcher.observations < study.searcher.observations == 40
    states = [t.state for t in study.searcher.study.trials]
    assert States.PRUNED in states and States.COMPLETE in states
    stopped = [t for t in study.trials if t.state == "stopped"]
    assert len(stopped) == states.count(States.PRUNED)


def squares(config):
    for epoch in (1, 2):
        nbtune.report(epoch=epoch, value=bowl(config) * (1 + 1 / epoch))
    return bowl(config)


def test_a_real_study_with_an_optuna_sampler_and_its_resume(optuna, States, client, db):
    study = nbtune.tune(squares, SMOOTH, searcher=optuna.samplers.TPESampler(seed=5),
                        n_trials=6, concurrency=2, cluster=client, storage=db, study="o",
                        progress=False)
    assert len(study.completed) == 6 and study.settings["searcher"] == "optuna"
    assert study.settings["searcher_options"] == {"sampler": "TPESampler"}
    assert searcher_text(study) == "optuna searcher (TPESampler), model of 6 trials"
    assert [t.state for t in study.searcher.study.trials] == [States.COMPLETE] * 6
    # the sampler given again is no conflict; by name it is built again from its class name
    again = nbtune.tune(squares, SMOOTH, searcher=optuna.samplers.TPESampler(seed=5),
                        storage=db, study="o", resume=True, cluster=client, progress=False)
    assert again.searcher.observations == 6  # the stored trials replayed into Optuna's study
    named = nbtune.tune(squares, SMOOTH, storage=db, study="o", resume=True, cluster=client,
                        progress=False)
    assert isinstance(named.searcher.sampler, optuna.samplers.TPESampler)
    assert named.searcher.seed == study.settings["seed"]  # the TPESampler seeded with it
    assert len(named.completed) == 6 and named.searcher.observations == 6


def test_searchcv_takes_an_optuna_sampler(optuna, client):
    from scipy import stats
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    X, y = load_diabetes(return_X_y=True)
    s = nbtune.SearchCV(Ridge(), {"alpha": stats.loguniform(1e-3, 1e2)},
                        searcher=optuna.samplers.TPESampler(seed=0), n_trials=6, cv=3,
                        cluster=client, progress=False).fit(X, y)
    assert len(s.cv_results_["params"]) == 6
    assert s.study_.settings["searcher"] == "optuna"
    assert all(1e-3 <= p["alpha"] <= 1e2 for p in s.cv_results_["params"])


@pytest.mark.parametrize("sampler, options, message", [
    ("NoSampler", {}, r"^unknown Optuna sampler 'NoSampler'; known: .*TPESampler.*, or pass a "
                      r"sampler instance$"),
    ("GridSampler", {}, r"^Optuna's GridSampler needs arguments: pass an instance"),
    (42, {}, r"^sampler must be an Optuna sampler or the name of one, got 42$"),
])
def test_bad_samplers_are_one_clear_line(sampler, options, message, optuna):
    with pytest.raises(ValueError, match=message):
        make_searcher("optuna", SMOOTH, sampler=sampler, **options)
    with pytest.raises(ValueError, match=r"^options \['n_experiments'\] apply only to a searcher"):
        make_searcher(optuna.samplers.TPESampler(), SMOOTH, n_experiments=3)


def test_an_optuna_pruner_given_as_the_searcher_is_named_with_nbtunes_scheduler():
    """It read "unknown searcher <optuna.pruners._hyperband.HyperbandPruner object at 0x...>"
    where scheduler= named nbtune's equivalent (first-day test, round 64). Classes of Optuna's
    module path stand in for Optuna, which these lines never import."""
    HyperbandPruner = type("HyperbandPruner", (), {"__module__": "optuna.pruners._hyperband"})
    for given in (HyperbandPruner(), HyperbandPruner):
        with pytest.raises(ValueError, match=r"^searcher=HyperbandPruner\(...\) is Optuna's "
                           r"pruner, which stops trials: nbtune's is scheduler='asha', "
                           r"brackets='all', rung_system_per_bracket=True, .*; a searcher picks "
                           r"configs \(searcher='tpe', or an Optuna sampler\)$"):
            make_searcher(given, EVERY)
