"""A study ported from Ray Tune (first-day test, round 16): Ray Tune's names are named with
nbtune's, in one line each, and what Ray Tune users write by habit (a dict report, a CPU ask,
a grid in Ray's dict form, a folder as a checkpoint, a study file given as a study's name, a
script on standard input) works or says what to write."""
from __future__ import annotations

import os
import subprocess
import sys
import traceback

import pytest
from IPython.core.error import UsageError

import nbtune
from nbtune import trial as T
from nbtune.caller import without_nbtune
from nbtune.notebook.options import parse_line
from nbtune.run.resources import check_resources, default_ask

from test_magic import run


def value_of(config):
    return config["x"]


SPACE = {"x": nbtune.uniform(0.0, 1.0)}


@pytest.mark.parametrize("key, value, said", [
    ("num_samples", 8, "num_samples= is Ray Tune's name: nbtune's is n_trials="),
    ("time_budget_s", 30, "time_budget_s= is Ray Tune's name: nbtune's is max_time="),
    ("max_concurrent_trials", 2, "nbtune's is concurrency=, concurrency=N (--concurrency"),
    ("search_alg", "bayesopt", "nbtune's is searcher=, searcher='bayesopt'"),
    ("resources_per_trial", {"gpu": 1}, "nbtune's is resources=, resources={'GPU': 1}"),
    ("stop", {"training_iteration": 9}, "nbtune's is max_t=, max_t=N with a scheduler"),
    ("storage_path", "/tmp/ray", "nbtune's is storage=, storage='results.db' (a study file"),
    ("local_dir", "/tmp/ray", "nbtune's is storage="),
    ("name", "exp", "name= is Ray Tune's name: nbtune's is study=, study=NAME (--study"),
    ("time_attr", "training_iteration", "nbtune's is resource=, resource='epoch'"),
    ("tune_config", None, "tune_config= is Ray Tune's: TuneConfig's fields are nbtune.tune's "
                          "own keywords (num_samples is n_trials="),
    ("checkpoint_config", {"num_to_keep": 1}, "checkpoint_config= is Ray Tune's: nbtune keeps "
     "the best trial's last checkpoint after the study, study.best_checkpoint"),
    # scikit-learn's words, a researcher's (first-day test, round 38)
    ("random_state", 0, "random_state= is scikit-learn's name: nbtune's is seed=, seed=N (it "
     "seeds the configs drawn; the trial code's own random numbers take their own seed) "
     "(--seed in %%tune)"),
    ("n_iter", 20, "n_iter= is scikit-learn's name: nbtune's is n_trials=, n_trials=N"),
])
def test_ray_tunes_keywords_are_named_with_nbtunes(key, value, said):
    """They read "scheduler 'fifo' has no option 'num_samples'"."""
    with pytest.raises(TypeError, match="unexpected keyword argument") as caught:
        nbtune.tune(value_of, SPACE, n_trials=2, storage=None, **{key: value})
    assert said in str(caught.value), str(caught.value)


@pytest.mark.parametrize("key", ["param_space", "config"])
def test_the_space_under_ray_tunes_name_is_named_and_a_missing_space_too(key):
    with pytest.raises(TypeError, match=f"{key}= is Ray Tune's name: nbtune's is space=, the "
                                        r"second argument, nbtune.tune\(fn, space, ...\)"):
        nbtune.tune(value_of, storage=None, **{key: SPACE})
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'space'"):
        nbtune.tune(value_of, storage=None)


@pytest.mark.parametrize("line, said", [
    ("--num-samples 8", "--num-samples is Ray Tune's name: nbtune's is --trials"),
    ("--time-budget-s 30", "nbtune's is --max-time"),
    ("--local-dir runs", "--local-dir is Ray Tune's name: nbtune's is --storage"),
    ("--storage-path runs", "nbtune's is --storage"),
    ("--max-concurrent-trials 2", "nbtune's is --concurrency"),
    ("--search-alg tpe", "nbtune's is --searcher"),
    ("--stop 5", "--stop is Ray Tune's name: nbtune's is --max-t with a scheduler (the most a "
                 "trial trains, in the resource's units; the cell's own loop ends it "
                 "otherwise), or --target VALUE"),
])
def test_ray_tunes_flags_are_named_with_the_magics(line, said):
    """--local-dir read "did you mean '--local'?", which runs the body in the notebook."""
    with pytest.raises(UsageError, match="%%tune: unknown option") as caught:
        parse_line(line)
    assert said in str(caught.value) and "--local'" not in str(caught.value)


def test_an_early_stopping_option_without_its_scheduler_names_the_scheduler():
    with pytest.raises(ValueError, match=r"scheduler 'fifo' has no option 'grace_period' "
                                         r"\(grace_period is an option of scheduler 'asha' and "
                                         r"'hyperband': give scheduler='asha'"):
        nbtune.tune(value_of, SPACE, n_trials=2, storage=None, grace_period=1)
    with pytest.raises(ValueError, match="nbtune has no Population Based Training"):
        nbtune.tune(value_of, SPACE, n_trials=2, storage=None, scheduler="pbt")


@pytest.mark.parametrize("name, said", [
    ("Tuner", r"nbtune.tune\(fn, space, metric=..., mode=..., n_trials=..., scheduler='asha'\)"
              r" runs the study and returns it \(no Tuner to fit\); Tuner.restore\(path\) is "
              r"nbtune.tune\(..., study=NAME, storage=FILE, resume=True\)"),
    ("with_resources", r"resources=\{'GPU': 1\} of nbtune.tune"),
    ("grid_search", r"nbtune.grid\(a, b, c\)"),
    ("sample_from", "a space is flat"),
    ("qrandint", r"nbtune.randint\(lo, hi\) for integers \(both ends included\)"),
    ("Checkpoint", r"report\(..., checkpoint=state\) takes the state itself"),
])
def test_ray_tunes_module_names_are_named_with_nbtunes(name, said):
    with pytest.raises(AttributeError, match=f"module 'nbtune' has no attribute '{name}': "
                                             f"that is Ray Tune's; here, {said}"):
        getattr(nbtune, name)
    with pytest.raises(AttributeError, match=r"^module 'nbtune' has no attribute 'nope'$"):
        nbtune.nope  # noqa: B018


def test_a_ray_tune_name_imported_from_nbtune_keeps_its_note():
    """Python turns the AttributeError of ``from nbtune import Tuner`` into a bare "cannot
    import name": the note was lost (first-day test, round 17)."""
    with pytest.raises(ImportError, match=r"^module 'nbtune' has no attribute 'Tuner': that is "
                                          r"Ray Tune's; here, nbtune.tune\(fn, space"):
        from nbtune import Tuner  # noqa: F401
    with pytest.raises(ImportError, match=r"^cannot import name 'nope' from 'nbtune'"):
        from nbtune import nope  # noqa: F401
    assert not hasattr(nbtune, "Tuner")  # an attribute's lookup still raises AttributeError


def test_ray_tune_1s_tune_run_is_named_with_nbtunes():
    """nbtune.run is the package of the loop: "'module' object is not callable"."""
    with pytest.raises(TypeError, match=r"Ray Tune's tune.run\(trainable, config=...\) is "
                                        r"nbtune.tune\(fn, space, ...\) here"):
        nbtune.run(value_of, config=SPACE)


def test_ray_tunes_scheduler_arguments_are_named_with_the_studys():
    """``ASHAScheduler(metric=, mode=)``, Ray Tune's call, got Python's "unexpected keyword
    argument" (first-day test, round 18): the study holds both."""
    with pytest.raises(TypeError) as raised:
        nbtune.ASHAScheduler(metric="acc", mode="max", max_t=27, grace_period=1)
    assert str(raised.value) == (
        "ASHAScheduler() takes no metric or mode: the study holds its metric and mode, which "
        "every scheduler reads from it: nbtune.tune(fn, space, metric='acc', mode='max', "
        "scheduler=nbtune.ASHAScheduler(...)), or `%%tune --metric acc --mode max`")
    assert without_nbtune(raised.tb).tb_frame.f_code.co_filename == __file__  # the user's line
    with pytest.raises(TypeError, match=r"MedianScheduler\(\) takes no time_attr: the study "
                                        r"holds its resource.*resource='epoch'.*--resource epoch"):
        nbtune.MedianScheduler(time_attr="epoch")
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
        nbtune.ASHAScheduler(foo=1)  # any other word: Python's own message
    assert nbtune.ASHAScheduler(max_t=9, grace_period=3).grace_period == 3


class Trainable:
    def setup(self, config):
        self.x = config["x"]

    def step(self):
        return {"v": self.x}


def test_a_trainable_class_is_told_before_any_trial_runs():
    """Each trial failed in the class's constructor, until fail-fast stopped the third."""
    with pytest.raises(TypeError, match="trial_fn is the class Trainable: nbtune runs a "
                                        r"function fn\(config\)"):
        nbtune.tune(Trainable, SPACE, n_trials=2, storage=None)


@pytest.mark.parametrize("space, said", [
    ({"lr": {"grid_search": [0.1, 0.01]}},
     r"hyperparameter 'lr' is \{'grid_search': ...\}, Ray Tune's form: nbtune's is "
     r"nbtune.grid\(0.1, 0.01\)"),
    ({"opt": {"lr": nbtune.loguniform(1e-4, 1e-1), "m": nbtune.uniform(0.8, 0.99)}},
     r"hyperparameter 'opt' is a dict of domains: a space is flat, so name each part, "
     r"\{'opt.lr': loguniform\(0.0001, 0.1\), 'opt.m': uniform\(0.8, 0.99\)\}, and read "
     r"config\['opt.lr'\] in the trial"),
    ({"f": lambda spec: 1}, "hyperparameter 'f' is a function: a space holds values and "
                            r"domains \(nbtune.uniform, choice, ...\); for Ray Tune's sample_from"),
])
def test_ray_tunes_space_forms_are_named_with_nbtunes(space, said):
    """{"grid_search": [...]} was one fixed dict for every trial, which failed each in the
    user's code; a nested dict and a lambda read "fixed values must be JSON-serialisable",
    below a frame of contextlib's."""
    with pytest.raises(ValueError, match=f"^{said}") as caught:
        nbtune.tune(value_of, space, n_trials=2, storage=None)
    shown = traceback.format_tb(without_nbtune(caught.value.__traceback__))
    assert not [f for f in shown if "contextlib" in f or "nbtune" + os.sep in f], shown


def test_plain_dicts_stay_fixed_values():
    space = nbtune.Space({"opt": {"name": "sgd", "nesterov": True}})
    assert space["opt"] == nbtune.fixed({"name": "sgd", "nesterov": True})


def test_ray_tunes_result_names_are_named_with_nbtunes():
    study = nbtune.Study("s", nbtune.Space(SPACE), "v", "max")
    for name, ours in (("get_best_result", "best"), ("get_dataframe", r"to_dataframe\(\)"),
                       ("num_errors", r"counts\(\).get\('failed', 0\)")):
        with pytest.raises(AttributeError, match=f"'Study' object has no attribute '{name}': "
                                                 f"that is Ray Tune's name; nbtune's is {ours}"):
            getattr(study, name)
    with pytest.raises(AttributeError, match=r"nbtune's is reports \(a list of dicts: "
                                             r"pandas.DataFrame\(trial.reports\)\)"):
        T.Trial(id=0, config={}).metrics_dataframe  # noqa: B018


def reports_a_dict(config):
    for epoch in (1, 2):
        nbtune.report({"epoch": epoch, "v": config["x"] * epoch})


def keeps_a_folder(config, folder):
    nbtune.report(epoch=1, v=config["x"], checkpoint=folder)


def test_a_dict_report_is_ray_tunes_form_and_a_folder_checkpoint_is_said(client, tmp_path):
    """report({...}) failed every trial until fail-fast stopped the study; a folder's path as
    the checkpoint (Checkpoint.from_directory) was kept as a path, whose files a resume on
    another machine lacks, in silence."""
    study = nbtune.tune(reports_a_dict, SPACE, metric="v", mode="max", n_trials=3,
                        cluster=client, storage=None, progress=False)
    assert [t.state for t in study.trials] == [T.COMPLETED] * 3
    assert all([r["epoch"] for r in t.reports] == [1, 2] for t in study.trials)
    with pytest.raises(TypeError, match=r"not 1 value without a name \(Optuna's"):
        nbtune.report(0.9)
    folder = str(tmp_path)
    with pytest.warns(nbtune.NbtuneWarning) as noted:  # progress=False: no view shows it
        study = nbtune.tune(nbtune.with_parameters(keeps_a_folder, folder=folder), SPACE,
                            metric="v", mode="max", n_trials=2, cluster=client, storage=None,
                            progress=False)
    said = {(w["category"], w["message"]) for t in study.trials for w in t.warnings}
    note = ("checkpoint= is a folder's path: a resume gets the path back, not the files; pass "
            "the state (a dict)")
    assert said == {("NbtuneWarning", note)}, said
    assert f"{note} (2 trials)" in str(study.summary())  # whole, and once
    # said once, where it ran in silence with progress=False (first-day test, round 35)
    assert [str(w.message) for w in noted] == [f"{note} (2 trials)"]


def test_a_study_file_given_as_a_studys_name_names_the_call(client, db):
    """Tuner.restore(path) ported: "no study storage at 'nbtune.db'"."""
    nbtune.tune(value_of, SPACE, n_trials=1, cluster=client, storage=db, study="a",
                progress=False)
    with pytest.raises(nbtune.studies.StudyNotFound,
                       match=f"^{db!r} is a study file, not a study's name: load_study\\('a', "
                             f"storage={db!r}\\) \\(studies there: 'a'\\)$"):
        nbtune.load_study(db)
    missing = db + "-gone.db"  # it read "no study storage at 'nbtune.db'" (round 17)
    with pytest.raises(FileNotFoundError, match=f"^no study file {missing!r} .*: "
                                                r"load_study\(NAME, storage=PATH\)"):
        nbtune.load_study(missing)


def test_a_cpu_ask_on_nbtunes_own_cluster_is_what_every_trial_has():
    """Ray Tune's {"cpu": 1}, ported: "no worker offers CPU=1 ... start workers with `dask
    worker`" on the cluster nbtune started itself."""
    plain = {"w1": {"nthreads": 1, "resources": {}}, "w2": {"nthreads": 1, "resources": {}}}
    for asked in ({"cpu": 1}, {"CPU": 1.0}, {"CPU": 0.5}):
        assert default_ask(plain, asked, local=True) is None
        assert check_resources(plain, default_ask(plain, asked, local=True), local=True) == 2
    assert default_ask(plain, {"cpu": 1, "GPU": 1}, local=True) == {"GPU": 1}
    with pytest.raises(ValueError, match=r"no worker offers CPU=4: nbtune's local cluster runs "
                                         r"one trial on each worker, .* start fewer workers"):
        check_resources(plain, default_ask(plain, {"cpu": 4}, local=True), local=True)
    gpu_machine = {"c": {"nthreads": 1, "resources": {"CPU": 1}},
                   "g": {"nthreads": 1, "resources": {"GPU": 1}}}
    assert default_ask(gpu_machine, {"cpu": 1}, local=True) == {"CPU": 1}  # its CPU workers
    assert default_ask(plain, {"cpu": 1}) == {"cpu": 1}  # a cluster of the user's: as asked


def test_n_trials_beyond_the_grid_is_said(client):
    """searcher='grid', n_trials=12 on a grid of 3 ran 3 trials in silence."""
    with pytest.warns(nbtune.NbtuneWarning, match=r"the grid searcher's grid holds 3 configs, "
                                                  r"fewer than n_trials=12: the study runs each "
                                                  r"once, 3 trials \(Ray Tune repeats"):
        study = nbtune.tune(value_of, {"x": nbtune.grid(0.1, 0.2, 0.3)}, searcher="grid",
                            n_trials=12, storage=None, progress=False, cluster=client)
        assert len(study.trials) == 3


def test_a_script_on_standard_input_is_told_before_anything_starts(tmp_path):
    """python - <<EOF: a page of Dask's tracebacks ending in "Nanny failed to start."."""
    script = ("import nbtune\n"
              "if __name__ == '__main__':\n"
              "    nbtune.tune(lambda c: 1.0, {'x': nbtune.uniform(0, 1)}, n_trials=1, "
              "storage=None)\n")
    done = subprocess.run([sys.executable, "-"], input=script, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 1 and last.startswith(
        "nbtune: a script read from standard input (python -) cannot start nbtune's local "
        "cluster"), done.stderr
    assert "Traceback" not in done.stderr  # the line alone (round 39)
    assert "Nanny" not in done.stderr


RAY_SPACE_CELL = """\
lr = tune.loguniform(1e-3, 0.3)
accuracy = lr
"""

RAY_BODY_CELL = """\
lr = loguniform(1e-3, 0.3)
for epoch in range(3):
    tune.report({"epoch": epoch, "accuracy": config["lr"]})
"""


@pytest.mark.parametrize("cell, said", [
    (RAY_SPACE_CELL, "UsageError: %%tune: line 2: tune.loguniform(...) is Ray Tune's: a space "
                     "line calls nbtune's primitive by its name, lr = loguniform(...)"),
    ("batch = grid_search([16, 32])\naccuracy = batch",
     "UsageError: %%tune: line 2: grid_search(...) is Ray Tune's; here, nbtune.grid(a, b, c) "
     "(searcher='grid' runs each value once)"),
    (RAY_BODY_CELL, "UsageError: %%tune: the cell uses 'config' and 'tune', which are not "
                    "defined in the notebook: config[...] is Ray Tune's: a %%tune cell reads "
                    "each hyperparameter by its name (lr, not config['lr']); tune.report(...) "
                    "and tune.get_checkpoint() are Ray Tune's: in a %%tune cell, "
                    "report(epoch=N, accuracy=...) and get_checkpoint() need no prefix (the "
                    "name checkpoint holds a resumed trial's checkpoint too)"),
    ("lr = loguniform(1e-3, 0.3)\nid = train.get_context().get_trial_id()\naccuracy = lr",
     "UsageError: %%tune: the cell uses 'train', which is not defined in the notebook: "
     "train.report(...), train.get_checkpoint() and train.get_context() are Ray Train's: in a "
     "%%tune cell, report(epoch=N, accuracy=...) and get_checkpoint() need no prefix, and "
     "nbtune.trial_id() is the trial's id"),
    ("from ray import tune\nlr = loguniform(1e-3, 0.3)\ntune.report({'accuracy': lr})",
     "UsageError: %%tune: line 2: `from ray import tune` imports Ray Tune's package, which is "
     "not installed here: a %%tune cell calls report(epoch=N, accuracy=...) and "
     "get_checkpoint() with no import"),
    ("config = {'lr': tune.loguniform(1e-3, 0.3), 'alpha': loguniform(1e-6, 1e-2)}\n"
     "accuracy = config['lr']",
     "UsageError: %%tune: line 2: a space in a dict is Ray Tune's; a %%tune cell's space is "
     "flat, one line per hyperparameter at its top (`lr = loguniform(1e-4, 1e-1)`), each read "
     "by its name (lr, not config['lr'])"),
])
def test_ray_tune_style_cells_are_told_the_nbtune_way(shell, capsys, cell, said):
    """They read "the cell declares no search space" and "run the cell that defines it
    first"."""
    for name in ("train", "tune", "config"):  # a test before may have bound one
        shell.user_ns.pop(name, None)
    res = run(shell, "--metric accuracy --mode max -n 2", cell)
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert not res.success and err == [said], err


def test_a_cell_reports_a_dict(shell, capsys):
    res = run(shell, "--metric accuracy --mode max -n 2 -o s",
              "lr = loguniform(1e-3, 0.3)\nfor epoch in (1, 2):\n"
              "    report({'epoch': epoch, 'accuracy': lr * epoch})")
    assert res.success, capsys.readouterr().err
    study = shell.user_ns["s"]
    assert [t.state for t in study.trials] == [T.COMPLETED] * 2
    assert all([r["epoch"] for r in t.reports] == [1, 2] for t in study.trials)


def test_the_trials_frame_has_every_value_they_reported_or_returned():
    """Ray Tune's get_dataframe() has each trial's last metrics; to_dataframe() had the study's
    metric alone (a second reported loss was nowhere)."""
    study = nbtune.Study("s", nbtune.Space(SPACE), "acc", "max")
    study.trials += [
        T.Trial(0, {"x": 0.5}, state=T.COMPLETED, value=0.9, metrics={"acc": 0.9, "f1": 0.7},
                reports=[{"epoch": 1, "acc": 0.8, "loss": 0.3}]),
        T.Trial(1, {"x": 0.2}, state=T.STOPPED, value=0.5,
                reports=[{"epoch": 1, "acc": 0.5, "loss": 0.6}])]
    frame = study.to_dataframe()
    assert list(frame.columns[:5]) == ["state", "acc", "config.x", "metrics.loss", "metrics.f1"]
    assert frame["metrics.loss"].tolist() == [0.3, 0.6]  # each trial's last
    assert frame["metrics.f1"].iloc[0] == 0.7 and frame["metrics.f1"].isna().iloc[1]
    assert frame["epoch"].tolist() == [1, 1]


def test_a_new_study_file_without_a_suffix_is_said_to_be_a_file(client, tmp_path):
    """storage="ray_results" (Ray Tune's storage_path, a folder) made a SQLite file of that
    name in silence."""
    path = str(tmp_path / "ray_results")
    with pytest.warns(nbtune.NbtuneWarning, match=f"storage={path!r} is a new study file, a "
                                                  "SQLite file of that name, not a folder"):
        nbtune.tune(value_of, SPACE, n_trials=1, cluster=client, storage=path, progress=False)
    assert os.path.isfile(path)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", nbtune.NbtuneWarning)  # said once, as it is made
        nbtune.tune(value_of, SPACE, n_trials=1, cluster=client, storage=path, study="again",
                    mode="min", progress=False)  # a mode left out is said too


def reports_ray2s_keyword(config):
    nbtune.report(metrics={"epoch": 1, "v": config["x"]})


def test_a_zero_ask_asks_nothing_and_ray_2s_metrics_keyword_is_its_dict(client):
    """{"cpu": 1, "gpu": 0}, Ray Tune's everyday resources_per_trial, never ran a trial: Dask
    waited for a worker offering GPU (first-day test, round 17); report(metrics={...}) failed
    in every trial."""
    study = nbtune.tune(reports_ray2s_keyword, SPACE, metric="v", n_trials=2, cluster=client,
                        storage=None, progress=False, resources={"GPU": 0}, max_time=60)
    assert [t.state for t in study.trials] == [T.COMPLETED] * 2, study
    assert study.settings["resources"] is None
    assert default_ask({}, {"gpu": 0.5}, local=True) == {"GPU": 0.5}


def test_the_magics_gpus_flag_given_to_tune_names_its_python_form():
    """gpus=1 (the advice of an earlier message) read "scheduler 'fifo' has no option 'gpus'"."""
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'gpus': give "
                                        r"resources=\{'GPU': N\} \(--gpus N is the %%tune flag\)"):
        nbtune.tune(value_of, SPACE, n_trials=2, storage=None, gpus=1)
    with pytest.raises(TypeError, match=r"^tune\(\) got an unexpected keyword argument 'zzz'$"):
        nbtune.tune(value_of, SPACE, n_trials=2, storage=None, zzz=1)


def hyperparameters_as_arguments(lr, momentum):
    return lr * momentum


def one_config(config):
    return config["x"]


class Callable:
    def __call__(self, config):
        return config["x"]


@pytest.mark.parametrize("fn, said", [
    (hyperparameters_as_arguments,
     r"the trial function hyperparameters_as_arguments\(lr, momentum\) cannot take a trial's "
     r"config: nbtune calls hyperparameters_as_arguments\(config\), config a dict of the "
     r"trial's hyperparameters \(missing a required argument: 'momentum'\); write def "
     r"hyperparameters_as_arguments\(config\): and read config\['x'\]$"),
    (lambda: 1, r"the trial function <lambda>\(\) cannot take .* write lambda config: \.\.\. "),
    (nbtune.with_parameters(one_config, X=[1, 2]),  # it read "cannot take a trial's config"
     r"the trial function one_config\(config\) takes no X=: with_parameters passes each value "
     r"by its name, one_config\(config, X=\.\.\.\); add it to its parameters$"),
    (nbtune.with_parameters(lambda: 1, X=[1, 2]),  # neither: the config first
     r"the trial function <lambda>\(\) cannot take .* nbtune calls <lambda>\(config, X=\.\.\.\)"),
])
def test_a_trial_function_that_cannot_take_the_config_is_told_before_any_trial_runs(fn, said):
    """def train(lr, momentum), or a function of no argument, failed in every trial, once the
    cluster had started and the data had been sent."""
    with pytest.raises(TypeError, match=f"^{said}") as caught:
        nbtune.tune(fn, SPACE, n_trials=2, storage=None)
    shown = traceback.format_tb(without_nbtune(caught.value.__traceback__))
    assert not [f for f in shown if "nbtune" + os.sep in f], shown


@pytest.mark.parametrize("fn", [one_config, Callable(), lambda config, X=None: 1,
                                lambda config, **data: 1, print,
                                nbtune.with_parameters(lambda config, X: 1, X=[1])])
def test_trial_functions_that_take_the_config_pass_the_check(fn):
    from nbtune.arguments import check_call

    check_call(fn, SPACE, {}, None, [])


def test_a_cell_takes_its_checkpoint_back_with_get_checkpoint(shell, capsys):
    """Ray Tune's ``get_checkpoint()``, also nbtune's (the README's recipe), was refused in a
    cell as Ray Tune's, though ``report()`` is bare there (first-day test, round 35)."""
    cell = ("x = uniform(0, 1)\n"
            "state = get_checkpoint()\n"
            "first = state['epoch'] + 1 if state else 1\n"
            "for epoch in range(first, 5):\n"
            "    report(epoch=epoch, v=x * epoch, first=first, checkpoint={'epoch': epoch})\n")
    # one trial at a time: which trials pause at the rung, and which are promoted on arrival
    # without pausing, is the same on every run (two at once, all were, once, under load)
    res = run(shell, "-n 6 --metric v --mode max --scheduler asha --type promotion --max-t 4 "
                     "--rung-levels 2 --seed 0 --storage none --concurrency 1 -o s", cell)
    assert res.success, capsys.readouterr().err
    firsts = {r["first"] for t in shell.user_ns["s"].trials for r in t.reports}
    assert firsts == {1, 3}, [(t.state, t.reports) for t in shell.user_ns["s"].trials]  # a
    # trial paused at epoch 2 went on from its checkpoint


def test_ray_tunes_classes_given_uncalled_and_its_positional_data_are_named():
    """scheduler=ASHAScheduler read "unknown scheduler <class ...>: use one of asha, ..."; data
    given to with_parameters by position, Python's line about __init__ (round 35)."""
    with pytest.raises(ValueError, match=r"^scheduler=ASHAScheduler is the class, not a "
                                         r"scheduler: call it, scheduler=ASHAScheduler\(\.\.\.\), "
                                         r"or name it, scheduler='asha'$"):
        nbtune.tune(value_of, SPACE, n_trials=2, storage=None, scheduler=nbtune.ASHAScheduler)
    with pytest.raises(ValueError, match=r"^searcher=BayesOptSearcher is the class, not a "
                                         r"searcher: call it"):
        nbtune.tune(value_of, SPACE, n_trials=2, storage=None, searcher=nbtune.BayesOptSearcher)
    with pytest.raises(TypeError, match=r"^with_parameters\(fn, X=X, y=y\) takes the data by "
                                        r"name, the names of value_of's keywords; 1 value was "
                                        r"given by position$"):
        nbtune.with_parameters(value_of, [1, 2])


def test_a_study_is_not_its_trials_and_says_where_they_are():
    """ResultGrid habits: len(results), results[0], for r in results."""
    study = nbtune.Study("s", nbtune.Space(SPACE), "v", "max")
    for use in (len, lambda s: s[0], list):
        with pytest.raises(TypeError, match=r"^a Study is not a list of its trials \(Ray Tune's "
                                            r"ResultGrid is\): study.trials is, "):
            use(study)
    assert study  # a study with no trials yet is still a study, not a false value
