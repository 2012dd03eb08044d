"""KDESearcher (BOHB's searcher) driven through the Searcher contract, in simulated time, and in
real studies on a LocalCluster and through the magic (those two with TPESearcher too)."""
from __future__ import annotations

import numpy as np
import pytest

import nbtune
from nbtune.search import KDESearcher, TPESearcher, make_searcher
from nbtune.sim import PowerLawCurves
from nbtune.setup_text import searcher_text

SMOOTH = {"x": nbtune.uniform(0.0, 1.0), "y": nbtune.uniform(0.0, 1.0)}
MIXED = {"x": nbtune.uniform(-2.0, 2.0), "lr": nbtune.loguniform(1e-4, 1.0),
         "act": nbtune.choice("relu", "tanh", "gelu"), "k": nbtune.randint(0, 5),
         "q": nbtune.quniform(0.0, 1.0, 0.25), "bs": nbtune.fixed(32)}
BOWL4 = {f"x{i}": nbtune.uniform(0.0, 1.0) for i in range(4)}


def bowl(config: dict) -> float:
    return (config["x"] - 0.3) ** 2 + (config["y"] - 0.7) ** 2


def bowl4(config: dict) -> float:
    return sum((config[f"x{i}"] - 0.3 - 0.1 * i) ** 2 for i in range(4))


def mixed(config: dict) -> float:
    return ((config["x"] - 0.5) ** 2 + (np.log10(config["lr"]) + 2) ** 2
            + (config["act"] != "tanh") + 0.1 * abs(config["k"] - 3) + config["q"])


def drive(searcher, fn, n: int, sign: float = 1.0, start: int = 0) -> list[dict]:
    """Sequential study without levels: suggest, start, end completed with fn's value."""
    configs = []
    for i in range(start, start + n):
        config = searcher.suggest(i)
        searcher.on_trial_start(i, config)
        searcher.on_trial_end(i, config, "completed", sign * fn(config))
        configs.append(config)
    return configs


def test_same_seed_and_events_give_the_same_suggestions():
    def events(seed):
        s = KDESearcher(MIXED, seed=seed, min_points=2)
        out = [s.suggest(i) for i in range(4)]
        for i, c in enumerate(out):
            s.on_trial_start(i, c)
        for i in (2, 0, 3, 1):  # reports at levels 1 and 3, ended out of order, one failed
            s.on_report(i, out[i], 1, mixed(out[i]))
            if i != 1:
                s.on_report(i, out[i], 3, mixed(out[i]) / 2)
            s.on_trial_end(i, out[i], "failed" if i == 1 else "completed", mixed(out[i]) / 2)
        for i in range(4, 14):  # two in flight at a time
            out.append(s.suggest(i))
            s.on_trial_start(i, out[i])
            if i % 2:
                s.on_report(i - 1, out[i - 1], 1, mixed(out[i - 1]))
                s.on_trial_end(i - 1, out[i - 1], "stopped", mixed(out[i - 1]))
        return out, s.model_level

    first, level = events(5)
    assert level == 3.0  # the top level: 3 reports and the failed trial, 2 * min_points
    assert events(5) == (first, level)
    assert events(6)[0] != first
    for config in first:
        nbtune.Space(MIXED).validate(config)


def test_pending_trials_and_tried_configs_are_never_suggested_again():
    space = {"a": nbtune.choice(1, 2, 3), "b": nbtune.grid("p", "q", "r")}
    s = KDESearcher(space, seed=0, min_points=2, random_fraction=0.0)
    done = drive(s, lambda c: c["a"] + len(c["b"]), 4)
    running = []
    for i in range(4, 9):  # five suggestions in a row, none of them ended
        running.append(s.suggest(i))
        s.on_trial_start(i, running[-1])
    assert s.model_level == "final"  # they came from the model, not random draws
    assert s.pending == [4, 5, 6, 7, 8]
    keys = [tuple(c.values()) for c in done + running]
    assert len(set(keys)) == len(keys) == 9


def test_the_model_falls_back_to_a_lower_level_until_the_top_one_has_enough():
    s = KDESearcher(SMOOTH, seed=1, random_fraction=0.0)  # min_points 3: 6 points a level
    assert s.min_points == 3
    configs = [s.suggest(i) for i in range(8)]
    for i, c in enumerate(configs):
        s.on_trial_start(i, c)
        s.on_report(i, c, 1, bowl(c))
    s.on_report(0, configs[0], 3, bowl(configs[0]))  # one trial reached level 3
    s.suggest(8)
    assert s.model_level == 1.0
    for i, c in enumerate(configs[1:6], start=1):
        s.on_report(i, c, 3, bowl(c))
    s.suggest(9)
    assert s.model_level == 3.0 and s.observations == 8 + 6
    fresh = KDESearcher(SMOOTH, seed=1, random_fraction=0.0)
    fresh.suggest(0)
    assert fresh.model_level is None  # no level has enough: a random draw


def test_depth_ranking_puts_every_trial_in_order_of_the_rung_it_reached_then_its_value():
    s = KDESearcher(SMOOTH, seed=1, random_fraction=0.0, min_points=2, ranking="depth")
    c = [s.suggest(i) for i in range(7)]
    # trial -> its reports (level, loss): as ASHA would leave them, one trial still running
    reports = {0: [(1, 0.9), (2, 0.8), (3, 0.7), (5, 0.6), (9, 0.65)],  # reached rung 9
               1: [(1, 0.1)],  # the best first level, stopped there
               2: [(1, 0.5), (3, 0.4), (4, 0.05)],  # rung 3, ranked by its value at 3
               3: [(1, 0.3), (3, 0.2)],
               4: [(1, 0.2)],
               6: [(1, 0.4), (2, 0.3)]}  # running, reached no rung past 1
    for t, config in enumerate(c):
        s.on_trial_start(t, config)
        for level, loss in reports.get(t, []):
            s.on_report(t, config, level, loss)
    s.on_trial_end(5, c[5], "failed", None)
    level, ids, units, ranks = s.ranked("depth", 4)
    order = [next(t for t, x in enumerate(c) if np.allclose(nbtune.Space(SMOOTH).to_unit(x), u))
             for u in units]
    assert level == "all" and order == ids.tolist() == [0, 3, 2, 1, 4, 6, 5]
    s.suggest(7)
    assert s.model_level == "all"
    assert s.options["ranking"] == "depth"
    assert KDESearcher(SMOOTH).options["ranking"] == "level"  # BOHB's one-level model


# Stated margin for the KDE (either ranking) against random search on the 4-d bowl: after 40
# trials the median best over 60 seeds is below 0.85 of random search's, and the KDE better on at
# least 36 of the 60. Over 100 seeds the ratio is 0.70 and the KDE better on 69; windows of 20
# seeds range from 0.53 to 0.86 (better on 11 to 16), so 20 seeds against 0.75 passed or failed
# with the dependencies' draws.
KDE_MARGIN = 0.85


@pytest.mark.parametrize("ranking", ["level", "depth"])
def test_kde_beats_random_search_on_a_smooth_function_over_many_seeds(ranking):
    kde, rnd = [], []
    for seed in range(60):
        kde.append(min(map(bowl4, drive(KDESearcher(BOWL4, seed=seed, ranking=ranking),
                                        bowl4, 40))))
        rnd.append(min(map(bowl4, drive(make_searcher("random", BOWL4, seed=seed), bowl4, 40))))
    assert np.median(kde) < KDE_MARGIN * np.median(rnd), (kde, rnd)
    assert sum(k < r for k, r in zip(kde, rnd)) >= 36, (kde, rnd)


def test_a_kde_study_stored_before_ranking_resumes_with_the_ranking_it_ran_with():
    from nbtune.resume import SettingsConflict, resumed_searcher_options

    older = {"settings": {"searcher": "kde", "searcher_options": {"gamma": 0.15}}}
    assert resumed_searcher_options("s", older, {})["ranking"] == "level"
    with pytest.raises(SettingsConflict, match="ranking"):
        resumed_searcher_options("s", older, {"ranking": "depth"})


def test_failed_trials_count_as_the_worst_value_at_the_models_level():
    s = KDESearcher(SMOOTH, seed=0, min_points=2)
    c = [s.suggest(i) for i in range(4)]
    for i, value in enumerate([1.0, 3.0, None, 0.5]):
        s.on_trial_start(i, c[i])
        s.on_trial_end(i, c[i], "failed" if value is None else "completed", value)
    level, ids, units, losses = s.ranked("level", 4)  # best first
    assert level == "final" and s.observations == 4
    assert losses.tolist() == [0.5, 1.0, 3.0, 3.0] and ids.tolist() == [3, 0, 1, 2]
    assert units[-1].tolist() == nbtune.Space(SMOOTH).to_unit(c[2]).tolist()  # failed: worst
    s.on_trial_end(1, c[1], "stopped", 0.1)  # a stopped trial without levels is no observation
    assert s.observations == 4


def test_mode_max_suggests_what_mode_min_does_on_the_negated_function():
    low = drive(KDESearcher(SMOOTH, seed=2), bowl, 15)
    high = drive(KDESearcher(SMOOTH, seed=2, mode="max"), bowl, 15, sign=-1.0)
    assert low == high


def test_a_resumed_searcher_suggests_what_the_uninterrupted_one_did():
    whole = KDESearcher(MIXED, seed=4)
    configs = drive(whole, mixed, 16)
    resumed = KDESearcher(MIXED, seed=4)
    drive(resumed, mixed, 3)
    resumed.reset()
    for i, config in enumerate(configs[:14]):
        resumed.on_trial_start(i, config)
        resumed.on_trial_end(i, config, "completed", mixed(config))
    assert [resumed.suggest(14), resumed.suggest(15)] == configs[14:16]


def test_a_simulated_study_with_asha_feeds_the_model_every_level():
    box = PowerLawCurves(max_t=27, noise=0.01)
    short = nbtune.simulate(box, searcher="kde", scheduler="asha", n_trials=12, seed=3)
    long = nbtune.simulate(box, searcher="kde", scheduler="asha", n_trials=60, seed=3)
    assert [t.config for t in long.trials[:12]] == [t.config for t in short.trials]
    assert short.searcher.observations < long.searcher.observations
    reports = sum(len(t.reports) for t in long.trials)
    assert long.searcher.observations == reports  # one per level reached, none failed
    assert long.searcher.model_level is not None
    assert long.settings["searcher"] == "kde"
    for t in long.trials:
        box.space.validate(t.config)


@pytest.mark.parametrize("options, message", [
    ({"gamma": 0}, r"^gamma must be a number in \(0, 1\), got gamma=0$"),
    ({"gamma": 1.5}, r"^gamma must be a number in \(0, 1\), got gamma=1.5$"),
    ({"random_fraction": -0.1}, r"^random_fraction must be a number in \[0, 1\], got "
                                r"random_fraction=-0.1$"),
    ({"random_fraction": "half"}, r"^random_fraction must be a number in \[0, 1\]"),
    ({"bandwidth_factor": 0}, r"^bandwidth_factor must be a number > 0, got bandwidth_factor=0$"),
    ({"min_bandwidth": -1}, r"^min_bandwidth must be a number > 0, got min_bandwidth=-1$"),
    ({"min_points": 1}, r"^min_points must be an integer >= 2, got 1$"),
    ({"n_candidates": 0}, r"^n_candidates must be an integer >= 1, got 0$"),
    ({"ranking": "dept"}, r"^unknown ranking 'dept' \(did you mean 'depth'\?\); known: "
                          r"'level', 'depth'$"),
    ({"gama": 0.2}, r"^searcher 'kde' has no option 'gama' \(did you mean 'gamma'\?\) "
                       r"\(its options: bandwidth_factor, "),
])
def test_bad_options_are_one_clear_line(options, message):
    with pytest.raises(ValueError, match=message):
        make_searcher("kde", SMOOTH, **options)


@pytest.mark.parametrize("options, message", [
    ({"mode": "min"}, r"^searcher option 'mode' is set by the study itself \(its mode=, %%tune "
                      r"--mode\): leave it out of the searcher's options$"),
    ({"seed": 3}, r"^searcher option 'seed' is set by the study itself \(its seed="),
])
def test_an_option_the_study_sets_is_refused_as_such(options, message):
    # `mode` was listed among bayesopt's options, then failed with "make_searcher() got
    # multiple values for keyword argument 'mode'" (first-day test, round 9)
    with pytest.raises(ValueError, match=message):
        nbtune.tune(bowl, SMOOTH, searcher="kde", searcher_options=options, n_trials=2,
                    storage=None)
    with pytest.raises(ValueError, match=r"\(its options: (?!.*\bmode\b)"):
        nbtune.tune(bowl, SMOOTH, searcher="bayesopt", searcher_options={"mod": "min"},
                    n_trials=2, storage=None)


def test_kde_over_a_space_of_fixed_values_is_one_clear_line():
    with pytest.raises(ValueError, match=r"^kde has nothing to model: every hyperparameter of "
                                         r"the space is fixed; give at least one a range or "
                                         r"choices$"):
        nbtune.tune(bowl, {"x": 0.3, "y": 0.7}, searcher="kde", storage=None)


def leveled(config):
    for epoch in range(1, 4):
        nbtune.report(epoch=epoch, value=bowl(config) * (1 + 1 / epoch))
    return bowl(config)


DENSITY_SEARCHERS = {"kde": (KDESearcher, {"gamma": 0.25, "min_points": 2}),
                     "tpe": (TPESearcher, {"n_startup": 4})}


@pytest.mark.parametrize("name", DENSITY_SEARCHERS)
def test_a_real_study_with_a_density_searcher_and_its_resume(client, db, name):
    cls, options = DENSITY_SEARCHERS[name]
    searcher = cls(SMOOTH, seed=3, **options)
    study = nbtune.tune(leveled, SMOOTH, searcher=searcher, n_trials=8, concurrency=2,
                        cluster=client, storage=db, study="k", progress=False)
    assert len(study.completed) == 8
    assert study.searcher.observations == 24  # 8 trials at 3 levels each
    assert study.settings["searcher"] == name
    assert all(study.settings["searcher_options"][k] == v for k, v in options.items())
    # the trials first: TPE counted 360 where bayesopt counted 120 for 30 trials (round 19)
    assert searcher_text(study) == f"{name} searcher, model of 8 trials (24 observations)"
    loaded = nbtune.load_study("k", storage=db)  # from what the study stored at its end
    assert searcher_text(loaded) == f"{name} searcher, model of 8 trials (24 observations)"
    # by name, the searcher is built again with the options it was run with, its model replayed
    resumed = nbtune.tune(leveled, SMOOTH, storage=db, study="k", resume=True, cluster=client,
                          progress=False)
    assert repr(resumed.searcher) == repr(searcher)
    assert resumed.searcher.observations == 24 and len(resumed.trials) == 8


@pytest.mark.parametrize("name", DENSITY_SEARCHERS)
def test_the_magic_takes_a_density_searcher(shell, db, name):
    res = shell.run_cell(f"%%tune --trials 6 --searcher {name} --seed 2 --study m\n"
                         "x = uniform(0, 1)\nk = choice(1, 2)\n\nvalue = (x - 0.3) ** 2 + k\n")
    assert res.success, res.error_in_exec
    study = shell.user_ns["study"]
    assert len(study.completed) == 6 and study.settings["searcher"] == name
    assert study.searcher.observations == 6
