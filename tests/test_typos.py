"""Typos get named: a misspelt primitive on any line of a %%tune cell, a misspelt flag, scheduler,
searcher or ``%config Tune`` option is one line naming it and the word it is closest to. Driven
through a real InteractiveShell."""
from __future__ import annotations

import logging

import pytest

import nbtune
from nbtune.notebook.cell import PRIMITIVES, parse_cell
from nbtune.typos import one_typo

TYPOS = [("loguniformm(1e-6, 1e-2)", "loguniformm", "loguniform"),
         ("logunifrom(1e-6, 1e-2)", "logunifrom", "loguniform"),
         ("unifrom(0, 1)", "unifrom", "uniform"),
         ("uniform_(0, 1)", "uniform_", "uniform"),
         ("quniforn(0, 10, 1)", "quniforn", "quniform"),
         ("randit(1, 5)", "randit", "randint"),
         ("lograndnt(1, 64)", "lograndnt", "lograndint"),
         ("choise(1, 2)", "choise", "choice"),
         ("choices(1, 2)", "choices", "choice"),
         ("gird(1, 2)", "gird", "grid"),
         ("linspce(0, 1, 3)", "linspce", "linspace"),
         ("logspce(-3, 0, 4)", "logspce", "logspace"),
         ("fixd(3)", "fixd", "fixed"),
         ("nbtune.unifrom(0, 1)", "nbtune.unifrom", "nbtune.uniform")]

# where the misspelt line is, as (cell lines before it, cell lines after it)
PLACES = {"only line": ([], []),
          "first": ([], ["beta = uniform(0, 1)", "value = alpha * beta"]),
          "middle": (["beta = uniform(0, 1)"], ["value = alpha * beta"]),
          "last": (["beta = uniform(0, 1)", "value = beta"], [])}


def errors(shell, capsys, code: str) -> list[str]:
    capsys.readouterr()
    res = shell.run_cell(code)
    assert not res.success
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return [ln for ln in err.splitlines() if ln.strip()]


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("call, typo, meant", TYPOS, ids=[t[1] for t in TYPOS])
def test_a_misspelt_primitive_is_named_on_any_line(shell, db, capsys, call, typo, meant, place):
    before, after = PLACES[place]
    lines = [*before, f"alpha = {call}", *after]
    shell.run_cell("import nbtune")
    shown = errors(shell, capsys, "%%tune --metric value\n" + "\n".join(lines))
    n = len(before) + 2  # line 1 is the %%tune line
    assert shown == [f"UsageError: %%tune: line {n}: unknown space primitive {typo!r} "
                     f"(did you mean {meant!r}?)"]
    assert nbtune.list_studies(db) == []


def test_a_function_of_the_notebook_is_trial_code_even_near_a_primitive(shell, db):
    shell.run_cell("def make_model(n):\n    return n\ndef choise(a, b):\n    return a\n")
    res = shell.run_cell("%%tune --trials 2\nx = uniform(0, 1)\nmodel = make_model(3)\n"
                         "pick = choise(1, 2)\nvalue = x * model * pick\n")
    assert res.success, res.error_in_exec
    assert list(shell.user_ns["study"].space) == ["x"]


def test_a_name_the_cell_itself_defines_is_its_own():
    p = parse_cell("x = uniform(0, 1)\ndef randn(n):\n    return n\ny = randn(2)\nv = x * y\n",
                   defined={})
    assert p.names == ["x"] and "y" in p.assigned


def test_only_names_close_to_a_primitive_are_typos():
    body = "".join(f"v{i} = {name}(1)\n" for i, name in enumerate(
        ["make_model", "train", "print", "sorted", "load_data", "fit", "evaluate"]))
    p = parse_cell("x = uniform(0, 1)\n" + body, defined={"make_model", "train", "load_data",
                                                          "fit", "evaluate"})
    assert p.names == ["x"]
    for name in PRIMITIVES:  # a primitive is never its own typo
        assert parse_cell(f"x = {name}(1, 2)\nv = x\n".replace("(1, 2)", {
            "linspace": "(0, 1, 3)", "logspace": "(1, 10, 3)", "quniform": "(0, 1, 1)",
            "fixed": "(1)"}.get(name, "(1, 2)")), defined={}).names == ["x"]


@pytest.mark.parametrize("line, said", [
    ("--trails 4", "%%tune: unknown option '--trails' (did you mean '--trials'?)"),
    ("--metrc value", "%%tune: unknown option '--metrc' (did you mean '--metric'?)"),
    ("--trials abc", "%%tune: --trials needs a positive integer, got 'abc'"),
    ("--trials", "%%tune: --trials needs a value"),
    ("--mode maxx", "%%tune: --mode needs one of min, max, got 'maxx' (did you mean 'max'?)"),
    ("--scheduler ashaa", "%%tune: unknown scheduler 'ashaa' (did you mean 'asha'?): "
     "--scheduler takes asha, fifo, hyperband, median, percentile"),
    ("--scheduler hyperbnd", "unknown scheduler 'hyperbnd' (did you mean 'hyperband'?)"),
    ("--searcher randm", "%%tune: unknown searcher 'randm' (did you mean 'random'?): "
     "--searcher takes bayesopt, grid, kde, optuna, random, tpe"),
    # a stray word is not an "unknown option 'minutes'" (first-day test, round 8)
    ("--max-time 5 minutes", "%%tune: unexpected 'minutes' after `--max-time 5`: each option "
     "takes one value, in one word (--max-time 5m, 90s or 1h; quote a value with spaces)"),
    ("fast --trials 3", "%%tune: unexpected 'fast': the line takes options, each --flag VALUE "
     "(see %%tune? for them)"),
])
def test_a_misspelt_flag_or_name_is_one_line_with_the_closest(shell, db, capsys, line, said):
    shown = errors(shell, capsys, f"%%tune {line}\nx = uniform(0, 1)\nvalue = x\n")
    assert shown == [f"UsageError: {said}"] if said.startswith("%%") else said in shown[0]
    assert len(shown) == 1
    assert nbtune.list_studies(db) == []


def test_a_misspelt_config_option_is_named_and_sets_nothing(shell, caplog, capsys):
    caplog.set_level(logging.ERROR)
    capsys.readouterr()
    shell.run_line_magic("config", "Tune.trails = 40")
    said = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(said) == 1 and said[0].startswith(
        "UsageError: %config: Tune has no option 'trails' (did you mean 'trials'?); its "
        "options are "), said
    assert not caplog.records  # IPython's %config logs what it is raised as "ERROR:root:..."
    assert shell.run_line_magic("config", "Tune.trials") == 0
    assert "trails" not in shell.config.get("Tune", {})  # a later %load_ext is not told again


def test_a_config_value_of_the_wrong_type_is_one_line_and_sets_nothing(shell, caplog, capsys):
    """It was logged as ``ERROR:root:The 'trials' trait of a Tune instance expected an int, not
    the str 'many'.`` (first-day test, round 8)."""
    caplog.set_level(logging.ERROR)
    capsys.readouterr()
    shell.run_line_magic("config", 'Tune.trials = "many"')
    said = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert said == ["UsageError: %config: The 'trials' trait of a Tune instance expected an "
                    "int, not the str 'many'. Unchanged: Tune.trials = 0."], said
    assert not caplog.records
    assert shell.run_line_magic("config", "Tune.trials") == 0
    assert "trials" not in shell.config.get("Tune", {})  # a later %load_ext is not told again


def test_the_registries_name_the_closest_scheduler_and_searcher():
    from nbtune.schedule import make_scheduler
    from nbtune.search import make_searcher

    with pytest.raises(ValueError, match=r"unknown scheduler 'mediam' \(did you mean 'median'"):
        make_scheduler("mediam")
    with pytest.raises(ValueError, match=r"unknown searcher 'gridd' \(did you mean 'grid'"):
        make_searcher("gridd", {"x": nbtune.uniform(0, 1)})


@pytest.mark.parametrize("word, known, typo", [
    ("mpl", "mlp", True),  # two neighbours swapped
    ("ws-odl", "ws-old", True),
    ("mlpx", "mlp", False),  # an end added: a new name, as space-2 or slowkill are
    ("mlpp", "mlp", True),  # a key pressed twice
    ("mllp", "mlp", True),  # a letter added inside
    ("mp", "mlp", False),  # too short to tell
    ("resnet", "resnrt", True),  # e and r side by side
    ("resnet", "resnat", False),  # e and a are not: another word, more likely
    ("cnn", "rnn", False),  # a new model (check round 40)
    ("mlo", "mlp", True),
    ("nightly-2026-12-06", "nightly-2026-12-05", False),  # a date
    ("model_v2", "model_v1", False),  # a version
    ("twin2", "twin", False), ("k9x", "k9", False), ("space-2", "space", False),
    ("slowkill", "slow", False), ("partfail", "allfail", False), ("somefail2", "somefail", False),
    ("run-a", "run_a", False),  # a separator changed: a name of its own
    ("mlp", "mlp", False),
    # a two-letter name: only a letter typed twice (`lrr` beside the notebook's `lr` trained
    # every trial with its value: first-day test, round 62)
    ("lrr", "lr", True), ("llr", "lr", True), ("lrs", "lr", False), ("lt", "lr", False),
    ("rl", "lr", False), ("l2", "lr", False),
])
def test_one_typo_is_a_slip_of_a_key_not_a_new_date_version_or_suffix(word, known, typo):
    """A nightly job that resumes "nightly-DATE" each night was refused on its second night,
    the new date taken for a typo of the last (first-day test, round 39)."""
    assert one_typo(word, known) is typo
    assert one_typo(known, word) is typo
