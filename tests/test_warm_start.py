"""Warm start: an earlier study's trials seed a new study's searcher (real LocalCluster, real
SQLite, a real IPython shell for the magic); the searcher shown in the panel and the summary;
searcher options from the magic."""
from __future__ import annotations

import html
import sqlite3

import pytest

import nbtune
from nbtune.live import LivePanel
from nbtune.contract.replay import start_searcher, warm_offset
from nbtune.search import BayesOptSearcher, Searcher
from nbtune.trial import Trial
from nbtune.warm import WarmStart
from nbtune.setup_text import searcher_text

SMOOTH = {"x": nbtune.uniform(0.0, 1.0), "y": nbtune.uniform(0.0, 1.0)}


def bowl(config: dict) -> float:
    return (config["x"] - 0.3) ** 2 + (config["y"] - 0.7) ** 2


@pytest.fixture
def old(client, db):
    """A random-search study of 20 trials of the bowl, stored as 'old'."""
    return nbtune.tune(bowl, SMOOTH, n_trials=20, seed=0, cluster=client, storage=db,
                       study="old", progress=False)


def fed(space, trials, resource="epoch", metric="value", **options) -> BayesOptSearcher:
    """A searcher fed the ended trials directly, in the order they ended, each under its id
    shifted below 0 (what the model holds depends on the trials' ids, not on the order)."""
    s = BayesOptSearcher(space, **options)
    offset = warm_offset(trials)
    with s.warm_replay():
        for t in sorted(trials, key=lambda t: (t.finished, t.id)):
            s.on_trial_start(t.id + offset, t.config)
            for data in t.reports:
                s.on_report(t.id + offset, t.config, data.get(resource), data.get(metric))
            s.on_trial_end(t.id + offset, t.config, t.state, t.value)
    return s


class Recorder(Searcher):
    """A searcher that keeps the calls a driver makes."""

    def __init__(self):
        super().__init__(SMOOTH, seed=0)
        self.calls: list[tuple] = []

    def reset(self):
        self.calls.append(("reset",))

    def on_trial_start(self, trial_id, config):
        self.calls.append(("start", trial_id))

    def on_report(self, trial_id, config, level, value):
        self.calls.append(("report", trial_id, level, value))

    def on_trial_end(self, trial_id, config, state, value):
        self.calls.append(("end", trial_id, state))


def test_the_warm_trials_go_in_first_below_id_0_in_the_order_they_ended():
    c = {"x": 0.1, "y": 0.2}
    warm = WarmStart("old", None, [
        Trial(0, c, "completed", [{"step": 1, "value": 0.5}], 0.5, finished=2.0),
        Trial(1, c, "failed", finished=1.0),
        Trial(2, c, "interrupted", finished=0.5)], "", resource="step")
    own = [Trial(0, c, "completed", [{"epoch": 3, "value": 0.1}], 0.1, finished=5.0),
           Trial(1, c, "running")]
    s = Recorder()
    start_searcher(s, own, "epoch", "value", warm)
    assert s.calls == [("reset",), ("start", -2), ("end", -2, "failed"), ("start", -3),
                       ("report", -3, 1, 0.5), ("end", -3, "completed"), ("start", 0),
                       ("report", 0, 3, 0.1), ("end", 0, "completed")]


def test_a_warm_start_is_fitted_once_at_its_end_not_at_each_refit_point():
    """A model warm-started from 300 trials queued a fit at each of some 35 refit points, one
    after another, and its first suggestions waited for them: seconds of a short study on a
    busy machine (first-day test, round 36). The warm start's kernel is fitted at its last two
    refit points only; the same warm start gives the same suggestions, and the events after
    it are fitted at their refit points as before."""
    from nbtune.search.gp import refit_point

    trials = [Trial(i, {"x": (i * 0.37) % 1, "y": (i * 0.61) % 1}, "completed",
                    [{"value": bowl({"x": (i * 0.37) % 1, "y": (i * 0.61) % 1})}],
                    finished=float(i)) for i in range(120)]
    warm = WarmStart("old", None, trials, "")
    one, two = BayesOptSearcher(SMOOTH, seed=1), BayesOptSearcher(SMOOTH, seed=1)
    for s in (one, two):
        start_searcher(s, [], "epoch", "value", warm)
    n = one._kernels.events
    points = sorted({refit_point(k, 10) for k in range(21, n + 1)})
    assert one._kernels.fitted == points[-2:] and n == 120  # a row a trial
    assert [one.suggest(i) for i in range(3)] == [two.suggest(i) for i in range(3)]
    for i in range(30):  # its own trials after it: each refit point fitted, as in a live study
        one.on_trial_start(i, {"x": 0.01 * i, "y": 0.5})
        one.on_trial_end(i, {"x": 0.01 * i, "y": 0.5}, "completed", 0.1 * i)
    later = [k for k in range(n + 1, n + 31) if refit_point(k, 10) == k]
    assert later and one._kernels.fitted[2:] == later


def test_a_warm_start_makes_the_first_suggestion_model_based(client, db, old, capsys):
    study = nbtune.tune(bowl, SMOOTH, searcher="bayesopt", warm_start="old", n_trials=2,
                        concurrency=1, seed=3, cluster=client, storage=db, study="new",
                        progress=False)
    assert "nbtune: warm start from 'old': 20 of 20 ended trials\n" in capsys.readouterr().out
    first = study.trials[0].config
    # without it, trial 0 of n_initial=5 is the seeded random draw
    assert first != BayesOptSearcher(SMOOTH, seed=3).suggest(0)
    assert first == fed(SMOOTH, old.trials, seed=3).suggest(0)
    assert study.searcher.observations == 22
    # the earlier trials are not the new study's: not stored with it, not counted
    assert [t.id for t in nbtune.load_study("new", storage=db).trials] == [0, 1]
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM trials WHERE study = 'new'").fetchone() == (2,)
    assert study.settings["warm_start"] == "old"


def test_random_search_ignores_a_warm_start(client, db, old, capsys):
    cold = nbtune.tune(bowl, SMOOTH, n_trials=3, seed=5, cluster=client, storage=None,
                       progress=False)
    warm = nbtune.tune(bowl, SMOOTH, n_trials=3, seed=5, cluster=client, storage=None,
                       warm_start=old, progress=False)
    assert [t.config for t in warm.trials] == [t.config for t in cold.trials]
    assert ("warm start from 'old': 20 of 20 ended trials; the random searcher keeps no model "
            "and ignores them\n") in capsys.readouterr().out


def test_shared_dims_are_kept_and_the_rest_dropped_or_defaulted(client, db, old, capsys):
    narrower = {"x": nbtune.uniform(0.0, 0.5), "y": nbtune.uniform(0.0, 1.0),
                "k": nbtune.choice(1, 2)}
    inside = [t for t in old.trials if t.config["x"] <= 0.5]
    assert 0 < len(inside) < 20
    capsys.readouterr()
    study = nbtune.tune(lambda c: bowl(c) + c["k"], narrower, searcher="bayesopt",
                        warm_start="old", n_trials=1, seed=1, cluster=client, storage=db,
                        study="narrow", progress=False)
    outside = 20 - len(inside)
    assert (f"nbtune: warm start from 'old': {len(inside)} of 20 ended trials; new dims 'k' at "
            f"their defaults; {outside} trial{'s' if outside != 1 else ''} outside the new "
            f"space (x: {outside})\n") in capsys.readouterr().out
    assert study.searcher.observations == len(inside) + 1
    mapped = [dict(t.config, k=1) for t in inside]
    assert study.trials[0].config == fed(narrower, [_with(t, c) for t, c in zip(inside, mapped)],
                                         seed=1).suggest(0)
    wider = {"x": nbtune.uniform(0.0, 1.0)}
    nbtune.tune(lambda c: c["x"], wider, searcher="bayesopt", warm_start=old, n_trials=1,
                cluster=client, storage=None, progress=False)
    assert "20 of 20 ended trials; dropped dims 'y'\n" in capsys.readouterr().out


def _with(trial, config):
    import dataclasses

    return dataclasses.replace(trial, config=config)


def test_a_resumed_study_replays_its_warm_start(client, db, old, capsys):
    nbtune.tune(bowl, SMOOTH, searcher="bayesopt", warm_start="old", n_trials=2, seed=3,
                cluster=client, storage=db, study="new", progress=False)
    capsys.readouterr()
    resumed = nbtune.tune(bowl, SMOOTH, study="new", resume=True, storage=db, cluster=client,
                          progress=False)
    assert "warm start from 'old': 20 of 20 ended trials" in capsys.readouterr().out
    assert resumed.searcher.observations == 22 and len(resumed.trials) == 2
    with pytest.raises(ValueError, match=r"^study 'new' was run with warm_start='old', not "
                                         r"warm_start='other'"):
        nbtune.tune(bowl, SMOOTH, study="new", resume=True, storage=db, cluster=client,
                    warm_start="other", progress=False)


def test_a_resumed_warm_start_holds_its_trials_as_they_were_or_says_what_changed(
        client, db, old, tmp_path, monkeypatch, capsys):
    """First-day test, round 64: a resume seeded the model with whatever the source held now
    (8 trials of a replaced study, not the 12 it was started with) in silence; a source in
    another file, stored by its relative path, failed from another folder with "studies
    there: none", and could not be resumed at all; a resume took a warm start its study
    never had."""
    import os
    import shutil

    run = dict(searcher="bayesopt", n_trials=2, seed=3, cluster=client, progress=False)
    nbtune.tune(bowl, SMOOTH, warm_start="old", storage=db, study="new", **run)
    settings = nbtune.load_study("new", db).settings
    assert settings["warm_start_storage"] == os.path.abspath(db)
    assert settings["warm_start_trials"] == list(range(20))
    # the source ran on: the resume replays the 20 trials it held
    nbtune.tune(bowl, SMOOTH, n_trials=25, study="old", resume=True, storage=db, cluster=client,
                progress=False)
    capsys.readouterr()
    again = dict(resume=True, storage=db, cluster=client, progress=False)
    resumed = nbtune.tune(bowl, SMOOTH, study="new", n_trials=3, **again)
    assert "warm start from 'old': 20 of 20 ended trials" in capsys.readouterr().out
    assert resumed.searcher.observations == 20 + 3
    # replaced since: said, and seeded with what it holds now
    nbtune.tune(bowl, SMOOTH, n_trials=8, seed=9, study="old", replace=True, storage=db,
                cluster=client, progress=False)
    with pytest.warns(UserWarning, match=r"^study 'old' changed since study 'new' was "
                      r"warm-started from it \(replaced, or its trials changed: 8 ended trials "
                      r"now, 20 then\): the model is seeded with what it holds now$"):
        resumed = nbtune.tune(bowl, SMOOTH, study="new", n_trials=4, **again)
    assert resumed.searcher.observations == 8 + 4
    # the source's file moved: the study runs on without it, and says how to replay it
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    other = moved / "new.db"
    shutil.copy(db, other)
    os.remove(db)
    monkeypatch.chdir(moved)
    with pytest.warns(UserWarning, match=r"^study 'new' was warm-started from 'old', which was "
                      r"in '.*studies.db', a file no longer there: it runs on without that warm "
                      r"start; pass warm_start=<that Study> \(nbtune.load_study\(NAME, "
                      r"storage=PATH\)\) to replay it$"):
        resumed = nbtune.tune(bowl, SMOOTH, study="new", n_trials=5, resume=True,
                              storage=str(other), cluster=client, progress=False)
    assert resumed.searcher.observations == 5
    assert nbtune.load_study("new", other).settings["warm_start"] == "old"  # still said
    # a warm start a study never had is not added by a resume
    nbtune.tune(bowl, SMOOTH, searcher="bayesopt", n_trials=1, seed=1, storage=str(other),
                study="cold", cluster=client, progress=False)
    with pytest.raises(ValueError, match=r"^study 'cold' was run with warm_start=None, not "
                                         r"warm_start='new': leave warm_start out"):
        nbtune.tune(bowl, SMOOTH, study="cold", resume=True, warm_start="new",
                    storage=str(other), cluster=client, progress=False)


def test_bad_warm_starts_are_one_line(client, db, old):
    opts = dict(searcher="bayesopt", n_trials=1, cluster=client, progress=False)
    with pytest.raises(ValueError, match=r"^warm start: no study named 'old0' in '.*studies.db' "
                                         r"\(did you mean 'old'\?\); studies there: 'old'$"):
        nbtune.tune(bowl, SMOOTH, warm_start="old0", storage=db, study="n1", **opts)
    with pytest.raises(ValueError, match=r"^warm start from 'old': it measured 'value', this "
                                         r"study 'loss': warm-start from a study of the same "
                                         r"metric$"):
        nbtune.tune(bowl, SMOOTH, warm_start="old", metric="loss", storage=db, **opts)
    with pytest.raises(ValueError, match=r"^warm start from 'old': it ran with mode='min', this "
                                         r"study with mode='max'"):
        nbtune.tune(bowl, SMOOTH, warm_start="old", mode="max", storage=db, **opts)
    with pytest.raises(ValueError, match=r"^warm_start='old' names a stored study, but this "
                                         r"study keeps no storage file"):
        nbtune.tune(bowl, SMOOTH, warm_start="old", storage=None, **opts)
    with pytest.raises(ValueError, match=r"^study 'old' cannot warm-start from itself"):
        nbtune.tune(bowl, SMOOTH, warm_start="old", study="old", replace=True, storage=db,
                    **opts)
    assert nbtune.list_studies(db) == ["old"] and len(nbtune.load_study("old", db).trials) == 20
    empty = nbtune.Study("empty", nbtune.Space(SMOOTH), "value", "min")
    with pytest.warns(UserWarning, match=r"^warm start from 'empty': no ended trials to learn "
                                         r"from; the study starts without it$") as warned:
        study = nbtune.tune(bowl, SMOOTH, warm_start=empty, storage=None, **opts)
    assert study.searcher.observations == 1 and study.settings["warm_start"] is None
    assert warned[0].filename == __file__  # the line that called tune, not nbtune's own


def test_a_study_that_shares_no_varied_hyperparameter_is_no_warm_start(client, old, capsys):
    """Hyperparameters renamed while tidying up: every earlier trial sat at the new space's
    default, 20 values at one point, and the first suggestion after them scored worst (first-day
    test, round 19). It is a warning, which names the likely renames, and no warm start."""
    renamed = {"x_pos": nbtune.uniform(0.0, 1.0), "why": nbtune.uniform(0.0, 1.0)}
    opts = dict(searcher="bayesopt", n_trials=1, cluster=client, storage=None, progress=False,
                mode="min")
    with pytest.warns(UserWarning) as warned:
        study = nbtune.tune(lambda c: c["x_pos"], renamed, warm_start=old, **opts)
    assert str(warned[0].message) == (
        "warm start from 'old': it shares no hyperparameter that this study varies (it had "
        "'x', 'y'; this study varies 'x_pos', 'why') (renamed? 'x' -> 'x_pos', 'y' -> 'why'), "
        "so its 20 ended trials would all sit at one point of this space; the study starts "
        "without it")
    assert study.searcher.observations == 1 and study.settings["warm_start"] is None
    half = {"x": nbtune.uniform(0.0, 1.0), "y_new": nbtune.uniform(0.0, 1.0)}
    capsys.readouterr()
    nbtune.tune(lambda c: c["x"], half, warm_start=old, **opts)  # x is shared: it goes ahead
    assert ("nbtune: warm start from 'old': 20 of 20 ended trials; dropped dims 'y'; new dims "
            "'y_new' at their defaults (renamed? 'y' -> 'y_new')\n") in capsys.readouterr().out


def test_the_panel_and_the_summary_name_the_searcher_and_its_model(client, db, old):
    study = nbtune.tune(bowl, SMOOTH, searcher="bayesopt", searcher_options={"acquisition":
                                                                             "ucb"},
                        warm_start="old", n_trials=2, seed=3, cluster=client, storage=db,
                        study="new", progress=LivePanel)
    text = "bayesopt searcher (ucb), model of 22 trials, warm-started from 'old'"
    assert html.escape(text) in study.live.header.value
    assert text in str(study.summary()) and html.escape(text) in study.summary()._repr_html_()
    loaded = nbtune.load_study("new", storage=db)  # what it held at the end, from storage
    assert loaded.searcher is None and searcher_text(loaded) == text
    assert searcher_text(old) == "random searcher"


def test_simulate_takes_a_warm_start(tmp_path):
    old = nbtune.simulate("digits-mlp", n_trials=12, seed=0, n_workers=2)
    new = nbtune.simulate("digits-mlp", searcher="bayesopt", searcher_options={"n_initial": 3},
                          warm_start=old, n_trials=2, seed=1, n_workers=1)
    # every trial of both studies is in the model, each at several of its epochs
    assert len(new.searcher._reports.trials) == 14 and len(new.trials) == 2
    assert new.searcher.observations > 14
    assert new.settings["warm_start"] == old.name
    expected = fed(new.space, old.trials, seed=1, mode=new.mode, n_initial=3,
                   resource=old.settings["resource"], metric=old.metric)
    expected.restrict(nbtune.sim.load_table("digits-mlp").configs)  # as simulate does
    assert new.trials[0].config == expected.suggest(0)
    empty = nbtune.Study("empty", old.space, old.metric, old.mode)
    with pytest.warns(UserWarning, match=r"^warm start from 'empty': no ended trials") as warned:
        nbtune.simulate("digits-mlp", warm_start=empty, n_trials=2, seed=1, n_workers=1)
    assert [w.filename for w in warned] == [__file__]  # the simulate() line, not nbtune's own


# -- the magic ------------------------------------------------------------------------------
CELL = "x = uniform(0.0, 1.0)\ny = uniform(0.0, 1.0)\nloss = (x - 0.3) ** 2 + (y - 0.7) ** 2\n"


def run(shell, line, cell=CELL):
    return shell.run_cell(f"%%tune {line}\n{cell}")


def test_the_magic_routes_searcher_options_and_the_warm_start(shell, db, capsys):
    line = ("--trials 3 --metric loss --seed 2 --searcher bayesopt --searcher-option "
            "acquisition=ucb --searcher-option kappa=3 --study a")
    assert run(shell, line).success
    stored = nbtune.load_study("a", storage=db).settings["searcher_options"]
    assert (stored["acquisition"], stored["kappa"]) == ("ucb", 3)
    capsys.readouterr()
    assert run(shell, "--trials 1 --metric loss --searcher bayesopt --warm-start a "
                      "--study b").success
    assert "nbtune: warm start from 'a': 3 of 3 ended trials" in capsys.readouterr().out
    study = shell.user_ns["study"]
    assert study.searcher.observations == 4 and study.settings["warm_start"] == "a"
    assert run(shell, "--study b --resume").success  # replayed again, from the stored settings
    assert "warm start from 'a': 3 of 3" in capsys.readouterr().out
    assert shell.user_ns["study"].searcher.observations == 4


def test_warm_start_takes_the_study_a_notebook_variable_holds(shell, db, capsys):
    """``-o first`` then ``--warm-start first`` was refused: "no study named 'first'" (the study
    bound to ``first`` had another name; first-day test, round 9)."""
    assert run(shell, "--trials 3 --metric loss --seed 2 --searcher bayesopt -o first").success
    named = shell.user_ns["first"].name
    assert named != "first"
    capsys.readouterr()
    assert run(shell, "--trials 1 --metric loss --searcher bayesopt --warm-start first "
                      "--study second").success
    assert f"nbtune: warm start from {named!r}: 3 of 3 ended trials" in capsys.readouterr().out
    assert shell.user_ns["study"].settings["warm_start"] == named
    # a stored study of that name too: the variable's is taken, and that is said (round 64)
    assert run(shell, "--trials 2 --metric loss --seed 4 --study first").success
    shell.user_ns["first"] = nbtune.load_study(named, storage=db)
    with pytest.warns(UserWarning) as said:
        assert run(shell, "--trials 1 --metric loss --searcher bayesopt --warm-start first "
                          "--study third").success
    assert f"--warm-start first: the notebook variable first holds study {named!r}, which is " \
           "taken; the stored study 'first' is another (del first, or bind the variable to " \
           "another name, to take it)" in [str(w.message) for w in said]
    assert shell.user_ns["study"].settings["warm_start"] == named


@pytest.mark.parametrize("line, message", [
    ("--searcher bayesopt --searcher-option kapa=3",
     "searcher 'bayesopt' has no option 'kapa' (did you mean 'kappa'?) (its options: "
     "acquisition, cost_aware, kappa, max_points, n_initial, random_fraction, random_when, "
     "reach, refit_every, resource_kernel, warp, xi)"),
    ("--searcher bayesopt --searcher-option kappa",
     "--searcher-option needs NAME=VALUE, e.g. acquisition=ucb or kappa=3, got 'kappa'"),
    ("--searcher bayesopt --searcher-option kappa=1 --searcher-option kappa=2",
     "--searcher-option kappa is given twice (1 and 2): give it once"),
    ("--searcher bayesopt --warm-start nope", "warm start: no study named 'nope' in"),
])
def test_wrong_searcher_flags_are_one_line(shell, db, capsys, line, message):
    res = run(shell, "--metric loss --trials 1 " + line)
    assert not res.success
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert nbtune.list_studies(db) == []


def test_a_resumed_study_keeps_its_searcher_options(shell, db, capsys):
    assert run(shell, "--trials 1 --metric loss --searcher bayesopt --searcher-option "
                      "acquisition=ucb --study c").success
    capsys.readouterr()
    assert not run(shell, "--study c --resume --searcher-option acquisition=poi").success
    err = capsys.readouterr().err
    assert ("study 'c' was run with --searcher-option acquisition=ucb, not --searcher-option "
            "acquisition=poi") in err, err


def test_counts_of_trials_outside_per_hyperparameter_say_when_a_trial_is_under_two():
    """"17 trials outside the new space (hidden: 9, lr: 9)" read as a miscount (first-day test,
    round 22): one trial was outside on both."""
    from nbtune.warm import _per_name

    assert _per_name({"hidden": 9, "lr": 9}, 17) == "hidden: 9, lr: 9; some under more than one"
    assert _per_name({"hidden": 9, "lr": 8}, 17) == "hidden: 9, lr: 8"


def test_a_warm_start_typo_of_a_notebook_study_without_a_file_is_named_as_a_typo(shell, capsys):
    """--warm-start boo (the notebook holds bo) with --storage none read "names a stored study,
    but this study keeps no storage file", as if the storage were the mistake (round 62)."""
    assert run(shell, "--trials 2 --metric loss --seed 2 --storage none -o bo").success
    capsys.readouterr()
    result = run(shell, "--trials 1 --metric loss --searcher bayesopt --warm-start boo "
                        "--storage none")
    assert not result.success
    out = capsys.readouterr()
    said = out.err + out.out + repr(result.error_in_exec)
    assert "UsageError: %%tune: --warm-start boo: the notebook holds no Study named 'boo' (did " \
           "you mean 'bo'?), and with no storage file there is no stored study to look for " \
           "either" in said, said
    assert run(shell, "--trials 1 --metric loss --searcher bayesopt --warm-start bo "
                      "--storage none").success


def test_searcher_option_values_take_true_false_and_a_fraction_as_typed():
    """--searcher-option cost_aware=true and random_fraction=1/3 (the README's own value) were
    refused as strings (first-day test, round 64)."""
    from nbtune.notebook.options import build_parser, searcher_options_of

    args = build_parser().parse_args(
        ["--searcher-option", "cost_aware=true", "--searcher-option", "random_fraction=1/3",
         "--searcher-option", "warp=none", "--searcher-option", "kappa=3",
         "--searcher-option", "reach=FALSE"])
    assert searcher_options_of(args) == {"cost_aware": True, "random_fraction": 1 / 3,
                                         "warp": "none", "kappa": 3, "reach": False}
