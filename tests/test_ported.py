"""A study ported from Optuna (first-day test, round 14): Optuna's names are named with nbtune's,
in one line each, and what Optuna users write by habit (a time budget alone, maximize, Optuna's
HyperbandPruner, a conditional parameter, a script without its __main__ guard) does what they
meant or says what to write."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from IPython.core.error import UsageError

import nbtune
from nbtune import trial as T
from nbtune.notebook.options import parse_line, scheduler_options
from nbtune.schedule import ASHAScheduler
from nbtune.setup_text import scheduler_text

from test_magic import run


def value_of(config):
    return config["x"]


SPACE = {"x": nbtune.uniform(0.0, 1.0)}


@pytest.mark.parametrize("key, value, said", [
    ("direction", "maximize", "direction= is Optuna's name: nbtune's is mode=, mode='max' or "
                              "mode='min' (--mode in %%tune)"),
    ("timeout", 30, "timeout= is Optuna's name: nbtune's is max_time=, max_time=SECONDS "
                    "(--max-time in %%tune)"),
    ("min_resource", 1, "min_resource= is Optuna's name: nbtune's is grace_period="),
    ("load_if_exists", True, "nbtune's is resume=, resume=True"),
    ("n_jobs", 2, "nbtune's is concurrency="),
])
def test_optunas_keywords_are_named_with_nbtunes(key, value, said):
    """They read "scheduler 'fifo' has no option 'direction'"."""
    with pytest.raises(TypeError, match="unexpected keyword argument") as caught:
        nbtune.tune(value_of, SPACE, n_trials=2, storage=None, **{key: value})
    assert said in str(caught.value) and "scheduler" not in str(caught.value).split(":")[0]


def test_maximize_is_max_and_a_time_budget_alone_sets_no_trial_cap(client):
    """Optuna's timeout= alone runs on; nbtune's 50 default trials ended a 20 s study in 1 s."""
    study = nbtune.tune(value_of, SPACE, mode="maximize", max_time=2.0, cluster=client,
                        storage=None, progress=False)
    assert study.mode == "max" and study.best.value == max(t.value for t in study.completed)
    assert study.stop_reason == "max_time" and len(study.trials) > 50, study
    assert study.settings["n_trials"] is None
    from nbtune.ported import mode_of  # the words as nbtune's help spells them, too

    assert [mode_of(m) for m in ("maximise", "minimise", "max", "MAX")] == ["max", "min", "max",
                                                                           "MAX"]
    finite = nbtune.tune(value_of, {"x": nbtune.grid(1, 2, 3)}, max_time=30.0, cluster=client,
                         storage=None, progress=False)  # a finite space still runs once through
    assert len(finite.trials) == 3 and finite.stop_reason == "n_trials"


def epochs(config):
    for epoch in range(1, 10):
        nbtune.report(epoch=epoch, v=config["x"] * epoch)


def test_max_resource_no_larger_than_max_t_is_said_to_be_the_total(client):
    """Optuna's HyperbandPruner(max_resource=27) is the longest trial; nbtune's max_resource is
    the total over all trials, and the study ended after 0.6 s in silence."""
    with pytest.warns(UserWarning, match=r"max_resource=9 is the total trained over all trials, "
                                         r"and one trial trains up to max_t=9: .* The most one "
                                         r"trial trains is max_t \(Optuna's HyperbandPruner"):
        nbtune.tune(epochs, SPACE, metric="v", mode="max", scheduler="asha", max_t=9,
                    max_resource=9, n_trials=4, cluster=client, storage=None, progress=False)


def test_brackets_all_is_one_per_rung_level_and_said_in_the_summary_line():
    """The README's pairing for Optuna's HyperbandPruner raised "brackets must be an integer"."""
    sched = ASHAScheduler(max_t=27, brackets="all", rung_system_per_bracket=True)
    assert sched.n_brackets == 4 and sched.brackets == "all"
    assert "brackets='all', rung_system_per_bracket=True" in repr(sched)
    args = parse_line("--scheduler asha --max-t 27 --brackets all --rung-system-per-bracket")
    assert scheduler_options(args) == {"max_t": 27, "brackets": "all",
                                       "rung_system_per_bracket": True}
    assert scheduler_options(parse_line("--scheduler asha")) == {}
    assert scheduler_text({"scheduler": "asha", "resource": "epoch", "rung_levels": [1, 3, 9, 27],
                           "scheduler_options": scheduler_options(args)}) == \
        "asha scheduler on epoch, rungs 1, 3, 9, 27, all brackets ranked apart"
    with pytest.raises(UsageError, match="--brackets needs a positive integer or all, got 'al'"):
        parse_line("--brackets al")


@pytest.mark.parametrize("line, said", [
    ("--direction maximize", "unknown option '--direction': --direction is Optuna's name: "
                             "nbtune's is --mode"),
    ("--timeout 30", "--timeout is Optuna's name: nbtune's is --max-time"),
    ("--study-name x", "nbtune's is --study"),
    ("--pruner median", "nbtune's is --scheduler"),
    ("--min-resource 1", "nbtune's is --grace-period"),
])
def test_optunas_flags_are_named_with_the_magics(line, said):
    with pytest.raises(UsageError, match="%%tune: ") as caught:
        parse_line(line)
    assert said in str(caught.value)


def test_mode_maximize_is_max_in_the_magic():
    assert parse_line("--mode maximize").mode == "max"
    assert parse_line("--mode minimize").mode == "min"


def test_optunas_study_and_trial_names_are_named_with_nbtunes():
    study = nbtune.Study("s", nbtune.Space(SPACE), "v", "max")
    for name, ours in (("best_params", "best_config"), ("trials_dataframe", "to_dataframe()"),
                       ("best_trial", "best")):
        with pytest.raises(AttributeError, match=f"'Study' object has no attribute '{name}': "
                                                 f"that is Optuna's name; nbtune's is {ours}"):
            getattr(study, name)
    # a typo is named with the name it is near (round 55: a bare AttributeError from nbtune's
    # own frame)
    with pytest.raises(AttributeError, match=r"^'Study' object has no attribute 'best_confg' "
                                             r"\(did you mean 'best_config'\?\)$"):
        study.best_confg  # noqa: B018
    with pytest.raises(AttributeError, match=r"^'Study' object has no attribute 'nothing_near'$"):
        study.nothing_near  # noqa: B018
    trial = T.Trial(id=0, config={})
    with pytest.raises(AttributeError, match="nbtune's is config"):
        trial.params  # noqa: B018
    with pytest.raises(AttributeError, match=r"^'Trial' object has no attribute 'confg'$"):
        trial.confg  # noqa: B018
    assert not hasattr(trial, "number") and hasattr(trial, "id")


def sample_lr(t):
    return {"lr": t.suggest_float("lr", 1e-4, 1e-1, log=True)}


def objective_through_a_helper(trial):
    return sample_lr(trial)["lr"]


def test_an_optuna_objective_the_checks_do_not_see_is_named_when_its_trials_fail(client):
    """An objective whose suggest_* calls are in a helper of the user's is not seen as one
    before the study (the check reads the function's own code): its trials failed on "'dict'
    object has no attribute 'suggest_float'" alone (check round 49); the failure says how to
    port it."""
    study = nbtune.tune(objective_through_a_helper, {"lr": nbtune.loguniform(1e-4, 1e-1)},
                        n_trials=2, cluster=client, storage=None, mode="min", progress="none")
    assert [t.state for t in study.trials] == ["failed", "failed"]
    assert study.trials[0].error.rstrip().endswith(
        "AttributeError: 'dict' object has no attribute 'suggest_float'\nnbtune: suggest_float "
        "is an Optuna trial's: nbtune passes the trial function a config, a dict of its values "
        "from the space given beside it; write each suggest_* as a space entry ({'lr': "
        "nbtune.loguniform(1e-4, 1e-1)}) and read config['lr'] (the README's \"Coming from "
        "Optuna\")"), study.trials[0].error


def test_an_optuna_objective_passed_as_it_is_is_named_before_anything_starts():
    """An Optuna objective given to tune(): its first trials failed alike on "'dict' object has
    no attribute 'suggest_float'", or, with Optuna's LightGBM pruning callback captured, it was
    "cannot be sent to the Dask workers ... open files, locks" (first-day test, round 46)."""
    import threading

    lock = threading.Lock()  # what cannot be pickled: the objective is named first

    def objective(trial):
        with lock:
            lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        return lr

    def nested(trial):
        def layers():
            return trial.suggest_int("n", 1, 3)
        return layers()

    import functools

    from nbtune.arguments import check_call, pickled_fn

    def with_data(trial, X=None):
        return trial.suggest_categorical("k", [1, 2]) + len(X)

    space = {"lr": nbtune.uniform(0, 1)}
    for fn, call, given in ((objective, "trial.suggest_float", space),
                            (nested, "trial.suggest_int", space),
                            (objective, "trial.suggest_float", None),  # as Optuna is called
                            (functools.partial(with_data, X=[1]),  # Kaggle style (round 47)
                             "trial.suggest_categorical", space),
                            (nbtune.with_parameters(with_data, X=[1]),
                             "trial.suggest_categorical", space)):
        with pytest.raises(TypeError) as raised:
            nbtune.tune(fn, given, storage=None, cluster="tcp://127.0.0.1:1")
        name = getattr(fn, "__name__", "with_data")
        assert str(raised.value).startswith(
            f"the trial function {name}(trial") and (
            f"is an Optuna objective ({call}(...)): nbtune calls {name}(config), config a dict "
            f"of the trial's values") in str(raised.value), raised
        assert "Coming from Optuna" in str(raised.value)

    # a trial function of nbtune's that calls its own suggest_threshold() or a stopper's
    # should_prune() is none (check round 47)
    def suggest_threshold(p):
        return 0.5

    class Stopper:
        def should_prune(self, v):
            return False

    def train(config):
        return suggest_threshold(config["lr"]) + Stopper().should_prune(1)

    check_call(train, space, {}, None, [])
    # a half-ported function that still holds Optuna's pruning callback: named as that
    class _IntegrationModule:  # what optuna.integration is, and pickle refuses
        def __reduce__(self):
            raise TypeError("cannot pickle '_IntegrationModule' object")

    held = _IntegrationModule()
    with pytest.raises(TypeError, match=r"it holds Optuna's integration module \(cannot pickle "
                                        r"'_IntegrationModule' object\), as "
                                        r"LightGBMPruningCallback does, a pruning callback that "
                                        r"needs an Optuna trial: "):
        pickled_fn(lambda config: held)

    # a class objective, Optuna's way to pass data (check round 48)
    class Objective:
        def __call__(self, trial):
            return trial.suggest_float("x", -10, 10)

    with pytest.raises(TypeError, match=r"^the trial function Objective\(trial\) is an Optuna "
                                        r"objective \(trial.suggest_float\(\.\.\.\)\)"):
        check_call(Objective(), None, {}, None, [])

    # should_prune() of a stopper, in a function whose parameter is trial_config: none
    class Stop:
        def should_prune(self):
            return False

    stopper = Stop()

    def fn_trial_config(trial_config):
        return trial_config["lr"] if not stopper.should_prune() else 0.0

    check_call(fn_trial_config, space, {}, None, [])

    # a trial function that runs an Optuna study of its own: the inner objective's trial is
    # not the function's parameter (check round 49)
    def with_inner_study(trial):
        def inner(trial):
            return trial.suggest_float("x", 0, 1)
        return trial["lr"] + len([inner])

    check_call(with_inner_study, space, {}, None, [])
    # Optuna's pruning callback imported by name, in a function that takes a config (a class
    # of optuna_integration's, as `from optuna.integration import ...` gives it)
    LightGBMPruningCallback = type("LightGBMPruningCallback", (), {
        "__module__": "optuna_integration.lightgbm.lightgbm"})

    def half_ported(config):
        return [LightGBMPruningCallback()] and config["lr"]

    with pytest.raises(TypeError, match=r"^the trial function cannot run in nbtune as it is: "
                                        r"it uses Optuna's LightGBMPruningCallback, a pruning "
                                        r"callback that needs an Optuna trial"):
        check_call(half_ported, space, {}, None, [])


def test_report_with_values_but_no_names_says_how_to_name_them():
    with pytest.raises(TypeError, match=r"report\(\) takes each value by its name, "
                                        r"report\(epoch=N, accuracy=x\), not 2 values without a "
                                        r"name "
                                        r"\(Optuna's trial.report\(value, step\)"):
        nbtune.report(0.9, 3)


OPTUNA_CELL = """\
lr = loguniform(1e-3, 0.3)
for epoch in range(3):
    trial.report(lr, epoch)
    if trial.should_prune():
        raise optuna.TrialPruned()
accuracy = lr
"""

POSITIONAL_CELL = """\
lr = loguniform(1e-3, 0.3)
for epoch in range(3):
    report(lr, epoch)
"""

CONDITIONAL_CELL = """\
n_layers = randint(1, 2)
units1 = lograndint(16, 128)
if n_layers == 2:
    units2 = lograndint(16, 128)
accuracy = units1
"""


@pytest.mark.parametrize("cell, said", [
    (OPTUNA_CELL, "UsageError: %%tune: the cell uses 'optuna' and 'trial', which are not defined "
                  "in the notebook: trial.report(...), trial.should_prune() and "
                  "optuna.TrialPruned are Optuna's: a %%tune cell calls report(epoch=N, "
                  "accuracy=...), and the scheduler stops the trial inside that call, so drop "
                  "the pruning check"),
    (OPTUNA_CELL.replace("accuracy = lr", "accuracy = lr + bias"),
     "UsageError: %%tune: the cell uses 'bias', 'optuna' and 'trial', which are not defined in "
     "the notebook: trial.report(...), trial.should_prune() and optuna.TrialPruned are "
     "Optuna's: a %%tune cell calls report(epoch=N, accuracy=...), and the scheduler stops the "
     "trial inside that call, so drop the pruning check; for 'bias', run the cell that defines "
     "or imports it first, or import it in this cell"),
    (POSITIONAL_CELL, "UsageError: %%tune: line 4: report(...) passes values without their "
                      "names: give each one, report(epoch=N, accuracy=value) (Optuna's "
                      "trial.report(value, step) is report(epoch=step, accuracy=value) here)"),
    (CONDITIONAL_CELL, "UsageError: %%tune: line 5: space line 'units2 = lograndint(...)' is "
                       "inside the trial code (line 4); nbtune's spaces are flat: declare units2 "
                       "at the top of the cell with the others, and leave it unused where it does "
                       "not apply"),
])
def test_optuna_style_cells_are_told_the_nbtune_way(shell, capsys, cell, said):
    """They read "'lograndint' is not defined in the notebook", "the cell never sets
    'accuracy'", and nothing of Optuna's pruning check."""
    res = run(shell, "--metric accuracy --mode max -n 2", cell)
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert not res.success and err == [said], err


def test_a_name_the_notebook_binds_is_not_a_space_line_inside_the_code(shell, capsys):
    shell.run_cell("from random import uniform as jitter\nuniform = jitter")
    try:
        res = run(shell, "--metric v -n 2", "x = choice(1, 2)\nfor i in range(2):\n"
                  "    noise = uniform(0, 1)\nv = x + noise")
        assert res.success, capsys.readouterr().err
    finally:
        shell.user_ns.pop("uniform", None)
        shell.user_ns.pop("jitter", None)


def test_searchcv_names_optunasearchcvs_timeout():
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match=r"timeout= is max_time= \(OptunaSearchCV's timeout=\)"):
        nbtune.SearchCV(LogisticRegression(), {"C": [1.0]}, timeout=30)


UNGUARDED = """\
import nbtune

def f(config):
    return config["x"]

def main():
    return nbtune.tune(f, {"x": nbtune.uniform(0, 1)}, n_trials=2, storage=None, study="s")

print(main().best_value)
"""


@pytest.mark.parametrize("guard", [False, True])
def test_a_script_without_its_main_guard_is_told_before_anything_starts(tmp_path, guard):
    """It printed a page ending in "Nanny failed to start.", or that its own process ran the
    study: every Optuna script ported as it was met this."""
    body = UNGUARDED
    if guard:
        body = body.replace("print(main()", 'if __name__ == "__main__":\n    print(main()')
    script = tmp_path / "ported.py"
    script.write_text(textwrap.dedent(body))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    if guard:
        assert done.returncode == 0 and 0 <= float(done.stdout.split()[-1]) <= 1, done.stderr
        return
    assert "Traceback" not in done.stderr  # the line alone: nbtune's frames came with it
    assert done.returncode == 1 and last == (
        "nbtune: ported.py, line 9, starts the study at the top level of the script, and "
        "nbtune's local Dask workers start by importing ported.py, so each would start it again:"
        " put the study under `if __name__ == \"__main__\":`"), done.stderr
    assert "Nanny" not in done.stderr and "bootstrapping" not in done.stderr


def seeded_by_id(config):
    return {"value": float(nbtune.trial_id()), "x": config["x"]}


def test_a_trial_knows_its_id_and_outside_a_trial_there_is_none(client):
    """Optuna's trial.number (a per-trial seed, a file name) had no public nbtune name."""
    study = nbtune.tune(seeded_by_id, SPACE, n_trials=4, cluster=client, storage=None,
                        progress=False)
    assert sorted(t.value for t in study.trials) == [0.0, 1.0, 2.0, 3.0]
    assert all(t.value == t.id for t in study.trials)
    assert nbtune.trial_id() is None


def test_a_scipy_distribution_given_to_tune_names_nbtunes_primitives():
    from scipy import stats

    with pytest.raises(ValueError, match=r"scipy.stats distributions \(loguniform\) go to "
                                         r"SearchCV: nbtune.tune takes nbtune's \(uniform, "):
        nbtune.tune(value_of, {"lr": stats.loguniform(1e-4, 1e-1)}, n_trials=2, storage=None)


def test_optunas_name_of_a_searcher_option_is_named_with_nbtunes():
    with pytest.raises(ValueError, match=r"searcher 'tpe' has no option 'n_startup_trials' "
                                         r"\(did you mean 'n_startup'\?\)"):
        nbtune.tune(value_of, SPACE, n_trials=2, storage=None, searcher="tpe",
                    searcher_options={"n_startup_trials": 5})


def test_enqueue_runs_a_known_config_first_in_the_magic(shell, capsys):
    """Optuna's enqueue_trial had no %%tune flag (only points_to_evaluate= in Python)."""
    res = run(shell, "--metric v -n 3 --seed 1 --enqueue x=0.25 --enqueue 'x=0.75, k=b'",
              "x = uniform(0, 1)\nk = choice('a', 'b')\nv = x")
    assert res.success, capsys.readouterr().err
    configs = [t.config for t in shell.user_ns["study"].trials]
    assert configs[:2] == [{"x": 0.25, "k": "a"}, {"x": 0.75, "k": "b"}], configs
    res = run(shell, "--metric v -n 2 --enqueue lr=0.1", "x = uniform(0, 1)\nv = x")
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert not res.success and err[-1].startswith(
        "UsageError: %%tune: --enqueue lr=0.1: unknown hyperparameter 'lr' (known: x)"), err


def optuna_object(module: str, name: str, instance: bool = True):
    """An object of a class named as Optuna's (nbtune knows Optuna's classes by their module,
    never importing Optuna); Optuna is not installed beside nbtune's tests."""
    cls = type(name, (), {"__module__": module})
    return cls() if instance else cls


@pytest.mark.parametrize("kwargs, said", [
    ({"scheduler": optuna_object("optuna.pruners._hyperband", "HyperbandPruner")},
     r"^scheduler=HyperbandPruner\(\.\.\.\) is Optuna's pruner: nbtune's is scheduler='asha', "
     r"brackets='all', rung_system_per_bracket=True"),
    ({"scheduler": optuna_object("optuna.pruners._median", "MedianPruner")},
     r"^scheduler=MedianPruner\(\.\.\.\) is Optuna's pruner: nbtune's is scheduler='median'"),
    ({"scheduler": optuna_object("optuna.pruners._median", "MedianPruner", instance=False)},
     r"^scheduler=MedianPruner\(\.\.\.\) is Optuna's pruner: nbtune's is scheduler='median'"),
    ({"searcher": optuna_object("optuna.samplers._gp.sampler", "GPSampler", instance=False)},
     r"^searcher=GPSampler is Optuna's class, not a sampler: pass an instance, "
     r"searcher=GPSampler\(\)$"),
    ({"storage": "sqlite:///runs.db"},
     r"^storage 'sqlite:///runs.db' is a database URL, Optuna's form: nbtune takes "
     r"storage='runs.db'$"),
    ({"searcher": "bayesopt", "searcher_options": {"acquisition": "ucb", "kappa": 0}},
     r"^kappa must be a finite number > 0, got kappa=0 \(kappa=0 would only exploit: "
     r"acquisition='ei' with xi=0 comes closest\)$"),
    ({"searcher": "bayesopt", "searcher_options": {"acquisition": "EI_"}},
     r"^unknown acquisition 'ei_' \(did you mean 'ei'\?\)"),
], ids=["HyperbandPruner", "MedianPruner", "a pruner class", "a sampler class",
        "an SQLAlchemy URL", "kappa=0", "an acquisition's typo"])
def test_optunas_objects_and_forms_are_named_with_nbtunes(kwargs, said):
    """Optuna's pruner given as the scheduler, a sampler's class, its storage URL: a bare repr,
    "unknown searcher <class ...>" and "the folder '.../sqlite:' does not exist" (first-day
    test, round 36)."""
    with pytest.raises((ValueError, nbtune.StorageError), match=said):
        nbtune.tune(value_of, SPACE, n_trials=2, **{"storage": None, **kwargs})


def test_an_acquisition_is_read_in_any_case():
    searcher = nbtune.BayesOptSearcher(SPACE, acquisition="EI")
    assert searcher.acquisition == "ei" and searcher.options["acquisition"] == "ei"


@pytest.mark.parametrize("call, said", [
    (lambda: nbtune.uniform(1e-3, 1.0, log=True),
     r"^uniform\(0.001, 1.0, log=True\) is Optuna's suggest_float\(log=True\): nbtune's is "
     r"loguniform\(0.001, 1.0\)$"),
    (lambda: nbtune.randint(1, 64, log=True),
     r"^randint\(1, 64, log=True\) is Optuna's suggest_int\(log=True\): nbtune's is "
     r"lograndint\(1, 64\)$"),
    (lambda: nbtune.uniform(0, 1, step=0.1), r"nbtune's is quniform\(0, 1, q\)$"),
])
def test_optunas_keywords_of_a_range_name_nbtunes_primitive(call, said):
    """It read "Range.__init__() got an unexpected keyword argument 'log'", a class the user
    never wrote (first-day test, round 36)."""
    with pytest.raises(TypeError, match=said):
        call()


@pytest.mark.parametrize("call, said", [
    (lambda: nbtune.loguniform(0, 1), r"\(a log scale cannot reach 0: give a small positive "
                                      r"lower bound such as 1e-6, or use uniform\(0, 1\)\)$"),
    (lambda: nbtune.lograndint(0, 64), r"\(a log scale cannot reach 0: give a lower bound of "
                                       r"1, or use randint\(0, 64\)\)$"),
])
def test_a_log_range_from_zero_says_what_to_give(call, said):
    with pytest.raises(ValueError, match=said):
        call()


def test_an_optuna_sampler_without_its_package_is_refused_before_any_trial(monkeypatch):
    """GPSampler ran its 10 random start-up trials, then the study died on "No module named
    'torch'" (first-day test, round 36)."""
    from nbtune.search import optuna_adapter

    monkeypatch.setitem(optuna_adapter.SAMPLER_NEEDS, "GPSampler",
                        ("nbtune_no_such_module", "PyTorch", "pip install torch"))
    with pytest.raises(ValueError, match=r"^Optuna's GPSampler needs PyTorch once it models "
                                         r"\(after its random start-up trials\), and it is not "
                                         r"installed here: pip install torch, or "
                                         r"searcher='bayesopt'"):
        optuna_adapter._check_needs("GPSampler")
    optuna_adapter._check_needs("TPESampler")  # needs nothing more


@pytest.mark.parametrize("line, said", [
    ('lr = suggest_float("lr", 1e-4, 1e-1, log=True)\naccuracy = lr',
     "line 2: suggest_float(...) is Optuna's: a space line calls nbtune's primitive, "
     "lr = loguniform(0.0001, 0.1)"),
    ('n = trial.suggest_int("n", 1, 8)\naccuracy = n',
     "line 2: trial.suggest_int(...) is Optuna's: a space line calls nbtune's primitive, "
     "n = randint(1, 8)"),
    ('k = suggest_categorical("k", ["adam", "sgd"])\naccuracy = 1',
     "line 2: suggest_categorical(...) is Optuna's: a space line calls nbtune's primitive, "
     "k = choice('adam', 'sgd')"),
])
def test_optunas_suggest_lines_in_a_cell_name_the_primitive(shell, capsys, line, said):
    """They read "the cell declares no search space" (first-day test, round 36)."""
    res = run(shell, "--metric accuracy --mode max -n 2", line)
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert not res.success and err == [f"UsageError: %%tune: {said}"], err


def test_optunas_sampler_names_are_named_in_the_magic():
    from nbtune.notebook.options import check_names

    with pytest.raises(UsageError, match=r"unknown searcher 'GPSampler' \(that is 'bayesopt' "
                                         r"here\)"):
        check_names(parse_line("--searcher GPSampler"))


def test_other_tools_scheduler_class_names_given_by_name_are_named():
    """scheduler='HyperbandPruner' suggested 'hyperband', synchronous Hyperband, which Optuna's
    pruner is not; '--checkpoint-config' suggested '--checkpoints' (check round 37)."""
    from nbtune.notebook.options import check_names

    with pytest.raises(ValueError, match=r"^unknown scheduler 'HyperbandPruner' \(that is "
                                         r"Optuna's pruner; nbtune's is scheduler='asha', "
                                         r"brackets='all'"):
        nbtune.tune(value_of, SPACE, n_trials=2, storage=None, scheduler="HyperbandPruner")
    with pytest.raises(ValueError, match=r"^unknown scheduler 'ASHAScheduler' \(that is Ray "
                                         r"Tune's; nbtune's is scheduler='asha'\)"):
        nbtune.tune(value_of, SPACE, n_trials=2, storage=None, scheduler="ASHAScheduler")
    with pytest.raises(UsageError, match=r"unknown scheduler 'ASHAScheduler' \(that is 'asha' "
                                         r"here\)"):
        check_names(parse_line("--scheduler ASHAScheduler"))
    with pytest.raises(UsageError, match=r"unknown option '--checkpoint-config': "
                                         r"--checkpoint-config is Ray Tune's: nbtune keeps the "
                                         r"best trial's last checkpoint"):
        parse_line("--checkpoint-config 1")


def wants_data(config, data=None):
    return config["x"]


def wants_x_y(config, X, y):
    return config["x"]


def test_a_misspelt_with_parameters_name_names_the_one_meant():
    """It said to write the function with the typo's name (check round 37)."""
    with pytest.raises(TypeError, match=r"takes no dat=: .*; did you mean data=\? "
                                        r"\(with_parameters\(wants_data, data=\.\.\.\)\)$"):
        nbtune.tune(nbtune.with_parameters(wants_data, dat=1), SPACE, n_trials=2, storage=None)
    with pytest.raises(TypeError, match=r"wants_x_y\(config, X, y\) takes no z=: .*; did you "
                                        r"mean y=\?"):
        nbtune.tune(nbtune.with_parameters(wants_x_y, X=1, z=2), SPACE, n_trials=2,
                    storage=None)


@pytest.mark.parametrize("key, value, said", [
    ("max_resource_attr", "epochs", "max_resource_attr= is Syne Tune's name: nbtune's is max_t=, "
                                    "max_t=N, or epochs = fixed(N) in the space"),
    ("resource_attr", "epoch", "resource_attr= is Syne Tune's name: nbtune's is resource="),
    ("search_options", {"num_init_random": 3}, "nbtune's is searcher_options=, searcher_options="
                                               "{'n_initial': 5} (num_init_random is n_initial"),
    ("stop_criterion", None, "stop_criterion= is Syne Tune's: StoppingCriterion's fields are "
                             "nbtune.tune's own keywords (max_wallclock_time is max_time="),
])
def test_syne_tunes_keywords_are_named_with_nbtunes(key, value, said):
    """max_resource_attr read "did you mean 'max_resource'?", nbtune's total budget over all
    trials (first-day test, round 61)."""
    with pytest.raises(TypeError, match="unexpected keyword argument") as caught:
        nbtune.tune(value_of, SPACE, n_trials=2, storage=None, **{key: value})
    assert said in str(caught.value)


@pytest.mark.parametrize("line, said", [
    ("--max-resource-attr epochs", "--max-resource-attr is Syne Tune's name: nbtune's is "
                                   "--max-t (or epochs = fixed(N) in the cell's space)"),
    ("--resource-attr epoch", "--resource-attr is Syne Tune's name: nbtune's is --resource"),
])
def test_syne_tunes_flags_are_named_with_the_magics(line, said):
    with pytest.raises(UsageError, match="%%tune: ") as caught:
        parse_line(line)
    assert said in str(caught.value)


def test_syne_tunes_hyperband_scheduler_and_searcher_options_are_named_with_nbtunes():
    """Syne Tune's HyperbandScheduler is asynchronous; nbtune's of that name is synchronous
    Hyperband, and its type= or resource_attr= met a bare Python TypeError (round 61)."""
    with pytest.raises(TypeError, match=r"^HyperbandScheduler\(\) takes no type: nbtune's "
                                        r"HyperbandScheduler is synchronous Hyperband .* is "
                                        r"nbtune.ASHAScheduler\(type=...\), scheduler='asha'"):
        nbtune.HyperbandScheduler(max_t=9, type="stopping")
    with pytest.raises(TypeError, match=r"^HyperbandScheduler\(\) takes no resource_attr: the "
                                        r"study holds its resource"):
        nbtune.HyperbandScheduler(max_t=9, resource_attr="epoch")
    for searcher, theirs, ours in (("bayesopt", "num_init_random", "'n_initial'"),
                                   ("kde", "num_min_data_points", "'min_points'"),
                                   ("kde", "top_n_percent", "'gamma', a fraction: "
                                                            "top_n_percent=15 is gamma=0.15")):
        with pytest.raises(ValueError, match=f"has no option '{theirs}' \\({theirs} is Syne "
                                             f"Tune's name: nbtune's is {ours}\\)"):
            nbtune.tune(value_of, SPACE, n_trials=2, storage=None, searcher=searcher,
                        searcher_options={theirs: 3})
    with pytest.raises(TypeError, match="resource_attr= is Syne Tune's name for the resource, "
                                        "which the table records: 'epoch'"):
        nbtune.simulate("sgd-mlp", scheduler="asha", max_time=60, resource_attr="epoch")
