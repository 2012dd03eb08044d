"""The %%tune magic driven through a real IPython InteractiveShell on a real LocalCluster."""
from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest

import nbtune
from nbtune.run.resources import worker_info
from nbtune.run.hints import UNBOUND_REPORT
from nbtune import trial as T
from nbtune.notebook.trialfn import cell_filename
from waiting import wait_for


def run(shell, line, cell):
    """Run a %%tune cell; returns the ExecutionResult."""
    return shell.run_cell(f"%%tune {line}\n{cell}")


CELL = """\
x = uniform(-2.0, 2.0)
k = choice(0, 1, 2)

loss = (x - offset) ** 2 + k
"""

# a hand-written K-fold loop that reports once per fold
FOLDS = """\
x = uniform(0, 1)
for k in range(5):
    report(fold=k + 1, auc=x)
"""


def test_cell_becomes_a_study_bound_in_the_notebook(shell, db, capsys):
    shell.user_ns["offset"] = 0.5
    res = run(shell, "--trials 8 --metric loss --mode min --seed 1 --study quad", CELL)
    assert res.success, res.error_in_exec
    study = shell.user_ns["study"]
    assert isinstance(study, nbtune.Study) and len(study.completed) == 8
    for t in study.trials:
        assert t.value == pytest.approx((t.config["x"] - 0.5) ** 2 + t.config["k"])
    assert "best loss" in capsys.readouterr().out
    assert nbtune.load_study("quad", storage=db).best.id == study.best.id


def test_load_study_and_its_kin_read_the_file_tune_storage_names(shell, client, db, tmp_path,
                                                                   monkeypatch):
    """``%config Tune.storage = 'runs.db'``, a study run, then ``nbtune.load_study('quad')``
    looked in nbtune.db (first-day test, round 4; a hint named the file beside). nbtune.tune
    in the same notebook keeps its studies there too."""
    monkeypatch.chdir(tmp_path)  # no nbtune.db here: the default file is the configured one
    shell.user_ns["offset"] = 0.5
    res = run(shell, "--trials 3 --metric loss --mode min --seed 1 --study quad", CELL)
    assert res.success, res.error_in_exec
    assert nbtune.load_study("quad").best.id == shell.user_ns["study"].best.id
    nbtune.tune(lambda c: c["x"], {"x": nbtune.uniform(0, 1)}, n_trials=2, study="py",
                cluster=client, progress=False)
    assert nbtune.list_studies() == ["quad", "py"] and nbtune.list_studies(db) == ["quad", "py"]
    nbtune.delete_study("quad")
    assert nbtune.list_studies(db) == ["py"]
    nbtune.tune(lambda c: c["x"], {"x": nbtune.uniform(0, 1)}, n_trials=2, study="mine",
                cluster=client, progress=False, storage="nbtune.db")  # a file given: that one
    assert nbtune.list_studies("nbtune.db") == ["mine"]
    os.remove("nbtune.db")
    shell.run_line_magic("config", "Tune.storage = 'none'")  # memory only: nbtune.db again
    assert nbtune.paths.default_file() == "nbtune.db" and nbtune.list_studies() == []
    with pytest.raises(FileNotFoundError, match="no study storage at 'nbtune.db'"):
        nbtune.load_study("quad")
    shell.run_line_magic("config", f"Tune.storage = {db!r}")
    assert nbtune.paths.default_file() == db


def test_a_failed_trial_points_at_the_cell_of_a_helper_it_called(shell, client):
    """A helper defined in another cell read ``File "<dynamic-code>", line 3, in score`` in a
    failed trial's traceback, with no code and a line counted from the function's start:
    cloudpickle renames what it carries by value (first-day test, round 8)."""
    helper = "import numpy as np\n\ndef score(a, b):\n    return a[0] + b\n"
    assert shell.run_cell(helper, store_history=True).success
    defined = shell.execution_count - 1  # the In[N] of that cell
    res = shell.run_cell("%%tune --trials 1 --metric loss --study helper\n"
                         "x = uniform(0, 1)\nloss = score(1, x)\n", store_history=True)
    assert isinstance(res.error_in_exec, nbtune.NoTrialCompleted), res.error_in_exec
    error = shell.user_ns["study"].trials[0].error
    assert f"  Cell In[{defined}], line 4, in score\n    return a[0] + b\n" in error, error
    assert "<dynamic-code>" not in error and error.endswith(
        "TypeError: 'int' object is not subscriptable\n")
    # nbtune.tune with a function of the notebook: the same
    assert shell.run_cell("import nbtune\ndef train(c):\n    return c['y']\n",
                          store_history=True).success
    defined = shell.execution_count - 1
    study = nbtune.tune(shell.user_ns["train"], {"x": nbtune.uniform(0, 1)}, n_trials=1,
                        cluster=client, storage=None, progress=False)
    assert f"  Cell In[{defined}], line 3, in train\n    return c['y']\n" in \
        study.trials[0].error, study.trials[0].error


def test_a_metric_the_cell_left_unset_or_not_a_number_is_said_in_a_cells_words(shell):
    """The trials failed with the words of a function: "... return it, return a dict with it,
    or call report(loss=...)" and "the trial function returned a ndarray", where the cell
    returns nothing and had assigned an array (first-day test, round 8)."""
    shell.user_ns["np"] = np
    res = run(shell, "--trials 2 --metric loss --study unset",
              "x = uniform(0, 1)\nif x > 2:\n    loss = x\n")
    assert isinstance(res.error_in_exec, nbtune.NoTrialCompleted), res.error_in_exec
    assert {t.error for t in shell.user_ns["study"].trials} == {
        "the cell never set 'loss' in this trial: the line that sets it did not run (an if, a "
        "loop that ran no time, an early break); set loss on every path, or call "
        "report(loss=...)"}
    res = run(shell, "--trials 1 --metric loss --study array",
              "x = uniform(0, 1)\nloss = np.array([x, x])\n")
    assert isinstance(res.error_in_exec, nbtune.NoTrialCompleted), res.error_in_exec
    assert shell.user_ns["study"].trials[0].error == (  # cross_val_score's (round 41)
        "the cell left 'loss' as a ndarray of shape (2,), not a number: assign it a number "
        "(loss = cross_val_score(...).mean(), the folds' mean)")
    run(shell, "--trials 1 --metric loss --study rows",  # a value per row (round 65)
        "x = uniform(0, 1)\nloss = np.full(750, x)\n")
    assert shell.user_ns["study"].trials[0].error == (
        "the cell left 'loss' as a ndarray of shape (750,), not a number: assign it a number "
        "(one value per row: aggregate them, loss = float(np.mean(...)), or the scikit-learn "
        "metric of the whole set)")
    run(shell, "--trials 1 --metric loss --study matrix",
        "x = uniform(0, 1)\nloss = np.array([[x, x]])\n")
    assert shell.user_ns["study"].trials[0].error.endswith(
        "(loss = float(...), or .item() of a one-element array)")
    run(shell, "--trials 1 --metric loss --study none", "x = uniform(0, 1)\nloss = print(x)\n")
    assert shell.user_ns["study"].trials[0].error.startswith(  # "never reported" (round 41)
        "the cell left 'loss' as None, not a number: the line that sets it got None")
    # a report of the metric stands where the assignment did not run, as before
    res = run(shell, "--trials 1 --metric loss --study reported",
              "x = uniform(0, 1)\nreport(epoch=1, loss=x)\nif x > 2:\n    loss = x\n")
    trial = shell.user_ns["study"].trials[0]
    assert res.success and trial.state == T.COMPLETED and trial.value == trial.config["x"]


def test_report_in_the_body_and_the_output_name(shell):
    cell = """\
lr = loguniform(1e-3, 1.0)
for epoch in range(1, 4):
    report(epoch=epoch, score=lr * epoch)
"""
    res = run(shell, "-n 4 --metric score --mode max -o best", cell)
    assert res.success, res.error_in_exec
    study = shell.user_ns["best"]
    assert all([r["epoch"] for r in t.reports] == [1, 2, 3] for t in study.trials)
    assert all(t.value == pytest.approx(3 * t.config["lr"]) for t in study.trials)


def test_apply_binds_the_best_values(shell):
    res = run(shell, "-n 6 --metric loss --apply --seed 0",
              "x = uniform(0, 1)\nhidden = choice(8, 16)\nloss = (x - 0.2) ** 2 + hidden")
    assert res.success, res.error_in_exec
    best = shell.user_ns["study"].best
    assert shell.user_ns["x"] == best.config["x"] and shell.user_ns["hidden"] == 8


def test_apply_keeps_a_minimised_scores_best_out_of_the_notebook(shell, capsys):
    """--apply with --mode left out put the worst C into the notebook after the warning that
    accuracy was minimised (first-day test, round 41); an explicit --mode min applies."""
    shell.user_ns.pop("x", None)
    with pytest.warns(nbtune.NbtuneWarning, match="minimising 'accuracy'"):
        res = run(shell, "-n 4 --metric accuracy --apply --seed 0 --study upside",
                  "x = uniform(0, 1)\naccuracy = x")
    assert res.success, res.error_in_exec
    assert "x" not in shell.user_ns
    out = capsys.readouterr().out
    assert "nbtune: not applied: the study minimised 'accuracy' (mode='min' is the default), " \
           "so its best is the lowest accuracy; run it again with --mode max" in out, out
    res = run(shell, "-n 4 --metric accuracy --mode min --apply --seed 0 --study asked",
              "x = uniform(0, 1)\naccuracy = x")
    assert res.success and shell.user_ns["x"] == shell.user_ns["study"].best.config["x"]


def test_large_globals_are_scattered_and_small_ones_travel_with_the_trial(shell):
    shell.user_ns["table"] = np.arange(300_000, dtype=float)  # 2.4 MB > 1 MB threshold
    shell.user_ns["scale"] = 2.0
    shell.run_cell("def helper(v):\n    return v * scale")
    res = run(shell, "-n 4 --metric v --mode max",
              "i = randint(0, 299_999)\nv = helper(table[i])")
    assert res.success, res.error_in_exec
    for t in shell.user_ns["study"].trials:
        assert t.value == 2.0 * t.config["i"]


def test_traceback_points_at_the_cell_line(shell):
    cell = "x = uniform(0, 1)\n\ny = x * 2\nraise RuntimeError('diverged')\nloss = y\n"
    res = run(shell, "-n 2 --metric loss", cell)
    assert isinstance(res.error_in_exec, nbtune.NoTrialCompleted)
    (trial, _) = shell.user_ns["study"].trials
    assert trial.state == T.FAILED
    assert "line 5" in trial.error and "raise RuntimeError('diverged')" in trial.error
    assert "nbtune" not in trial.error


def test_a_warning_while_the_study_is_set_up_names_the_cell_not_nbtune_or_ipython(shell):
    cell = ("x = uniform(0, 1)\n"
            "for epoch in range(1, 10):\n    report(epoch=epoch, loss=x / epoch)\n")
    with pytest.warns(UserWarning, match="brackets start 17 trials, but n_trials=5") as warned:
        res = run(shell, "-n 5 --scheduler hyperband --max-t 9 --metric loss", cell)
    assert res.success, res.error_in_exec
    # this one, and the note that its paused trials resume with no checkpoint: all at %%tune's
    assert {(w.filename, w.lineno) for w in warned} == {(cell_filename(shell), 1)}


def test_more_trials_than_hyperbands_brackets_start_run_round_after_round(shell, recwarn):
    """--trials 20 ran 17 in silence: the brackets ended the study; then 17 and a warning
    (round 27: --trials 1000 ran 49); now a second round of brackets starts the other 3."""
    cell = ("x = uniform(0, 1)\n"
            "for epoch in range(1, 10):\n    report(epoch=epoch, loss=x / epoch)\n")
    res = run(shell, "-n 20 --scheduler hyperband --max-t 9 --metric loss --storage none",
              cell)
    assert res.success, res.error_in_exec
    study = shell.user_ns["study"]
    assert len(study.trials) == 20 and study.stop_reason == "n_trials"
    assert not [w for w in recwarn if "brackets" in str(w.message)]
    assert study.scheduler.rung_counts()[1] == 9 + 3  # bracket 0 of each round starts at 1


def test_a_background_studys_warning_names_the_cell_too(shell):
    cell = "x = uniform(0, 1)\nfor step in range(1, 4):\n    report(step=step, loss=x / step)\n"
    with pytest.warns(UserWarning, match="judges trials") as warned:  # given on the study's thread
        res = run(shell, "-n 3 --scheduler asha --resource step --max-t 2 --metric loss "
                  "--background", cell)  # past max_t
        assert res.success, res.error_in_exec
        shell.user_ns["study"].wait(60)
    assert [(w.filename, w.lineno) for w in warned] == [(cell_filename(shell), 1)]


def test_local_runs_the_body_once_here_with_defaults(shell, capsys, db):
    cell = "lr = loguniform(0.01, 1.0)\nreport(epoch=1, acc=lr)\nacc = lr * 2\n"
    res = run(shell, "--local --metric acc", cell)
    assert res.success, res.error_in_exec
    out = capsys.readouterr().out
    assert "lr=0.1" in out and "report: epoch=1, acc=0.1" in out and "acc = 0.2" in out
    assert nbtune.list_studies(db) == []
    # what the body bound stays to look at, as a cell's names do (round 41: `clf` was a
    # NameError after it), and those bound before a failure
    assert shell.user_ns["acc"] == pytest.approx(0.2) and shell.user_ns["lr"] == pytest.approx(0.1)
    res = run(shell, "--local --metric acc", "lr = loguniform(0.01, 1.0)\nx = lr\nacc = 1 / 0\n")
    assert not res.success and shell.user_ns["x"] == pytest.approx(0.1)
    shell.user_ns.pop("acc", None)


def test_local_shows_an_error_from_the_users_line_on_not_from_the_magics(shell, capsys):
    """Five frames of nbtune's magic came before the user's line (first-day test, round 11)."""
    import re

    shell.run_cell("import numpy as np")
    res = run(shell, "--local --metric loss",
              "lr = loguniform(0.01, 1.0)\nx = np.zeros(3) @ np.zeros(4)\nloss = 1.0\n")
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "".join(res.error_in_exec._render_traceback_()))
    assert shown.startswith("---") and f"File {cell_filename(shell)}:3" in shown, shown  # the cell's line 3
    assert "x = np.zeros(3) @ np.zeros(4)" in shown and "ValueError: matmul" in shown
    assert "magic.py" not in shown and "trialfn.py" not in shown, shown
    res = run(shell, "--local --metric loss", "lr = loguniform(0.01, 1.0)\nloss = np.zeros(3)\n")
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "".join(res.error_in_exec._render_traceback_()))
    assert "TrialFailed: the cell left 'loss' as a ndarray of shape (3,)" in shown
    assert "File " not in shown, shown  # nbtune's words: the message alone


def test_a_metric_reported_through_nbtune_report_is_a_metric_the_cell_sets(shell):
    shell.run_cell("import nbtune")
    cell = "x = uniform(0, 1)\nfor epoch in range(1, 4):\n    nbtune.report(epoch=epoch, score=x)\n"
    res = run(shell, "-n 3 --metric score --mode max", cell)
    assert res.success, res.error_in_exec
    assert [len(t.reports) for t in shell.user_ns["study"].trials] == [3, 3, 3]


def test_the_trials_values_reach_the_notebooks_functions(shell):
    """A helper of an earlier cell that reads the global ``dropout`` built every trial's model
    with the notebook's 0.2, while the space line set the trial's value in the body alone, and
    the summary's best config named values no trial used (first-day test, round 50). In the
    notebook, ``dropout = 0.4`` then ``build()`` uses 0.4; a trial's code sees its values too,
    in a copy of its own: the notebook's values stay, and other names a helper reads keep the
    notebook's (``report``, ``checkpoint`` too)."""
    shell.run_cell("dropout = 0.2\nhidden = 32\nscale = 3\nreport = []\ncheckpoint = 'c.pt'\n"
                   "def build():\n    report.append(1)\n"
                   "    return dropout, hidden * scale, checkpoint, len(report)\n"
                   "def twice():\n    return build()\n"
                   "class Net:\n    def __init__(self):\n        self.p = dropout\n"
                   # through a decorator of a module's (torch.no_grad()'s shape), one of the
                   # notebook's, and functools.partial (check round 51)
                   "import contextlib, functools\n"
                   "class quiet(contextlib.ContextDecorator):\n"
                   "    def __enter__(self):\n        return self\n"
                   "    def __exit__(self, *exc):\n        return False\n"
                   "@quiet()\ndef evaluate():\n    return dropout\n"
                   "def timed(f):\n    @functools.wraps(f)\n    def w(*a, **k):\n"
                   "        return f(*a, **k)\n    return w\n"
                   "@timed\ndef measured():\n    return dropout\n"
                   "partly = functools.partial(lambda by: dropout * by, 1)\n"
                   # in a dict, as a default argument, under two decorators, and a name the
                   # space alone defines (check round 52)
                   "MODELS = {'mlp': build}\nNAMES = {build: 'mlp'}\n"
                   "def from_models():\n    return MODELS['mlp']()[0], len(MODELS)\n"
                   # what the body binds, and what a helper's global sets (check round 52)
                   "model = None\ncounter = 0\n"
                   "def size():\n    return len(model)\n"
                   "def count():\n    global counter\n    counter += 1\n"
                   "def train(make=twice):\n    return make()[0]\n"
                   "@quiet()\n@timed\ndef stacked():\n    return dropout + decay\n")
    res = run(shell, "-n 4 --metric used --storage none",
              "import nbtune\ndropout = uniform(0.3, 0.5)\nhidden = choice(16, 64)\n"
              "decay = uniform(0, 0.1)\n"
              "used, units, path, n = twice()\n"
              "nbtune.report(epoch=1, units=units, path=path, n=n, p=Net().p, ev=evaluate(),\n"
              "              me=measured(), pa=partly(), di=MODELS['mlp']()[0], de=train(),\n"
              "              st=stacked() - decay, fm=from_models()[0])\n"
              "MODELS['other'] = build\nassert from_models()[1] == 2  # one dict, as in a cell\n"
              "assert NAMES.get(build) == 'mlp'  # keyed by the function the body calls\n"
              "model = [0] * hidden\nassert size() == hidden\ncount()\ncount()\n"
              "assert counter == 2\n")
    assert res.success, res.error_in_exec
    for t in shell.user_ns["study"].trials:
        assert t.metrics["used"] == t.config["dropout"], t
        assert t.metrics["ev"] == t.metrics["me"] == t.metrics["pa"] == t.config["dropout"], t
        assert t.metrics["di"] == t.metrics["de"] == t.metrics["fm"] == t.config["dropout"], t
        assert t.metrics["st"] == pytest.approx(t.config["dropout"]), t
        assert t.metrics["units"] == 3 * t.config["hidden"], t
        assert (t.metrics["path"], t.metrics["n"]) == ("c.pt", 1), t
        assert t.metrics["p"] == t.config["dropout"], t  # a class's method too (round 53)
    assert (shell.user_ns["dropout"], shell.user_ns["hidden"], shell.user_ns["report"]) == (
        0.2, 32, [])  # the notebook's, as they were
    assert shell.user_ns["counter"] == 0 and shell.user_ns["model"] is None
    name = shell.user_ns["__name__"]  # --local runs in the kernel: its namespace is the cell's
    res = run(shell, "--local --metric used",
              "dropout = uniform(0.3, 0.5)\nused = build()[0]\n")
    assert res.success and shell.user_ns["__name__"] == name, res.error_in_exec
    assert shell.user_ns["used"] == 0.4 == shell.user_ns["dropout"]  # the range's middle
    # a callback of another cell calling report by its bare name, as the body does: every
    # trial failed on "name 'report' is not defined" (round 50); a function's finds it, a
    # class's method too (round 53); under --local, in the notebook, a class's names
    # nbtune.report
    shell.run_cell("del report\n"
                   "def report_cb():\n    def cb(epoch, loss):\n"
                   "        report(epoch=epoch + 1, loss=loss)\n    return cb\n"
                   "class ReportCallback:\n    def on_epoch_end(self, epoch, loss):\n"
                   "        report(epoch=epoch + 1, loss=loss)\n"
                   "def fit(lr, callback):\n    for e in range(2):\n        callback(e, lr)\n")
    res = run(shell, "-n 2 --metric loss --storage none",
              "lr = uniform(0.1, 0.2)\nfit(lr, report_cb())\n")
    assert res.success, res.error_in_exec
    assert all(len(t.reports) == 2 for t in shell.user_ns["study"].trials)
    res = run(shell, "-n 2 --metric loss --storage none",
              "lr = uniform(0.1, 0.2)\nfit(lr, ReportCallback().on_epoch_end)\n")
    assert res.success, res.error_in_exec
    assert all(len(t.reports) == 2 for t in shell.user_ns["study"].trials)
    res = run(shell, "--local --metric loss",
              "lr = uniform(0.1, 0.2)\nfit(lr, ReportCallback().on_epoch_end)\n")
    assert f"nbtune: {UNBOUND_REPORT}" in getattr(res.error_in_exec, "__notes__", []), (
        res.error_in_exec)


def notes_of(shell, line, cell):
    """The warnings of a %%tune cell that ran its study (in memory), as their texts."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run(shell, f"{line} --storage none", cell)
    assert res.success, res.error_in_exec
    return [str(w.message) for w in caught]


def test_the_trials_values_reach_the_notebooks_classes_however_the_body_reaches_them(shell):
    """A notebook class reached through a factory, a dict of classes, a subclass, a nested dict
    or an object's attribute read the notebook's dropout in every trial, in silence (first-day
    test, round 53); each trial's copy of the notebook's code, classes included, holds its
    values, also two trials at once on a worker's two threads, and the notebook's class stays
    the notebook's (a trial run in the notebook's process had rewritten its methods)."""
    from distributed import Client, LocalCluster

    shell.run_cell("import time, types\ndropout = 0.2\n"
                   "class Net:\n    def __init__(self):\n        self.p = dropout\n"
                   "class Sub(Net):\n    pass\n"
                   "def build():\n    return Net()\n"
                   "NETS = {'net': Net}\nREGISTRY = {'models': {'net': build}}\n"
                   "PAIRS = [('net', build)]\ncfg = types.SimpleNamespace(build=build)\n"
                   "class Trainer:\n    def __init__(self, make):\n        self.make = make\n"
                   "    def model(self):\n        return self.make()\n"
                   "trainer = Trainer(build)\n"
                   "class Reporting:\n    def on_epoch_end(self, epoch):\n"
                   "        report(epoch=epoch, p=Net().p)\n"
                   "import enum\nclass Color(enum.Enum):\n    RED = 1\n"
                   "    def rate(self):\n        return dropout\n")
    original = shell.user_ns["Net"].__init__
    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                           dashboard_address=":0")
    shell.user_ns["two_threads"] = Client(cluster, set_as_default=False)
    try:
        assert shell.run_cell("%config Tune.cluster = two_threads").success
        res = run(shell, "-n 4 --metric p --storage none",
                  "dropout = uniform(0.3, 0.5)\ntime.sleep(0.5)  # two trials at once\n"
                  "p = build().p\nReporting().on_epoch_end(1)\n"
                  "seen = [NETS['net']().p, Sub().p, REGISTRY['models']['net']().p,\n"
                  "        dict(PAIRS)['net']().p, cfg.build().p, trainer.model().p,\n"
                  "        Color.RED.rate()]\n"
                  "assert seen == [dropout] * 7, seen\n")
        assert res.success, res.error_in_exec
        trials = shell.user_ns["study"].trials
        assert [t.state for t in trials] == ["completed"] * 4, [t.error for t in trials]
        for t in trials:
            assert t.value == t.reports[0]["p"] == t.config["dropout"], t
        assert any(a.started < b.finished and b.started < a.finished  # side by side
                   for a in trials for b in trials if a is not b)
    finally:
        shell.user_ns.pop("two_threads").close()
        cluster.close()
    assert shell.user_ns["Net"].__init__ is original and shell.user_ns["Net"]().p == 0.2
    assert shell.user_ns["Color"].RED.rate() == 0.2


def test_a_checkpoint_of_a_notebook_class_read_in_the_notebook_leaves_the_class_as_it_was(shell):
    """Reading study.best_checkpoint, which held a notebook Net, gave the notebook's Net the
    best trial's methods, on its globals: Net() read the best trial's dropout after it, and so
    did every trial of the next study (check round 54)."""
    shell.run_cell("dropout = 0.2\nclass Net:\n    def __init__(self):\n        self.p = dropout\n"
                   "    def rate(self):\n        return dropout\n")
    res = run(shell, "-n 2 --metric p --mode max --study kept-net",
              "dropout = uniform(0.3, 0.5)\nnet = Net()\n"
              "report(epoch=1, p=net.rate(), checkpoint={'net': net})\np = net.p\n")
    assert res.success, res.error_in_exec
    study, Net = shell.user_ns["study"], shell.user_ns["Net"]
    kept = study.best_checkpoint["net"]
    assert isinstance(kept, Net) and kept.p == study.best.config["dropout"] > 0.2
    assert Net().p == 0.2 and Net().rate() == 0.2 and kept.rate() == 0.2  # the notebook's own


def test_a_notebook_function_that_travels_by_name_is_named_with_the_fix(shell, capsys):
    """A helper under functools.lru_cache pickles by reference, and every trial failed on
    "Can't get attribute 'cached' on <module '__main__'>" alone (check round 51); it is named
    before any trial runs (check round 53), in the cell or reached through a helper."""
    shell.run_cell("import functools\n@functools.lru_cache\ndef cached(x):\n    return x\n"
                   "def helper(x):\n    return cached(x)\n")
    for body in ("loss = cached(lr)", "loss = helper(lr)"):
        shell.user_ns.pop("study", None)
        res = run(shell, "-n 1 --metric loss --storage none", f"lr = uniform(0.1, 0.2)\n{body}\n")
        assert not res.success and "study" not in shell.user_ns, body
        said = str(res.error_in_exec) + capsys.readouterr().err
        assert ("the notebook's cached travels to the workers by name (a functools.lru_cache "
                "or cache wrapper does), and their __main__ has no such name: define it in the "
                "%%tune cell, or leave the decorator out") in said, said
        assert "Traceback" not in said, said


def test_pickling_an_object_of_a_notebook_class_in_a_trial_says_what_to_save(shell):
    """pickle.dumps(model) or torch.save(model) of a notebook class's object fails in a trial
    (pickle names the class, which the worker has not, or not as the notebook's own where it
    runs in the notebook's process: check round 54); the failure says what to save instead."""
    shell.run_cell("class Box:\n    pass\n")
    res = run(shell, "-n 1 --metric v --storage none",
              "import pickle\nx = uniform(0, 1)\nv = len(pickle.dumps(Box())) * x\n")
    assert not res.success
    (trial,) = shell.user_ns["study"].trials
    assert trial.error.rstrip().endswith(
        "nbtune: an object of the notebook's class Box is pickled by the class's name, which a "
        "trial cannot give it: save its state instead (torch.save(model.state_dict(), path), "
        "or report(..., checkpoint=model) and study.best_checkpoint)"), trial.error


def test_a_body_that_saves_to_one_fixed_file_is_warned_of(shell, tmp_path):
    """torch.save(state, "best_model.pt") in every trial left the last trial's model there, not
    the best one's, in silence (first-day test, round 50); a path of the trial's own is not."""
    import pickle

    shell.user_ns.update(pickle=pickle, folder=str(tmp_path))
    shell.run_cell("def save(obj, path):\n    pass\n")
    said = notes_of(shell, "-n 2 --metric loss",
                    "lr = uniform(0.1, 0.2)\nloss = lr\nsave({'lr': lr}, 'best_model.pt')\n")
    assert [n for n in said if "writes" in n] == [
        "line 4: save(...) writes 'best_model.pt' from every trial; they run side by side, and "
        "the last to end leaves its file there, not the best trial's: give each trial its own, "
        "f\"best_model-{nbtune.trial_id()}.pt\", or report the state with checkpoint= and take "
        "study.best_checkpoint afterwards"]
    for body in ("save({'lr': lr}, f'runs/{nbtune.trial_id()}.pt')",
                 "text = 'model.save'", "pickle.dumps(lr)",
                 "if nbtune.trial_id() == 0:\n    save(lr, 'first.pt')",  # one trial's (51)
                 "tid = nbtune.trial_id()\nif tid == 0 and lr > 0:\n    save(lr, 'first.pt')",
                 "if nbtune.trial_id() != 0:\n    pass\nelse:\n    save(lr, 'first.pt')"):
        said = notes_of(shell, "-n 2 --metric loss",
                        f"lr = uniform(0.1, 0.2)\nloss = lr\nimport nbtune\n{body}\n")
        assert not [n for n in said if "writes" in n], body
    shell.run_cell("def keep(obj):\n    save(obj, 'kept.pt')\n"
                   "def keep_first(obj):\n    if nbtune.trial_id() == 0:\n"
                   "        save(obj, 'kept.pt')\n")
    said = notes_of(shell, "-n 2 --metric loss", "lr = uniform(0.1, 0.2)\nloss = lr\nkeep(lr)\n")
    assert [n for n in said if "writes" in n] == [  # in a helper of another cell (round 53)
        "keep(), which the cell calls: save(...) writes 'kept.pt' from every trial; they run "
        "side by side, and the last to end leaves its file there, not the best trial's: give "
        "each trial its own, f\"kept-{nbtune.trial_id()}.pt\", or report the state with "
        "checkpoint= and take study.best_checkpoint afterwards"]
    shell.user_ns["nbtune"] = nbtune
    said = notes_of(shell, "-n 2 --metric loss",
                    "lr = uniform(0.1, 0.2)\nloss = lr\nkeep_first(lr)\n")
    assert not [n for n in said if "writes" in n]
    for body in ("if lr > 0.15 or nbtune.trial_id() == 0:\n    save(lr, 'best.pt')",  # (52)
                 "if nbtune.trial_id() != 0:\n    save(lr, 'best.pt')"):  # all trials but one
        said = notes_of(shell, "-n 2 --metric loss",
                        f"lr = uniform(0.1, 0.2)\nloss = lr\nimport nbtune\n{body}\n")
        assert [n for n in said if "writes 'best.pt'" in n], body


def test_a_typo_of_a_notebook_value_is_refused_and_a_helper_that_reports_is_trusted(shell,
                                                                                  capsys):
    """A space line `learnig_rate` beside the notebook's `learning_rate` read by the body
    trained every trial with 0.05 (first-day test, round 46): refused, naming the value. A cell
    whose metric and resource a helper of another cell reports was refused as if it reported
    nothing (check round 47): it runs."""
    shell.run_cell("learning_rate = 0.05\nimport nbtune\n"
                   "def report_epoch(e, v):\n    nbtune.report(epoch=e, loss=v)\n")
    res = run(shell, "-n 2 --metric loss", "learnig_rate = loguniform(0.01, 0.3)\n"
              "loss = learning_rate\n")
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert not res.success and err == [
        "UsageError: %%tune: line 2: hyperparameter 'learnig_rate' is never read; the trial "
        "code reads 'learning_rate' from the notebook instead, so every trial would train with "
        "the notebook's learning_rate = 0.05: did you mean learning_rate = loguniform(0.01, "
        "0.3)?"], err
    # the shapes such code takes (check rounds 47 to 49): the helper, with the cell's own last
    # report too, a helper calling a helper, callbacks in a list or held by a trainer, decorated
    # helpers (whose wrapper reports, or not), a static method, report under another name,
    # partly applied, or renamed and passed around in the cell
    shell.run_cell(
        "import functools\nfrom nbtune import report as nb_report\n"
        "def train(lr):\n    for e in range(3):\n        report_epoch(e + 1, lr / (e + 1))\n"
        "class LossCallback:\n    def on_epoch_end(self, e, loss):\n"
        "        nbtune.report(epoch=e, loss=loss)\n"
        "callbacks = [LossCallback()]\n"
        "def timed(f):\n    @functools.wraps(f)\n    def w(*a, **k):\n"
        "        return f(*a, **k)\n    return w\n"
        "@timed\ndef evaluate(e, loss):\n    nbtune.report(epoch=e, loss=loss)\n"
        "def logged(f):\n    @functools.wraps(f)\n    def w(e, v):\n"
        "        nbtune.report(epoch=e, loss=v)\n        return f(e, v)\n    return w\n"
        "@logged\ndef step(e, v):\n    return v\n"
        "class Reporter:\n    @staticmethod\n    def log(e, loss):\n"
        "        nbtune.report(epoch=e, loss=loss)\n"
        "log = functools.partial(nbtune.report, model='mlp')\n"
        "class Trainer:\n    def __init__(self, callbacks):\n        self.callbacks = callbacks\n"
        "    def fit(self, lr):\n        for e in range(3):\n"
        "            for c in self.callbacks:\n                c.on_epoch_end(e + 1, lr)\n"
        "trainer = Trainer([LossCallback()])\n")
    loop = "for e in range(3):\n    "
    for body in (loop + "report_epoch(e + 1, lr / (e + 1))",
                 loop + "report_epoch(e + 1, lr / (e + 1))\nreport(final_loss=lr, loss=lr)",
                 "train(lr)", loop + "callbacks[0].on_epoch_end(e + 1, lr)",
                 loop + "evaluate(e + 1, lr)", loop + "step(e + 1, lr)",
                 loop + "Reporter.log(e + 1, lr)", loop + "nb_report(epoch=e + 1, loss=lr)",
                 loop + "log(epoch=e + 1, loss=lr)",
                 "from nbtune import report as r\n" + loop + "r(epoch=e + 1, loss=lr)",
                 "log_fn = report\n" + loop + "log_fn(epoch=e + 1, loss=lr)", "trainer.fit(lr)"):
        res = run(shell, "-n 2 --scheduler asha --max-t 3 --metric loss",
                  "lr = loguniform(0.01, 0.3)\n" + body + "\n")
        assert res.success, (body, res.error_in_exec)
        assert all(t.resource("epoch") == 3 for t in shell.user_ns["study"].trials), body
    # a cell whose own code is all there is to read is judged by it: --metric given, its fix
    # is another name, not "pass --metric NAME" (check round 49)
    res = run(shell, "-n 2 --metric loss", "lr = loguniform(0.01, 0.3)\nlos = np.sqrt(lr)\n")
    assert not res.success and str(res.error_in_exec) == (
        "%%tune: the cell never sets 'loss' (did you mean 'los'?): assign it in the body "
        "(`loss = ...`), call report(loss=...), or name another with --metric NAME")
    # one that calls the notebook's code, which may report the metric, is still refused for a
    # name the body sets beside it: every trial failed on the typo (check round 53)
    res = run(shell, "-n 2 --metric accuarcy --mode max",
              "lr = loguniform(0.01, 0.3)\naccuracy = train(lr)\n")
    assert not res.success and str(res.error_in_exec).startswith(
        "%%tune: the cell never sets 'accuarcy' (did you mean 'accuracy'?)"), res.error_in_exec


def test_a_cell_that_imports_a_module_of_the_users_may_report_through_it(tmp_path,
                                                                        monkeypatch):
    """`from mytrain import fit_and_report` in the cell, a file beside the notebook that reports
    the loss, was refused: "the cell never sets 'loss' (it assigns fit_and_report)" (check
    round 48). An installed library's, or Python's own, says nothing of the cell's reports."""
    from nbtune.notebook.cell import parse_cell
    from nbtune.notebook.cell_checks import reports_elsewhere

    (tmp_path / "mytrain_r48.py").write_text("def fit_and_report(lr):\n    return lr\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for module, users in (("mytrain_r48", True), ("json", False), ("sklearn.linear_model", False)):
        parsed = parse_cell(f"lr = uniform(0, 1)\nimport {module}\nx = lr\n")
        assert reports_elsewhere(parsed, {}) is users, module


def test_background_returns_at_once_and_fills_in(shell):
    cell = "x = uniform(0, 1)\nimport time\ntime.sleep(0.2)\nv = x\n"
    res = run(shell, "-n 6 --metric v --background", cell)
    assert res.success, res.error_in_exec
    study = shell.user_ns["study"]
    assert study.running
    study.wait(30)
    assert len(study.completed) == 6


def test_a_background_studys_cell_run_again_while_it_runs_gives_it_back(shell, db):
    """Run All again while a named background study ran: "add --resume to continue it", then
    --resume refused in turn, its panel gone with the cell's output; and an unnamed one's study
    rebound by its second run could not be stopped, load_study's Study advising "interrupt its
    cell, or study.stop()" (first-day test, round 60)."""
    from IPython.core.error import UsageError

    from nbtune.lease import StudyBusy

    cell = "x = uniform(0, 1)\nimport time\ntime.sleep(0.5)\nv = x\n"
    assert run(shell, "-n 40 --metric v --study bgrun --background", cell).success
    first = shell.user_ns["study"]
    shell.user_ns["study"] = None  # as a later cell might rebind it
    for again in ("", " --resume", " --replace"):
        with pytest.raises(UsageError, match=r"^%%tune: study 'bgrun' runs in this kernel's "
                                             r"background \(since \d\d:\d\d:\d\d\), and "
                                             r"`study` is it again: study.wait\(\) waits for "
                                             r"it, study.stop\(\) stops it; --study NEW starts "
                                             r"another study$"):
            shell.run_cell_magic("tune", f"-n 40 --metric v --study bgrun --background{again}",
                                 cell)
        assert shell.user_ns["study"] is first
    loaded = nbtune.load_study("bgrun", storage=db)
    assert "still running, in this kernel's background (study.wait() waits for it, " \
           "study.stop() stops it)" in str(loaded.summary())
    with pytest.raises(StudyBusy, match=r"stop it first \(nbtune.load_study\('bgrun'\)"
                                               r".stop\(\) in the kernel that runs it"):
        nbtune.delete_study("bgrun", storage=db)
    loaded.stop()  # its run is this kernel's: stopped, where it was refused
    assert not first.running and first.stop_reason == "stopped"
    assert len(first.trials) < 40


def test_a_study_waiting_behind_a_background_one_says_so(shell):
    """A second background study's panel said "2 starting · the first trials are starting: the
    workers load the trial function" for 15 s while the first's trials held both workers
    (first-day test, round 60)."""
    slow = "x = uniform(0, 1)\nimport time\ntime.sleep(3)\nv = x\n"
    assert run(shell, "-n 2 --metric v --study holds --background --progress text",
               slow).success
    holds = shell.user_ns["study"]
    wait_for(lambda: len([t for t in holds.trials if t.state == "running"]) == 2,
             "the first study's trials on both workers")
    assert run(shell, "-n 2 --metric v --study behind --background --progress text",
               "x = uniform(0, 1)\nv = x\n").success
    behind = shell.user_ns["study"]
    said = wait_for(lambda: behind.live.waiting(behind.live.counts()), "what it waits for")
    assert "the workers may be busy with 'holds', which this kernel runs in the background on " \
           "the same cluster: a worker takes these once it is free" in said, said
    for study in (holds, behind):
        study.stop()


def test_resume_continues_a_named_study(shell, capsys):
    assert run(shell, "-n 3 --metric v --study r --seed 4", "x = uniform(0, 1)\nv = x").success
    first = [t.config for t in shell.user_ns["study"].trials]
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error", nbtune.NbtuneWarning)  # a line, not a warning's red box
        assert run(shell, "--study r --resume", "x = uniform(0, 1)\nv = x").success
    assert ("nbtune: study 'r' has run its 3 trials: nothing is left to run; --trials 6 runs 3 "
            "more\n") in capsys.readouterr().out
    study = shell.user_ns["study"]
    assert [t.config for t in study.trials] == first and all(t.attempts == 1 for t in study.trials)
    assert (study.metric, study.settings["n_trials"], study.settings["seed"]) == ("v", 3, 4)


@pytest.mark.parametrize("line, cell, message", [
    ("--trails 5", CELL, "unknown option '--trails' (did you mean '--trials'?)"),
    ("--trials zero", CELL, "--trials needs a positive integer, got 'zero'"),
    ("-n 6 --metric loss --trials 12", CELL,  # argparse would keep the last one silently
     "--trials given twice (-n 6 and --trials 12): keep one"),
    ("--metric loss --background --background", CELL,
     "--background given twice (--background and --background): keep one"),
    ("--mode up", CELL, "--mode needs one of min, max, got 'up'"),
    ("--metric loss --searcher bayes", CELL, "unknown searcher 'bayes'"),
    ("--metric loss --searcher gp", CELL, "unknown searcher 'gp' (that is 'bayesopt' here)"),
    ("--metric loss --scheduler asha9", CELL, "unknown scheduler 'asha9'"),
    ("--metric accuracy", CELL, "never sets 'accuracy'"),
    ("--metric accuracy", "x = uniform(0, 1)\nacc = x\nclf = None",  # too unlike to be a typo
     "never sets 'accuracy' (it assigns acc, clf): assign it in the body"),
    ("--metric los", "x = uniform(0, 1)\nreport(epoch=1, loss=x)",
     "never sets 'los' (did you mean 'loss'?)"),
    # no --metric: the one value it reports is the flag to give (round 64)
    ("--mode max", "x = uniform(0, 1)\nreport(epoch=1, accuracy=x)",
     "never sets 'value' (it reports accuracy, epoch): assign it in the body (`value = ...`), "
     "call report(value=...), or pass --metric accuracy, the one value it reports"),
    # and with the mode left out, a score's; ASHA's max_t in the same line where the cell's
    # loop does not give it: the default cell started at its third run (round 64)
    ("--scheduler asha",
     "x = uniform(0, 1)\nn = 9\nfor epoch in range(1, n + 1):\n    report(epoch=epoch, accuracy=x)",
     "or pass --metric accuracy --mode max, the one value it reports; the asha scheduler also "
     "needs --max-t N, the largest epoch a trial reports\n"),
    ("--scheduler asha",
     "x = uniform(0, 1)\nfor epoch in range(1, 10):\n    report(epoch=epoch, loss=x)",
     "or pass --metric loss, the one value it reports\n"),
    ("--metric loss,accuracy", "x = uniform(0, 1)\nreport(epoch=1, loss=x, accuracy=1 - x)",
     "--metric names the one value the study optimises, got 'loss,accuracy': give --metric "
     "loss; every other value a trial reports is kept too (trial.metrics, to_dataframe()'s "
     "metrics.* columns, study.plot.history(metric='accuracy'))"),
    ("--metric loss", "x = uniform(1, 0)\nloss = x", "line 2: hyperparameter 'x'"),
    ("--metric loss", "loss = 1", "declares no search space"),
    ("--metric loss", "x = uniform(0, 1)\nloss = x + undefined_thing", "'undefined_thing'"),
    ("--metric loss --max-time soon", CELL, "--max-time"),
    ("--metric loss --scheduler asha", CELL, "--max-t N"),
    # a cell that reports keys, none of them the resource: refused before any trial runs
    # (a 5-fold loop ran all of its time with early stopping off; user test, Kaggle CV)
    ("--metric auc --mode max --scheduler asha", FOLDS,
     "%%tune: the asha scheduler judges trials at the resource 'epoch' (the default), which "
     "this cell never reports (it reports auc, fold): give --resource fold --max-t N (N the "
     "largest fold a trial reports)"),
    ("--metric auc --mode max --scheduler asha --max-t 5", FOLDS,
     "the resource 'epoch' (the default), which this cell never reports (it reports auc, "
     "fold): give --resource fold\n"),
    ("--metric auc --mode max --scheduler asha --resource epochs",
     "x = uniform(0, 1)\nfor epoch in range(1, 10):\n    report(epoch=epoch, auc=x, loss=1 - x)",
     "the resource 'epochs', which this cell never reports (it reports auc, epoch, loss): give "
     "--resource epoch --max-t N (N the largest epoch a trial reports)"),
    ("--metric loss --scheduler asha --max-t 3",  # the cell's typo, not the flag's (round 49)
     "x = uniform(0, 1)\nfor e in range(3):\n    report(epcoh=e, loss=x)",
     "the asha scheduler judges trials at the resource 'epoch' (the default), which this cell "
     "never reports (it reports epcoh, loss): 'epcoh' is a typo of 'epoch'? report(epoch=N, "
     "...), or give --resource epcoh\n"),
    ("--metric loss --scheduler median", "x = uniform(0, 1)\nreport(loss=x, accuracy=1 - x)",
     "the median scheduler judges trials at the resource 'epoch' (the default), which this "
     "cell never reports (it reports accuracy, loss): report it as the trial goes, "
     "report(epoch=N, loss=...), or name the key that counts progress, --resource KEY\n"),
    ("--metric loss --max-t 9", CELL, "scheduler 'fifo' has no option 'max_t'"),
    ("--metric loss --scheduler asha --max-t 9 --percentile 10", CELL,
     "scheduler 'asha' has no option 'percentile'"),
    ("--metric loss --scheduler asha --max-t 9 --type both", CELL,
     "--type needs one of stopping, promotion, pasha, got 'both'"),
    ("--metric loss --scheduler asha --rung-levels 1,x", CELL,
     "--rung-levels needs positive integers separated by commas, e.g. 1,3,9,27, got '1,x'"),
    ("--metric loss --scheduler asha --max-t 9 --reduction-factor 1", CELL,
     "reduction_factor"),
    ("--metric loss --storage ''", CELL, "storage '' names no file: give a path such as "
     "'nbtune.db', or storage=None (%%tune --storage none) to keep the study in memory only"),
])
def test_wrong_input_is_one_clear_line_and_writes_nothing(shell, db, capsys, line, cell, message):
    shell.user_ns["offset"] = 0.0
    res = run(shell, line, cell)
    assert not res.success
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err
    assert nbtune.list_studies(db) == []


@pytest.mark.parametrize("word", ["none", "None"])
def test_storage_none_keeps_the_study_in_memory_and_writes_no_file(shell, db, capsys, tmp_path,
                                                                    monkeypatch, word):
    monkeypatch.chdir(tmp_path)  # a file named after the word would land here
    res = run(shell, f"-n 3 --metric loss --storage {word}", CELL.replace("offset", "0.5"))
    assert res.success, res.error_in_exec
    assert f"--storage {word} keeps this study in memory only" in capsys.readouterr().out
    study = shell.user_ns["study"]
    assert len(study.completed) == 3 and study.storage is None
    # a cell refused before its study runs says only why (the notice came first, as if it ran)
    assert not run(shell, f"-n 3 --metric nope --storage {word}", CELL).success
    said = capsys.readouterr()
    assert "never sets 'nope'" in said.err and "in memory only" not in said.out
    # nor for one that tune() refuses (kappa=0: round 64)
    assert not run(shell, f"-n 3 --metric loss --storage {word} --searcher bayesopt "
                          "--searcher-option kappa=0", CELL.replace("offset", "0.5")).success
    said = capsys.readouterr()
    assert "kappa must be a finite number > 0" in said.err and "in memory only" not in said.out
    assert list(tmp_path.iterdir()) == [] and nbtune.list_studies(db) == []


def test_tune_storage_none_keeps_every_cells_study_in_memory(shell, db, capsys, tmp_path,
                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    shell.run_line_magic("config", "Tune.storage = 'none'")
    try:
        res = run(shell, "-n 2 --metric loss", CELL.replace("offset", "0.5"))
    finally:
        shell.run_line_magic("config", f"Tune.storage = {db!r}")
    assert res.success, res.error_in_exec
    assert "Tune.storage is 'none': this study is kept in memory only" in capsys.readouterr().out
    assert shell.user_ns["study"].storage is None and list(tmp_path.iterdir()) == []


def test_unpicklable_global_is_named_before_any_trial(shell, db, capsys):
    shell.run_cell("import threading\nlock = threading.Lock()")
    res = run(shell, "--metric v", "x = uniform(0, 1)\nwith lock:\n    v = x")
    assert not res.success
    err = capsys.readouterr().err
    assert "the global 'lock'" in err and "Traceback" not in err
    assert nbtune.list_studies(db) == []


def test_config_defaults_and_listing_magics(shell, db, capsys, tmp_path):
    shell.run_line_magic("config", "Tune.trials = 3")
    try:
        assert run(shell, "--metric v --study listed", "x = uniform(0, 1)\nv = x").success
        assert len(shell.user_ns["study"].trials) == 3
    finally:
        shell.run_line_magic("config", "Tune.trials = 0")
    capsys.readouterr()
    shell.run_line_magic("config", "Tune")
    assert "Tune.storage" in capsys.readouterr().out
    listed = shell.run_line_magic("tune_studies", "")  # a table, shown as HTML in a notebook
    assert list(listed.index) == ["listed"] and listed.index.name == "study"  # not 0, 1, ...
    row = listed.loc["listed"]
    assert (row["metric"], row["trials"], row["status"]) == ("v (min)", "3 completed", "finished: n_trials")
    shown = shell.run_line_magic("tune_show", "listed")  # the study's summary, not a repr
    assert dict(shown.facts())["trials"] == "3: 3 completed" and "<h4>" in shown._repr_html_()
    res = shell.run_cell("%tune_show nosuch")
    assert not res.success and "no study named 'nosuch'" in capsys.readouterr().err
    empty = str(tmp_path / "empty.db")
    shell.run_line_magic("config", f"Tune.storage = {empty!r}")
    assert shell.run_line_magic("tune_studies", "") is None  # a file not made yet, or mistyped
    assert capsys.readouterr().out == (f"nbtune: there is no study file {empty!r} (in "
                                       f"{os.getcwd()}) (`%tune_studies PATH` lists another "
                                       "file)\n")
    nbtune.storage.Storage(empty).close()  # the studies are in another file
    assert shell.run_line_magic("tune_studies", "") is None
    assert capsys.readouterr().out == (f"nbtune: no studies in {empty!r} (`%tune_studies PATH` "
                                       "lists another file)\n")
    assert shell.run_line_magic("tune_studies", empty) is None
    assert capsys.readouterr().out == f"nbtune: no studies in {empty!r}\n"
    # the file as %%tune names it: "--storage FILE" was read as a file named '--storage' (round 26)
    shown = shell.run_line_magic("tune_show", f"listed --storage {db}")
    assert dict(shown.facts())["trials"] == "3: 3 completed"
    assert list(shell.run_line_magic("tune_studies", f"--storage={db}").index) == ["listed"]
    res = shell.run_cell(f"%tune_show listed --file {db}")
    assert not res.success and ("%tune_show: unknown option '--file': it reads %tune_show NAME "
                                "[PATH] (or --storage PATH)") in capsys.readouterr().err


def test_config_cluster_takes_a_client_object(shell, client, capsys):
    shell.user_ns["my_client"] = client
    try:
        assert shell.run_cell("%config Tune.cluster = my_client").success
        assert "cannot" not in capsys.readouterr().err
        tune_magics = shell.magics_manager.registry["Tune"]
        assert tune_magics.cluster is client
        assert run(shell, "-n 2 --metric v", "x = uniform(0, 1)\nv = x").success
        assert shell.user_ns["study"].trials[0].worker in worker_info(client)
        shell.run_line_magic("config", "Tune.trials = 0")  # a later %config still works
        assert "cannot" not in capsys.readouterr().err
    finally:
        shell.user_ns.pop("my_client")


def test_load_twice_is_harmless_and_unload_removes(ip):
    ip.run_line_magic("load_ext", "nbtune")
    ip.run_line_magic("reload_ext", "nbtune")
    assert "tune" in ip.magics_manager.magics["cell"]
    assert sum(type(c).__name__ == "Tune" for c in ip.configurables) == 1
    assert exit_observers(ip) == 1
    ip.run_line_magic("unload_ext", "nbtune")
    assert "tune" not in ip.magics_manager.magics["cell"] and exit_observers(ip) == 0
    assert "%tune" not in ip.magics_manager.magics["line"]
    ip.run_line_magic("load_ext", "nbtune")
    assert "tune" in ip.magics_manager.magics["cell"]


def exit_observers(ip) -> int:
    from nbtune.notebook.extension import _close_on_exit

    return ip._trait_notifiers.get("exit_now", {}).get("change", []).count(_close_on_exit)


def test_kernel_exit_closes_the_clusters_nbtune_opened(ip, client):
    from nbtune.run.cluster import get_client

    from multiprocessing import resource_tracker

    opened = get_client(client.scheduler.address)  # as %%tune does for Tune.cluster
    assert opened is not client and opened.status == "running"
    tracker = resource_tracker._resource_tracker._pid
    try:
        ip.exit_now = True  # what ipykernel sets on shutdown and restart
        assert opened.status == "closed"
        # the workers of another cluster (this session's) still use the resource tracker
        assert tracker is None or resource_tracker._resource_tracker._pid == tracker
    finally:
        ip.exit_now = False
    assert get_client(client.scheduler.address).status == "running"  # a later study reconnects


def test_engine_flags_reach_the_study(shell, db, tmp_path):
    other = str(tmp_path / "other.db")
    cell = "i = grid(0, 1, 2, 3, 4, 5)\nimport time\ntime.sleep(0.05)\nv = i\n"
    res = run(shell, f"--searcher grid --metric v --mode max --target 3 --concurrency 1 "
                     f"--retries 0 --storage {other} --study g", cell)
    assert res.success, res.error_in_exec
    study = shell.user_ns["study"]
    assert study.stop_reason == "target" and [t.config["i"] for t in study.trials] == [0, 1, 2, 3]
    assert study.settings["retries"] == 0
    assert nbtune.list_studies(other) == ["g"] and nbtune.list_studies(db) == []

    res = run(shell, "--metric v --max-time 1s -n 100",
              "x = uniform(0, 1)\nimport time\ntime.sleep(0.3)\nv = x\n")
    assert res.success and shell.user_ns["study"].stop_reason == "max_time"

    res = run(shell, "--searcher grid --metric v --max-trial-time 0.5s",
              "i = grid(0, 1)\nimport time\nfor _ in range(600 * (1 - i)):\n"
                     "    time.sleep(0.05)  # halted at the next of them\nv = i\n")
    assert res.success, res.error_in_exec
    study = shell.user_ns["study"]
    assert study.settings["max_trial_time"] == 0.5 and study.stop_reason == "exhausted"
    assert [t.state for t in study.trials] == ["failed", "completed"]
    study.trials.pop()  # had every trial run past it, the best line says which setting to change
    assert dict(study.summary().facts())["best"] == (
        "no trial completed within max_trial_time: every trial that ended ran past it; give a "
        "larger one, or leave it out")


def test_resources_and_gpus_become_dask_resources():
    from IPython.core.error import UsageError

    from nbtune.notebook.options import parse_line, resources_of

    args = parse_line("--gpus 0.25 --resources MEM=2 --resources X=1")
    assert resources_of(args) == {"MEM": 2.0, "X": 1.0, "GPU": 0.25}
    assert resources_of(parse_line("")) is None
    with pytest.raises(UsageError, match="NAME=AMOUNT"):
        parse_line("--resources GPU")


PROMOTED = """\
q = grid(6, 5, 4, 3, 2, 1)
first = checkpoint["epoch"] + 1 if checkpoint else 1
for epoch in range(first, 10):
    report(step=epoch, score=q * epoch, checkpoint={"epoch": epoch})
"""


def test_scheduler_flags_pause_and_resume_trials_from_their_checkpoint(shell):
    res = run(shell, "--searcher grid --metric score --mode max --scheduler asha --type promotion "
                     "--resource step --rung-levels 3 --max-t 9 --reduction-factor 3",
              PROMOTED)
    assert res.success, res.error_in_exec
    study = shell.user_ns["study"]
    assert study.scheduler.levels == [3, 9] and study.settings["resource"] == "step"
    by_q = {t.config["q"]: t for t in study.trials}
    for q in (6, 5):  # promoted from rung 3, resumed at step 4 from the cell's checkpoint
        assert by_q[q].state == T.COMPLETED
        assert [r["step"] for r in by_q[q].reports] == list(range(1, 10))
    for q in (4, 3, 2, 1):
        assert by_q[q].state == T.STOPPED and [r["step"] for r in by_q[q].reports] == [1, 2, 3]


HYPERBAND = """\
q = uniform(0.1, 1.0)
first = checkpoint["epoch"] + 1 if checkpoint else 1
for epoch in range(first, 10):
    report(epoch=epoch, score=q * epoch, checkpoint={"epoch": epoch})
"""


def test_hyperband_without_trials_runs_what_its_brackets_start(shell):
    res = run(shell, "--metric score --mode max --scheduler hyperband --max-t 9 --seed 0",
              HYPERBAND)
    assert res.success, res.error_in_exec
    study = shell.user_ns["study"]
    assert len(study.trials) == 17 and study.stop_reason == "scheduler"


@pytest.mark.parametrize("loop, levels", [("for epoch in range(1, 10):", [1, 3, 9]),
                                          ("for e in range(9):", [1, 3, 9])])
def test_asha_without_max_t_trains_to_the_top_of_the_cells_loop(shell, loop, levels):
    """The default cell, ``%%tune --scheduler asha`` over a loop of literal bounds, starts: its
    loop says the largest epoch (round 64: max_t was the third run's error)."""
    epoch = "epoch" if "epoch" in loop else "e + 1"
    res = run(shell, "--metric acc --mode max --scheduler asha -n 4 --seed 0",
              f"x = uniform(0, 1)\n{loop}\n    report(epoch={epoch}, acc=x * {epoch})")
    assert res.success, res.error_in_exec
    study = shell.user_ns["study"]
    assert study.settings["rung_levels"] == levels
    assert max(r["epoch"] for t in study.trials for r in t.reports) == 9


def test_scheduler_flags_become_scheduler_options():
    from nbtune.notebook.options import parse_line, scheduler_options

    args = parse_line("--scheduler asha --type promotion --max-t 27 --grace-period 3 "
                      "--reduction-factor 4 --rung-levels 3,9 --brackets 2")
    assert scheduler_options(args) == {"type": "promotion", "max_t": 27, "grace_period": 3,
                                       "reduction_factor": 4, "rung_levels": [3, 9],
                                       "brackets": 2}
    args = parse_line("--scheduler percentile --percentile 10 --startup-trials 4 "
                      "--warmup-steps 2 --interval-steps 3")
    assert scheduler_options(args) == {"percentile": 10.0, "n_startup_trials": 4,
                                       "n_warmup_steps": 2, "interval_steps": 3}
    assert scheduler_options(parse_line("--scheduler asha --judge model")) == {"judge": "model"}
    assert scheduler_options(parse_line("")) == {}


def test_every_global_that_cannot_be_sent_or_is_undefined_is_named_at_once(shell, db, capsys,
                                                                            tmp_path):
    shell.run_cell(f"import threading\nlock = threading.Lock()\n"
                   f"log = open({str(tmp_path / 'log.txt')!r}, 'w')")
    try:
        capsys.readouterr()
        res = run(shell, "--metric v -n 2", "x = uniform(0, 1)\nwith lock:\n    log.write('x')\nv = x")
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert not res.success and len(err) == 1, err
        assert err[0].startswith("UsageError: %%tune: the globals 'lock' (_thread.lock) and 'log' "
                                 "(TextIOWrapper) cannot be sent to the Dask workers ("), err
        assert err[0].endswith("); create them inside the cell instead"), err
        shell.run_cell("lock2 = threading.Lock()")  # two of a kind: their cause said once
        res = run(shell, "--metric v -n 2", "x = uniform(0, 1)\nwith lock, lock2:\n    v = x")
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert not res.success and len(err) == 1, err
        cause = err[0][err[0].index("workers (") + 9:err[0].index("); create")]
        assert cause and "; " not in cause, err  # "cannot pickle ...; cannot pickle ..."
        res = run(shell, "--metric v -n 2", "x = uniform(0, 1)\nv = x + aa + bb")
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert err == ["UsageError: %%tune: the cell uses 'aa' and 'bb', which are not defined "
                       "in the notebook: run the cell that defines or imports them first, or "
                       "import them in this cell"], err
        assert nbtune.list_studies(db) == []
    finally:
        shell.run_cell("log.close()")
        for name in ("lock", "lock2", "log"):
            shell.user_ns.pop(name, None)


def test_a_large_global_that_cannot_be_sent_is_named(shell, db, capsys):
    shell.run_cell("import threading\nholder = {'lock': threading.Lock(), 'rows': list(range(10**5))}")
    res = run(shell, "--metric v -n 2", "x = uniform(0, 1)\nv = x + len(holder['rows'])")
    assert not res.success
    err = capsys.readouterr().err
    assert "'holder' (dict) cannot be sent to the Dask workers" in err
    assert "Traceback" not in err and nbtune.list_studies(db) == []


def test_many_globals_just_under_the_threshold_go_to_the_cluster_once(shell, recwarn):
    for i in range(14):  # 14 x 0.8 MB: each travels with the trial, together over 10 MB
        shell.user_ns[f"part{i}"] = np.full(100_000, float(i))
    body = "v = x + " + " + ".join(f"part{i}[0]" for i in range(14))
    res = run(shell, "-n 3 --metric v", "x = uniform(0, 1)\n" + body)
    assert res.success, res.error_in_exec
    assert all(t.state == T.COMPLETED for t in shell.user_ns["study"].trials)
    assert not [w for w in recwarn if "large graph" in str(w.message)]
    for i in range(14):
        shell.user_ns.pop(f"part{i}")


def test_a_blanket_ignore_does_not_hide_nbtunes_notes_and_one_aimed_at_them_does(shell):
    """`warnings.filterwarnings("ignore")`, common in notebooks to quiet scikit-learn, hid the
    note that a study ranked its worst trials first."""
    import warnings

    cell = "x = uniform(0, 1)\naccuracy = x\n"
    with warnings.catch_warnings(record=True) as shown:
        warnings.filterwarnings("ignore")
        assert run(shell, "-n 2 --metric accuracy --storage none", cell).success
    assert [(w.category, w.filename, w.lineno) for w in shown] == [
        (nbtune.NbtuneWarning, cell_filename(shell), 1)]
    assert "minimising 'accuracy'" in str(shown[0].message)
    for aimed in ({"category": nbtune.NbtuneWarning}, {"message": "minimising"}):
        with warnings.catch_warnings(record=True) as shown:
            warnings.filterwarnings("ignore")
            warnings.filterwarnings("ignore", **aimed)
            assert run(shell, "-n 2 --metric accuracy --storage none", cell).success
        assert shown == [], aimed


def test_a_score_minimised_by_the_default_mode_is_named_once(shell):
    import warnings

    cell = "x = uniform(0, 1)\naccuracy = x\n"
    with pytest.warns(UserWarning, match=r"minimising 'accuracy': mode='min' is the default; "
                                         r"give mode='max' \(%%tune --mode max\)") as warned:
        assert run(shell, "-n 2 --metric accuracy --storage none", cell).success
    assert [(w.filename, w.lineno) for w in warned] == [(cell_filename(shell), 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said, or chosen on purpose: no word
        assert run(shell, "-n 2 --metric accuracy --mode max --storage none", cell).success
        assert run(shell, "-n 2 --metric loss --storage none", "x = uniform(0, 1)\nloss = x\n"
                   ).success
        shell.run_line_magic("config", "Tune.mode = 'min'")
        try:
            assert run(shell, "-n 2 --metric accuracy --storage none", cell).success
        finally:  # the magic's own copy too: later tests read the mode as chosen otherwise
            shell.config["Tune"].pop("mode")
            shell.magics_manager.registry["Tune"].config["Tune"].pop("mode", None)


def test_a_cell_whose_trials_all_failed_ends_as_a_failed_cell(shell, db, capsys):
    """Run All ran on into the next cell's study.best_config, which failed there (first-day
    test, round 35): the cell itself now fails, in one line, its study bound."""
    res = run(shell, "--trials 6 --concurrency 1 --metric loss --study broken",
              "x = uniform(0, 1)\nloss = 1 / 0\n")
    assert isinstance(res.error_in_exec, nbtune.NoTrialCompleted)
    assert str(res.error_in_exec) == (  # one trial at a time: the third failure stops it
        "study 'broken' has no completed trial (3 failed); it is bound to `study`, and the "
        "cells queued after this one do not run")
    out = capsys.readouterr().out
    assert "NoTrialCompleted: study 'broken'" in out and "Traceback" not in out
    assert shell.user_ns["study"].name == "broken"
    # some failed, one completed: a study with a result, the cell a success
    res = run(shell, "--trials 6 --metric loss --study partly --no-fail-fast --seed 0",
              "x = uniform(0, 1)\nloss = 1 / (x < 0.5)\n")
    assert res.success and shell.user_ns["study"].best is not None


def test_progress_text_writes_the_log_a_headless_notebook_keeps(shell, capsys, monkeypatch):
    """A notebook run by papermill or nbconvert showed nothing of a running study in its log:
    the panel is a widget (first-day test, round 39). ``--progress text`` writes the progress
    line (every 30 s; here at once) and a text summary to the cell's stderr; ``none`` no view."""
    import nbtune.text_view

    monkeypatch.setattr(nbtune.text_view, "LOG_EVERY", 0.0)
    res = run(shell, "--trials 4 --metric v --mode max --seed 0 --study logged --progress text",
              "x = uniform(0, 1)\nv = x")
    assert res.success, res.error_in_exec
    err = capsys.readouterr().err
    assert re.search(r"^nbtune logged: \d/4 trials", err, re.MULTILINE), err
    assert re.search(r"^nbtune logged: 4/4 trials .* \| 4 completed \| best v = ", err,
                     re.MULTILINE), err
    assert "nbtune study 'logged'\n" in err and re.search(r"\n  ended +n_trials\n", err), err
    res = run(shell, "--trials 2 --metric v --study quiet --progress none", "x = uniform(0, 1)\nv = x")
    assert res.success and "nbtune quiet:" not in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"^progress must be 'auto', True, False \(or 'none'\) "
                                         r"or 'text' \(a progress line every 30 s"):
        nbtune.tune(lambda c: None, {"x": nbtune.uniform(0, 1)}, progress="log", storage=None)


def test_the_best_trials_metrics_keep_every_reported_key_beside_the_cells_metric(shell):
    """A cell that reported r2 beside rmse and left rmse set: study.best.metrics was
    {'rmse': ...} alone (first-day test, round 42); the README promises every key reported."""
    res = run(shell, "--trials 2 --metric rmse --study both",
              "x = uniform(0, 1)\nfor epoch in (1, 2):\n    rmse = x / epoch\n"
              "    report(epoch=epoch, rmse=rmse, r2=1 - rmse)\nrmse = x / 3")
    assert res.success, res.error_in_exec
    best = shell.user_ns["study"].best
    assert best.metrics == pytest.approx({"epoch": 2, "rmse": best.config["x"] / 3,
                                          "r2": 1 - best.config["x"] / 2})
    assert best.value == pytest.approx(best.config["x"] / 3)  # what the cell left counts


def test_a_mode_given_as_min_is_not_called_the_default(shell):
    """--mode min given for an accuracy: the summary's mode row said "mode='min' is the
    default" (check round 43); left out, it still says so."""
    with pytest.warns(nbtune.NbtuneWarning):
        run(shell, "-n 2 --metric accuracy --study dflt", "x = uniform(0, 1)\naccuracy = x")
    assert "mode='min' is the default" in str(shell.user_ns["study"].summary())
    run(shell, "-n 2 --metric accuracy --mode min --study chosen", "x = uniform(0, 1)\naccuracy = x")
    assert shell.user_ns["study"].settings.get("mode_given") is True
    assert "is the default" not in str(shell.user_ns["study"].summary())


def test_tune_workers_sets_the_local_clusters_workers_before_it_starts(ip, capsys):
    """A teacher's one-worker classroom needed a %tune_cluster line in every notebook (check
    round 44): %config Tune.workers = 1 sets it; where the cluster runs, a line says how to
    restart it, and nothing restarts under a study."""
    from nbtune.run import embedded

    options = dict(embedded._embedded.get("options", {}))
    try:
        ip.run_line_magic("config", "Tune.workers = 1")
        assert embedded._embedded["options"]["n_workers"] == 1
        ip.run_line_magic("config", "Tune.workers = -1")
        assert "UsageError: %config Tune.workers: the number of workers must be an integer" \
            in capsys.readouterr().err
    finally:
        ip.run_line_magic("config", "Tune.workers = 0")
        embedded._embedded["options"] = options


def test_a_line_above_the_tune_line_is_named_as_the_mistake(ip, capsys):
    """IPython reads a %%tune below another line as a line magic, '%tune', and answered "Line
    magic function `%%tune` not found.", as if the extension were not loaded (a comment above
    it, three times in one first day: round 64)."""
    result = ip.run_cell("# the default: only --scheduler asha\n%%tune --scheduler asha\nx = 1\n")
    assert not result.success
    err = capsys.readouterr().err
    assert "UsageError: %%tune must be the first line of its cell: move what is above it " \
           "(a comment, an import, a %config line) below the %%tune line" in err, err
    assert "not found" not in err and "Traceback" not in err
