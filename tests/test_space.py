"""Search-space primitives and Space: sampling, unit maps, defaults, validation, JSON."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nbtune.space import (Space, as_space, choice, domain_from_dict, fixed, grid, linspace,
                          loguniform, lograndint, logspace, quniform, randint, uniform)

N = 4000

EVERY_PRIMITIVE = [
    uniform(-1, 3), loguniform(1e-4, 1e-1), quniform(0, 100, 5), quniform(0.0, 1.0, 0.1),
    randint(1, 6), lograndint(1, 1000), choice("relu", "tanh", "gelu"),
    choice(1, 2, 3, weights=[1, 1, 2]), grid(0.1, 0.2, 0.5), linspace(0.0, 1.0, 5),
    logspace(0.01, 0.1, 5), fixed("adam"), choice([64], [64, 64]), fixed({"a": [1, 2]}),
]


def draws(domain, n=N, seed=0):
    rng = np.random.default_rng(seed)
    return [domain.sample(rng) for _ in range(n)]


def plain(v):
    """True if v holds only plain Python types (what JSON and user code should get)."""
    if isinstance(v, (list, tuple)):
        return all(plain(x) for x in v)
    if isinstance(v, dict):
        return all(plain(x) for x in v.values())
    return type(v) in (int, float, str, bool, type(None))


# -- sampling -----------------------------------------------------------------------------------

def test_uniform_stays_in_range_and_is_flat():
    xs = draws(uniform(-1, 3))
    assert all(type(x) is float and -1 <= x <= 3 for x in xs)
    assert abs(np.mean(xs) - 1.0) < 0.1
    assert abs(np.mean(np.array(xs) < 0) - 0.25) < 0.03


def test_loguniform_median_is_the_geometric_mean():
    xs = draws(loguniform(1e-4, 1e-1))
    assert all(type(x) is float and 1e-4 <= x <= 1e-1 for x in xs)
    assert abs(math.log10(np.median(xs)) - math.log10(math.sqrt(1e-4 * 1e-1))) < 0.1
    assert abs(np.mean(np.array(xs) < 1e-3) - 1 / 3) < 0.03  # one decade of three


def test_quniform_gives_multiples_of_q_inside_the_bounds():
    ints = draws(quniform(0, 100, 5))
    assert all(type(x) is int and x % 5 == 0 and 0 <= x <= 100 for x in ints)
    assert {0, 100} <= set(ints)
    floats = draws(quniform(0.0, 1.0, 0.1))
    assert set(floats) == {round(0.1 * k, 1) for k in range(11)}  # 0.3, not 0.30000000000000004
    assert all(type(x) is float for x in floats)
    clipped = draws(quniform(0.05, 0.95, 0.25))
    assert set(clipped) == {0.25, 0.5, 0.75}


def test_randint_includes_both_ends_uniformly():
    xs = draws(randint(1, 6))
    assert all(type(x) is int for x in xs)
    counts = np.bincount(xs, minlength=7)[1:]
    assert counts.min() > N / 6 * 0.8 and counts.max() < N / 6 * 1.2
    assert set(xs) == {1, 2, 3, 4, 5, 6}


def test_lograndint_is_log_uniform_over_ints():
    xs = draws(lograndint(1, 1000))
    assert all(type(x) is int and 1 <= x <= 1000 for x in xs)
    assert 1 in xs and max(xs) > 900
    assert abs(math.log(np.median(xs)) - math.log(math.sqrt(0.5 * 1000.5))) < 0.2
    assert set(draws(lograndint(1, 2), n=200)) == {1, 2}


def test_choice_respects_weights():
    xs = draws(choice("elu", "relu", "sigmoid", weights=[0.1, 0.2, 0.7]))
    freq = {k: xs.count(k) / N for k in ("elu", "relu", "sigmoid")}
    assert abs(freq["elu"] - 0.1) < 0.03 and abs(freq["sigmoid"] - 0.7) < 0.03
    assert choice("a", "b", weights=[1, 3]).weights == [0.25, 0.75]
    assert choice("a", "b").weights is None
    assert set(draws(choice(32, 64, 128), n=300)) == {32, 64, 128}
    assert draws(choice("a", "b", weights=[0, 1]), n=100) == ["b"] * 100


def test_single_list_argument_means_the_values():
    assert choice([1, 2, 3]) == choice(1, 2, 3)
    assert grid([1, 2, 3]) == grid(1, 2, 3)
    assert choice([[64, 64]]).values == [[64, 64]]  # one list-valued option
    assert choice([64], [64, 64]).values == [[64], [64, 64]]


def test_grid_linspace_logspace_values():
    assert grid(3, 1, 2).values == [3, 1, 2]
    assert linspace(0, 1, 5).values == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert linspace("0:1:5") == linspace(0.0, 1.0, 5)
    lg = logspace("0.01:0.1:5").values
    assert lg[0] == pytest.approx(0.01) and lg[-1] == pytest.approx(0.1) and len(lg) == 5
    assert np.allclose(np.diff(np.log(lg)), math.log(10) / 4)  # values, not exponents
    assert all(d.is_grid for d in (grid(1), linspace(0, 1, 2), logspace(1, 2, 2)))
    assert not any(d.is_grid for d in (choice(1, 2), uniform(0, 1), fixed(1)))
    assert set(draws(grid("a", "b"), n=200)) == {"a", "b"}
    assert uniform(0, 1).values is None and fixed(7).values == [7]


@pytest.mark.parametrize("domain", EVERY_PRIMITIVE, ids=repr)
def test_samples_are_plain_python_and_valid(domain):
    for v in draws(domain, n=200):
        assert plain(v), (v, type(v))
        domain.validate(v)
    assert plain(domain.default()) and plain(domain.from_unit(0.37))


def test_numpy_values_become_plain_python():
    d = choice(np.int64(3), np.float32(0.5), np.str_("x"), np.bool_(True))
    assert [type(v) for v in d.values] == [int, float, str, bool]
    assert type(fixed(np.array([1, 2])).default()) is list


# -- unit space and defaults --------------------------------------------------------------------

@pytest.mark.parametrize("domain", EVERY_PRIMITIVE, ids=repr)
def test_from_unit_inverts_to_unit(domain):
    for v in draws(domain, n=300, seed=1):
        u = domain.to_unit(v)
        assert 0.0 <= u <= 1.0 and type(u) is float
        assert domain.from_unit(u) == v


def test_unit_maps_are_linear_log_and_binned():
    assert uniform(0, 10).to_unit(2.5) == 0.25
    assert loguniform(1e-4, 1).to_unit(1e-2) == pytest.approx(0.5)
    assert loguniform(1e-4, 1).from_unit(0.25) == pytest.approx(1e-3)
    assert (uniform(2, 4).from_unit(0), uniform(2, 4).from_unit(1)) == (2.0, 4.0)
    assert uniform(2, 4).from_unit(7) == 4.0 and uniform(2, 4).from_unit(-1) == 2.0
    assert randint(0, 3).to_unit(0) == 0.125 and randint(0, 3).from_unit(0.99) == 3
    assert choice("a", "b", "c", "d").to_unit("c") == 0.625
    assert [choice("a", "b").from_unit(u) for u in (0, 0.49, 0.5, 1)] == ["a", "a", "b", "b"]
    with pytest.raises(ValueError, match="unit value"):
        uniform(0, 1).from_unit(float("nan"))


def test_defaults_follow_syne_tune():
    assert uniform(0, 1).default() == 0.5
    assert loguniform(1e-4, 1e-2).default() == pytest.approx(1e-3)
    assert randint(1, 5).default() == 3 and type(randint(1, 5).default()) is int
    assert lograndint(1, 10000).default() == 100
    assert quniform(0, 100, 30).default() == 60
    assert choice("b", "a").default() == "b"
    assert grid(3, 1).default() == 3 and linspace(1, 2, 3).default() == 1.0
    assert fixed([1]).default() == [1]


# -- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("domain, value, message", [
    (uniform(0, 1), 1.5, "outside uniform"),
    (uniform(0, 1), "0.5", "outside uniform"),
    (loguniform(1e-3, 1), 0.0, "outside loguniform"),
    (randint(1, 6), 7, "outside randint"),
    (randint(1, 6), 2.5, "takes ints"),
    (randint(1, 6), True, "takes ints"),
    (lograndint(1, 10), 0, "outside lograndint"),
    (quniform(0, 1, 0.25), 0.3, "not a multiple"),
    (quniform(0, 10, 2), 4.0, "takes ints"),
    (choice(1, 2), 3, "not one of"),
    (choice(1, 0), False, "not one of"),
    (grid("a", "b"), "c", "not one of"),
    (fixed(3), 4, "not one of"),
])
def test_validate_rejects_values_outside_the_domain(domain, value, message):
    with pytest.raises(ValueError, match=message):
        domain.validate(value)


def test_validate_accepts_equivalent_values():
    uniform(0, 1).validate(1)
    choice((64, 64), (32,)).validate([64, 64])
    choice(1.0, 2.0).validate(np.float64(2.0))
    quniform(0.0, 1.0, 0.1).validate(0.7)


# -- bad definitions ----------------------------------------------------------------------------

BAD = [
    ({"type": "uniform", "lo": 1, "hi": 1}, "uniform needs lo < hi, got lo=1, hi=1"),
    ({"type": "uniform", "lo": 2, "hi": 1}, "uniform needs lo < hi"),
    ({"type": "loguniform", "lo": 0, "hi": 0.1}, r"loguniform needs 0 < lo < hi, got lo=0, hi=0.1"),
    ({"type": "loguniform", "lo": -1, "hi": 0.1}, "loguniform needs 0 < lo < hi"),
    ({"type": "lograndint", "lo": 0, "hi": 10}, "lograndint needs 1 <= lo < hi"),
    ({"type": "randint", "lo": 5, "hi": 1}, "randint needs lo < hi"),
    ({"type": "randint", "lo": 1.5, "hi": 3}, "randint needs an integer for lo"),
    ({"type": "quniform", "lo": 0, "hi": 1, "q": 0}, "quniform needs q > 0"),
    ({"type": "quniform", "lo": 0, "hi": 1, "q": -0.5}, "quniform needs q > 0"),
    ({"type": "quniform", "lo": 0.1, "hi": 0.2, "q": 0.5}, "no multiple of q"),
    ({"type": "uniform", "lo": "a", "hi": 1}, "uniform needs a finite number for lo"),
    ({"type": "uniform", "lo": 0, "hi": None}, "uniform needs a finite number for hi"),
    ({"type": "uniform", "lo": True, "hi": 2}, "uniform needs a finite number for lo"),
    ({"type": "uniform", "lo": float("nan"), "hi": 1}, "finite number for lo"),
    ({"type": "loguniform", "lo": 1, "hi": float("inf")}, "finite number for hi"),
    ({"type": "choice", "options": []}, "choice needs at least one value"),
    ({"type": "choice", "options": [1, 1]}, "duplicate value 1"),
    ({"type": "choice", "options": [1, 2], "weights": [1]}, "2 options but 1 weights"),
    ({"type": "choice", "options": [1, 2], "weights": [1, -1]}, "weights must be >= 0"),
    ({"type": "choice", "options": [1, 2], "weights": [0, 0]}, "positive sum"),
    ({"type": "choice", "options": [1, 2], "weights": [1, "x"]}, "finite number for weights"),
    ({"type": "grid", "values": []}, "grid needs at least one value"),
    ({"type": "linspace", "lo": 0, "hi": 1, "n": 1}, "linspace needs n >= 2"),
    ({"type": "linspace", "lo": 0, "hi": 1, "n": 0}, "linspace needs n >= 2"),
    ({"type": "linspace", "lo": 0, "hi": 1, "n": 2.5}, "linspace needs an integer for n"),
    ({"type": "linspace", "lo": 1, "hi": 0, "n": 3}, "linspace needs lo < hi"),
    ({"type": "logspace", "lo": 0, "hi": 1, "n": 3}, "logspace needs 0 < lo < hi"),
    ({"type": "linspace", "lo": "0.01:0.1"}, "must read 'lo:hi:n', got '0.01:0.1'"),
    ({"type": "logspace", "lo": "a:b:c"}, "must read 'lo:hi:n'"),
    ({"type": "fixed", "value": float("nan")}, "JSON-serialisable"),
    ({"type": "normal", "lo": 0}, "unknown domain type 'normal'"),
    ({"type": "uniform", "lo": 0}, "bad uniform description"),
    ({"lo": 0}, "unknown domain type None"),
]


@pytest.mark.parametrize("spec, message", BAD, ids=[m for _, m in BAD])
def test_bad_definition_names_the_hyperparameter(spec, message):
    with pytest.raises(ValueError, match=r"^hyperparameter 'lr': .*" + message):
        Space.from_dict({"lr": spec})


@pytest.mark.parametrize("make, message", [
    (lambda: loguniform(0, 0.1), r"^loguniform needs 0 < lo < hi, got lo=0, hi=0.1 \(a log "
                                 r"scale cannot reach 0: give a small positive lower bound such "
                                 r"as 1e-6, or use uniform\(0, 0.1\)\)$"),
    (lambda: uniform(1, 0), "uniform needs lo < hi"),
    (lambda: quniform(0, 1, 0), "q > 0"),
    (lambda: choice(), "at least one value"),
    (lambda: choice("a", "b", weights=[1, 2, 3]), "2 options but 3 weights"),
    (lambda: grid(), "at least one value"),
    (lambda: linspace(0, 1), "needs lo, hi and n"),
    (lambda: logspace("1:10:1"), "n >= 2"),
    (lambda: fixed(object()), "JSON-serialisable"),
])
def test_primitives_reject_bad_arguments_at_once(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_space_names_the_hyperparameter_of_a_bad_plain_value():
    with pytest.raises(ValueError, match="^hyperparameter 'model': fixed values must be JSON"):
        Space({"lr": uniform(0, 1), "model": object()})


@pytest.mark.parametrize("name", ["", "1st", "a b", 3, None, "lr\n"])
def test_space_rejects_bad_names(name):
    with pytest.raises(ValueError, match="hyperparameter names must be"):
        Space({name: uniform(0, 1)})


def test_space_accepts_identifier_like_names():
    assert list(Space({"lr": 1, "model__C": 2, "opt.lr": 3, "layer-1": 4, "_x": 5})) == \
        ["lr", "model__C", "opt.lr", "layer-1", "_x"]


# -- repr, equality, JSON -----------------------------------------------------------------------

def test_repr_reads_like_the_call():
    assert repr(loguniform(0.0001, 0.1)) == "loguniform(0.0001, 0.1)"
    assert repr(choice(32, 64, 128)) == "choice(32, 64, 128)"
    assert repr(choice("a", "b", weights=[1, 3])) == "choice('a', 'b', weights=[1, 3])"
    assert repr(choice("a", "b", weights=[0.5, 1.5])) == "choice('a', 'b', weights=[0.5, 1.5])"
    assert repr(randint(1, 10)) == "randint(1, 10)"
    assert repr(quniform(0, 100, 5)) == "quniform(0, 100, 5)"
    assert repr(logspace("0.01:0.1:5")) == "logspace(0.01, 0.1, 5)"
    assert repr(grid("x", 2)) == "grid('x', 2)"
    assert repr(fixed(3)) == "fixed(3)"
    assert repr(Space({"lr": loguniform(0.001, 0.1), "epochs": 5})) == \
        "Space({'lr': loguniform(0.001, 0.1), 'epochs': fixed(5)})"


@pytest.mark.parametrize("domain", EVERY_PRIMITIVE, ids=repr)
def test_every_primitive_survives_json(domain):
    s = Space({"x": domain, "y": uniform(0, 1)})
    text = s.to_json()
    assert json.loads(text)["x"]["type"] == domain.kind
    back = Space.from_json(text)
    assert back == s and repr(back) == repr(s)
    assert domain_from_dict(json.loads(json.dumps(domain.to_dict()))) == domain


def test_equality_compares_kind_and_arguments():
    assert uniform(0, 1) == uniform(0.0, 1.0)
    assert uniform(0, 1) != loguniform(0.5, 1) and uniform(0, 1) != uniform(0, 2)
    assert choice(1, 2) != choice(True, 2) and choice(1, 2) != choice(2, 1)
    assert choice(1, 2) != choice(1, 2, weights=[1, 1])
    assert grid(0.0, 0.5, 1.0) != linspace(0, 1, 3)  # same values, different definition
    assert uniform(0, 1) != "uniform(0, 1)"
    assert Space({"a": 1, "b": 2}) != Space({"b": 2, "a": 1})  # order matters (unit arrays)
    assert Space({"a": 1}) == Space({"a": fixed(1)}) and Space({"a": 1}) != {"a": fixed(1)}


# -- Space ------------------------------------------------------------------------------------

SPACE = Space({
    "lr": loguniform(1e-4, 1e-1), "units": randint(16, 256), "act": choice("relu", "tanh"),
    "epochs": 10, "wd": grid(0.0, 0.1), "drop": linspace(0.1, 0.3, 3),
})


def test_space_is_an_ordered_mapping_of_domains():
    assert list(SPACE) == ["lr", "units", "act", "epochs", "wd", "drop"]
    assert SPACE["epochs"] == fixed(10) and len(SPACE) == 6 and "lr" in SPACE
    assert as_space(SPACE) is SPACE and as_space({"a": 1}) == Space({"a": fixed(1)})
    assert Space().sample(0) == {} and Space().grid_points() == [{}]
    with pytest.raises(ValueError, match="must be a mapping"):
        Space([("a", 1)])


def test_space_sample_and_default():
    c = SPACE.sample(np.random.default_rng(3))
    assert list(c) == list(SPACE) and c["epochs"] == 10
    SPACE.validate(c)
    assert SPACE.sample(7) == SPACE.sample(np.random.default_rng(7))
    assert SPACE.default() == {"lr": pytest.approx(10 ** -2.5), "units": 136, "act": "relu",
                               "epochs": 10, "wd": 0.0, "drop": 0.1}


def test_grid_points_only_grid_dims_last_fastest():
    assert SPACE.grid_names == ["wd", "drop"] and SPACE.grid_size == 6
    pts = SPACE.grid_points()
    assert [p["wd"] for p in pts] == [0.0, 0.0, 0.0, 0.1, 0.1, 0.1]
    assert [p["drop"] for p in pts] == pytest.approx([0.1, 0.2, 0.3] * 2)
    assert all(list(p) == ["wd", "drop"] for p in pts)
    assert [SPACE.grid_point(i) for i in range(6)] == pts
    with pytest.raises(IndexError):
        SPACE.grid_point(6)
    assert Space({"a": uniform(0, 1)}).grid_size == 1


def test_unit_arrays_skip_fixed_dims():
    c = SPACE.sample(11)
    u = SPACE.to_unit(c)
    assert isinstance(u, np.ndarray) and u.shape == (5,) and SPACE.unit_names == \
        ["lr", "units", "act", "wd", "drop"]
    assert ((0 <= u) & (u <= 1)).all()
    assert SPACE.from_unit(u) == c and SPACE.from_unit(u.tolist())["epochs"] == 10
    with pytest.raises(ValueError, match="expected 5 unit values"):
        SPACE.from_unit([0.5] * 6)
    with pytest.raises(ValueError, match="'units'.*outside randint"):
        SPACE.to_unit({**c, "units": 1000})
    with pytest.raises(ValueError, match="'act' is missing"):
        SPACE.to_unit({k: v for k, v in c.items() if k != "act"})


def test_validate_names_the_hyperparameter():
    good = SPACE.default()
    SPACE.validate(good)
    with pytest.raises(ValueError, match="unknown hyperparameter 'lrr'"):
        SPACE.validate({**good, "lrr": 0.1})
    with pytest.raises(ValueError, match="hyperparameter 'units' is missing"):
        SPACE.validate({k: v for k, v in good.items() if k != "units"})
    with pytest.raises(ValueError, match="^hyperparameter 'lr': 0.5 is outside loguniform"):
        SPACE.validate({**good, "lr": 0.5})
    with pytest.raises(ValueError, match="^hyperparameter 'epochs': 11 is not one of fixed"):
        SPACE.validate({**good, "epochs": 11})
    with pytest.raises(ValueError, match="must be a mapping"):
        SPACE.validate([1, 2])


def test_complete_fills_defaults_and_rejects_unknown_names():
    c = SPACE.complete({"act": "tanh", "units": np.int64(32)})
    assert c == {**SPACE.default(), "act": "tanh", "units": 32}
    assert type(c["units"]) is int and list(c) == list(SPACE)
    assert SPACE.complete({}) == SPACE.default()
    with pytest.raises(ValueError, match="unknown hyperparameter 'batch'"):
        SPACE.complete({"batch": 3})


@pytest.mark.parametrize("domain", [
    uniform(-2, 3), loguniform(1e-4, 1.0), randint(1, 7),
    lograndint(1, 1000), quniform(0, 1, 0.25), quniform(2, 20, 3),
    choice("a", "b", "c"), grid(1, 2, 4), linspace(0, 1, 5),
    logspace(1e-3, 1, 4), fixed(7)], ids=repr)
def test_snap_units_is_from_unit_then_to_unit_for_whole_arrays(domain):
    u = np.concatenate([np.linspace(0, 1, 401), np.random.default_rng(0).uniform(0, 1, 200)])
    expected = [domain.to_unit(domain.from_unit(x)) for x in u]
    np.testing.assert_allclose(domain.snap_units(u), expected, rtol=0, atol=1e-12)


def test_a_log_ranges_default_is_its_middle_without_rounding_noise():
    from nbtune.space import loguniform, randint, uniform

    assert loguniform(1e-4, 1e-2).default() == 0.001  # not 0.0010000000000000002
    assert loguniform(1e-6, 1e-1).default() == pytest.approx(10 ** -3.5, rel=1e-11)
    assert randint(1, 9).default() == 5 and uniform(0.5, 0.99).default() == 0.745


def test_a_plain_list_or_tuple_is_one_fixed_value_and_a_note_names_what_searches_it():
    """{"hidden": [16, 32, 64]} gave every trial the whole list, silently: a user of
    scikit-learn's searches means a choice, one of other tuners may mean a range."""
    import warnings

    import nbtune

    with pytest.warns(nbtune.NbtuneWarning) as noted:
        space = Space({"lr": (1e-4, 1e-1), "hidden": [16, 32, 64], "act": "relu"})
    assert [str(w.message) for w in noted] == [
        "hyperparameter 'lr' is the tuple (0.0001, 0.1): every trial gets it as one fixed value. "
        "To search, write uniform(0.0001, 0.1) (or loguniform, randint) for a range, "
        "choice(0.0001, 0.1) for the two; fixed((0.0001, 0.1)) keeps it whole without this note",
        "hyperparameter 'hidden' is the list [16, 32, 64]: every trial gets it as one fixed "
        "value. To search, write choice(16, 32, 64); fixed([16, 32, 64]) keeps it whole "
        "without this note"]
    assert {w.filename for w in noted} == {__file__}  # the user's line
    assert space["hidden"] == fixed([16, 32, 64]) and space["lr"] == fixed([1e-4, 1e-1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said on purpose, or rebuilt from a stored study: no note
        Space({"hidden": fixed([16, 32, 64]), "lr": choice(1e-4, 1e-1)})
        Space.from_json(space.to_json())


def test_a_space_names_how_it_differs_from_another():
    stored = Space({"lr": loguniform(1e-3, 0.5), "hidden": choice(32, 64),
                    "dropout": uniform(0, 0.5)})
    here = Space({"lr": loguniform(1e-4, 0.5), "hidden": choice(32, 64, 128),
                  "momentum": 0.9})
    assert here.changes_from(stored) == [
        "lr was loguniform(0.001, 0.5), here loguniform(0.0001, 0.5)",
        "hidden was choice(32, 64), here choice(32, 64, 128)", "dropout is left out",
        "momentum is new"]
    swapped = Space({"hidden": choice(32, 64), "lr": loguniform(1e-3, 0.5),
                     "dropout": uniform(0, 0.5)})
    assert swapped.changes_from(stored) == ["the order differs (it was lr, hidden, dropout)"]
    assert stored.changes_from(stored) == []


def test_tuples_a_space_holds_reach_the_trials_as_tuples():
    """JSON keeps no tuples: choice((8,), (16, 8)) gave every trial a list, so a config key
    looked up in a dict (unhashable) or compared to a tuple (never equal) failed in the
    user's code (a PyTorch or Ray Tune user's sizes; first-day notes, round 14)."""
    space = Space({"h": choice((8,), (16, 8)), "act": fixed(("relu", 0.1)),
                   "g": grid([(1, [2, 3]), (4, [5])])})
    drawn = [space.sample(seed) for seed in range(20)]
    assert {c["h"] for c in drawn} == {(8,), (16, 8)}  # hashable: tuples
    assert all(c["act"] == ("relu", 0.1) for c in drawn)
    assert space.grid_points() == [{"g": (1, [2, 3])}, {"g": (4, [5])}]
    assert space.from_unit(space.to_unit(drawn[0])) == drawn[0]
    assert repr(space["h"]) == "choice((8,), (16, 8))"
    stored = json.loads(json.dumps(drawn[0]))  # what a study file gives back
    assert stored["h"] in ([8], [16, 8]) and space.given(stored) == drawn[0]
    assert space.complete({"h": [16, 8]})["h"] == (16, 8)  # an enqueued or warm-start point
    assert Space.from_json(space.to_json()) == space  # the file holds lists, as before
    assert space.given({"h": [99], "other": 1}) == {"h": [99], "other": 1}  # left to validate


def test_a_space_read_back_from_json_keeps_the_tuples_it_was_written_with():
    """A study loaded from its file gave its configs lists where the space wrote tuples, and
    its frame's groupby failed on them (first-day test, round 65)."""
    space = Space({"h": choice((32,), (64, 32)), "depth": choice(None, 3), "f": fixed((1, 2)),
                   "g": grid([(1, (2, 3))], [4]), "x": uniform(0, 1)})
    back = Space.from_json(space.to_json())
    assert back == space and repr(back) == repr(space)
    assert back["h"].values == [(32,), (64, 32)] and back["f"].default() == (1, 2)
    assert back["g"].values == [[(1, (2, 3))], [4]]
    assert back.given({"h": [64, 32], "depth": None, "f": [1, 2], "g": [4], "x": 0.5}) == {
        "h": (64, 32), "depth": None, "f": (1, 2), "g": [4], "x": 0.5}
    # a file written before: its lists alone, the same space still (a resume is not refused)
    older = {k: {kk: vv for kk, vv in d.items() if kk != "written"}
             for k, d in json.loads(space.to_json()).items()}
    assert Space.from_json(json.dumps(older)) == space
    assert "written" not in json.loads(space.to_json())["depth"]  # no tuple: as before
