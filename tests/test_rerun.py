"""Running a %%tune cell again, through a real InteractiveShell on a real LocalCluster: a stored
study needs --resume (its stored settings; flags given again agree), --study NEW or --replace."""
from __future__ import annotations

import re

import pytest

import nbtune

CELL = "x = uniform(0, 1)\nimport time\ntime.sleep(0.05)\naccuracy = 1 - x\n"
FIRST = "--study mlp --trials 4 --metric accuracy --mode max --seed 5"


def run(shell, line, cell=CELL):
    return shell.run_cell(f"%%tune {line}\n{cell}")


def error_of(shell, capsys, line, cell=CELL) -> str:
    """The one line a failing cell shows."""
    capsys.readouterr()
    res = run(shell, line, cell)
    assert not res.success
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def mlp(shell, db):
    """The shell, with study 'mlp' of 4 trials stored."""
    assert run(shell, FIRST).success
    assert len(nbtune.load_study("mlp", storage=db).completed) == 4
    return shell


def test_running_the_cell_again_says_what_to_do_in_the_magics_words(mlp, db, capsys):
    from IPython.utils.capture import capture_output

    with capture_output(stdout=False, stderr=False) as shown:
        line = error_of(mlp, capsys, FIRST, CELL + "# another cell\n")
    assert line == (f"UsageError: %%tune: a study named 'mlp' already exists in {db!r} (its "
                    "summary is above): add --resume to continue it, use --study NEW for a fresh "
                    "one, or --replace to delete it and start again")
    # the same cell again, minutes later: Ctrl+Enter pressed twice cleared the first run's
    # output, and the second said only "already exists" (first-day test, round 41)
    again = error_of(mlp, capsys, FIRST)
    assert re.fullmatch(r"UsageError: %%tune: a study named 'mlp' already exists in .* \(this "
                        r"cell ran it in this kernel, ending at \d\d:\d\d:\d\d; running the "
                        r"cell again cleared that run's output \(its summary is above\)\): add "
                        r"--resume to continue it, .*", again), again
    run(mlp, FIRST + " --resume")  # a line of its own: news, not a second press
    assert "this cell ran it" not in capsys.readouterr().out
    run(mlp, FIRST + " --resume")
    assert re.search(r"nbtune: study 'mlp': this cell ran it in this kernel, ending at ",
                     capsys.readouterr().out)
    assert "resume=True" not in line
    assert len(nbtune.load_study("mlp", storage=db).trials) == 4
    # the cell keeps the study's record: JupyterLab clears a cell's outputs when it runs, and
    # the refusal was all that was left of the study there (first-day test, round 22)
    (summary,) = shown.outputs
    assert "nbtune study <code>mlp</code>" in summary.data["text/html"]
    assert "4 completed" in summary.data["text/plain"]


def test_resume_takes_metric_mode_and_budget_from_the_study(mlp, db, capsys):
    configs = [t.config for t in nbtune.load_study("mlp", storage=db).trials]
    assert run(mlp, "--study mlp --resume").success  # no --metric, no --mode, no --trials
    study = mlp.user_ns["study"]
    assert (study.metric, study.mode, len(study.trials)) == ("accuracy", "max", 4)
    assert [t.config for t in study.trials] == configs
    assert run(mlp, FIRST + " --resume").success  # the same flags again agree


def test_resume_with_more_trials_runs_the_study_on_to_them(mlp, db):
    first = [t.config for t in nbtune.load_study("mlp", storage=db).trials]
    assert run(mlp, "--study mlp --resume --trials 6").success
    study = nbtune.load_study("mlp", storage=db)
    assert len(study.completed) == 6 and [t.config for t in study.trials[:4]] == first
    assert study.settings["n_trials"] == 6  # the study's budget now, for its next resume


@pytest.mark.parametrize("flags, said", [
    ("--metric loss", "was run with --metric accuracy, not --metric loss: leave --metric out"),
    ("--mode min", "was run with --mode max, not --mode min: leave --mode out"),
    ("--seed 1", "was run with --seed 5, not --seed 1"),
    ("--scheduler asha --max-t 9", "was run with --scheduler fifo, not --scheduler asha"),
    ("--grace-period 2", "was run without --grace-period, not --grace-period 2"),
    ("--resource step", "was run with --resource epoch, not --resource step"),
    ("--gpus 1", "was run without --gpus/--resources, not --gpus 1: leave --gpus/--resources out"),
    ("--resources MEM=2", "was run without --gpus/--resources, not --resources MEM=2"),
])
def test_a_flag_that_disagrees_with_the_study_is_one_line_naming_both(mlp, db, capsys, flags,
                                                                      said):
    line = error_of(mlp, capsys, f"--study mlp --resume {flags}")
    assert line.startswith("UsageError: %%tune: study 'mlp' ") and said in line, line
    assert line.endswith("or start a new study with --study NEW (or --replace to run this one "
                         "again from the start)")
    assert len(nbtune.load_study("mlp", storage=db).trials) == 4


def test_replace_deletes_the_study_and_starts_it_again(mlp, db, capsys):
    assert run(mlp, "--study mlp --replace --trials 2 --metric loss",
               "x = uniform(5, 6)\nloss = x\n").success
    stored = nbtune.load_study("mlp", storage=db)
    assert (stored.metric, stored.mode, len(stored.trials)) == ("loss", "min", 2)
    assert all(5 <= t.config["x"] <= 6 for t in stored.trials)
    assert nbtune.list_studies(db) == ["mlp"]


@pytest.mark.parametrize("line, said", [
    ("--resume --trials 4 --metric accuracy", "--resume needs the study's name: add --study NAME"),
    ("--replace --metric accuracy", "--replace needs the study's name: add --study NAME"),
    ("--study mlp --resume --replace", "give one of the two"),
])
def test_resume_and_replace_need_a_name_and_exclude_each_other(mlp, db, capsys, line, said):
    assert said in error_of(mlp, capsys, line)
    assert nbtune.list_studies(db) == ["mlp"]


def test_a_resume_of_a_name_the_file_lacks_says_so(mlp, db, capsys):
    """``--study lnog --resume``, a typo: it blamed the metric, or started a new study with
    other settings without a word (first-day tests, rounds 19 and 20). A name one typo from a
    stored study's is refused; any other still starts (the README's "run or resume"), saying
    so."""
    line = error_of(mlp, capsys, "--study abc --resume")  # no --metric: the stored one's
    assert line == (f"UsageError: %%tune: no study 'abc' in {db!r} to resume (studies there: "
                    "'mlp'); as a new study, the cell never sets 'value' (it assigns accuracy, "
                    "time): assign it in the body (`value = ...`), call report(value=...), "
                    "or pass --metric NAME")
    line = error_of(mlp, capsys, "--study mlo --resume --trials 2 --metric accuracy --mode max")
    assert line == (f"UsageError: %%tune: no study 'mlo' in {db!r} to resume (did you mean "
                    "'mlp'?): give that name, or leave out --resume to start a new study 'mlo'")
    assert run(mlp, "--study fresh --resume --trials 2 --metric accuracy --mode max").success
    assert (f"nbtune: study 'fresh' starts as a new study in {db!r}: none of that name there "
            "to resume yet; studies there: 'mlp'\n") in capsys.readouterr().out
    assert nbtune.list_studies(db) == ["mlp", "fresh"]
    with pytest.raises(ValueError, match=r"^no study 'mlo' in .* to resume \(did you mean "
                                         r"'mlp'\?\): give that name, or leave out resume=True "):
        nbtune.tune(lambda c: c["x"], {"x": nbtune.uniform(0, 1)}, n_trials=1, storage=db,
                    study="mlo", resume=True, progress=False)
    assert nbtune.list_studies(db) == ["mlp", "fresh"]


def test_the_editors_run_keeps_the_last_output_when_the_study_cannot_start(shell, db):
    ed = shell.run_cell(f"%%tune --edit {FIRST}\n{CELL}").result
    assert ed.run() is not None  # the first Run starts it
    ed.output.append_stdout("the previous run's panel\n")
    assert ed.run() is None  # the second: the study exists
    assert "already exists" in ed.status.value and "--resume" in ed.status.value
    assert ed.output.outputs == ({"output_type": "stream", "name": "stdout",
                                  "text": "the previous run's panel\n"},)
    assert len(nbtune.load_study("mlp", storage=db).trials) == 4


def test_the_editors_run_clears_the_last_output_once_the_study_starts(shell, db):
    ed = shell.run_cell(f"%%tune --edit {FIRST.replace('mlp', 'fresh')}\n{CELL}").result
    ed.output.append_stdout("the previous run's panel\n")
    assert ed.run() is not None
    assert "the previous run's panel" not in str(ed.output.outputs)


def test_the_resume_cell_carries_the_flags_as_a_person_writes_them():
    """It printed `--gpus 1.0` (first-day test, round 13); flags not stored with the study go
    with it, the fail-fast choice too."""
    from nbtune.notebook.options import parse_line
    from nbtune.notebook.rerun import resume_cell

    args = parse_line("--study g --gpus 1 --concurrency 2 --no-fail-fast -o g")
    assert resume_cell(args, "g", "x = uniform(0, 1)\nv = x\n") == (
        "%%tune --study g --resume -o g --concurrency 2 --gpus 1 --no-fail-fast\n"
        "x = uniform(0, 1)\nv = x")
