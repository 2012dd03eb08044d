"""Pausing and resuming trials on a real cluster: checkpoints stay on the workers."""
from __future__ import annotations

import os
import time

import pytest

import nbtune
from nbtune import trial as T
from nbtune.schedule import ASHAScheduler, CONTINUE, PAUSE, RESUME, START, WAIT, Scheduler


class PauseOnceAt(Scheduler):
    """Pauses every trial once at one resource level; resumes them, oldest first, once no new
    trial can start."""

    name = "pause-once"
    pauses = True

    def __init__(self, level: int):
        self.level, self.waiting, self.resumed, self.ended = level, [], set(), []

    def decision_points(self):
        return (self.level,)

    def on_report(self, trial_id, report):
        if report.get(self.resource) == self.level and trial_id not in self.resumed:
            return PAUSE
        return CONTINUE

    def on_trial_end(self, trial_id, state):
        self.ended.append((trial_id, state))
        if state == T.PAUSED:
            self.waiting.append(trial_id)

    def next_action(self, can_start=True):
        if can_start:
            return START, None
        return (RESUME, self.waiting[0]) if self.waiting else (WAIT, None)

    def on_trial_resume(self, trial_id):
        self.waiting.remove(trial_id)
        self.resumed.add(trial_id)


class Guard:
    """A checkpoint that refuses to be unpickled in the notebook's process."""

    def __init__(self, epoch: int, notebook_pid: int):
        self.epoch, self.notebook_pid = epoch, notebook_pid

    def __setstate__(self, state):
        if os.getpid() == state["notebook_pid"]:
            raise AssertionError("a checkpoint reached the notebook")
        self.__dict__.update(state)


def resumable(config):
    """Four epochs, resuming after the epoch of its checkpoint."""
    checkpoint = nbtune.get_checkpoint()
    first = checkpoint.epoch + 1 if checkpoint is not None else 1
    for epoch in range(first, 5):
        nbtune.report(epoch=epoch, v=config["x"] * epoch,
                      checkpoint=Guard(epoch, config["pid"]) if config["save"] else None)
    return {"v": config["x"] * 4, "resumed_from": first}


def space(save: bool):
    return {"x": nbtune.grid(1.0, 2.0, 3.0), "pid": nbtune.fixed(os.getpid()),
            "save": nbtune.fixed(save)}


def test_a_paused_trial_resumes_from_its_checkpoint(client, db):
    sched = PauseOnceAt(2)
    study = nbtune.tune(resumable, space(True), searcher="grid", metric="v", mode="max",
                        scheduler=sched, cluster=client, storage=db, study="ckpt")
    for trial in study.trials:
        assert trial.state == T.COMPLETED
        assert [r["epoch"] for r in trial.reports] == [1, 2, 3, 4]  # each epoch once
        assert trial.metrics["resumed_from"] == 3
        assert trial.trained("epoch") == 4
        assert trial.attempts == 1  # a resume is not a retry
    assert sorted(sched.ended) == sorted([(i, T.PAUSED) for i in range(3)]
                                         + [(i, T.COMPLETED) for i in range(3)])
    stored = nbtune.load_study("ckpt", storage=db)
    assert [[r["epoch"] for r in t.reports] for t in stored.trials] == [[1, 2, 3, 4]] * 3
    assert study.best.config["x"] == 3.0


def paced(config):
    """Four epochs of 0.2 s, resuming after the epoch of its checkpoint; x=1 sleeps 2 s at its
    start, so the others sit paused at epoch 2 a while before they are resumed."""
    if config["x"] == 1.0 and nbtune.get_checkpoint() is None:
        time.sleep(2.0)
    checkpoint = nbtune.get_checkpoint()
    for epoch in range(checkpoint["epoch"] + 1 if checkpoint else 1, 5):
        time.sleep(0.2)
        nbtune.report(epoch=epoch, v=config["x"] * epoch, checkpoint={"epoch": epoch})


def test_a_resumed_trials_duration_is_its_runs_not_the_time_it_sat_paused(client, db):
    """started was reset at each resume, so a 4-epoch trial counted its last run alone (0.00 s
    for one resumed at its last epoch), and one left paused at the end counted its wait; the
    panel's "median trial" mixed both (a first day with checkpoints)."""
    study = nbtune.tune(paced, {"x": nbtune.grid(1.0, 2.0, 3.0)}, searcher="grid", metric="v",
                        mode="max", scheduler=PauseOnceAt(2), concurrency=2, cluster=client,
                        storage=db, study="paced")
    for trial in study.trials:  # two epochs before the pause, two after; x=1 sleeps 2 s first
        slept = 2.0 if trial.config["x"] == 1.0 else 0.0
        assert trial.state == T.COMPLETED
        assert 0.35 + slept < trial.ran < 1.5 + slept, trial
        assert 0.35 < trial.finished - trial.started < 1.5, trial
        assert 0.75 + slept < trial.duration < 2.0 + slept, trial  # and not the wait
    stored = nbtune.load_study("paced", storage=db)
    assert [t.ran for t in stored.trials] == [t.ran for t in study.trials]
    assert [t.duration for t in stored.trials] == [t.duration for t in study.trials]


def test_without_a_checkpoint_a_resumed_trial_starts_again_and_the_waste_counts(client, db):
    study = nbtune.tune(resumable, space(False), searcher="grid", metric="v", mode="max",
                        scheduler=PauseOnceAt(2), cluster=client, storage=db, study="nockpt",
                        max_resource=1000)
    for trial in study.trials:
        assert trial.state == T.COMPLETED
        assert [r["epoch"] for r in trial.reports] == [1, 2, 1, 2, 3, 4]
        assert trial.metrics["resumed_from"] == 1
        assert trial.trained("epoch") == 6  # 2 wasted epochs
    stored = nbtune.load_study("nockpt", storage=db)
    assert [len(t.reports) for t in stored.trials] == [6, 6, 6]


class NeverResume(PauseOnceAt):
    def next_action(self, can_start=True):
        return (START, None) if can_start else (WAIT, None)


def test_trials_left_paused_when_the_study_ends_are_recorded_as_stopped(client, db):
    study = nbtune.tune(resumable, space(True), searcher="grid", metric="v", mode="max",
                        scheduler=NeverResume(2), cluster=client, storage=db, study="left")
    assert [t.state for t in study.trials] == [T.STOPPED] * 3
    assert all([r["epoch"] for r in t.reports] == [1, 2] for t in study.trials)
    assert [t.state for t in nbtune.load_study("left", storage=db).trials] == [T.STOPPED] * 3
    assert [t.value for t in study.trials] == [2.0, 4.0, 6.0]  # the metric where they stopped
    assert study.best is None  # no trial completed


def slow_three(config):
    """Four epochs; x=3 takes its time before its first, so the study runs on while the others
    sit paused at epoch 2. In slices, so that the study's end halts it: one sleep of 30 s held a
    worker of the suite's shared cluster past its test, and the next test's trials waited."""
    if config["x"] == 3.0:
        for _ in range(300):
            time.sleep(0.1)
    return resumable(config)


def test_trials_paused_when_the_user_stops_the_study_are_interrupted_for_a_resume(client, db):
    """study.stop() recorded the paused trials stopped, for good: a resume never took them up
    again, the best so far among them (a first day with checkpoints)."""
    study = nbtune.tune(slow_three, space(True), searcher="grid", metric="v", mode="max",
                        scheduler=NeverResume(2), concurrency=2, cluster=client, storage=db,
                        study="cut", background=True)
    deadline = time.time() + 60
    while sum(t.state == T.PAUSED for t in study.trials) < 2 and time.time() < deadline:
        time.sleep(0.05)
    study.stop().wait(60)
    states = {t.config["x"]: t.state for t in nbtune.load_study("cut", storage=db).trials}
    assert (states[1.0], states[2.0]) == (T.INTERRUPTED, T.INTERRUPTED), states


def nine_epochs(config):
    """Nine epochs, resuming after the epoch of its checkpoint (each report says where its task
    began); a better x is better at every epoch."""
    checkpoint = nbtune.get_checkpoint()
    first = checkpoint["epoch"] + 1 if checkpoint else 1
    for epoch in range(first, 10):
        nbtune.report(epoch=epoch, v=config["x"] * epoch, first=first,
                      checkpoint={"epoch": epoch})


def test_asha_promotion_a_trial_its_freed_slot_would_resume_goes_on_in_its_task(client, db):
    """Trials come in better and better: whichever reaches rung 1 third is the best of three
    there, the one its pause would resume, so it goes on without a pause or a second task."""
    study = nbtune.tune(nine_epochs, {"x": nbtune.grid(*range(1, 7))}, searcher="grid",
                        metric="v", mode="max",
                        scheduler=ASHAScheduler(max_t=9, type="promotion"), cluster=client, storage=db, study="in-place")
    went_on = [t for t in study.trials if len(t.reports) > 1 and t.reports[1]["first"] == 1]
    assert went_on, [(t.id, [r["epoch"] for r in t.reports], t.metrics) for t in study.trials]
    for t in study.trials:
        assert [r["epoch"] for r in t.reports] == list(range(1, len(t.reports) + 1))
        assert t.attempts == 1
    best = max(study.trials, key=lambda t: t.config["x"])
    assert best.resource("epoch") >= 3  # the best of six at rung 1 is always promoted


def test_asha_promotion_finishes_its_best_trials_once_no_trial_may_start(client, db):
    """16 trials, reduction factor 3, max_t 27: rung 9 held one or two trials and promoted none,
    so every trial ended paused (stopped), none reached max_t, and the study had no best (a
    first day with checkpoints). Once the trials are all drawn, each rung promotes the top
    ceil of its part, as a synchronous bracket ends."""
    best_first = {"x": nbtune.grid(*range(16, 0, -1))}  # the ones after rank below: they wait
    study = nbtune.tune(twenty_seven_epochs, best_first, searcher="grid",
                        metric="v", mode="max", concurrency=2, cluster=client, storage=db,
                        study="ends", scheduler=ASHAScheduler(max_t=27, type="promotion"))
    reached = sorted(t.resource("epoch") for t in study.trials)
    assert reached.count(27) >= 1 and study.best is not None, reached
    assert study.best.config["x"] == 16 and study.best.state == T.COMPLETED
    assert reached.count(27) < 16  # still successive halving: not every trial is finished


def twenty_seven_epochs(config):
    checkpoint = nbtune.get_checkpoint()
    first = checkpoint["epoch"] + 1 if checkpoint else 1
    for epoch in range(first, 28):
        nbtune.report(epoch=epoch, v=config["x"] * epoch, checkpoint={"epoch": epoch})


def slow_but_first(config):
    """q=9 pauses at once at epoch 1; the others get there 2 s after it did (the file ``mark``
    says when), so it waits paused: timed from their own start, a loaded machine's slow first
    task let them report first, and q=9, last of its rung, was promoted without pausing."""
    checkpoint = nbtune.get_checkpoint()
    first = checkpoint["epoch"] + 1 if checkpoint else 1
    for epoch in range(first, 4):
        if epoch == 1:
            q9_first(config)
        nbtune.report(epoch=epoch, score=config["q"] * epoch, checkpoint={"epoch": epoch})


def q9_first(config):
    """At epoch 1: q=9 says it is there (the file ``mark``); the others wait until 2 s after,
    or, where the space has a ``go`` file, until the test writes it: q=9 then waits paused, the
    only value at its rung, for as long as the test needs (2 s was not enough on a loaded
    machine, where the others' reports came before the test saw the pause)."""
    import os
    import time

    if config["q"] == 9:
        open(config["mark"], "w").close()
        return
    deadline = time.monotonic() + 60
    wait_for = config.get("go") or config["mark"]
    while not os.path.exists(wait_for) and time.monotonic() < deadline:
        time.sleep(0.05)
    if "go" not in config:
        time.sleep(2.0)


# Alone, after the two processes of `make test`: twice in six two-process runs the first trial of
# these clusters of their own did not report within 60 s (never alone; not explained yet)
@pytest.mark.alone
def test_a_paused_trial_whose_worker_dies_pauses_again_and_is_resumed(db, tmp_path):
    # Successive halving, max_t=3: three trials at epoch 1, the best goes on to epoch 3. The
    # worker holding the paused trial's checkpoint is killed while the others run: Dask computes
    # the lost segment again, and the loop pauses it at the same rung instead of leaving it
    # waiting for a verdict nobody sends (the study stalled for the verdict timeout, 10 min).
    import signal
    import time

    from distributed import Client

    from nbtune.run.cluster import local_cluster

    with local_cluster(2) as cluster, Client(cluster, set_as_default=False) as c:
        space = {"q": nbtune.grid(9, 5, 4), "mark": str(tmp_path / "q9-reported")}
        study = nbtune.tune(slow_but_first, space, searcher="grid",
                            metric="score", mode="max", scheduler="hyperband", max_t=3,
                            reduction_factor=3, brackets=1, cluster=c, storage=db,
                            study="lost", background=True, progress=False)
        deadline = time.monotonic() + 60
        while not (study.trials and study.trials[0].state == T.PAUSED):
            assert time.monotonic() < deadline, ("trial 0 never paused", study.trials)
            time.sleep(0.05)
        holders = {w for key, ws in c.who_has().items()
                   if key.startswith("nbtune-trial-") and key.endswith("-0-1") for w in ws}
        assert holders, c.who_has()
        pids = c.run(os.getpid, workers=list(holders))
        for pid in pids.values():
            os.kill(pid, signal.SIGKILL)
        study.wait(timeout=90)
        assert study.stop_reason == "scheduler", study.stop_reason
        best = study.trials[0]
        assert best.state == T.COMPLETED and [r["epoch"] for r in best.reports] == [1, 2, 3]
        assert [t.state for t in study.trials[1:]] == [T.STOPPED, T.STOPPED]


def slow_but_first_reading(config, data):
    """slow_but_first, its trials reading data sent with them (as a %%tune cell's notebook
    arrays are)."""
    assert data.shape == (300_000,)
    return slow_but_first(config)


# Alone, after the two processes of `make test`: twice in six two-process runs the first trial of
# these clusters of their own did not report within 60 s (never alone; not explained yet)
@pytest.mark.alone
@pytest.mark.parametrize("kept", [True, False], ids=["a file", "in memory only"])
def test_a_paused_trial_whose_checkpoint_died_with_its_worker_resumes_from_its_file(db, tmp_path,
                                                                                    kept):
    """Promotion ASHA, one worker, the trials reading data sent with them: the worker killed
    while trial 0 waits paused took the data and the paused segment with it, which Dask could
    not compute again without the data; promoted, the trial ended 'cancelled', its rung's best
    never went on, and the study ended on its budget saying nothing (check round 56). It
    resumes from the checkpoint its worker wrote to the study's folder as it paused; a study
    kept in memory only, which writes none, says that it ends interrupted."""
    import signal

    import numpy as np
    from distributed import Client

    from nbtune.run.cluster import local_cluster

    fn = nbtune.with_parameters(slow_but_first_reading, data=np.ones(300_000))
    with local_cluster(1) as cluster, Client(cluster, set_as_default=False) as c:
        space = {"q": nbtune.grid(9, 5, 4), "mark": str(tmp_path / "q9-reported"),
                 "go": str(tmp_path / "go")}
        study = nbtune.tune(fn, space, searcher="grid", metric="score", mode="max",
                            scheduler=ASHAScheduler(max_t=3, type="promotion"), cluster=c,
                            storage=db if kept else None, study="lost-pause",
                            background=True, progress=False)
        deadline = time.monotonic() + 60
        while not (study.trials and study.trials[0].state == T.PAUSED):
            assert time.monotonic() < deadline, ("trial 0 never paused", study.trials)
            time.sleep(0.05)
        for pid in c.run(os.getpid).values():  # trial 1 waits for the go meanwhile
            os.kill(pid, signal.SIGKILL)
        (tmp_path / "go").touch()
        study.wait(timeout=120)
    best = study.trials[0]
    if not kept:
        assert (best.state, best.error) == (T.INTERRUPTED,
                                            "its checkpoint was lost with its worker")
        return
    assert (best.state, best.error) == (T.COMPLETED, None), (best.state, best.error)
    assert [r["epoch"] for r in best.reports] == [1, 2, 3] and best.value == 27
    assert study.best.id == 0


def dies_once_resumed(config):
    """slow_but_first's trials; q=9, resumed from its pause at epoch 1, kills its worker once
    before its epoch 2."""
    import signal

    checkpoint = nbtune.get_checkpoint()
    first = checkpoint["epoch"] + 1 if checkpoint else 1
    for epoch in range(first, 4):
        if epoch == 1:
            q9_first(config)
        elif epoch == 2 and config["q"] == 9 and not os.path.exists(config["mark"] + "-died"):
            open(config["mark"] + "-died", "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        nbtune.report(epoch=epoch, score=config["q"] * epoch, checkpoint={"epoch": epoch})


def dies_once_resumed_reading(config, data):
    assert data.shape == (300_000,)
    return dies_once_resumed(config)


# Alone, after the two processes of `make test`: twice in six two-process runs the first trial of
# these clusters of their own did not report within 60 s (never alone; not explained yet)
@pytest.mark.alone
def test_a_resumed_trial_whose_worker_dies_with_the_data_runs_again(db, tmp_path):
    """A trial promoted from its pause whose worker died while it went on, taking the data sent
    with the trials: Dask cannot compute the pause again without the data, and the trial runs
    again from its beginning, as its next attempt (check round 56), not interrupted, nor
    'cancelled'. (Without data sent with it, Dask computes the pause again and the trial goes
    on from there: the Hyperband test above.)"""
    import numpy as np
    from distributed import Client

    from nbtune.run.cluster import local_cluster

    with local_cluster(1) as cluster, Client(cluster, set_as_default=False) as c:
        space = {"q": nbtune.grid(9, 5, 4), "mark": str(tmp_path / "q9-reported")}
        fn = nbtune.with_parameters(dies_once_resumed_reading, data=np.ones(300_000))
        study = nbtune.tune(fn, space, searcher="grid", metric="score",
                            mode="max", scheduler=ASHAScheduler(max_t=3, type="promotion"),
                            cluster=c, storage=db, study="died-resumed", progress=False)
    assert (tmp_path / "q9-reported-died").exists()  # its worker died once
    best = study.trials[0]
    assert (best.state, best.value) == (T.COMPLETED, 27)
    assert [r["epoch"] for r in best.reports] == [1, 2, 3]
    assert best.attempts == 2  # from its beginning (it paused at epoch 1 again, or went on
    # there as the rung's best)
    stored = nbtune.load_study("died-resumed", storage=db).trials[0]
    assert [r["epoch"] for r in stored.reports] == [1, 2, 3]
