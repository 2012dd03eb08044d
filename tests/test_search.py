"""Searchers: reproducible suggestions by index, points_to_evaluate, grid order and caps."""
from __future__ import annotations

import warnings

import pytest

import nbtune
from nbtune.search import GridSearcher, RandomSearcher, Searcher, make_searcher
from nbtune.space import Space, choice, grid, linspace, loguniform, randint, uniform

SPACE = Space({"lr": loguniform(1e-4, 1e-1), "units": randint(16, 256),
               "act": choice("relu", "tanh"), "epochs": 10})
GRID = Space({"lr": loguniform(1e-4, 1e-1), "wd": grid(0.0, 0.1), "bs": grid(32, 64, 128),
              "epochs": 10})


def run(searcher, n):
    return [searcher.suggest(i) for i in range(n)]


# -- random -------------------------------------------------------------------------------------

def test_same_seed_same_configs_and_different_seeds_differ():
    a = run(RandomSearcher(SPACE, seed=1), 20)
    assert a == run(RandomSearcher(SPACE, seed=1), 20)
    assert a != run(RandomSearcher(SPACE, seed=2), 20)
    assert len({c["lr"] for c in a}) == 20
    for c in a:
        SPACE.validate(c)


def test_suggest_depends_only_on_seed_and_index():
    fresh = RandomSearcher(SPACE, seed=5).suggest(5)
    warmed = RandomSearcher(SPACE, seed=5)
    run(warmed, 5)
    assert warmed.suggest(5) == fresh
    backwards = RandomSearcher(SPACE, seed=5)
    assert [backwards.suggest(i) for i in reversed(range(8))][::-1] == \
        run(RandomSearcher(SPACE, seed=5), 8)
    assert warmed.suggest(5) == warmed.suggest(5)  # asking again repeats, no hidden state


def test_resume_at_index_n_continues_the_uninterrupted_run():
    whole = run(RandomSearcher(SPACE, seed=9, points_to_evaluate=[{"act": "tanh"}]), 10)
    resumed = RandomSearcher(SPACE, seed=9, points_to_evaluate=[{"act": "tanh"}])
    assert [resumed.suggest(i) for i in range(6, 10)] == whole[6:]


def test_seed_none_picks_one_and_exposes_it():
    s = RandomSearcher(SPACE)
    assert isinstance(s.seed, int) and s.seed >= 0
    assert run(s, 3) == run(RandomSearcher(SPACE, seed=s.seed), 3)
    assert RandomSearcher(SPACE).seed != RandomSearcher(SPACE).seed


def test_random_search_never_runs_out():
    s = RandomSearcher(SPACE, seed=0)
    assert s.max_trials is None and s.suggest(10_000) is not None


def test_random_search_tries_a_finite_space_through_before_it_repeats_a_config():
    """6 configs and 10 trials: the draws repeated (2, 'y') three times and never tried the
    best (1, 'x') (first-day test, round 5)."""
    space = Space({"k": choice(1, 2, 3), "s": choice("x", "y")})

    def sent_from(searcher, start, stop):
        configs = []
        for i in range(start, stop):
            configs.append(searcher.suggest(i))
            searcher.on_trial_start(i, configs[-1])
        return configs

    def sent(searcher, n):
        return sent_from(searcher, 0, n)

    first = sent(RandomSearcher(space, seed=3), 9)
    assert len({(c["k"], c["s"]) for c in first[:6]}) == 6  # every config, then repeats
    assert first == sent(RandomSearcher(space, seed=3), 9)  # the same events, the same configs
    resumed = RandomSearcher(space, seed=3)
    for i, config in enumerate(first[:4]):  # a resumed study replays the trials it ran
        resumed.on_trial_start(i, config)
    assert sent_from(resumed, 4, 6) == first[4:6]
    wide = RandomSearcher(SPACE, seed=9)  # a range of reals: (seed, index) alone, as before
    assert sent(wide, 5) == run(RandomSearcher(SPACE, seed=9), 5)


def test_random_search_samples_grid_dims_too():
    values = {(c["wd"], c["bs"]) for c in run(RandomSearcher(GRID, seed=0), 200)}
    assert values == {(w, b) for w in (0.0, 0.1) for b in (32, 64, 128)}


# -- points_to_evaluate -------------------------------------------------------------------------

def test_points_to_evaluate_come_first_completed_with_defaults():
    pts = [{"lr": 0.01}, {"units": 32, "act": "tanh"}]
    s = RandomSearcher(SPACE, seed=0, points_to_evaluate=pts)
    assert s.suggest(0) == {"lr": 0.01, "units": 136, "act": "relu", "epochs": 10}
    assert s.suggest(1) == {"lr": pytest.approx(10 ** -2.5), "units": 32, "act": "tanh",
                            "epochs": 10}
    assert s.suggest(2) == RandomSearcher(SPACE, seed=0).suggest(2)
    assert pts == [{"lr": 0.01}, {"units": 32, "act": "tanh"}]  # caller's list untouched


def test_none_and_empty_mean_no_initial_points():
    default = SPACE.default()
    for pts in (None, []):
        s = RandomSearcher(SPACE, seed=0, points_to_evaluate=pts)
        assert s.points_to_evaluate == [] and s.suggest(0) != default
        assert s.suggest(0) == RandomSearcher(SPACE, seed=0).suggest(0)
    assert RandomSearcher(SPACE, points_to_evaluate=[{}]).suggest(0) == default


@pytest.mark.parametrize("point, message", [
    ({"lr": 5.0}, r"^points_to_evaluate\[1\]: hyperparameter 'lr': 5.0 is outside loguniform"),
    ({"act": "gelu"}, r"points_to_evaluate\[1\]: hyperparameter 'act': 'gelu' is not one of"),
    ({"lrr": 0.1}, r"points_to_evaluate\[1\]: unknown hyperparameter 'lrr'"),
    ({"epochs": 3}, r"points_to_evaluate\[1\]: hyperparameter 'epochs'"),
    ("lr=0.1", r"points_to_evaluate\[1\]: a config must be a mapping"),
])
def test_bad_points_to_evaluate_are_rejected_clearly(point, message):
    with pytest.raises(ValueError, match=message):
        RandomSearcher(SPACE, points_to_evaluate=[{}, point])


def test_suggest_returns_copies():
    s = RandomSearcher(SPACE, seed=0, points_to_evaluate=[{"lr": 0.01}])
    s.suggest(0)["lr"] = 99
    assert s.suggest(0)["lr"] == 0.01


# -- grid ---------------------------------------------------------------------------------------

def test_grid_enumerates_the_product_then_runs_out():
    s = GridSearcher(GRID, seed=0)
    configs = run(s, 7)
    assert s.max_trials == 6 and configs[6] is None and s.suggest(100) is None
    assert [(c["wd"], c["bs"]) for c in configs[:6]] == [
        (0.0, 32), (0.0, 64), (0.0, 128), (0.1, 32), (0.1, 64), (0.1, 128)]
    for c in configs[:6]:
        GRID.validate(c)
        assert c["epochs"] == 10


def test_grid_samples_the_other_dims_reproducibly():
    a, b = run(GridSearcher(GRID, seed=3), 6), run(GridSearcher(GRID, seed=3), 6)
    assert a == b and len({c["lr"] for c in a}) == 6
    assert [c["lr"] for c in a] != [c["lr"] for c in run(GridSearcher(GRID, seed=4), 6)]
    assert GridSearcher(GRID, seed=3).suggest(4) == a[4]


def test_grid_needs_a_grid_dimension():
    with pytest.raises(ValueError, match=r"grid search needs at least one grid\(...\)"):
        GridSearcher(SPACE)
    with pytest.raises(ValueError, match=r"^points_only=True needs points_to_evaluate$"):
        GridSearcher(SPACE, points_only=True)


def test_a_grid_of_points_only_runs_them_in_order_then_runs_out():
    """SearchCV's list of grids: the candidates listed in advance, over a space of choices."""
    for space, points in ((SPACE, [{"lr": 0.01, "act": "tanh"}, {"lr": 0.1, "act": "relu"}]),
                          (GRID, [{"lr": 0.01, "bs": 128}, {"lr": 0.1, "bs": 32}])):
        # grid dims or none: the points alone
        s = GridSearcher(space, seed=0, points_to_evaluate=points, points_only=True)
        configs = run(s, 3)
        assert s.max_trials == 2 and configs[2] is None
        assert [{k: c[k] for k in points[0]} for c in configs[:2]] == points
    assert "points_only=True" in repr(s)


@pytest.mark.parametrize("n, picks", [
    (1, [0]), (2, [0, 9]), (4, [0, 3, 6, 9]), (5, [0, 2, 5, 7, 9]), (10, list(range(10))),
    (50, list(range(10))),
])
def test_n_experiments_is_an_even_subsample(n, picks):
    space = Space({"i": grid(*range(10))})
    s = GridSearcher(space, n_experiments=n)
    got = [c["i"] for c in run(s, len(picks) + 1) if c is not None]
    assert got == picks and s.max_trials == len(picks)


def test_points_to_evaluate_count_toward_the_grid_total():
    space = Space({"i": grid(*range(10)), "x": uniform(0, 1)})
    s = GridSearcher(space, seed=0, points_to_evaluate=[{"i": 5}], n_experiments=3)
    configs = run(s, 4)
    assert configs[0] == {"i": 5, "x": 0.5}
    assert [c["i"] for c in configs[1:3]] == [0, 9] and configs[3] is None
    uncapped = GridSearcher(space, points_to_evaluate=[{"i": 5}])
    assert uncapped.max_trials == 11 and uncapped.suggest(1)["i"] == 0
    with pytest.raises(ValueError, match="n_experiments=1 is smaller than the 2"):
        GridSearcher(space, points_to_evaluate=[{}, {}], n_experiments=1)


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_bad_n_experiments(n):
    with pytest.raises(ValueError, match="n_experiments must be an integer >= 1"):
        GridSearcher(GRID, n_experiments=n)


def test_linspace_dims_are_grid_dims():
    s = GridSearcher({"lr": linspace("0:1:3")}, seed=0)
    assert [c["lr"] for c in run(s, 3)] == [0.0, 0.5, 1.0]


# -- interface and factory ----------------------------------------------------------------------

def test_base_checks_its_arguments():
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        RandomSearcher(SPACE, mode="maximize")
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        RandomSearcher(SPACE, seed=-1)
    with pytest.raises(ValueError, match="index must be an integer >= 0"):
        RandomSearcher(SPACE).suggest(-1)
    s = RandomSearcher({"x": uniform(0, 1)}, seed=0, mode="max")
    assert s.mode == "max" and s.space == Space({"x": uniform(0, 1)})
    assert s.observe({"x": 0.5}, 1.0, "completed") is None
    with pytest.raises(NotImplementedError):
        Searcher(SPACE).suggest(0)


def test_make_searcher_by_name():
    s = make_searcher("random", SPACE, seed=4, points_to_evaluate=[{"lr": 0.01}], mode="max")
    assert isinstance(s, RandomSearcher) and s.seed == 4 and s.mode == "max"
    assert s.suggest(0)["lr"] == 0.01 and s.name == "random"
    g = make_searcher("grid", GRID, seed=1, n_experiments=2)
    assert isinstance(g, GridSearcher) and g.max_trials == 2 and g.name == "grid"


def test_make_searcher_errors_name_the_choices():
    with pytest.raises(ValueError, match=r"unknown searcher 'bayes' \(did you mean 'bayesopt'"
                                         r"\?\); known: 'random', 'grid', 'bayesopt', 'kde', "
                                         r"'tpe', 'optuna', a"):
        make_searcher("bayes", SPACE)
    with pytest.raises(ValueError, match="unknown searcher 'anneal'; known: 'random', 'grid', "
                                         "'bayesopt', 'kde', 'tpe', 'optuna', a Searcher instance "
                                         "or an Optuna sampler$"):
        make_searcher("anneal", SPACE)
    with pytest.raises(ValueError, match="unknown searcher 3"):
        make_searcher(3, SPACE)
    with pytest.raises(ValueError, match="searcher 'random' has no option 'n_experiments'"):
        make_searcher("random", SPACE, n_experiments=3)


def test_make_searcher_passes_an_instance_through():
    mine = GridSearcher(GRID, seed=8)
    assert make_searcher(mine, GRID, seed=1) is mine and mine.seed == 8
    assert make_searcher(mine, None, mode="max").mode == "max"
    with pytest.raises(ValueError, match="another space"):
        make_searcher(mine, SPACE)
    with pytest.raises(ValueError, match="points_to_evaluate"):
        make_searcher(mine, GRID, points_to_evaluate=[{"wd": 0.1}])
    with pytest.raises(ValueError, match="apply only to a searcher given by name"):
        make_searcher(mine, GRID, n_experiments=2)


# -- Optuna's samplers, without Optuna --------------------------------------------------------

class LooksLikeAnOptunaSampler:
    """A class from Optuna's module tree, as an Optuna sampler instance is recognised by."""

    __module__ = "optuna.samplers._tpe.sampler"

    def sample_independent(self, *args):
        return None


def test_optuna_is_never_imported_by_nbtune_and_its_absence_is_one_line(monkeypatch):
    import subprocess
    import sys

    probe = "import sys, nbtune, nbtune.search; print('optuna' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
    from nbtune.search.optuna_adapter import is_optuna_sampler

    assert is_optuna_sampler(LooksLikeAnOptunaSampler())
    assert not is_optuna_sampler(RandomSearcher(SPACE)) and not is_optuna_sampler("optuna")
    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` fails, as uninstalled
    for searcher in ("optuna", LooksLikeAnOptunaSampler()):
        with pytest.raises(ValueError, match=r"^searcher 'optuna' needs Optuna: pip install "
                                             r"optuna$"):
            make_searcher(searcher, SPACE, seed=0)


def test_the_magic_without_optuna_says_so_in_one_line(shell, db, capsys, monkeypatch):
    import sys

    import nbtune

    monkeypatch.setitem(sys.modules, "optuna", None)
    capsys.readouterr()
    res = shell.run_cell("%%tune --trials 3 --searcher optuna\nx = uniform(0, 1)\n\nvalue = x\n")
    assert not res.success
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].endswith("searcher 'optuna' needs Optuna: pip install optuna")
    assert "Traceback" not in err[0]
    assert nbtune.list_studies(db) == []


def test_a_searcher_built_over_another_space_names_what_differs():
    """It printed the searcher's whole space (first-day test, round 64)."""
    from nbtune.search import BayesOptSearcher

    built = BayesOptSearcher({"lr": nbtune.loguniform(1e-4, 1.0), "x": nbtune.uniform(0, 1)})
    study = {"lr": nbtune.loguniform(1e-3, 1.0), "alpha": nbtune.loguniform(1e-6, 0.1),
             "hidden": nbtune.choice(16, 32)}
    with pytest.raises(ValueError) as err:
        make_searcher(built, study)
    assert str(err.value) == (
        "the searcher was built over another space (it lacks 'alpha', 'hidden'; it has 'x', "
        "which the study lacks; lr is loguniform(0.0001, 1.0) there, loguniform(0.001, 1.0) "
        "here): build it over the study's space")


@pytest.mark.parametrize("built, said", [("min", True), (None, False), ("max", False)])
def test_a_searcher_built_with_the_other_mode_is_told_the_studys(client, built, said):
    """A searcher object given mode='min' in a mode='max' study was switched without a word
    (first-day test, round 64); one built without a mode takes the study's in silence."""
    from nbtune.search import RandomSearcher

    space = {"x": nbtune.uniform(0, 1)}
    searcher = RandomSearcher(space, seed=0, **({} if built is None else {"mode": built}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = nbtune.tune(lambda c: c["x"], space, metric="value", mode="max", n_trials=2,
                            searcher=searcher, cluster=client, storage=None, progress=False)
    notes = [str(w.message) for w in caught if issubclass(w.category, nbtune.NbtuneWarning)]
    expected = ("the searcher was built with mode='min'; it searches with the study's, "
                "mode='max' (give the study mode='min' if that is the one meant)")
    assert (expected in notes) is said, notes
    assert searcher.mode == "max" and study.mode == "max"
