"""nbtune.tune end to end on a real LocalCluster and real SQLite files."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest

import nbtune
from nbtune.run.resources import worker_info
from nbtune import trial as T


def quadratic(config):
    return (config["x"] - 0.3) ** 2 + config["k"]


SPACE = {"x": nbtune.uniform(0.0, 1.0), "k": nbtune.randint(0, 3)}


def reports_loss(config):
    for step in range(1, 4):
        nbtune.report(step=step, loss=quadratic(config) / step)


def test_tune_runs_every_trial_and_finds_the_best(client, db):
    study = nbtune.tune(quadratic, SPACE, metric="loss", mode="min", n_trials=12, seed=1,
                        cluster=client, storage=db, study="q")
    assert len(study.trials) == 12
    assert all(t.state == T.COMPLETED for t in study.trials)
    for t in study.trials:
        assert t.value == pytest.approx(quadratic(t.config))
        assert t.worker in worker_info(client)
        assert t.started <= t.finished and t.duration >= 0
    assert study.best.value == min(t.value for t in study.trials)
    assert study.stop_reason == "n_trials"
    frame = study.to_dataframe()
    assert list(frame.index) == list(range(12))
    assert {"state", "loss", "config.x", "config.k", "worker", "duration"} <= set(frame.columns)


def test_same_seed_same_configs(client, db):
    a = nbtune.tune(quadratic, SPACE, metric="loss", n_trials=6, seed=7, cluster=client,
                    storage=None)
    b = nbtune.tune(quadratic, SPACE, metric="loss", n_trials=6, seed=7, cluster=client,
                    storage=None)
    assert [t.config for t in a.trials] == [t.config for t in b.trials]


def returns_dict(config):
    return {"accuracy": config["x"], "loss": 1 - config["x"]}


def reports_only(config):
    for epoch in range(1, 4):
        nbtune.report(epoch=epoch, accuracy=config["x"] * epoch / 3)


def test_result_forms_number_dict_and_reports(client, db):
    s1 = nbtune.tune(returns_dict, {"x": nbtune.uniform(0, 1)}, metric="loss", mode="min",
                     n_trials=3, cluster=client, storage=db, study="dict")
    for t in s1.trials:
        assert t.value == pytest.approx(1 - t.config["x"])
        assert t.metrics["accuracy"] == pytest.approx(t.config["x"])
    s2 = nbtune.tune(reports_only, {"x": nbtune.uniform(0, 1)}, metric="accuracy", mode="max",
                     n_trials=3, cluster=client, storage=db, study="reports")
    for t in s2.trials:
        assert t.state == T.COMPLETED
        assert [r["epoch"] for r in t.reports] == [1, 2, 3]
        assert t.value == pytest.approx(t.config["x"])
        assert t.resource("epoch") == 3
    stored = nbtune.load_study("reports", storage=db)
    assert [t.reports for t in stored.trials] == [t.reports for t in s2.trials]


def flaky(config):
    if config["i"] == 0:
        raise ValueError("bad batch")
    if config["i"] == 1:
        return float("nan")
    if config["i"] == 2:
        return {"other": 1.0}
    return config["i"]


def test_faults_are_recorded_and_the_study_goes_on(client, db):
    study = nbtune.tune(flaky, {"i": nbtune.grid(0, 1, 2, 3, 4)}, searcher="grid", metric="m",
                        mode="max", cluster=client, storage=db, study="faults")
    states = [t.state for t in study.trials]
    assert states == [T.FAILED, T.FAILED, T.FAILED, T.COMPLETED, T.COMPLETED]
    raised, nan, missing = study.trials[:3]
    assert "ValueError: bad batch" in raised.error
    assert 'raise ValueError("bad batch")' in raised.error  # points at the user's line
    package = os.path.dirname(nbtune.__file__)  # the checkout's own folder may be "nbtune" too
    assert package not in raised.error.split("ValueError")[0]  # no frames of nbtune itself
    assert "nan" in nan.error and nan.value is None
    assert "never reported the metric 'm'" in missing.error and "other" in missing.error
    assert study.best.config == {"i": 4}
    assert study.stop_reason == "exhausted"


def blows_up(config):
    """A loss that diverges to NaN at epoch 3 where lr is large; an F1 undefined (NaN) at the
    first epoch, then finite."""
    for epoch in range(1, 7):
        if config["lr"] > 0.5:
            loss = 10.0 ** (10 * epoch) if epoch < 3 else float("nan")
        else:
            loss = float("nan") if epoch == 1 and config["lr"] < 0.05 else 1.0 / epoch
        nbtune.report(epoch=epoch, loss=loss)


@pytest.mark.parametrize("scheduler", [{}, {"scheduler": "asha", "max_t": 6}])
def test_a_trial_whose_metric_diverges_ends_there_failed(client, scheduler):
    """It trained every epoch after the NaN to fail at its end; under ASHA it ended "stopped",
    left out of the summary's table without a word (first-day test, round 28)."""
    study = nbtune.tune(blows_up, {"lr": nbtune.grid(0.9, 0.01, 0.2)}, searcher="grid",
                        metric="loss", concurrency=1, cluster=client, storage=None,
                        progress=False, **scheduler)
    diverged, late_start, fine = study.trials
    assert diverged.state == T.FAILED and len(diverged.reports) == 3  # none after the NaN
    assert diverged.error.splitlines()[-1] == (
        "TrialDiverged: the metric 'loss' was nan at epoch 3, after finite values: the trial "
        "diverged, and ended there")
    # NaN first (a score undefined at first): it goes on, as far as its scheduler lets it
    assert late_start.state == (T.COMPLETED if not scheduler else T.STOPPED)
    assert len(late_start.reports) == (6 if not scheduler else 1)
    assert fine.state == T.COMPLETED and study.stop_reason == "exhausted"
    assert "TrialDiverged" in str(study.summary())


def test_unpicklable_objective_fails_before_any_trial(client, db):
    lock = __import__("threading").Lock()

    def uses_lock(config):
        with lock:
            return 1.0

    with pytest.raises(TypeError, match="cannot be sent to the Dask workers"):
        nbtune.tune(uses_lock, SPACE, n_trials=2, cluster=client, storage=db, study="lock")
    assert nbtune.list_studies(db) == []


def test_unpicklable_data_is_named_without_dasks_page_of_logs(client, db, caplog):
    """with_parameters(..., lock=lock) was refused with the right line, after about 60 lines of
    Dask's ERROR and CRITICAL logs, a printout of the array among them (first-day test, round
    21)."""
    import numpy as np

    fn = nbtune.with_parameters(lambda config, X, lock: 1.0, X=np.ones(10), lock=__import__(
        "threading").Lock())
    with pytest.raises(TypeError, match=r"^'lock' \(_thread.lock\) cannot be sent to the Dask workers"):
        nbtune.tune(fn, SPACE, n_trials=1, cluster=client, storage=db, study="lock-data")
    logged = [r for r in caplog.records if r.name.startswith("distributed.protocol")]
    assert not logged, [r.getMessage()[:80] for r in logged]


class CountsItsPickling:
    """A trial function that counts how often this process pickles it, and keeps what each
    call saw in its own state."""

    pickled = 0

    def __init__(self):
        self.seen = []

    def __getstate__(self):
        type(self).pickled += 1
        return self.__dict__

    def __call__(self, config):
        self.seen.append(config["x"])
        return {"loss": float(len(self.seen))}


def test_the_function_is_pickled_once_a_study_and_each_trial_gets_a_fresh_copy(client, db):
    fn = CountsItsPickling()
    study = nbtune.tune(fn, SPACE, metric="loss", n_trials=8, cluster=client, storage=db,
                        study="once", concurrency=2)
    assert len(study.trials) == 8
    # once, before the study starts (which also checks that it can travel): not once a trial
    assert CountsItsPickling.pickled == 1
    assert [t.value for t in study.trials] == [1.0] * 8  # no trial saw another's calls
    assert fn.seen == []  # nor the notebook's object


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "largest"}, "mode must be 'min' or 'max'"),
    ({"n_trials": 0}, "n_trials must be a positive integer"),
    ({"n_trials": None}, "the study has no end"),
    ({"retries": -1}, "retries must be an integer"),
    ({"searcher": "bayes"}, "unknown searcher"),
    ({"scheduler": "asha2"}, "unknown scheduler"),
    ({"metric": ["loss", "accuracy"]}, r"metric= names the one value the study optimises, got "
     r"\['loss', 'accuracy'\]: give metric='loss'; every other value"),
])
def test_bad_arguments_say_what_is_wrong(client, db, kwargs, message):
    with pytest.raises(ValueError, match=message):
        nbtune.tune(quadratic, SPACE, cluster=client, storage=db, **kwargs)
    assert nbtune.list_studies(db) == []


def test_existing_study_needs_resume_and_the_same_space(client, db):
    nbtune.tune(quadratic, SPACE, n_trials=2, cluster=client, storage=db, study="s")
    with pytest.raises(ValueError, match="already exists.*resume=True"):
        nbtune.tune(quadratic, SPACE, n_trials=2, cluster=client, storage=db, study="s")
    with pytest.raises(ValueError, match="another space"):
        nbtune.tune(quadratic, {"x": nbtune.uniform(0, 2), "k": nbtune.randint(0, 3)},
                    n_trials=4, cluster=client, storage=db, study="s", resume=True)
    started = nbtune.tune(quadratic, SPACE, n_trials=2, cluster=client, storage=db,
                          study="new", resume=True)  # nothing to resume: it starts
    assert len(started.trials) == 2


def slow_quadratic(config):
    time.sleep(0.2)
    return quadratic(config)


def test_resume_continues_the_budget_like_an_uninterrupted_run(client, db):
    full = nbtune.tune(quadratic, SPACE, n_trials=8, seed=3, cluster=client, storage=None)
    first = nbtune.tune(slow_quadratic, SPACE, n_trials=8, seed=3, concurrency=1,
                        cluster=client, storage=db, study="r", background=True)
    while len(first.completed) < 2:
        time.sleep(0.05)
    first.stop()
    assert len(first.completed) < 8
    resumed = nbtune.tune(quadratic, SPACE, cluster=client, storage=db, study="r", resume=True)
    assert len(resumed.trials) == 8 and len(resumed.completed) == 8  # its 8, not 50
    assert [t.config for t in resumed.trials] == [t.config for t in full.trials]  # its seed
    done = {t.id for t in first.completed}
    assert all(t.attempts == 1 for t in resumed.trials if t.id in done)  # not run again
    # the trials of the earlier run, left out of this run's pace (its elapsed is this run's)
    assert first.earlier == frozenset() and resumed.earlier == done


def sizes_by_tuple(config):
    """A trial that looks its sizes up in a dict: a list there raises (unhashable)."""
    return {(8,): 1.0, (16, 8): 0.5}[config["h"]] + config["x"]


def test_a_resumed_study_gives_its_trials_the_tuples_the_space_holds(client, db):
    space = {"h": nbtune.choice((8,), (16, 8)), "x": nbtune.uniform(0, 1)}
    first = nbtune.tune(sizes_by_tuple, space, n_trials=3, seed=1, cluster=client, storage=db,
                        study="t", progress=False)
    assert [t.state for t in first.trials] == [T.COMPLETED] * 3
    resumed = nbtune.tune(sizes_by_tuple, space, n_trials=6, cluster=client, storage=db,
                          study="t", resume=True, progress=False)
    assert [t.state for t in resumed.trials] == [T.COMPLETED] * 6, [t.error for t in resumed.trials]
    assert all(type(t.config["h"]) is tuple for t in resumed.trials)  # the stored ones too
    assert type(resumed.best_config["h"]) is tuple
    # and loaded, in another kernel next week: lists were JSON's form, and a frame's groupby
    # of them failed (first-day test, round 65)
    loaded = nbtune.load_study("t", storage=db)
    assert type(loaded.best_config["h"]) is tuple and loaded.best_config == resumed.best_config
    by_h = loaded.to_dataframe().groupby("config.h")["value"].count()
    assert sorted(by_h.index) == sorted({t.config["h"] for t in resumed.trials})
    assert by_h.sum() == 6


def test_resume_takes_every_setting_from_the_stored_study(client, db):
    kwargs = dict(metric="loss", mode="max", n_trials=4, seed=7, max_time=300.0, target=99.0,
                  max_resource=1000.0, retries=2, scheduler="asha", max_t=9, grace_period=3,
                  reduction_factor=2, type="stopping", resource="step")
    nbtune.tune(reports_loss, SPACE, cluster=client, storage=db, study="all", **kwargs)
    resumed = nbtune.tune(reports_loss, SPACE, cluster=client, storage=db, study="all",
                          resume=True)
    assert (resumed.metric, resumed.mode) == ("loss", "max")
    stored = nbtune.load_study("all", storage=db).settings
    assert {k: stored[k] for k in ("n_trials", "seed", "max_time", "target", "max_resource",
                                   "retries", "scheduler", "resource", "searcher")} == {
        "n_trials": 4, "seed": 7, "max_time": 300.0, "target": 99.0, "max_resource": 1000.0,
        "retries": 2, "scheduler": "asha", "resource": "step", "searcher": "random"}
    assert stored["scheduler_options"] == {"max_t": 9, "grace_period": 3,
                                           "reduction_factor": 2, "type": "stopping"}
    assert resumed.scheduler.max_t == 9 and resumed.scheduler.reduction_factor == 2
    again = nbtune.tune(reports_loss, SPACE, cluster=client, storage=db, study="all",
                        resume=True, **kwargs)  # the same settings given again agree
    assert len(again.trials) == 4


@pytest.mark.parametrize("given, message", [
    ({"metric": "acc"}, "was run with metric='loss', not metric='acc'"),
    ({"mode": "min"}, "was run with mode='max', not mode='min'"),
    ({"seed": 1}, "was run with seed=7, not seed=1"),
    ({"scheduler": "median"}, "was run with scheduler='asha', not scheduler='median'"),
    ({"grace_period": 2}, "was run with grace_period=3, not grace_period=2"),
    ({"reduction_factor": 4}, "was run without reduction_factor, not reduction_factor=4"),
    ({"retries": 0}, "was run with retries=1, not retries=0"),
    ({"resource": "epoch"}, "was run with resource='step', not resource='epoch'"),
])
def test_a_setting_given_again_must_agree_with_the_stored_one(client, db, given, message):
    nbtune.tune(reports_loss, SPACE, metric="loss", mode="max", n_trials=4, seed=7,
                scheduler="asha", max_t=9, grace_period=3, resource="step", cluster=client,
                storage=db, study="one")
    with pytest.raises(ValueError, match=message.replace("(", r"\(")) as info:
        nbtune.tune(reports_loss, SPACE, cluster=client, storage=db, study="one", resume=True,
                    **given)
    assert "\n" not in str(info.value)
    assert len(nbtune.load_study("one", storage=db).trials) == 4  # nothing ran, nothing changed


def test_a_resume_may_change_the_budget_and_keeps_it(client, db):
    nbtune.tune(reports_loss, SPACE, metric="loss", mode="max", n_trials=4, seed=7,
                cluster=client, storage=db, study="longer")
    more = nbtune.tune(reports_loss, SPACE, n_trials=7, max_time=600, cluster=client,
                       storage=db, study="longer", resume=True)
    assert len(more.trials) == 7 and more.stop_reason == "n_trials"
    stored = nbtune.load_study("longer", storage=db).settings
    assert (stored["n_trials"], stored["max_time"]) == (7, 600)
    again = nbtune.tune(reports_loss, SPACE, cluster=client, storage=db, study="longer",
                        resume=True)  # the new budget is the study's now: nothing left to run
    assert len(again.trials) == 7


def test_replace_deletes_the_stored_study_and_starts_again(client, db):
    old = nbtune.tune(quadratic, SPACE, n_trials=3, cluster=client, storage=db, study="rep")
    with pytest.raises(ValueError, match="already exists.*resume=True.*replace=True"):
        nbtune.tune(quadratic, SPACE, n_trials=2, cluster=client, storage=db, study="rep")
    new = nbtune.tune(quadratic, {"x": nbtune.uniform(5, 6), "k": nbtune.fixed(0)},
                      metric="loss", n_trials=2, cluster=client, storage=db, study="rep",
                      replace=True)
    stored = nbtune.load_study("rep", storage=db)
    assert len(old.trials) == 3 and len(stored.trials) == len(new.trials) == 2
    assert stored.metric == "loss" and all(5 <= t.config["x"] <= 6 for t in stored.trials)
    with pytest.raises(ValueError, match="give one of the two"):
        nbtune.tune(quadratic, SPACE, cluster=client, storage=db, study="rep", resume=True,
                    replace=True)


def test_load_study_from_another_process(client, db):
    study = nbtune.tune(reports_only, {"x": nbtune.uniform(0, 1)}, metric="accuracy",
                        mode="max", n_trials=4, seed=0, cluster=client, storage=db, study="x")
    code = ("import nbtune, json; s = nbtune.load_study('x', storage=%r); "
            "print(json.dumps([s.best.id, s.best.value, len(s.trials), s.stop_reason]))" % db)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    best_id, best_value, n, reason = __import__("json").loads(out.stdout)
    assert (best_id, n, reason) == (study.best.id, 4, "n_trials")
    assert best_value == pytest.approx(study.best.value)


def _watch(db: str, query: str, args: tuple, found) -> float:
    """1.0 once ``found(rows)`` holds for the study file's rows of ``query``, within 20 s."""
    deadline = time.time() + 20
    while time.time() < deadline:
        with sqlite3.connect(db) as con:
            if found(con.execute(query, args).fetchall()):
                return 1.0
        time.sleep(0.05)
    return 0.0


def waits_for_its_report_on_disk(config):
    """Reports once, then watches the study file until that report is there."""
    nbtune.report(epoch=1, seen=0)
    return _watch(config["db"], "SELECT data FROM reports WHERE study = 'live' AND trial = ?",
                  (config["me"],), bool)


def test_each_report_is_stored_while_the_trial_still_runs(client, db):
    study = nbtune.tune(waits_for_its_report_on_disk,
                        {"db": nbtune.fixed(db), "me": nbtune.grid(0, 1, 2)}, searcher="grid",
                        metric="found", mode="max", cluster=client, storage=db, study="live")
    assert [t.value for t in study.trials] == [1.0, 1.0, 1.0]


def waits_for_its_row_on_disk(config):
    """Reports nothing; watches the study file until its own row is there, marked running."""
    return _watch(config["db"], "SELECT state FROM trials WHERE study = 'rows' AND id = ?",
                  (config["me"],), lambda rows: rows == [("running",)])


def test_a_trial_that_never_reports_is_stored_while_it_runs(client, db):
    study = nbtune.tune(waits_for_its_row_on_disk,
                        {"db": nbtune.fixed(db), "me": nbtune.grid(0, 1, 2)}, searcher="grid",
                        metric="found", mode="max", cluster=client, storage=db, study="rows")
    assert [t.value for t in study.trials] == [1.0, 1.0, 1.0]
    stored = nbtune.load_study("rows", storage=db)
    assert [(t.state, t.value) for t in stored.trials] == [("completed", 1.0)] * 3


class Recorder(nbtune.Observer):
    def __init__(self):
        self.events = []

    def trial_created(self, trial):
        self.events.append(("created", trial.id))

    def trial_reported(self, trial, report):
        self.events.append(("reported", trial.id))

    def trial_finished(self, trial):
        self.events.append(("finished", trial.id, trial.state))

    def study_finished(self, reason):
        self.events.append(("study", reason))


def test_observers_see_every_event_in_order(client):
    rec = Recorder()
    nbtune.tune(reports_only, {"x": nbtune.uniform(0, 1)}, metric="accuracy", mode="max",
                n_trials=3, cluster=client, storage=None, observers=[rec])
    for i in range(3):
        mine = [e for e in rec.events if e[1] == i]
        assert mine[0] == ("created", i)
        assert mine[1:4] == [("reported", i)] * 3
        assert mine[4] == ("finished", i, "completed")
    assert rec.events[-1] == ("study", "n_trials")


def slow_or_fast(config):
    start = time.time()
    time.sleep(2.5 if config["i"] == 0 else 0.05)
    return {"start": start, "end": time.time(), "i": config["i"]}


def test_a_finished_trial_frees_its_slot_at_once(client):
    study = nbtune.tune(slow_or_fast, {"i": nbtune.grid(*range(12))}, searcher="grid",
                        metric="i", cluster=client, storage=None, concurrency=2)
    slow_end = study.trials[0].metrics["end"]
    started_meanwhile = [t for t in study.trials[1:] if t.metrics["start"] < slow_end]
    assert len(started_meanwhile) >= 10  # the fast ones flowed through the other slot


def test_concurrency_is_capped(client):
    study = nbtune.tune(slow_or_fast, {"i": nbtune.grid(*range(1, 7))}, searcher="grid",
                        metric="i", cluster=client, storage=None, concurrency=1)
    spans = sorted((t.metrics["start"], t.metrics["end"]) for t in study.trials)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))


def test_a_queued_trial_no_worker_started_is_taken_back_at_the_end(client, db):
    # 2 workers, 4 in flight: two trials wait in Dask's queue until the study ends
    study = nbtune.tune(sleeps, {"x": nbtune.uniform(0, 1)}, metric="score", mode="min",
                        n_trials=None, max_time=1.5, seed=0, cluster=client, storage=db,
                        study="end", concurrency=4)
    assert len(study.trials) == 2
    assert all(t.started is not None for t in study.trials)  # none was only queued
    assert [t.id for t in study.trials] == list(range(len(study.trials)))
    stored = nbtune.load_study("end", storage=db)
    assert [t.id for t in stored.trials] == [t.id for t in study.trials]
    assert {t.state for t in stored.trials} == {T.INTERRUPTED}  # the running ones, ended


def sleeps(config):
    for epoch in range(1, 200):
        time.sleep(0.05)
        nbtune.report(epoch=epoch, score=config["x"])


def test_max_time_ends_the_study_and_interrupts_running_trials(client, db):
    t0 = time.time()
    study = nbtune.tune(sleeps, {"x": nbtune.uniform(0, 1)}, metric="score", mode="max",
                        n_trials=10, max_time=1.5, cluster=client, storage=db, study="t")
    assert time.time() - t0 < 8
    assert study.stop_reason == "max_time"
    assert {t.state for t in study.trials} == {T.INTERRUPTED}
    assert all(t.reports for t in study.trials)
    stored = nbtune.load_study("t", storage=db)
    assert [len(t.reports) for t in stored.trials] == [len(t.reports) for t in study.trials]
    # named for what ended them, not "interrupted", a Ctrl-C's word (first-day test, round 14)
    from nbtune.listing import studies_frame
    from nbtune.storage import Storage

    n, summary = len(study.trials), str(study.summary())
    assert f"{n} of 10: {n} cut by max_time" in summary and "interrupted" not in summary
    assert "no trial completed before max_time ended: give a longer max_time" in summary
    assert repr(study) == f"<Study 't': {n} cut by max_time>"
    assert list(studies_frame(Storage(db))["trials"]) == [f"{n} cut by max_time"]


def test_trials_a_target_or_budget_cut_are_named_for_it_in_counts_and_plots():
    """A study that target= ended called its cut trial "interrupted", and the learning curves'
    legend said "stopped or interrupted" of max_time's cut (first-day test, round 17)."""
    from matplotlib.figure import Figure

    assert T.counts_text({T.COMPLETED: 1, T.INTERRUPTED: 1}, "target") == \
        "1 completed, 1 cut by target"
    assert T.counts_text({T.INTERRUPTED: 2}, "interrupted") == "2 interrupted"
    study = nbtune.Study("cut", nbtune.Space({"x": nbtune.uniform(0, 1)}), "v", "max",
                         settings={"resource": "epoch"})
    study.stop_reason = "max_time"
    for i, state in enumerate([T.COMPLETED, T.STOPPED] + [T.INTERRUPTED] * 4):
        study.trials.append(T.Trial(i, {"x": i / 10}, state=state, value=float(i),
                                    reports=[{"epoch": e, "v": i * e / 10} for e in (1, 2)]))
    fig = study.plot.learning_curves()
    assert isinstance(fig, Figure)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[-1] == "stopped or cut by max_time" and "trial 5 (cut by max_time)" in labels
    assert not [x for x in labels if "interr" in x], labels


def ramp(config):
    time.sleep(0.05)
    return config["i"]


def test_target_ends_the_study_when_reached(client):
    study = nbtune.tune(ramp, {"i": nbtune.grid(*range(40))}, searcher="grid", metric="i",
                        mode="max", target=5, cluster=client, storage=None, concurrency=1)
    assert study.stop_reason == "target"
    assert study.best.value == 5 and len(study.trials) == 6


def epochs(config):
    for epoch in range(1, 6):
        nbtune.report(epoch=epoch, acc=config["i"])


def test_max_resource_counts_epochs_over_all_trials(client):
    study = nbtune.tune(epochs, {"i": nbtune.grid(*range(40))}, searcher="grid", metric="acc",
                        mode="max", max_resource=12, cluster=client, storage=None,
                        concurrency=1)
    assert study.stop_reason == "max_resource"
    trained = sum(t.resource("epoch") or 0 for t in study.trials)
    assert 12 <= trained <= 15


def test_cluster_by_address_by_object_and_embedded(client):
    from nbtune.run import cluster as C
    from nbtune.run.gpus import gpu_devices
    from nbtune.run.local import default_workers

    workers = set(worker_info(client))
    by_address = nbtune.tune(quadratic, SPACE, n_trials=2, cluster=client.scheduler.address,
                             storage=None)
    by_object = nbtune.tune(quadratic, SPACE, n_trials=2, cluster=client.cluster, storage=None)
    for study in (by_address, by_object):
        assert {t.worker for t in study.trials} <= workers
    assert C.get_client(client.scheduler.address) is C.get_client(client.cluster)  # reused

    embedded = nbtune.tune(quadratic, SPACE, n_trials=2, storage=None)
    assert embedded.best is not None
    assert C.get_client(None) is C.get_client(None)
    assert not {t.worker for t in embedded.trials} & workers
    # a worker per core, and one per GPU where nvidia-smi lists any
    assert len(C.get_client(None).nthreads()) == default_workers() + len(gpu_devices())
    C.close_clients()


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ConnectionError, match="cannot reach the Dask scheduler"):
        nbtune.tune(quadratic, SPACE, n_trials=1, cluster="tcp://127.0.0.1:9", storage=None)


def test_grid_search_runs_the_whole_grid_or_an_even_subsample(client):
    space = {"i": nbtune.grid(*range(10)), "x": nbtune.uniform(0, 1)}
    whole = nbtune.tune(quadratic_i, space, searcher="grid", n_trials=None, cluster=client,
                        storage=None)
    assert [t.config["i"] for t in whole.trials] == list(range(10))
    assert whole.stop_reason == "exhausted"
    capped = nbtune.tune(quadratic_i, space, searcher="grid", n_trials=5, cluster=client,
                         storage=None)
    assert [t.config["i"] for t in capped.trials] == [0, 2, 5, 7, 9]
    auto = nbtune.tune(quadratic_i, space, searcher="grid", cluster=client, storage=None)
    assert [t.config["i"] for t in auto.trials] == list(range(10))  # n_trials "auto": all of it


def test_without_n_trials_a_random_study_runs_50(client):
    study = nbtune.tune(quadratic_i, {"i": nbtune.randint(0, 9), "x": nbtune.uniform(0, 1)},
                        cluster=client, storage=None, progress=False)
    assert len(study.trials) == 50 and study.stop_reason == "n_trials"


def quadratic_i(config):
    return (config["i"] - 4) ** 2 + config["x"]


def test_points_to_evaluate_run_first(client):
    study = nbtune.tune(quadratic, SPACE, n_trials=4, seed=0, cluster=client, storage=None,
                        points_to_evaluate=[{"x": 0.3}, {"x": 0.9, "k": 2}], concurrency=1)
    assert study.trials[0].config == {"x": 0.3, "k": 2}  # k completed by its mid-point rule
    assert study.trials[1].config == {"x": 0.9, "k": 2}
    assert len({tuple(t.config.items()) for t in study.trials}) == 4  # then random ones


def uses_big_data(config, table):
    return float(table[config["i"]])


def test_with_parameters_ships_large_data_once(client):
    import numpy as np

    table = np.arange(2_000_000, dtype=float)  # 16 MB: scattered once, not pickled per trial
    fn = nbtune.with_parameters(uses_big_data, table=table)
    assert len(__import__("cloudpickle").dumps(fn)) < 100_000
    study = nbtune.tune(fn, {"i": nbtune.randint(0, 1_999_999)}, metric="v", mode="max",
                        n_trials=6, cluster=client, storage=None)
    assert all(t.value == float(t.config["i"]) for t in study.trials)


def imports_a_local_module(config):
    import nbtune_local_helper_xyz  # a file of the notebook's folder only

    return nbtune_local_helper_xyz.score(config["x"])


def test_a_module_of_the_notebooks_own_the_workers_lack_is_named_with_the_fix(
        client, tmp_path, monkeypatch):
    """Every trial failed with ModuleNotFoundError and nothing said how the workers get the
    module, nor why the study's closing line counted only failures (first-day test, round 10)."""
    from nbtune.notebook.closing import closing_line

    (tmp_path / "nbtune_local_helper_xyz.py").write_text("def score(x):\n    return x\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # the notebook's folder; not the workers'
    study = nbtune.tune(imports_a_local_module, {"x": nbtune.uniform(0, 1)}, metric="x",
                        n_trials=2, cluster=client, storage=None, progress=False)
    assert [t.state for t in study.trials] == [T.FAILED, T.FAILED]
    # the file's path once, in the call to copy (twice, with the address, it passed the
    # closing line's 400 characters where pytest's folders are deep)
    hint = (f"nbtune: the workers cannot import 'nbtune_local_helper_xyz', the notebook's own: "
            f"send it to them, distributed.Client("
            f"{client.scheduler.address!r}).upload_file("
            f"'{tmp_path / 'nbtune_local_helper_xyz.py'}'), or "
            "put it where the workers' Python finds it")
    error = study.trials[0].error
    assert "ModuleNotFoundError: No module named 'nbtune_local_helper_xyz'\n" + hint in error
    assert closing_line(study, 1.0, "study").endswith(f"every trial failed; trial 0: {hint}")


def test_a_trial_function_from_a_module_the_workers_lack_is_named_with_the_fix(
        client, tmp_path, monkeypatch):
    """``from mymod import score`` in the notebook: the trial function travels by reference,
    the worker cannot load it, and Dask's own error ("Dask could not run it: ModuleNotFoundError")
    came without the hint (first-day test, round 10)."""
    import importlib

    (tmp_path / "nbtune_local_trial_xyz.py").write_text(
        "def score(config):\n    return config['x']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("nbtune_local_trial_xyz")
    study = nbtune.tune(module.score, {"x": nbtune.uniform(0, 1)}, metric="x", n_trials=1,
                        cluster=client, storage=None, progress=False)
    error = study.trials[0].error
    assert "No module named 'nbtune_local_trial_xyz'" in error, error
    assert "nbtune: the workers cannot import 'nbtune_local_trial_xyz', the notebook's own" \
        in error, error


def starts_a_process(config):
    """As PyTorch's DataLoader(num_workers=2) does."""
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    child.start()
    child.join()
    return config["x"]


def starts_a_process_in_a_framework(config):
    """As Lightning's fit does with DataLoader(num_workers=2): its teardown fails in turn while
    the daemonic worker's refusal is handled."""
    try:
        return starts_a_process(config)
    except AssertionError:
        raise RuntimeError("Please call `iter(combined_loader)` first.")


def test_a_trials_traceback_keeps_the_exceptions_it_was_raised_while_handling(client):
    """Lightning's teardown raised "Please call `iter(combined_loader)` first." while handling
    the DataLoader's "daemonic processes are not allowed to have children": only the second was
    kept, and nbtune's hint for the first was lost (first-day test, round 30)."""
    study = nbtune.tune(starts_a_process_in_a_framework, {"x": nbtune.uniform(0, 1)},
                        metric="x", n_trials=1, cluster=client, storage=None, progress=False)
    error = study.trials[0].error
    first, _, second = error.partition(
        "\nDuring handling of the above exception, another exception occurred:\n\n")
    assert "AssertionError: daemonic processes are not allowed to have children" in first
    assert "in starts_a_process_in_a_framework" in second and "nbtune/" not in error
    assert second.endswith("RuntimeError: Please call `iter(combined_loader)` first.\n"
                           "nbtune: Dask's daemonic workers start no processes: num_workers=0, "
                           "or dask.config.set({'distributed.worker.daemon': False}) and "
                           "%tune_cluster local"), error


def test_a_trial_that_starts_processes_on_a_daemonic_worker_is_told_how(client):
    """DataLoader(num_workers>0) failed every trial with "daemonic processes are not allowed to
    have children" and nothing more (first-day test, round 11); the fix the hint gives works."""
    import dask
    from distributed import Client

    from nbtune.run.local import local_cluster

    study = nbtune.tune(starts_a_process, {"x": nbtune.uniform(0, 1)}, metric="x", n_trials=1,
                        cluster=client, storage=None, progress=False)
    (trial,) = study.trials
    assert trial.state == T.FAILED
    hint = ("nbtune: Dask's daemonic workers start no processes: num_workers=0, or dask.config."
            "set({'distributed.worker.daemon': False}) and %tune_cluster local")
    assert trial.error.endswith("daemonic processes are not allowed to have children\n" + hint)
    assert len(hint) <= 160  # whole in the failure list's one line, which cut the fix out
    with dask.config.set({"distributed.worker.daemon": False}):
        cluster = local_cluster(1)
    with cluster, Client(cluster, set_as_default=False) as own:
        study = nbtune.tune(starts_a_process, {"x": nbtune.uniform(0, 1)}, metric="x",
                            n_trials=1, cluster=own, storage=None, progress=False)
    assert [t.state for t in study.trials] == [T.COMPLETED]


def test_a_missing_module_the_notebook_lacks_too_is_left_as_it_is():
    from nbtune.run.imports import missing_module_hint

    error = "Traceback ...\nModuleNotFoundError: No module named 'no_such_module_anywhere'\n"
    assert missing_module_hint(error) == error
    installed = missing_module_hint("ModuleNotFoundError: No module named 'numpy.linalg'")
    assert installed.endswith("nbtune: the workers cannot import 'numpy', installed where the "
                              "notebook runs: install it in the workers' environment too (pip "
                              "install numpy)")


SCRIPT_WITH_DATA = """\
import numpy as np
import nbtune


def score(config, X):
    return float(X.sum() * config["x"])


if __name__ == "__main__":
    study = nbtune.tune(nbtune.with_parameters(score, X=np.ones(100)),
                        {"x": nbtune.uniform(0, 1)}, metric="y", n_trials=3, storage=None,
                        progress=False)
    print("completed", len(study.completed))
"""


def test_a_script_that_sends_data_ends_without_dasks_errors(tmp_path):
    """Dask's exit handler closed the embedded cluster before nbtune's closed its client, and
    logged "Removing worker ... caused the cluster to lose scattered data" under every script
    that used with_parameters (first-day test, round 9)."""
    script = tmp_path / "study.py"
    script.write_text(SCRIPT_WITH_DATA)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == "completed 3\n", done
    assert "ERROR" not in done.stderr and "lose scattered data" not in done.stderr, done.stderr


def sums_its_data_slowly(config, data):
    time.sleep(0.2)
    return float(data.sum())


def test_two_studies_sending_data_of_the_same_name_each_see_their_own(client):
    import numpy as np

    # the same argument name, as when two %%tune cells use the same large notebook global
    zeros = nbtune.with_parameters(sums_its_data_slowly, data=np.zeros(10))
    ones = nbtune.with_parameters(sums_its_data_slowly, data=np.ones(10))
    first = nbtune.tune(zeros, {"x": nbtune.uniform(0, 1)}, metric="s", n_trials=8,
                        concurrency=1, cluster=client, storage=None, background=True)
    second = nbtune.tune(ones, {"x": nbtune.uniform(0, 1)}, metric="s", n_trials=2,
                         concurrency=1, cluster=client, storage=None)
    first.wait(timeout=60)
    assert [t.value for t in second.trials] == [10.0, 10.0]
    assert [t.value for t in first.trials] == [0.0] * 8  # also those run after the second's


def test_background_study_fills_in_and_can_be_stopped(client, db):
    study = nbtune.tune(sleeps, {"x": nbtune.uniform(0, 1)}, metric="score", mode="max",
                        n_trials=50, cluster=client, storage=db, study="bg", background=True)
    assert study.running
    deadline = time.time() + 10
    while not any(t.reports for t in study.trials) and time.time() < deadline:
        time.sleep(0.05)
    assert any(t.reports for t in study.trials)  # reports arrive while the cell is free
    study.stop()
    assert not study.running and study.stop_reason == "stopped"
    assert {t.state for t in study.trials} == {T.INTERRUPTED}
    assert nbtune.load_study("bg", storage=db).stop_reason == "stopped"


def always_raises(config):
    raise ValueError("a mistake in the trial's code")


def test_waiting_on_a_background_study_its_failures_stopped_raises_as_its_cell_would(client,
                                                                                     db):
    """A background study whose first trials all failed alike ended (fail_fast), and
    study.wait() returned True: Run All went on, where the foreground cell stops it (first-day
    test, round 60)."""
    study = nbtune.tune(always_raises, {"x": nbtune.uniform(0, 1)}, metric="v", n_trials=8,
                        cluster=client, storage=db, study="fails", background=True)
    with pytest.raises(nbtune.NoTrialCompleted, match=r"^study 'fails' stopped: its first "
                                                      r"trials all failed alike \(.*failed.*\), "
                                                      r"and no trial completed"):
        study.wait(60)
    assert study.stop_reason == "fail_fast"
    assert study.stop() is study  # stop() of an ended study: no second raise
    ok = nbtune.tune(sleeps, {"x": nbtune.uniform(0, 1)}, metric="score", n_trials=1,
                     cluster=client, storage=None, background=True)
    assert ok.wait(60) is True  # a study that completed: as before


def test_with_parameters_data_that_cannot_be_sent_writes_nothing(client, db):
    fn = nbtune.with_parameters(uses_big_data, table=__import__("threading").Lock())
    with pytest.raises(TypeError, match=r"'table' \(lock\) cannot be sent to the Dask workers"):
        nbtune.tune(fn, {"i": nbtune.randint(0, 3)}, n_trials=2, cluster=client, storage=db,
                    study="nosend")
    assert nbtune.list_studies(db) == []


@pytest.mark.parametrize("metric, maximised", [
    ("accuracy", True), ("val_acc", True), ("roc_auc", True), ("f1_macro", True),
    ("neg_log_loss", True), ("mean_test_score", True), ("loss", False), ("val_error", False),
    ("rmse", False), ("value", False), ("score_time", False), ("accuracy_loss", False),
    ("explained_variance", True), ("variance", False)])  # round 42: left at min, unwarned
def test_which_metric_names_read_as_scores(metric, maximised):
    from nbtune.directions import looks_maximised

    assert looks_maximised(metric) is maximised


@pytest.mark.parametrize("metric, loss", [
    ("loss", True), ("val_loss", True), ("binary_logloss", True), ("valid_0_l2", True),
    ("mlogloss", True), ("rmsle", True), ("poisson-nloglik", True), ("val_error", True),
    ("neg_log_loss", False), ("auc", False), ("accuracy_loss", False), ("fit_time", False),
    ("value", False), ("l2_reg_score", False),
    # SearchCV's metric of a scoring dict's key: a scorer's value, higher is better (its
    # {"rmse": "neg_root_mean_squared_error"} was said to be a loss maximised: round 42)
    ("mean_test_rmse", False), ("mean_test_mae", False)])
def test_which_metric_names_read_as_losses(metric, loss):
    from nbtune.directions import looks_a_loss

    assert looks_a_loss(metric) is loss


def test_a_loss_maximised_is_named_where_the_mode_was_chosen(client):
    """A booster's logloss with mode='max': the best trial was the worst model, and nothing
    said so (first-day test, round 29)."""
    import warnings

    def logloss(config):
        return {"binary_logloss": config["x"]}

    with pytest.warns(UserWarning, match=r"^maximising 'binary_logloss', whose name reads as "
                                         r"a loss: if lower binary_logloss is better, the best "
                                         r"trial is the worst model; give mode='min' \(%%tune "
                                         r"--mode min\)$") as warned:
        study = nbtune.tune(logloss, {"x": nbtune.uniform(0, 1)}, metric="binary_logloss",
                            mode="max", n_trials=2, cluster=client, storage=None,
                            progress=False)
    assert {w.filename for w in warned} == {__file__}
    # the summary, read the next day, says it too (it was in the cell's stderr only: round 31)
    assert dict(study.summary().facts())["mode"].startswith("maximising 'binary_logloss', "
                                                            "whose name reads as a loss")
    with warnings.catch_warnings():  # the loss minimised, chosen or left to the default
        warnings.simplefilter("error")
        for mode in ("min", None):
            study = nbtune.tune(logloss, {"x": nbtune.uniform(0, 1)}, metric="binary_logloss",
                                mode=mode, n_trials=2, cluster=client, storage=None,
                                progress=False)
            assert "mode" not in dict(study.summary().facts())


def test_a_score_left_at_the_default_mode_is_named_and_a_chosen_one_is_not(client):
    import warnings

    def score(config):
        return {"accuracy": config["x"]}

    with pytest.warns(UserWarning, match="minimising 'accuracy': mode='min' is the default") \
            as warned:
        nbtune.tune(score, {"x": nbtune.uniform(0, 1)}, metric="accuracy", n_trials=2,
                    cluster=client, storage=None, progress=False)
    assert {w.filename for w in warned} == {__file__}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nbtune.tune(score, {"x": nbtune.uniform(0, 1)}, metric="accuracy", mode="max",
                    n_trials=2, cluster=client, storage=None, progress=False)


def test_a_study_whose_kernel_died_loads_as_stopped_with_its_trials_interrupted(client, db):
    import socket

    from nbtune.storage import Storage
    from nbtune.studies import DIED
    from nbtune.listing import studies_frame

    nbtune.tune(reports_only, {"x": nbtune.uniform(0, 1)}, metric="accuracy", mode="max",
                n_trials=4, seed=0, cluster=client, storage=db, study="died")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with sqlite3.connect(db) as con:  # the file as a killed kernel leaves it, mid-study
        con.execute("UPDATE studies SET status = 'running' WHERE name = 'died'")
        con.execute("UPDATE trials SET state = 'running', finished = NULL, value = NULL "
                    "WHERE study = 'died' AND id IN (2, 3)")
        con.execute("INSERT INTO leases VALUES ('died', 'gone', ?, ?, NULL, ?, ?)",
                    (socket.gethostname(), gone.pid, time.time(), time.time()))
    study = nbtune.load_study("died", storage=db)
    assert study.stop_reason == DIED and study.counts() == {"completed": 2, "interrupted": 2}
    assert dict(study.summary().facts())["ended"] == DIED
    listing = studies_frame(Storage(db, readonly=True)).set_index("study").loc["died"]
    assert (listing["trials"], listing["status"]) == ("2 completed, 2 interrupted",
                                                      "stopped with its kernel or process: resume it")
    resumed = nbtune.tune(reports_only, {"x": nbtune.uniform(0, 1)}, cluster=client, storage=db,
                          study="died", resume=True)
    assert resumed.counts() == {"completed": 4}
    with sqlite3.connect(db) as con:  # interrupted: listed as what a resume does with it
        con.execute("UPDATE studies SET status = 'finished: interrupted' WHERE name = 'died'")
    listing = studies_frame(Storage(db, readonly=True)).set_index("study").loc["died"]
    assert listing["status"] == "interrupted: resume it"  # was "finished: interrupted"


def test_a_study_still_running_loads_as_running(client, db):
    study = nbtune.tune(sleeps, {"x": nbtune.uniform(0, 1)}, metric="score", mode="max",
                        n_trials=2, cluster=client, storage=db, study="alive", background=True)
    try:
        deadline = time.time() + 30
        while not any(t.reports for t in study.trials) and time.time() < deadline:
            time.sleep(0.05)
        loaded = nbtune.load_study("alive", storage=db)
        assert loaded.stop_reason is None and "interrupted" not in loaded.counts()
    finally:
        study.stop()
        study.wait(60)


def climbs_past_the_target(config):
    for epoch in range(1, 10):
        time.sleep(0.02)
        nbtune.report(epoch=epoch, accuracy=config["q"] * epoch / 9)


def test_a_target_reached_by_a_report_ends_the_study_with_that_trial_as_its_best(client):
    # trial 0's reports pass 0.5 at epoch 6 of 9: it ends as it would, and is the result
    study = nbtune.tune(climbs_past_the_target, {"q": nbtune.grid(0.8, 0.9, 1.0)},
                        searcher="grid", metric="accuracy", mode="max", target=0.5,
                        cluster=client, storage=None, concurrency=1)
    assert study.stop_reason == "target"
    assert study.best is not None and study.best.id == 0 and study.best.value == \
        pytest.approx(0.8) and study.trials[0].state == T.COMPLETED


def test_a_finite_space_runs_each_config_once_by_default_and_more_trials_are_noted(client):
    space = {"x": nbtune.choice(0.1, 0.3, 0.5), "k": nbtune.randint(0, 1)}
    study = nbtune.tune(quadratic, space, seed=2, cluster=client, storage=None, progress=False)
    assert sorted((t.config["x"], t.config["k"]) for t in study.trials) == [
        (x, k) for x in (0.1, 0.3, 0.5) for k in (0, 1)]  # n_trials='auto': each once
    with pytest.warns(nbtune.NbtuneWarning, match=r"the space holds 6 configs, fewer than "
                      r"n_trials=8: once each has run, the random searcher repeats them; "
                      r"n_trials=6 \(--trials 6\) runs each once") as noted:
        study = nbtune.tune(quadratic, space, n_trials=8, seed=2, cluster=client, storage=None,
                            progress=False)
    assert noted[0].filename == __file__
    assert len({(t.config["x"], t.config["k"]) for t in study.trials[:6]}) == 6


def test_a_function_over_a_large_array_is_sent_once_not_with_every_trial(client, recwarn):
    """A notebook function that reads a 20 MB global: each trial's task carried the array
    through the scheduler (5.7 s for 32 trivial trials against 0.4 s with with_parameters), and
    Dask warned of a large graph (first-day test, round 5)."""
    import numpy as np

    cell = {"__name__": "__main__", "big": np.arange(2_500_000, dtype=float)}  # a notebook's
    exec("def reads_big(config):\n    return float(big[config['i']])\n", cell)
    study = nbtune.tune(cell["reads_big"], {"i": nbtune.grid(0, 7, 2_499_999)},
                        searcher="grid", cluster=client, storage=None, progress=False)
    assert sorted(t.value for t in study.trials) == [0.0, 7.0, 2_499_999.0]
    assert not [w for w in recwarn if "large graph" in str(w.message)]


@pytest.mark.parametrize("scheduler, options, n_trials, note", [
    ("asha", {"max_t": 3, "grace_period": 3}, 4,
     r"the asha scheduler's first rung is max_t=3 \(grace_period=3\): it judges no trial before "
     r"the end, so early stopping is off; give a grace_period below max_t"),
    ("median", {}, 5,
     r"the median scheduler judges trials once 5 have completed, and n_trials=5: it will stop "
     r"none; give fewer n_startup_trials \(%%tune --startup-trials 2\) or more trials"),
])
def test_early_stopping_asked_for_and_silently_off_is_noted(client, scheduler, options, n_trials,
                                                           note):
    with pytest.warns(nbtune.NbtuneWarning, match=note) as noted:
        nbtune.tune(reports_loss, SPACE, metric="loss", n_trials=n_trials, scheduler=scheduler,
                    resource="step", cluster=client, storage=None, progress=False, **options)
    assert noted[0].filename == __file__
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", nbtune.NbtuneWarning)  # where it may stop trials: no word
        nbtune.tune(reports_loss, SPACE, metric="loss", n_trials=8, scheduler=scheduler,
                    resource="step", cluster=client, storage=None, progress=False,
                    **{**options, "grace_period": 1} if scheduler == "asha" else {})


def test_a_study_without_a_completed_trial_says_so_for_its_best_config_and_value():
    """study.best_config was None for a study whose every trial failed, and the next cell's
    cfg["hidden"] failed with "'NoneType' object is not subscriptable" (first-day test, 30)."""
    failed = nbtune.Study("lit_tensor", nbtune.Space({"x": nbtune.uniform(0, 1)}), "loss",
                          "min", trials=[T.Trial(i, {"x": 0.5}, state=T.FAILED)
                                         for i in range(3)])
    assert failed.best is None
    for what in ("best_config", "best_value"):
        with pytest.raises(ValueError, match=rf"^no {what}: study 'lit_tensor' has no "
                                             rf"completed trial \(3 failed\)$"):
            getattr(failed, what)
    failed.trials.append(T.Trial(3, {"x": 0.25}, state=T.COMPLETED, value=0.25))
    assert failed.best_config == {"x": 0.25} and failed.best_value == 0.25


def test_a_resume_that_starts_a_new_study_names_the_files_full_path(client, tmp_path,
                                                                   monkeypatch, capsys):
    """A nightly script run from another folder started its study afresh in a new file there,
    the line naming 'runs.db' only (first-day test, round 39); a date's next day is a new
    study, not a typo of the last (it was refused)."""
    monkeypatch.chdir(tmp_path)
    for night in ("nightly-2026-12-05", "nightly-2026-12-06"):
        nbtune.tune(quadratic, SPACE, n_trials=2, cluster=client, storage="runs.db",
                    study=night, resume=True, progress=False)
        assert (f"nbtune: study {night!r} starts as a new study in 'runs.db' "
                f"({tmp_path / 'runs.db'}): none of that name there to resume yet"
                in capsys.readouterr().out)
    assert nbtune.list_studies("runs.db") == ["nightly-2026-12-05", "nightly-2026-12-06"]


def test_a_resume_with_fewer_trials_than_were_run_says_how_many_ran(client, db):
    nbtune.tune(quadratic, SPACE, n_trials=4, cluster=client, storage=db, study="ran",
                progress=False)
    with pytest.warns(nbtune.NbtuneWarning) as said:
        nbtune.tune(quadratic, SPACE, n_trials=2, cluster=client, storage=db, study="ran",
                    resume=True, progress=False)
    assert [str(w.message) for w in said] == [
        "study 'ran' has run 4 trials, more than its n_trials=2: nothing is left to run; "
        "n_trials=6 runs 2 more"]


def sleeps_then_squares(config):
    import time
    time.sleep(config["sleep"])
    return config["x"] ** 2


def test_a_resume_with_fewer_trials_than_it_has_unfinished_says_none_is_new(client, db):
    """A study of 10 trials, all interrupted, resumed with n_trials=3: its 10 ran on without a
    word, and the next resume said "n_trials=3 or more", a number that cell never gave
    (first-day test, round 67)."""
    space = {"x": nbtune.uniform(0, 1), "sleep": nbtune.fixed(3.0)}
    cut = nbtune.tune(sleeps_then_squares, space, n_trials=4, cluster=client, storage=db,
                      study="cut", max_time=0.5, progress=False)
    made = len(cut.trials)
    unfinished = sum(1 for t in cut.trials if not t.is_finished)
    assert made >= 2 and unfinished == made, [(t.id, t.state) for t in cut.trials]
    with pytest.warns(nbtune.NbtuneWarning) as said:
        again = nbtune.tune(sleeps_then_squares, space, n_trials=1, cluster=client, storage=db,
                            study="cut", resume=True, max_time=60, progress=False)
    assert [str(w.message) for w in said] == [
        f"study 'cut' has {made} trials already, {made} of them unfinished, which this run "
        f"ends: n_trials=1 starts no new one; n_trials={made + 1} runs 1 more"]
    assert len(again.trials) == made and all(t.is_finished for t in again.trials)


def test_a_returned_value_minimised_without_metric_or_mode_is_said(client):
    """nbtune.tune(train, space) where train returns an accuracy minimised it and made the
    worst trial the best, without a word (first-day test, round 41). Either of metric= or
    mode= given says the user chose."""
    with pytest.warns(nbtune.NbtuneWarning, match=r"^minimising the value the trial function "
                                                  r"returns \(mode='min' is the default\): "):
        nbtune.tune(lambda c: c["x"], {"x": nbtune.uniform(0, 1)}, n_trials=2, cluster=client,
                    storage=None, progress=False)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", nbtune.NbtuneWarning)
        nbtune.tune(lambda c: c["x"], {"x": nbtune.uniform(0, 1)}, n_trials=2, mode="min",
                    cluster=client, storage=None, progress=False)


def test_a_trial_function_whose_parameter_is_a_hyperparameters_name_is_warned_of():
    """def train(C): the config dict arrived as C and every trial failed inside scikit-learn
    (first-day test, round 41): said before any trial, in one line."""
    def train(C):
        return C

    with pytest.warns(nbtune.NbtuneWarning, match=r"^the trial function train\(C\) names its "
                                                  r"parameter 'C', a hyperparameter's name: "
                                                  r"nbtune calls train\(config\)"), \
            pytest.raises(ConnectionError):  # said before the cluster is reached
        nbtune.tune(train, {"C": nbtune.uniform(0, 1)}, n_trials=1, mode="min",
                    cluster="tcp://127.0.0.1:1", storage=None, progress=False)


def test_a_dict_returned_without_its_metric_named_names_metric_and_a_folds_array_its_mean(client):
    """A dict of rmse and r2 returned with no metric= failed every trial on 'value' without
    naming metric=; an array of folds' scores without .mean() (check round 43)."""
    study = nbtune.tune(lambda c: {"rmse": c["x"], "r2": 1 - c["x"]}, {"x": nbtune.uniform(0, 1)},
                        n_trials=1, mode="min", cluster=client, storage=None, progress=False)
    assert study.trials[0].error.endswith(
        "or call report(value=...), or name it with metric=NAME (one of 'r2', 'rmse')"), \
        study.trials[0].error
    import numpy as np

    folds = nbtune.tune(lambda c: np.array([c["x"], c["x"]]), {"x": nbtune.uniform(0, 1)},
                        n_trials=1, mode="min", cluster=client, storage=None, progress=False)
    assert "returned a ndarray of shape (2,) (cross_val_score's? return its .mean(), the " \
           "folds' mean)" in folds.trials[0].error
    assert nbtune.tune(lambda c: c["x"], {"x": nbtune.uniform(0, 1)}, n_trials=1, mode="min",
                       cluster=client, storage=None, progress="none").live is None
