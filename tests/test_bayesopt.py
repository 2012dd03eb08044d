"""BayesOptSearcher driven through the Searcher contract (pure, seeded), plus one real study
interrupted and resumed on a LocalCluster."""
from __future__ import annotations

import re
import time
import warnings

import numpy as np
import pytest

import nbtune
from nbtune.search import BayesOptSearcher, make_searcher
from nbtune.setup_text import searcher_text

SMOOTH = {"x": nbtune.uniform(0.0, 1.0), "y": nbtune.uniform(0.0, 1.0)}
MIXED = {"x": nbtune.uniform(-2.0, 2.0), "lr": nbtune.loguniform(1e-4, 1.0),
         "act": nbtune.choice("relu", "tanh", "gelu"), "k": nbtune.randint(0, 5),
         "bs": nbtune.fixed(32)}


def bowl(config: dict) -> float:
    return (config["x"] - 0.3) ** 2 + (config["y"] - 0.7) ** 2


def mixed(config: dict) -> float:
    return ((config["x"] - 0.5) ** 2 + (np.log10(config["lr"]) + 2) ** 2
            + (config["act"] != "tanh") + 0.1 * abs(config["k"] - 3))


def drive(searcher, fn, n: int, value_sign: float = 1.0) -> list[dict]:
    """Sequential study: suggest, start, end completed with fn's value; the configs in order."""
    configs = []
    for i in range(n):
        config = searcher.suggest(i)
        searcher.on_trial_start(i, config)
        searcher.on_report(i, config, 1, value_sign * fn(config))
        searcher.on_trial_end(i, config, "completed", value_sign * fn(config))
        configs.append(config)
    return configs


def test_same_seed_and_events_give_the_same_suggestions_with_pending_trials():
    def events(seed):
        s = BayesOptSearcher(MIXED, seed=seed, n_initial=3)
        out = [s.suggest(i) for i in range(3)]
        for i, c in enumerate(out):
            s.on_trial_start(i, c)
        for i in (2, 0, 1):  # ended out of order, the third one failed
            s.on_trial_end(i, out[i], "failed" if i == 1 else "completed", mixed(out[i]))
        for i in range(3, 7):  # two in flight at a time
            out.append(s.suggest(i))
            s.on_trial_start(i, out[i])
            if i % 2:
                s.on_trial_end(i - 1, out[i - 1], "completed", mixed(out[i - 1]))
        return out

    first = events(5)
    assert events(5) == first
    assert events(6) != first
    for config in first:
        nbtune.Space(MIXED).validate(config)


@pytest.mark.parametrize("warp, margin, wins", [("none", 0.1, 20), ("copula", 0.4, 17)])
def test_the_gp_beats_random_search_on_a_smooth_function_over_many_seeds(warp, margin, wins):
    gp, rnd = [], []
    for seed in range(24):
        gp.append(min(map(bowl, drive(BayesOptSearcher(SMOOTH, seed=seed, n_initial=3,
                                                       warp=warp), bowl, 10))))
        rnd.append(min(map(bowl, drive(make_searcher("random", SMOOTH, seed=seed), bowl, 10))))
    # stated margin: over 24 seeds the median best after 10 trials is at least 10x closer to the
    # optimum than random search's with the values standardised, 2.5x with their ranks (the
    # default: on a smooth bowl and seven observations, ranks give up the magnitudes that point to
    # the bottom), and the GP does better in at least 20 (17) of the 24 seeds. Over 60 seeds the
    # ratios are 0.026 and 0.19, the GP better on 57 and 49; windows of 24 seeds range 0.018-0.034
    # and 0.14-0.27, better on 22-24 and 19-21 (6 seeds, as this test had, ranged 0.05-0.41)
    assert np.median(gp) < margin * np.median(rnd), (gp, rnd)
    assert sum(g < r for g, r in zip(gp, rnd)) >= wins, (gp, rnd)


def test_the_copula_warp_keeps_only_the_order_and_its_way_back_meets_the_values():
    from nbtune.search.reports import warp

    y = np.array([0.3, 0.1, 5.0, 0.1, 0.2, 1e6])
    w, back = warp(y, "copula")
    assert list(np.argsort(w, kind="stable")) == list(np.argsort(y, kind="stable"))
    from scipy.stats import norm

    assert w[1] == w[3] == pytest.approx(norm.ppf(1.0 / 6))  # ties share rank 1.5 of 6
    assert w[5] == pytest.approx(norm.ppf(5.5 / 6))  # the far value: one rank up, however far
    np.testing.assert_allclose(back(w), y)
    assert back(np.array([w.min() - 1.0]))[0] == 0.1  # beyond the values held: the nearest
    z, back = warp(y, "none")
    assert z.mean() == pytest.approx(0.0) and z.std() == pytest.approx(1.0)
    np.testing.assert_allclose(back(z), y)


def test_the_copula_warp_tells_apart_the_near_best_values_a_wall_dwarfs():
    """Values of 10 over most of the unit square's edges dwarf the bowl's differences (0 to
    0.5) on the standardised scale, without being far out; the copula warp keeps only their
    order, so the GP finds the bowl's bottom sooner."""
    def walled(config):
        wall = config["x"] < 0.25 or config["y"] < 0.25
        return bowl(config) + (10.0 if wall else 0.0)

    plain, copula = [], []
    for seed in range(8):
        for warp, bests in (("none", plain), ("copula", copula)):
            s = BayesOptSearcher(SMOOTH, seed=seed, n_initial=3, warp=warp)
            bests.append(min(map(walled, drive(s, walled, 16))))
    assert np.median(copula) < 0.6 * np.median(plain), (copula, plain)
    assert sum(c < p for c, p in zip(copula, plain)) >= 5, (copula, plain)


def test_a_copula_warped_model_predicts_in_the_metrics_units():
    searcher = BayesOptSearcher(SMOOTH, seed=0, mode="max", n_initial=5, warp="copula")
    drive(searcher, bowl, 30, value_sign=-1.0)
    near, far = {"x": 0.3, "y": 0.7}, {"x": 0.95, "y": 0.05}
    predicted = searcher.predict([near, far], None)
    held = [-bowl(t.config) for t in searcher._reports.trials.values()]
    assert predicted[0] > predicted[1]
    assert min(held) <= predicted[1] < predicted[0] <= max(held)  # the values held bound it
    assert predicted[0] == pytest.approx(0.0, abs=0.05)


def test_runs_that_diverge_do_not_flatten_the_model_of_the_good_region():
    def diverging(config):  # a loss of 1e12 over a quarter of the space, as diverged SGD gives
        return 1e12 if config["x"] > 0.75 else bowl(config)

    gp, rnd = [], []
    for seed in range(6):
        # the standardised model: the copula warp (the default) sees ranks, never magnitudes
        gp.append(min(map(diverging, drive(BayesOptSearcher(SMOOTH, seed=seed, n_initial=3,
                                                            warp="none"), diverging, 12))))
        rnd.append(min(map(diverging, drive(make_searcher("random", SMOOTH, seed=seed),
                                            diverging, 12))))
    # unclipped, the 1e12 values took the whole standardised scale: 0.33 of random's median
    assert np.median(gp) < 0.1 * np.median(rnd), (gp, rnd)
    assert sum(g < r for g, r in zip(gp, rnd)) >= 5, (gp, rnd)


def test_mode_max_suggests_what_mode_min_does_on_the_negated_function():
    low = drive(BayesOptSearcher(SMOOTH, seed=2, n_initial=3), bowl, 6)
    high = drive(BayesOptSearcher(SMOOTH, seed=2, n_initial=3, mode="max"), bowl, 6, -1.0)
    assert low == high


def test_pending_trials_are_never_suggested_twice_and_fantasies_do_not_leak():
    s = BayesOptSearcher(SMOOTH, seed=1, n_initial=2)
    drive(s, bowl, 4)
    before = (s.observations, s._data()[1].tolist())
    a = s.suggest(4)
    s.on_trial_start(4, a)
    b = s.suggest(5)
    s.on_trial_start(5, b)
    assert a != b
    assert [t for t, _, _ in s.pending] == [4, 5]
    assert (s.observations, s._data()[1].tolist()) == before  # the fantasies stayed inside
    s.on_trial_end(4, a, "stopped", 0.0)  # not a full-budget value: left out
    s.on_trial_end(5, b, "completed", bowl(b))
    assert s.observations == 5 and s.pending == []


def test_a_finite_space_gives_every_free_worker_a_different_config():
    space = {"a": nbtune.choice(1, 2, 3), "b": nbtune.grid("p", "q", "r")}
    s = BayesOptSearcher(space, seed=0, n_initial=2)
    drive(s, lambda c: c["a"] + len(c["b"]), 2)
    running = []
    for i in range(2, 9):
        running.append(s.suggest(i))
        s.on_trial_start(i, running[-1])
    configs = [tuple(c.values()) for c in running]
    assert len(set(configs)) == len(configs)


def test_failed_trials_count_as_the_worst_value_and_a_bare_stop_adds_nothing():
    s = BayesOptSearcher(SMOOTH, seed=0)
    c = [s.suggest(i) for i in range(4)]
    s.on_trial_end(0, c[0], "completed", 1.0)
    s.on_trial_end(1, c[1], "completed", 3.0)
    s.on_trial_end(2, c[2], "failed", None)
    s.on_trial_end(3, c[3], "stopped", 0.5)  # stopped without a report: no row
    _, y = s._data()
    assert s.observations == 3 and y[2] == y[1] > y[0]


@pytest.mark.parametrize("options", [
    {"n_initial": 3},
    # the stall is counted from the events, so a replay restores it: here trial 8 is suggested
    # while stalled (the best came from trial 0), and half the stalled suggestions are random
    {"n_initial": 1, "random_fraction": 0.5, "random_when": "stalled"},
])
def test_a_resumed_searcher_suggests_what_the_uninterrupted_one_did(options):
    def flat_after_first(config):  # a stall for the second case: trial 0's value stays best
        return mixed(config) + (0.0 if config is configs[0] else 100.0)

    fn = flat_after_first if "random_when" in options else mixed
    configs = []
    whole = BayesOptSearcher(MIXED, seed=4, **options)
    for i in range(10):
        configs.append(whole.suggest(i))
        whole.on_trial_start(i, configs[i])
        whole.on_trial_end(i, configs[i], "completed", fn(configs[i]))
    resumed = BayesOptSearcher(MIXED, seed=4, **options)
    drive(resumed, mixed, 5)  # events of another run, which reset() forgets
    resumed.reset()  # what a driver does before it replays the stored trials
    for i, config in enumerate(configs[:8]):
        resumed.on_trial_start(i, config)
        resumed.on_trial_end(i, config, "completed", fn(config))
    assert resumed.stalled == ("random_when" in options)
    assert resumed.suggest(8) == configs[8]
    resumed.on_trial_start(8, configs[8])
    resumed.on_trial_end(8, configs[8], "completed", fn(configs[8]))
    assert resumed.suggest(9) == configs[9]


def test_the_fit_is_bounded_and_the_same_whatever_came_before():
    s = BayesOptSearcher(SMOOTH, seed=3, n_initial=2, max_points=40, refit_every=10)
    drive(s, bowl, 45)
    kernel = s._kernels.current
    # hyperparameters fitted on the first 30: the refit point before the last one (40), which
    # had the events from 30 to 40 to end on its thread
    assert kernel[0][0] == 30
    fresh = BayesOptSearcher(SMOOTH, seed=3, n_initial=2, max_points=40, refit_every=10)
    for i, trial in s._reports.trials.items():  # the same values, ended without reports
        fresh.on_trial_end(i, trial.config, "completed", trial.levels[1])
    assert fresh.suggest(45) == s.suggest(45)
    assert repr(fresh._kernels.current[1]) == repr(kernel[1])
    matern = kernel[1].k1.k2  # (constant * Matern 5/2) + white noise, a length scale per dim
    assert matern.nu == 2.5 and len(matern.length_scale) == 2


@pytest.mark.parametrize("options, message", [
    ({"acquisition": "eii"}, r"^unknown acquisition 'eii' \(did you mean 'ei'\?\); known: "
                             r"'ei', 'ucb', 'poi'$"),
    ({"kappa": 0}, r"^kappa must be a finite number > 0, got kappa=0 \(kappa=0 would only "
                   r"exploit: acquisition='ei' with xi=0 comes closest\)$"),
    ({"kappa": -1.5}, r"^kappa must be a finite number > 0, got kappa=-1.5$"),
    ({"xi": -0.1}, r"^xi must be a finite number >= 0, got xi=-0.1$"),
    ({"n_initial": 0}, r"^n_initial must be an integer >= 1, got 0$"),
    ({"acquisition": "expected_improvement"}, r"^unknown acquisition 'expected_improvement' "
                                              r"\(that is 'ei' here\); known: "),
])
def test_bad_options_are_one_clear_line(options, message):
    with pytest.raises(ValueError, match=message):
        make_searcher("bayesopt", SMOOTH, **options)


@pytest.mark.parametrize("name, options, message", [
    ("gp", {}, r"^unknown searcher 'gp' \(that is 'bayesopt' here\); known: 'random'"),
    ("hyperopt", {}, r"^unknown searcher 'hyperopt' \(that is 'tpe' here\)"),
    ("TPESampler", {}, r"^unknown searcher 'TPESampler' \(that is 'tpe' here\)"),
    ("random", {"n_initial": 3}, r"^searcher 'random' has no option 'n_initial' \(it takes no "
                                 r"options\)$"),  # it read "(its options: )"
    ("tpe", {"n_initial": 3}, r"^searcher 'tpe' has no option 'n_initial' \(did you mean "
                              r"'n_startup'\?\)"),
])
def test_other_tools_searcher_names_and_options_are_named(name, options, message):
    """First-day test, round 19: names a scikit-optimize, hyperopt or Optuna user types."""
    with pytest.raises(ValueError, match=message):
        make_searcher(name, SMOOTH, **options)


def test_an_option_the_acquisition_does_not_read_is_said():
    """``kappa=3`` under the default 'ei' passed in silence: the user believed the search
    explored more (first-day test, round 19)."""
    with pytest.warns(nbtune.NbtuneWarning, match=r"^kappa=3 has no effect with "
                      r"acquisition='ei', which reads xi only; kappa is read by 'ucb' \("
                      r"searcher_options=\{'acquisition': 'ucb', \.\.\.\}, --searcher-option "
                      r"acquisition=ucb\)$"):
        make_searcher("bayesopt", SMOOTH, kappa=3)
    with pytest.warns(nbtune.NbtuneWarning, match=r"^xi=0.1 has no effect with "
                      r"acquisition='ucb', which reads kappa only; xi is read by 'ei' and 'poi'"):
        make_searcher("bayesopt", SMOOTH, acquisition="ucb", xi=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_searcher("bayesopt", SMOOTH, acquisition="ucb", kappa=3)
        make_searcher("bayesopt", SMOOTH, acquisition="poi", xi=0.1)


def test_bayesopt_over_a_space_of_fixed_values_is_one_clear_line():
    with pytest.raises(ValueError, match=r"^bayesopt has nothing to model: every hyperparameter "
                                         r"of the space is fixed; give at least one a range or "
                                         r"choices$"):
        nbtune.tune(bowl, {"x": 0.3, "y": nbtune.fixed(0.7)}, searcher="bayesopt",
                    storage=None)


def slow_bowl(config):
    time.sleep(0.3)
    return bowl(config)


def test_a_resumed_bayesopt_study_continues_as_an_uninterrupted_one(client, db):
    def searcher():
        return BayesOptSearcher(SMOOTH, seed=11, n_initial=3, acquisition="ucb", kappa=1.5)

    opts = dict(n_trials=7, concurrency=1, cluster=client, progress=False)
    full = nbtune.tune(bowl, SMOOTH, searcher=searcher(), storage=None, **opts)
    first = nbtune.tune(slow_bowl, SMOOTH, searcher=searcher(), storage=db, study="b",
                        background=True, **opts)
    while len(first.completed) < 4:
        time.sleep(0.05)
    first.stop()
    assert len(first.completed) < 7
    # by name: the searcher is built again with the options the study was run with
    resumed = nbtune.tune(bowl, SMOOTH, storage=db, study="b", resume=True, cluster=client,
                          concurrency=1, progress=False)
    assert repr(resumed.searcher) == repr(searcher())
    assert [t.config for t in resumed.trials] == [t.config for t in full.trials]
    assert resumed.searcher.observations == 7
    # then, on a busy machine, how long the loop waited for its suggestions
    assert searcher_text(resumed).startswith("bayesopt searcher (ucb), model of 7 trials")
    assert "bayesopt searcher (ucb), model of 7 trials" in str(resumed.summary())


def test_the_summary_says_when_the_model_suggested_nothing_and_a_warm_start_went_unused(client):
    """--trials 4 under n_initial=5 was random search, and a random study's warm start was
    ignored, while the summary read "model of 4 trials" and "warm-started from"."""
    opts = dict(cluster=client, progress=False, storage=None, seed=0)
    few = nbtune.tune(bowl, SMOOTH, searcher="bayesopt", n_trials=4, **opts)
    assert searcher_text(few) == ("bayesopt searcher (ei), model of 4 trials (every trial "
                                  "a random start so far: n_initial=5)")
    more = nbtune.tune(bowl, SMOOTH, searcher="bayesopt", n_trials=6, warm_start=few, **opts)
    # (on a busy machine, how long the loop waited for its suggestions comes between them)
    assert re.fullmatch(r"bayesopt searcher \(ei\), model of 10 trials, (\S+ s waiting for its "
                        r"suggestions, )?warm-started from " + re.escape(repr(few.name)),
                        searcher_text(more)), searcher_text(more)
    plain = nbtune.tune(bowl, SMOOTH, n_trials=2, warm_start=few, **opts)
    assert searcher_text(plain) == (f"random searcher, warm start from {few.name!r} unused (no "
                                    "model to seed)")


# -- multi-fidelity: the model over (config, resource level) ------------------------------
def curve(config: dict, epoch: int) -> float:
    """A learning curve that falls towards the config's final value as epochs grow."""
    return (bowl(config) if "y" in config else mixed(config)) + 1.0 / epoch


def run_asha_like(s, n: int, stop_at=(1, 3, 9), top: int = 27) -> list[dict]:
    """Trials one after another, each reporting every epoch until a rung where it is stopped
    (trial i stops at stop_at[i % 3], every fourth runs to ``top``); the configs in order."""
    configs = []
    for i in range(n):
        config = s.suggest(i)
        s.on_trial_start(i, config)
        last = top if i % 4 == 3 else stop_at[i % len(stop_at)]
        for epoch in range(1, last + 1):
            s.on_report(i, config, epoch, curve(config, epoch))
        s.on_trial_end(i, config, "completed" if last == top else "stopped",
                       curve(config, last))
        configs.append(config)
    return configs


def test_every_report_is_a_row_at_rung_like_levels_stopped_trials_included():
    s = BayesOptSearcher(SMOOTH, seed=0, n_initial=2)
    run_asha_like(s, 4)
    levels = s._reports.table()[1].tolist()
    # trial 0 stopped at 1, trial 1 at 3, trial 2 at 9 (every epoch reported), trial 3 ran 27
    assert levels == [1, 1, 3, 1, 3, 9, 1, 3, 9, 27]
    assert s.observations == 10
    X, y = s._data()
    assert X.shape == (10, 3)  # x, y and the resource column
    assert X[-1, 2] == pytest.approx(np.log(27) / np.log(81))
    # a trial that reports no level, then completes: one row of its final value
    single = BayesOptSearcher(SMOOTH, seed=0)
    single.on_trial_end(0, {"x": 0.1, "y": 0.2}, "completed", 1.0)
    single.on_trial_end(1, {"x": 0.3, "y": 0.4}, "completed", 2.0)
    assert single._data()[0].shape == (2, 2)  # one level: no resource column


def test_the_acquisition_sits_at_the_highest_level_with_enough_rows():
    s = BayesOptSearcher(SMOOTH, seed=0)
    run_asha_like(s, 12)  # 12 rows at level 1, 9 at 3, 6 at 9, 3 at 27
    levels = s._reports.table()[1].tolist()
    assert [levels.count(lv) for lv in (1, 3, 9, 27)] == [12, 9, 6, 3]
    assert s._reports.acquisition_level(6) == 9
    assert s._reports.acquisition_level(7) == 3
    assert s._reports.acquisition_level(12) == 1
    assert s._reports.acquisition_level(13) is None
    # a pending trial is fantasised at the level it reports next
    config = s.suggest(12)
    s.on_trial_start(12, config)
    assert s._reports.next_level(12) == 1
    s.on_report(12, config, 1, curve(config, 1))
    s.on_report(12, config, 2, curve(config, 2))
    assert s._reports.next_level(12) == 3


def test_multi_fidelity_suggestions_are_seeded_and_fantasies_stay_inside():
    def run(seed):
        s = BayesOptSearcher(MIXED, seed=seed, n_initial=3)
        run_asha_like(s, 8)
        before = (s.observations, s._data()[1].tolist())
        out = [s.suggest(8), None]
        s.on_trial_start(8, out[0])
        s.on_report(8, out[0], 1, 0.5)
        out[1] = s.suggest(9)
        return out, before, s

    first, before, s = run(1)
    assert run(1)[0] == first and run(2)[0] != first
    assert first[0] != first[1]
    assert s.observations == before[0] + 1  # the running trial's report, not its fantasy


def test_the_joint_model_learns_from_stopped_trials_what_random_search_does_not():
    """Over 10 seeds, under an ASHA-like pattern where 3 of 4 trials stop early, the model's
    best final value after 24 trials beats random search's in most seeds and at the median."""
    model, rnd = [], []
    for seed in range(10):
        for searcher, out in ((BayesOptSearcher(SMOOTH, seed=seed, n_initial=4), model),
                              (make_searcher("random", SMOOTH, seed=seed), rnd)):
            configs = run_asha_like(searcher, 24)
            out.append(min(bowl(c) for c in configs))
    assert np.median(model) < 0.5 * np.median(rnd), (model, rnd)
    assert sum(m < r for m, r in zip(model, rnd)) >= 7, (model, rnd)


def test_random_fraction_hedges_and_is_checked():
    with pytest.raises(ValueError, match=r"^random_fraction must be a number in \[0, 1\], got "
                                         r"random_fraction=1.5$"):
        make_searcher("bayesopt", SMOOTH, random_fraction=1.5)
    def configs(fraction, fn):
        return drive(BayesOptSearcher(SMOOTH, seed=3, n_initial=2, random_fraction=fraction),
                     fn, 8)

    # every suggestion random: what was observed does not matter; with the model it does
    assert configs(1.0, bowl) == configs(1.0, lambda c: -bowl(c))
    assert configs(0.0, bowl) != configs(0.0, lambda c: -bowl(c))
    assert BayesOptSearcher(SMOOTH, random_fraction=0.25).options["random_fraction"] == 0.25


def test_a_stalled_hedge_is_random_only_while_the_best_has_not_improved():
    """random_when="stalled": no random suggestion while every trial improves on the best; once
    the best has held for as many trials as it took to find it (and 2 * n_initial), the
    random_fraction applies; a new best ends the stall."""
    with pytest.raises(ValueError,
                       match=r"^unknown random_when 'sometimes'; known: 'always', 'stalled'"):
        make_searcher("bayesopt", SMOOTH, random_when="sometimes")

    def run(fraction, value, n=10):
        s = BayesOptSearcher(SMOOTH, seed=4, n_initial=2, random_fraction=fraction,
                             random_when="stalled")
        configs, stalls = [], []
        for i in range(n):
            stalls.append(s.stalled)
            config = s.suggest(i)
            s.on_trial_start(i, config)
            s.on_report(i, config, 1, value(i, config))
            s.on_trial_end(i, config, "completed", value(i, config))
            configs.append(config)
        return s, configs, stalls

    # each trial better than the last: never stalled, so the hedge never draws
    improving = lambda i, c: bowl(c) - i  # noqa: E731
    s, hedged, stalls = run(1.0, improving)
    assert not any(stalls) and not s.stalled
    assert hedged == run(0.0, improving)[1]
    # the first value never beaten: stalled from the 6th trial on (5 started since, > 2 * 2)
    flat_a = lambda i, c: 0.0 if i == 0 else 1.0 + bowl(c)  # noqa: E731
    flat_b = lambda i, c: 0.0 if i == 0 else 3.0 - bowl(c)  # noqa: E731
    s, a, stalls = run(1.0, flat_a)
    assert stalls == [False] * 6 + [True] * 4
    b = run(1.0, flat_b)[1]
    assert a[:6] != b[:6] and a[6:] == b[6:]  # the model's picks, then random ones
    assert run(0.0, flat_a)[1][6:] != run(0.0, flat_b)[1][6:]
    s.on_report(10, a[0], 1, -1.0)  # a new best
    assert not s.stalled
    assert s.options["random_when"] == "stalled"


def test_predict_gives_the_posterior_mean_in_the_metrics_units_and_none_before_n_initial():
    # the standardised model, whose posterior mean is the metric's own scale (the copula
    # model's way back is test_a_copula_warped_model_predicts_in_the_metrics_units)
    searcher = BayesOptSearcher(SMOOTH, seed=0, mode="max", n_initial=5, warp="none")
    assert searcher.predict([{"x": 0.3, "y": 0.7}], None) is None  # a model without data
    drive(searcher, bowl, 3, value_sign=-1.0)
    assert searcher.predict([{"x": 0.3, "y": 0.7}], None) is None  # fewer than n_initial
    for i in range(3, 30):
        config = searcher.suggest(i)
        searcher.on_trial_start(i, config)
        searcher.on_report(i, config, 1, -bowl(config))
        searcher.on_trial_end(i, config, "completed", -bowl(config))
    near, far = {"x": 0.3, "y": 0.7}, {"x": 0.95, "y": 0.05}
    predicted = searcher.predict([near, far], None)
    assert predicted[0] > predicted[1]  # mode max: the top of -bowl is at (0.3, 0.7)
    assert predicted[0] == pytest.approx(0.0, abs=0.05)
    assert predicted[1] == pytest.approx(-bowl(far), abs=0.15)
    np.testing.assert_array_equal(searcher.predict([near, far], None), predicted)  # same rows


def test_the_exponential_decay_kernel_has_the_gradients_the_optimiser_follows():
    from nbtune.search.kernels import ExponentialDecay

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.random(30), rng.choice(np.log([1, 3, 9, 27, 81]) / np.log(81), 30)])
    kernel = ExponentialDecay(alpha=0.7, beta=3.0)
    K, grad = kernel(X, eval_gradient=True)
    assert np.allclose(np.diag(K), kernel.diag(X))
    assert np.all(np.linalg.eigvalsh(K) > -1e-9)  # a covariance
    for i in range(2):  # d K / d log(hyperparameter), against a finite difference
        theta = kernel.theta.copy()
        theta[i] += 1e-6
        numeric = (kernel.clone_with_theta(theta)(X) - K) / 1e-6
        assert np.abs(numeric - grad[:, :, i]).max() < 1e-5
    # the covariance vanishes as the level grows: curves settle at their config's value
    first, top = kernel.diag(np.array([[0.5, 0.0], [0.5, 1.0]]))  # levels 1 and 81
    assert top < 0.1 * first


def test_exp_decay_carries_low_levels_to_the_top_one():
    """Curves that fall towards their config's value: trained on every config's first levels
    and a few configs' top level, the decay model predicts the top level of the others closer
    than the Matern over (config, level) does (both on the values standardised: the decay is
    in the values' own scale, which ranks do not keep)."""
    errors = {}
    for kernel in ("matern", "exp-decay-sum"):
        s = BayesOptSearcher(SMOOTH, seed=0, n_initial=2, resource_kernel=kernel, warp="none")
        rng = np.random.default_rng(1)
        configs = [{"x": float(a), "y": float(b)} for a, b in rng.random((30, 2))]
        for i, config in enumerate(configs):
            s.on_trial_start(i, config)
            for epoch in range(1, (27 if i < 6 else 9) + 1):
                s.on_report(i, config, epoch, curve(config, epoch))
            s.on_trial_end(i, config, "completed" if i < 6 else "stopped",
                           curve(config, 27 if i < 6 else 9))
        predicted = s.predict(configs[6:], 27)
        errors[kernel] = float(np.abs(predicted - [curve(c, 27) for c in configs[6:]]).mean())
    assert errors["exp-decay-sum"] < 0.5 * errors["matern"], errors


def test_resource_kernel_is_stored_with_the_study_and_checked():
    assert BayesOptSearcher(SMOOTH).options["resource_kernel"] == "matern"
    assert BayesOptSearcher(SMOOTH, resource_kernel="exp-decay").options["resource_kernel"] \
        == "exp-decay"
    with pytest.raises(ValueError, match=r"^unknown resource_kernel 'exp-decy' \(did you mean "
                                         r"'exp-decay'\?\); known: 'matern', 'exp-decay-sum', "
                                         r"'exp-decay'$"):
        make_searcher("bayesopt", SMOOTH, resource_kernel="exp-decy")
    assert BayesOptSearcher(SMOOTH).options["warp"] == "copula"  # the default: the ranks
    with pytest.raises(ValueError, match=r"^unknown warp 'rank'; known: 'none', 'copula'$"):
        make_searcher("bayesopt", SMOOTH, warp="rank")
    s = BayesOptSearcher(SMOOTH, seed=0, n_initial=2, resource_kernel="exp-decay")
    run_asha_like(s, 8)
    assert "ExponentialDecay" in repr(s._kernels.current[1])  # the joint kernel, fitted


def test_a_study_stored_before_resource_kernel_resumes_with_the_kernel_it_ran_with():
    from nbtune.resume import resumed_searcher_options

    older = {"settings": {"searcher": "bayesopt", "searcher_options": {"acquisition": "ei"}}}
    assert resumed_searcher_options("s", older, {})["resource_kernel"] == "matern"
    assert resumed_searcher_options("s", older, {})["warp"] == "none"
    newer = {"settings": {"searcher": "bayesopt",
                          "searcher_options": {"resource_kernel": "exp-decay"}}}
    assert resumed_searcher_options("s", newer, {})["resource_kernel"] == "exp-decay"
    assert "resource_kernel" not in resumed_searcher_options(
        "s", {"settings": {"searcher": "kde", "searcher_options": {"top_fraction": 0.2}}}, {})


def test_kernels_fit_on_their_own_thread_and_their_timing_changes_no_suggestion(monkeypatch):
    """A report at a refit point returns without fitting on the driver's thread (a rung verdict
    waits for no fit), and fits that end late or early leave every suggestion the same: which
    fit a suggestion uses depends on the events alone."""
    import threading
    import warnings

    from nbtune.search import gp

    plain = run_asha_like(BayesOptSearcher(SMOOTH, seed=2, n_initial=2), 14)

    real, threads = gp.maximise_likelihood, set()
    rng = np.random.default_rng(0)

    def slow(*args):
        threads.add(threading.current_thread().name)
        time.sleep(float(rng.uniform(0.0, 0.02)))  # fits end at random times
        return real(*args)

    monkeypatch.setattr(gp, "maximise_likelihood", slow)
    filters = list(warnings.filters)
    s = BayesOptSearcher(SMOOTH, seed=2, n_initial=2)
    assert run_asha_like(s, 14) == plain
    assert s._kernels.events > 40 and threads and all(n.startswith("nbtune-bayesopt-fit")
                                              for n in threads)
    assert warnings.filters == filters  # no filter left behind by a fit on another thread


def test_a_kernel_fit_that_fails_numerically_keeps_the_last_kernel_and_the_study_going(
        monkeypatch):
    """A fit that raises (a kernel matrix not positive definite, say) is dropped, on the fitting
    thread: suggestions go on with the kernel fitted before it (the prior before any), instead
    of the error stopping the study at its next suggestion."""
    from nbtune.search import gp

    real, calls = gp.maximise_likelihood, []

    def every_third_fails(*args):
        calls.append(1)
        if len(calls) % 3 == 0:
            raise np.linalg.LinAlgError("the kernel matrix is not positive definite")
        return real(*args)

    monkeypatch.setattr(gp, "maximise_likelihood", every_third_fails)
    s = BayesOptSearcher(SMOOTH, seed=3, n_initial=2)
    configs = run_asha_like(s, 14)
    assert len(calls) > 20 and len({tuple(sorted(c.items())) for c in configs}) == 14

    def always_fails(*args):
        raise np.linalg.LinAlgError("the kernel matrix is not positive definite")

    monkeypatch.setattr(gp, "maximise_likelihood", always_fails)
    s = BayesOptSearcher(SMOOTH, seed=3, n_initial=2)
    run_asha_like(s, 6)
    fit = s._kernels.current
    assert repr(fit[1]) == repr(s._prior(fit[0][1]))  # never fitted: the prior


@pytest.mark.parametrize("joint", ["matern", "exp-decay-sum"])
def test_the_posterior_is_scikit_learns_regressor_without_its_likelihood(joint):
    """gp.Posterior conditions the GP as GaussianProcessRegressor(optimizer=None) does and
    predicts the same means and deviations; a kernel matrix that is not positive definite
    raises numpy's LinAlgError, which the searcher turns into a random suggestion."""
    from nbtune.search.gp import Posterior, regressor
    from nbtune.search.kernels import prior_kernel

    rng = np.random.default_rng(0)
    X, y, C = rng.random((120, 5)), rng.normal(size=120), rng.random((300, 5))
    kernel = prior_kernel(5, joint, levels=True)
    mean, std = regressor(kernel).fit(X, y).predict(C, return_std=True)
    posterior = Posterior(kernel, X, y)
    assert np.allclose(posterior.mean_std(C), (mean, std), rtol=0, atol=1e-12)
    assert np.allclose(posterior.mean(C), mean, rtol=0, atol=1e-12)
    from sklearn.gaussian_process.kernels import ConstantKernel

    with pytest.raises(np.linalg.LinAlgError):
        Posterior(ConstantKernel(-1.0, "fixed") * kernel, X, y)


def test_the_default_kernels_likelihood_and_gradient_are_scikit_learns():
    """matern.py computes the default kernel's log marginal likelihood and its gradient without
    scikit-learn's (n, n, d) tensors: the same values, at any hyperparameters; the joint
    kernels of kernels.py are left to scikit-learn."""
    from nbtune.search.gp import regressor
    from nbtune.search.kernels import prior_kernel
    from nbtune.search.matern import Matern52, covariance, objective

    rng = np.random.default_rng(3)
    X = rng.random((90, 6))
    y = np.sin(4 * X[:, 0]) + X[:, 1] ** 2 + 0.1 * rng.normal(size=90)
    kernel = prior_kernel(6, "matern", levels=True)
    gp = regressor(kernel).fit(X, y)
    ours = objective(kernel, X, y)
    for _ in range(5):
        theta = kernel.theta + rng.normal(0.0, 1.0, len(kernel.theta))
        lml, grad = gp.log_marginal_likelihood(theta, eval_gradient=True, clone_kernel=False)
        mine, my_grad = ours(theta)
        assert mine == pytest.approx(lml, rel=1e-12)
        np.testing.assert_allclose(my_grad, grad, rtol=1e-9, atol=1e-9)
    C = rng.random((40, 6))
    fast = covariance(kernel)
    assert isinstance(fast, Matern52)
    np.testing.assert_allclose(fast(X), kernel(X), rtol=0, atol=1e-13)
    np.testing.assert_allclose(fast(C, X), kernel(C, X), rtol=0, atol=1e-13)
    np.testing.assert_allclose(fast.diag(C), kernel.diag(C), rtol=0, atol=1e-13)
    for joint in ("exp-decay-sum", "exp-decay"):
        other = prior_kernel(6, joint, levels=True)
        assert covariance(other) is other and objective(other, X, y) is None
    assert objective(prior_kernel(5, "matern"), X, y) is None  # a length scale per column


def test_the_kernel_fit_finds_scikit_learns_optimum_and_refuses_a_hopeless_start():
    """gp.maximise_likelihood, on the default kernel through matern.py, ends where
    GaussianProcessRegressor's own optimiser ends from the same start; a start whose kernel
    matrix has no Cholesky factor raises numpy's LinAlgError (the searcher drops it)."""
    from sklearn.gaussian_process import GaussianProcessRegressor

    from nbtune.search.gp import maximise_likelihood
    from nbtune.search.kernels import prior_kernel

    rng = np.random.default_rng(4)
    X = rng.random((100, 4))
    y = np.cos(3 * X[:, 0]) - X[:, 2] + 0.05 * rng.normal(size=100)
    y = (y - y.mean()) / y.std()
    start = prior_kernel(4, "matern", levels=True)
    lml, kernel = maximise_likelihood(start, X, y)
    theirs = GaussianProcessRegressor(kernel=start, n_restarts_optimizer=0).fit(X, y)
    assert lml == pytest.approx(theirs.log_marginal_likelihood_value_, abs=1e-4)
    np.testing.assert_allclose(kernel.theta, theirs.kernel_.theta, atol=1e-3)
    X[0, 0] = np.nan  # a kernel matrix with NaNs: no Cholesky factor, as with one not PD
    with pytest.raises(np.linalg.LinAlgError):
        maximise_likelihood(start, X, y)


def test_a_new_searcher_imports_what_its_model_needs_while_the_first_trials_run():
    """The first bayesopt study of a kernel waited 1.1-1.9 s for its model's first imports
    (scikit-learn's kernels, scipy), after random trials that could have hidden them (first-day
    test, round 22). A fresh process: made, the searcher starts them on the fitter's thread."""
    import subprocess
    import sys

    code = """if True:
        import sys, threading
        import nbtune
        from nbtune.search import gp
        before = [m for m in gp.MODEL_MODULES if m in sys.modules]
        nbtune.BayesOptSearcher({"x": nbtune.uniform(0, 1)}, seed=0)
        gp.imports_done()
        print(before, all(m in sys.modules for m in gp.MODEL_MODULES))
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "True"], done.stdout


def _stalled_study() -> tuple[nbtune.Space, list]:
    """The recorded trials of tests/data/bayesopt-stalled.json, as nbtune Trials."""
    import json
    from pathlib import Path

    from nbtune.trial import Trial

    doc = json.loads((Path(__file__).parent / "data" / "bayesopt-stalled.json").read_text())
    trials = [Trial(t["id"], t["config"], state=t["state"], value=t["value"],
                    finished=float(i),
                    reports=[{"epoch": e, "accuracy": a} for e, a in t["reports"]])
              for i, t in enumerate(doc["trials"])]
    return nbtune.Space.from_json(doc["space"]), trials


@pytest.mark.parametrize("reach", [False, True])
def test_a_config_asha_ends_at_its_first_rung_is_not_suggested_again_beside_itself(reach):
    """A real study (first-day test, round 64): the model predicted a high final accuracy near
    lr=0.13, alpha=0.1, where the first epoch's 0.86 was too low for ASHA to let a trial go on;
    each trial there ended at epoch 1 and taught the model nothing of the final value, so it
    suggested the same place 18 times in a row. Weighed by the chance of going on past the
    first rung (reach=True, the default), the suggestion after three of them is elsewhere."""
    from nbtune.contract.replay import start_searcher

    space, trials = _stalled_study()
    ended_at_1 = [t for t in trials if t.state == "stopped" and len(t.reports) == 1]
    assert len(trials) == 34 and len(ended_at_1) >= 12
    searcher = BayesOptSearcher(space, seed=2, mode="max", reach=reach)
    start_searcher(searcher, trials, "epoch", "accuracy")
    suggested = np.array(space.to_unit(searcher.suggest(len(trials))))
    nearest = min(np.abs(suggested - np.array(space.to_unit(t.config))).max() for t in ended_at_1)
    if reach:
        assert nearest > 0.03, nearest
    else:  # what the searcher did before: a fourth beside the three (and 15 more to come)
        assert nearest < 0.01, nearest


def test_the_bar_a_new_trial_must_beat_is_asha_s_share_of_the_trials_decided_at_a_rung():
    """The bars the acquisition is weighed by: at each level below the acquisition's where some
    trials ended and others went on, the k-th best value of the decided ones (k: those that went
    on). None without a scheduler (every trial went on), none at the acquisition's level."""
    from nbtune.search.reach import bars

    space = nbtune.Space({"x": nbtune.uniform(0, 1)})
    searcher = BayesOptSearcher(space, seed=0, mode="min", warp="none")
    values = [0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6]  # at level 1; the best three go on
    for i, v in enumerate(values):
        searcher.on_trial_start(i, {"x": i / 10})
        searcher.on_report(i, {"x": i / 10}, 1.0, v)
        if v <= 0.3:
            for level in (2.0, 3.0):
                searcher.on_report(i, {"x": i / 10}, level, v - 0.05 * level)
        searcher.on_trial_end(i, {"x": i / 10}, "completed" if v <= 0.3 else "stopped", v)

    def bars_at(at):
        X, y, levels, trials = searcher._data(with_levels=True)
        return y, levels, trials, bars(y, levels, trials, searcher._reports.held_levels(), at,
                                       searcher._pending)

    y, levels, _, found = bars_at(3.0)
    assert [level for level, _, _ in found] == [1.0] and found[0][2] == 3 / 9
    assert found[0][1] == np.sort(y[levels == 1.0])[2]  # the third best of nine: three went on
    assert bars_at(1.0)[3] == []  # nothing below the acquisition's level
    searcher.on_trial_start(9, {"x": 0.95})  # pending at level 1: neither ended nor gone on
    searcher.on_report(9, {"x": 0.95}, 1.0, 0.05)
    y, levels, trials, found = bars_at(3.0)
    assert found[0][1] == np.sort(y[(levels == 1.0) & (trials != 9)])[2]


def test_a_candidate_is_weighed_by_its_chance_of_going_on_over_the_share_that_did():
    """A candidate the model expects to beat the bar keeps its score; one it knows nothing of
    (its chance about the share that went on) keeps it too, so the search explores as before;
    one it expects to fall short loses it, down to the lowest score (``low``)."""
    from nbtune.search.reach import reached

    class Posterior:  # the model's mean and deviation at the candidates: sure, unknown, short
        def mean_std(self, at):
            assert (at[:, -1] == 0.0).all()  # taken at the bar's level's column
            return np.array([-3.0, 0.0, 3.0]), np.array([0.5, 1.0, 0.5])

    candidates = np.ones((3, 2))
    score = np.array([0.5, 0.5, 0.5])
    # the bar at 0 (modelled values to minimise): half the decided trials went on there
    weighed = reached(Posterior(), candidates, score, [(1.0, 0.0, 0.5)], lambda level: 0.0)
    assert weighed[0] == weighed[1] == 0.5 and weighed[2] < 1e-4
    assert (candidates[:, -1] == 1.0).all()  # the caller's candidates untouched
    low = reached(Posterior(), candidates, np.array([2.0, 1.0, 2.0]), [(1.0, 0.0, 0.5)],
                  lambda level: 0.0, low=-1.0)  # a ucb score: the worst it can be is low
    assert low[0] == 2.0 and low[1] == 1.0 and abs(low[2] + 1.0) < 1e-3
