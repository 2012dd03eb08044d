"""A study stops for its failures where they say the trial code is broken, not a config."""
from __future__ import annotations

import math
import os
import time

import pytest

import nbtune
from nbtune import trial as T
from nbtune.run.failfast import FAIL_FAST_AFTER


def broken(config):
    return 1 / 0  # every trial meets it


def fails_above_half(config):
    if config["x"] > 0.75:
        raise ValueError("x too large")
    if config["x"] > 0.5:
        raise OverflowError("x far too large")  # configs that fail in two ways, and some pass
    return config["x"]


def mismatched(config):
    batch = int(config["x"] * 100) + 1  # the same bug, its numbers the config's
    raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({batch}x64 and 128x10)")


def diverges(config):
    return math.nan


def too_large(config):
    raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")  # alike, but a config's


SPACE = {"x": nbtune.uniform(0, 1)}


def study(fn, **kwargs):
    return nbtune.tune(fn, SPACE, metric="x", n_trials=12, concurrency=1, seed=3,
                       storage=None, progress=False, **kwargs)


def test_the_first_trials_failing_alike_stop_the_study_with_the_fix(client, db):
    """A PyTorch user's 40 trials each trained in full before failing on the same line
    (first-day test, round 11)."""
    with pytest.warns(UserWarning) as warned:
        s = study(broken, cluster=client)
    assert s.stop_reason == "fail_fast"
    assert [t.state for t in s.trials] == [T.FAILED] * FAIL_FAST_AFTER
    (note,) = [str(w.message) for w in warned if "stopped" in str(w.message)]
    # in memory: nothing to resume, so no --resume (it was offered: first-day test, round 28)
    assert note == ("the study stopped: its first 3 trials (0, 1, 2) all failed alike, the "
                    "last with ZeroDivisionError: division by zero; fix the cell (or trial "
                    "function) and run it again, or pass fail_fast=False (--no-fail-fast) to "
                    "run on past failures")
    assert "  ended   fail_fast\n" in str(s.summary())
    with pytest.warns(UserWarning) as warned:
        nbtune.tune(broken, SPACE, metric="x", n_trials=12, concurrency=1, seed=3, storage=db,
                    study="stored", progress=False, cluster=client)
    (note,) = [str(w.message) for w in warned if "stopped" in str(w.message)]
    assert "and run it again (--resume, resume=True, continues the study), or pass" in note


def test_one_bug_whose_message_carries_the_configs_numbers_fails_alike(client):
    with pytest.warns(UserWarning, match=r"all failed alike, the last with RuntimeError: mat1 "):
        s = study(mismatched, cluster=client)
    assert s.stop_reason == "fail_fast" and len(s.trials) == FAIL_FAST_AFTER
    assert len({t.error.splitlines()[-1] for t in s.trials}) > 1  # three messages, one kind


def test_a_failure_nbtune_knows_stops_the_study_with_its_fix_first(client):
    """The one line shown said "fix the cell ... or --no-fail-fast", and the fix nbtune knew
    (DataLoader(num_workers=2) on a daemonic worker) sat in the folded failure list (first-day
    test, round 13)."""
    from test_tune import starts_a_process

    with pytest.warns(UserWarning) as warned:
        s = study(starts_a_process, cluster=client)
    (note,) = [str(w.message) for w in warned if "stopped" in str(w.message)]
    assert s.stop_reason == "fail_fast"
    assert ("all failed alike, the last with AssertionError: daemonic processes are not allowed "
            "to have children; nbtune knows this one: Dask's daemonic workers start no "
            "processes: num_workers=0, or dask.config.set({'distributed.worker.daemon': False}) "
            "and %tune_cluster local; then run the cell again") in note, note


def test_report_by_its_bare_name_outside_a_cell_says_to_call_nbtune_report(client):
    """A callback of a module (or, run --local, of another cell) calling report() by its bare
    name failed on "name 'report' is not defined" alone (first-day test, round 50)."""
    from nbtune.run.hints import UNBOUND_REPORT

    code = {}
    exec("def on_epoch_end(config):\n    report(epoch=1, x=config['x'])\n", code)
    with pytest.warns(UserWarning) as warned:
        s = study(code["on_epoch_end"], cluster=client)
    (note,) = [str(w.message) for w in warned if "stopped" in str(w.message)]
    assert s.stop_reason == "fail_fast"
    assert ("the last with NameError: name 'report' is not defined; nbtune knows this one: "
            f"{UNBOUND_REPORT}; then run the cell again") in note, note


def test_none_as_a_storage_path_keeps_the_study_in_memory_not_in_a_file(tmp_path, monkeypatch,
                                                                          client):
    """The magic's `--storage none` keeps a study in memory; storage="none" made a file named
    none (first-day test, round 13), then was refused while the magic and %config took it
    (check round 43): it is storage=None."""
    monkeypatch.chdir(tmp_path)
    study = nbtune.tune(lambda c: c["x"], SPACE, mode="min", n_trials=1, storage="none",
                        cluster=client, progress=False)
    assert study.storage is None and os.listdir(tmp_path) == []
    simulated = nbtune.simulate("hgb", n_trials=2, storage="none")
    assert simulated.storage is None and os.listdir(tmp_path) == []
    with pytest.raises(nbtune.StorageError, match=r"^storage 'none' names no file here: "):
        nbtune.load_study("x", storage="none")  # nothing in memory to load


@pytest.mark.parametrize("fn", [broken, fails_above_half, diverges, too_large])
def test_fail_fast_false_runs_every_trial(client, fn):
    s = study(fn, cluster=client, fail_fast=False)
    assert s.stop_reason == "n_trials" and len(s.trials) == 12


def test_failures_that_differ_or_follow_a_result_are_configs_and_the_study_goes_on(client):
    s = study(fails_above_half, cluster=client)
    assert s.stop_reason == "n_trials" and len(s.trials) == 12
    assert 0 < len([t for t in s.trials if t.state == T.FAILED]) < 12
    assert study(diverges, cluster=client).stop_reason == "n_trials"  # NaN: a config diverged
    assert study(too_large, cluster=client).stop_reason == "n_trials"  # memory: a config's size


def test_fail_fast_true_stops_at_the_first_failed_trial(client):
    s = study(fails_above_half, cluster=client, fail_fast=True)
    assert s.stop_reason == "fail_fast" and s.trials[-1].state == T.FAILED
    assert [t.state for t in s.trials[:-1]] == [T.COMPLETED] * (len(s.trials) - 1)


def test_a_fail_fast_that_is_not_one_of_its_values_is_one_line():
    with pytest.raises(ValueError, match=r"^fail_fast must be 'auto' \(stop when the first 3 "
                                         r"trials fail alike\), True .* got 'yes'$"):
        nbtune.tune(broken, SPACE, fail_fast="yes", storage=None)


def test_the_magic_stops_on_its_own_and_takes_no_fail_fast(shell, db, capsys):
    res = shell.run_cell("%%tune -n 10 --concurrency 1 --metric v\nx = uniform(0, 1)\nv = 1 / 0\n")
    assert isinstance(res.error_in_exec, nbtune.NoTrialCompleted)
    assert shell.user_ns["study"].stop_reason == "fail_fast"
    assert len(shell.user_ns["study"].trials) == FAIL_FAST_AFTER
    res = shell.run_cell("%%tune -n 5 --concurrency 1 --metric v --no-fail-fast --study g\n"
                         "x = uniform(0, 1)\nv = 1 / 0\n")
    assert isinstance(res.error_in_exec, nbtune.NoTrialCompleted)
    assert len(shell.user_ns["study"].trials) == 5


def test_the_rule_alone_on_trials_as_they_end():
    """Each branch of the rule, on trials made here (the studies above leave it to their seeds
    which trial ends first)."""
    from nbtune.run.failfast import FailFast

    def failed(i, line):
        return T.Trial(id=i, config={}, state=T.FAILED, error=f"Traceback\n{line}")

    rule = FailFast("auto", "x")  # alike but for their numbers: one bug
    assert rule.ended(failed(0, "ValueError: bad 1")) is None
    assert rule.ended(T.Trial(id=9, config={}, state=T.INTERRUPTED)) is None  # not counted
    assert rule.ended(failed(1, "ValueError: bad 2")) is None
    assert "trials (0, 1, 2) all failed alike" in rule.ended(failed(2, "ValueError: bad 3"))
    rule = FailFast("auto", "x")  # two kinds: configs that fail
    assert rule.ended(failed(0, "ValueError: bad")) is None
    assert rule.ended(failed(1, "KeyError: 'lr'")) is None
    assert rule.ended(failed(2, "ValueError: bad")) is None and rule.done
    rule = FailFast("auto", "x")  # a trial that ended otherwise first
    assert rule.ended(T.Trial(id=0, config={}, state=T.COMPLETED, value=1.0)) is None
    assert all(rule.ended(failed(i, "ValueError: bad")) is None for i in range(1, 5))
    running = [T.Trial(id=0, config={}, state=T.RUNNING), T.Trial(id=2, config={},
                                                                 state=T.RUNNING)]
    rule = FailFast("auto", "x", trials=running)
    assert all(rule.ended(failed(i, "ValueError: bad")) is None for i in (1, 3, 4))
    assert not rule.done  # trials 0 and 2, started first, decide
    running[1].state = T.FAILED  # trial 2 fails alike: trial 0 still decides
    assert rule.ended(failed(2, "ValueError: bad")) is None and not rule.done
    running[0].state = T.FAILED
    assert "its first 5 trials (0, 1, 2, 3, 4) all failed alike" in rule.ended(
        failed(0, "ValueError: bad"))
    rule = FailFast(True, "x")
    assert rule.ended(T.Trial(id=0, config={}, state=T.COMPLETED, value=1.0)) is None
    assert rule.ended(failed(1, "ValueError: bad")).startswith(
        "the study stopped at its first failed trial (fail_fast=True): trial 1: ValueError")
    rule = FailFast(False, "x")
    assert all(rule.ended(failed(i, "ValueError: bad")) is None for i in range(5))


def slow_or_refused(config):
    """A config above a half is refused at once (a solver and penalty that do not go together);
    the others fit, slowly."""
    if config["x"] > 0.5:
        raise ValueError(f"x={config['x']} is out of range for this solver")
    time.sleep(1.5)
    return config["x"]


def test_configs_that_fail_at_once_do_not_stop_the_trials_started_before_them(client):
    """The first three trials to end were refused configs, ended before trial 0 had fitted:
    the study stopped, a healthy trial interrupted (first-day test, round 39). The first
    trials decide, each of them."""
    points = [{"x": 0.1}, {"x": 0.9}, {"x": 0.8}, {"x": 0.7}]
    study = nbtune.tune(slow_or_refused, {"x": nbtune.uniform(0, 1)}, metric="x",
                        points_to_evaluate=points, n_trials=5, seed=0, cluster=client,
                        storage=None, progress=False)
    assert study.stop_reason == "n_trials"
    assert [t.state for t in study.trials[:4]] == [T.COMPLETED] + [T.FAILED] * 3


def reports_accuracy(config):
    nbtune.report(epoch=1, accuracy=config["x"])


def test_a_misnamed_metric_is_named_and_the_way_on_is_the_one_that_takes(client, db):
    """Ray Tune's "acc" habit: the note said resume=True continues the study, and a resume
    with metric="accuracy" was refused for the stored metric (first-day test, round 35)."""
    with pytest.warns(UserWarning) as warned:
        first = nbtune.tune(reports_accuracy, SPACE, metric="acc", mode="max", n_trials=6,
                            concurrency=1, cluster=client, storage=db, study="acc",
                            progress=False)
    assert first.stop_reason == "fail_fast"
    (note,) = [str(w.message) for w in warned if "stopped" in str(w.message)]
    assert "never reported the metric 'acc' (it reported accuracy, epoch; did you mean " \
           "'accuracy'?)" in note
    assert note.endswith("(reporting it: --resume, resume=True, continues the study; naming "
                         "another metric: --replace, replace=True, starts it again), or pass "
                         "fail_fast=False (--no-fail-fast) to run on past failures")
    again = nbtune.tune(reports_accuracy, SPACE, metric="accuracy", mode="max", n_trials=3,
                        cluster=client, storage=db, study="acc", replace=True, progress=False)
    assert [t.state for t in again.trials] == [T.COMPLETED] * 3


def test_a_scripts_study_with_no_completed_trial_raises_with_the_latest_traceback(
        client, as_in_a_script):
    """A script whose every trial failed ended with status 0, its log naming the error's last
    line only (first-day test, round 39); the exception carries the study."""
    with pytest.raises(nbtune.NoTrialCompleted) as raised:
        nbtune.tune(broken, {"x": nbtune.uniform(0, 1)}, n_trials=3, cluster=client,
                    storage=None, progress=False, study="all-failed")
    message = str(raised.value)
    assert message.startswith("study 'all-failed' has no completed trial (3 failed); trial 2 "
                              "failed so:\nTraceback (most recent call last):\n")
    assert "in broken\n" in message and message.endswith("ZeroDivisionError: division by zero")
    assert raised.value.study.counts() == {"failed": 3}


def test_the_stop_names_a_value_every_failed_trial_shared():
    """Three trials that drew the one solver that rejects a penalty read as a broken cell: the
    note names the value they shared and other trials did not (fixed values, and values that
    differ, are not named)."""
    from nbtune.run.failfast import FailFast

    def trial(i, solver, state=T.FAILED):
        return T.Trial(id=i, config={"solver": solver, "C": 0.1 * (i + 1), "n": 5},
                       state=state, error="Traceback\nValueError: bad penalty")

    trials = [trial(0, "lbfgs"), trial(1, "lbfgs"), trial(2, "lbfgs"),
              trial(3, "saga", T.RUNNING)]
    rule = FailFast("auto", "x", trials=trials)
    assert rule.ended(trials[0]) is None and rule.ended(trials[1]) is None
    note = rule.ended(trials[2])
    assert note.startswith(
        "the study stopped: its first 3 trials (0, 1, 2) all failed alike, the last with "
        "ValueError: bad penalty; every one had solver='lbfgs', which other trials do not (if "
        "only that value fails, take it out of the space); fix the cell"), note
    alone = FailFast("auto", "x", trials=trials[:3])  # no other trial, no space: nothing to say
    assert all(alone.ended(t) is None for t in trials[:2])
    assert "every one had" not in alone.ended(trials[2])
    # the first three drew the one solver that fails, and none the other (check round 43):
    # the space says it has another
    space = nbtune.Space({"solver": nbtune.choice("lbfgs", "saga"), "C": nbtune.uniform(0, 1),
                          "n": 5})
    first = FailFast("auto", "x", trials=trials[:3], space=space)
    assert all(first.ended(t) is None for t in trials[:2])
    assert ("ValueError: bad penalty; every one had solver='lbfgs', and the space's other value "
            "of solver ('saga') has not run yet (if only that value fails, take it out of the "
            "space); fix the cell") in first.ended(trials[2])
    # a failure of the code as written names no value: a NameError is the cell's (round 44)
    for t in trials[:3]:
        t.error = "Traceback\nNameError: name 'np' is not defined"
    code = FailFast("auto", "x", trials=trials[:3], space=space)
    assert all(code.ended(t) is None for t in trials[:2])
    note = code.ended(trials[2])
    assert note.startswith("the study stopped: its first 3 trials (0, 1, 2) all failed alike, "
                           "the last with NameError: name 'np' is not defined; fix"), note
    assert "every one had" not in note


def test_the_summary_names_a_value_every_failed_trial_of_a_kind_had():
    """A study ran on past 5 failures of 12, all with the one solver that fails, and its summary
    said only the error (check round 44)."""
    from nbtune.trial_messages import failure_lines

    def trial(i, solver, state):
        return T.Trial(id=i, config={"solver": solver, "C": 0.1 * i}, state=state, value=0.5,
                       error="Traceback\nValueError: Solver lbfgs supports only l2"
                       if state == T.FAILED else None)

    study = nbtune.Study("solvers", nbtune.Space({"solver": nbtune.choice("lbfgs", "saga"),
                                                 "C": nbtune.uniform(0, 1)}), "acc", "max",
                         trials=[trial(i, "lbfgs" if i % 2 else "saga",
                                       T.FAILED if i % 2 else T.COMPLETED) for i in range(6)])
    assert failure_lines(study) == [
        "3 trials failed (1, 3, 5), all with solver='lbfgs': ValueError: Solver lbfgs supports "
        "only l2"]
    assert "all with solver=&#x27;lbfgs&#x27;" in study.summary()._repr_html_()
