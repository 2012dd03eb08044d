"""ASHA, Hyperband and the median rule end to end on a real cluster, through tune and %%tune."""
from __future__ import annotations

import sys
from collections import Counter

import pytest

import nbtune
from nbtune import trial as T


def linear(config):
    """Metric q * epoch up to epoch 9; resumes after the epoch of its checkpoint."""
    checkpoint = nbtune.get_checkpoint()
    first = checkpoint["epoch"] + 1 if checkpoint else 1
    for epoch in range(first, 10):
        nbtune.report(epoch=epoch, score=config["q"] * epoch, checkpoint={"epoch": epoch})
    return config["q"] * 9


def epochs_of(trial):
    return [r["epoch"] for r in trial.reports]


def test_asha_stops_the_poor_trials_at_the_first_rung_and_the_good_reach_max_t(client, db):
    # The best come first (grid order, one at a time): q=9 and q=8 continue at every rung (fewer
    # than 3 values there) and reach max_t; every later trial is below the top third of rung 1
    # when it gets there and stops at once. (With two at a time, q=7 could reach rung 1 before a
    # slow-starting q=8, and stop it: ASHA decides on what has arrived.)
    study = nbtune.tune(linear, {"q": nbtune.grid(9, 8, 7, 6, 5, 4, 3)}, searcher="grid",
                        metric="score", mode="max", scheduler="asha", max_t=9, concurrency=1,
                        cluster=client, storage=db, study="asha")
    by_q = {t.config["q"]: t for t in study.trials}
    for q in (9, 8):
        assert by_q[q].state == T.COMPLETED and epochs_of(by_q[q]) == list(range(1, 10))
    for q in (7, 6, 5, 4, 3):
        assert by_q[q].state == T.STOPPED and epochs_of(by_q[q]) == [1]
    assert study.best.config["q"] == 9
    stored = {t.config["q"]: t for t in nbtune.load_study("asha", storage=db).trials}
    assert [stored[q].state for q in (9, 7)] == [T.COMPLETED, T.STOPPED]


def test_asha_promotion_pauses_at_rungs_and_resumes_the_best_from_their_checkpoints(client, db):
    # Rungs 3 and 9: the top floor(n * 3/9) of rung 3 are promoted, best first. With six trials
    # (q = 6 .. 1) that is q=6 and q=5; the others stay paused at 3 and end stopped there.
    study = nbtune.tune(linear, {"q": nbtune.grid(6, 5, 4, 3, 2, 1)}, searcher="grid",
                        metric="score", mode="max", scheduler="asha", type="promotion",
                        rung_levels=[3], max_t=9, concurrency=2, cluster=client, storage=db,
                        study="promo")
    by_q = {t.config["q"]: t for t in study.trials}
    for q in (6, 5):
        assert by_q[q].state == T.COMPLETED
        assert epochs_of(by_q[q]) == list(range(1, 10))  # resumed at 4, from the checkpoint
    for q in (4, 3, 2, 1):
        assert by_q[q].state == T.STOPPED and epochs_of(by_q[q]) == [1, 2, 3]
    assert study.stop_reason == "exhausted"  # the grid


def long_loop(config, last=29):
    """linear's loop run to epoch ``last`` (29: past the max_t=9 of the studies below), then a
    line printed after the loop."""
    checkpoint = nbtune.get_checkpoint()
    first = checkpoint["epoch"] + 1 if checkpoint else 1
    for epoch in range(first, last + 1):
        nbtune.report(epoch=epoch, score=config["q"] * epoch, checkpoint={"epoch": epoch})
    print("after the loop")


def loop_to_max_t(config):
    long_loop(config, last=9)


@pytest.mark.parametrize("kind", ["stopping", "promotion"])
def test_a_loop_that_goes_on_past_max_t_ends_at_its_first_report_past_it(client, kind):
    """Ray Tune's and Syne Tune's schedulers end a trial at max_t; nbtune let its loop train on
    to epoch 29, judged by no rung, while the next trial waited for its worker. It ends at its
    first report past max_t (the report at max_t lets a loop that ends there run its own code
    after it), completed, and that report is kept."""
    with pytest.warns(nbtune.NbtuneWarning, match="nbtune ended it at its report of epoch 10"):
        study = nbtune.tune(long_loop, {"q": nbtune.grid(6, 5, 4, 3, 2, 1)}, searcher="grid",
                            metric="score", mode="max", scheduler="asha", type=kind,
                            rung_levels=[3], max_t=9, concurrency=1, cluster=client,
                            storage=None, progress=False)
    by_q = {t.config["q"]: t for t in study.trials}
    for q in (6, 5):
        assert by_q[q].state == T.COMPLETED, by_q[q].error
        assert epochs_of(by_q[q]) == list(range(1, 11))
        assert "after the loop" not in by_q[q].output
    assert study.best.config["q"] == 6 and study.best.value == 60
    assert all(max(epochs_of(t)) == 3 for q, t in by_q.items() if q < 5)


def test_a_loop_that_ends_at_max_t_runs_its_code_after_the_loop(client):
    study = nbtune.tune(loop_to_max_t, {"q": nbtune.grid(2, 1)}, searcher="grid",
                        metric="score", mode="max", scheduler="asha", max_t=9, concurrency=1,
                        cluster=client, storage=None, progress=False)
    assert [t.state for t in study.trials] == [T.COMPLETED] * 2
    assert ["after the loop" in t.output for t in study.trials] == [True, True]
    assert [max(epochs_of(t)) for t in study.trials] == [9, 9]


def test_too_few_trials_for_hyperbands_brackets_is_warned_of(client):
    with pytest.warns(UserWarning, match=r"brackets start 17 trials, but n_trials=5.*"
                                         r"n_trials=17") as warned:
        study = nbtune.tune(linear, {"q": nbtune.uniform(0.1, 1.0)}, metric="score", mode="max",
                            scheduler="hyperband", max_t=9, seed=3, n_trials=5, cluster=client,
                            storage=None, progress=False)
    assert len(study.trials) == 5
    assert [w.filename for w in warned] == [__file__]  # the tune() line, not nbtune's own


def test_synchronous_hyperband_runs_its_brackets_and_ends(client, db):
    # max_t=9, eta=3: brackets (9 at 1, 3 at 3, 1 at 9), (5 at 3, 1 at 9), (3 at 9): 17 trials.
    study = nbtune.tune(linear, {"q": nbtune.uniform(0.1, 1.0)}, metric="score", mode="max",
                        scheduler="hyperband", max_t=9, seed=3, cluster=client,
                        storage=db, study="hb")  # n_trials "auto": what the brackets start
    assert len(study.trials) == 17 and study.settings["n_trials"] == 17
    assert study.stop_reason == "scheduler"
    reached = Counter(max(epochs_of(t)) for t in study.trials)
    assert reached == {1: 6, 3: 2 + 4, 9: 1 + 1 + 3}
    for trial in study.trials:  # resumed from checkpoints: each epoch once
        assert epochs_of(trial) == list(range(1, max(epochs_of(trial)) + 1))
    assert Counter(t.state for t in study.trials) == {T.COMPLETED: 5, T.STOPPED: 12}


def noisy(config):
    for epoch in range(1, 6):
        nbtune.report(epoch=epoch, loss=config["q"] / epoch)


def test_the_median_rule_stops_trials_worse_than_the_median_after_startup(client, db):
    study = nbtune.tune(noisy, {"q": nbtune.grid(1, 2, 3, 10, 11, 12)}, searcher="grid",
                        metric="loss", mode="min", scheduler="median", n_startup_trials=3,
                        concurrency=1, cluster=client, storage=db, study="median")
    by_q = {t.config["q"]: t for t in study.trials}
    assert [by_q[q].state for q in (1, 2, 3)] == [T.COMPLETED] * 3  # the startup trials
    for q in (10, 11, 12):  # worse than the median at epoch 1 (2.0): stopped there
        assert by_q[q].state == T.STOPPED and epochs_of(by_q[q]) == [1]


def test_scheduler_options_are_checked_before_the_study_is_written(client, db):
    with pytest.raises(ValueError, match="has no option 'max_epochs'"):
        nbtune.tune(linear, {"q": nbtune.uniform(0, 1)}, scheduler="asha", max_epochs=9,
                    cluster=client, storage=db, study="bad")
    with pytest.raises(ValueError, match="max_t"):
        nbtune.tune(linear, {"q": nbtune.uniform(0, 1)}, scheduler="asha", cluster=client,
                    storage=db, study="bad")
    assert nbtune.list_studies(db) == []
    # a misspelt argument of tune() is named as one, not as an option the scheduler lacks
    # (it read "scheduler 'fifo' has no option 'trials': it takes no options")
    for key, value, meant in (("trials", 3, "n_trials"), ("max_tim", 60, "max_time"),
                              ("resourse", "step", "resource")):
        with pytest.raises(TypeError, match=rf"^tune\(\) got an unexpected keyword argument "
                                            rf"'{key}' \(did you mean '{meant}'\?\)$"):
            nbtune.tune(linear, {"q": nbtune.uniform(0, 1)}, cluster=client, storage=db,
                        study="bad", **{key: value})
    with pytest.raises(ValueError, match="scheduler 'asha' has no option 'max_epochs'"):
        nbtune.tune(linear, {"q": nbtune.uniform(0, 1)}, scheduler="asha", max_epochs=9,
                    cluster=client, storage=db, study="bad")  # no argument of tune() is near
    assert nbtune.list_studies(db) == []
    # max_t inferred from the space, as in Syne Tune
    study = nbtune.tune(linear, {"q": nbtune.grid(9, 8, 1), "epochs": nbtune.fixed(9)},
                        searcher="grid", metric="score", mode="max", scheduler="asha",
                        cluster=client, storage=db, study="inferred")
    assert study.scheduler.levels == [1, 3, 9]


def step_reporter(config):
    for step in range(1, 4):
        nbtune.report(step=step, score=config["q"] * step)


@pytest.mark.parametrize("resource, named", [("epoch", "never with 'epoch' (it reported step, "
                                                       "score)"),
                                              ("score", "never a whole number")])
def test_reports_the_scheduler_cannot_judge_are_named_once(client, resource, named):
    with pytest.warns(UserWarning) as caught:
        study = nbtune.tune(step_reporter, {"q": nbtune.uniform(0.1, 0.9)}, metric="score",
                            mode="max", scheduler="asha", max_t=3, resource=resource,
                            n_trials=4, seed=0, cluster=client, storage=None, progress=False)
    notes = [str(w.message) for w in caught if "judges trials" in str(w.message)]
    assert len(notes) == 1 and named in notes[0], notes
    assert f"report({resource}=N" in notes[0] and "--resource KEY" in notes[0]
    assert {w.filename for w in caught if "judges trials" in str(w.message)} == {__file__}
    assert [t.state for t in study.trials] == [T.COMPLETED] * 4  # nothing was judged


def wrong_key_reporter(config):
    for epoch in range(1, 4):
        nbtune.report(epoch=epoch, acc=config["q"] * epoch)  # the metric is 'accuracy'


def silent_trainer(config):
    return {"accuracy": config["q"]}  # never reports while it runs


def test_a_trial_that_never_reports_is_named_once(client):
    with pytest.warns(UserWarning) as caught:
        study = nbtune.tune(silent_trainer, {"q": nbtune.uniform(0.1, 0.9)}, metric="accuracy",
                            mode="max", scheduler="asha", max_t=3, n_trials=4, seed=0,
                            concurrency=1, cluster=client, storage=None, progress=False)
    notes = [w for w in caught if "scheduler judges" in str(w.message)]
    assert [str(w.message) for w in notes] == [
        "trial 0 ended without calling report(...): the asha scheduler judges the reports a "
        "trial makes while it runs, so it stopped none; call report(epoch=N, accuracy=...) as "
        "the trial goes (epoch counting up)"]
    assert notes[0].filename == __file__
    assert {t.state for t in study.trials} == {T.COMPLETED}


@pytest.mark.parametrize("kind", ["stopping", "promotion"])
def test_trials_a_rung_judged_without_the_metric_fail_as_without_a_scheduler(client, kind):
    """Each was 'stopped' (or paused, then stopped) at its first rung, and the study ended as
    if it had run: no failure (a script's study raised no NoTrialCompleted), where without a
    scheduler the same mistake fails every trial (first-day test, round 61)."""
    with pytest.warns(UserWarning) as caught:
        study = nbtune.tune(wrong_key_reporter, {"q": nbtune.uniform(0.1, 0.9)},
                            metric="accuracy", mode="max", scheduler="asha", type=kind, max_t=3,
                            n_trials=4, seed=0, concurrency=1, cluster=client, storage=None,
                            progress=False)
    notes = [str(w.message) for w in caught if "scheduler judges" in str(w.message)]
    assert notes == [
        "trial 0 reported 'epoch' without 'accuracy' (it reported epoch, acc): the asha "
        "scheduler judges each rung by 'accuracy', so it stopped the trial at its first rung; "
        "report both at once, report(epoch=N, accuracy=...), or name the key reported as the "
        "metric (metric=KEY, %%tune --metric KEY)"]
    assert {t.state for t in study.trials} == {T.FAILED} and study.stop_reason == "fail_fast"
    assert study.trials[0].error == (
        "the trial never reported the metric 'accuracy' before its asha scheduler judged it at "
        "epoch 1 (it reported acc, epoch): report both at once, report(epoch=N, accuracy=...), "
        "or name a key it reports as the metric (metric=KEY, %%tune --metric KEY)")


def test_a_background_studys_note_points_at_the_line_that_started_it(client):
    # the note is given on the study's own thread, where no frame of the caller's is left
    with pytest.warns(UserWarning, match="judges trials") as caught:
        study = nbtune.tune(step_reporter, {"q": nbtune.uniform(0.1, 0.9)}, metric="score",
                            mode="max", scheduler="asha", max_t=3, n_trials=4, seed=0,
                            cluster=client, storage=None, progress=False, background=True)
        started = sys._getframe().f_lineno - 3  # the line of the call above
        study.wait(60)
    assert not study.running and len(study.completed) == 4
    assert [(w.filename, w.lineno) for w in caught if "judges trials" in str(w.message)] == \
        [(__file__, started)]


def test_no_note_when_the_reports_carry_the_resource(client):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        study = nbtune.tune(step_reporter, {"q": nbtune.uniform(0.1, 0.9)}, metric="score",
                            mode="max", scheduler="asha", max_t=3, resource="step", n_trials=4,
                            seed=0, cluster=client, storage=None, progress=False)
    assert len(study.trials) == 4
