"""Paused trials' checkpoints kept on disk: a study cut short (stopped, interrupted, its process
killed) resumes its paused trials where they paused, on a real cluster, from the files beside the
study file; the files go once the trials end for good, or with the study."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import warnings
import time

import pytest

import nbtune
from nbtune import trial as T
from nbtune.contract.events import Observer
from nbtune.run import kept
from nbtune.run.keeping import Keeping
from nbtune.run.settings import LoopSettings
from nbtune.schedule import CONTINUE, RESUME, STOP, ASHAScheduler
from nbtune.storage import Storage

from test_pause import Guard, NeverResume, PauseOnceAt, resumable, space


def slow_three(config):
    """Four epochs; x=3 takes its time before its first (in slices, so that the study's end
    halts it), while the others sit paused at epoch 2. Its studies run two trials at a time:
    with three, Dask could queue trial 0 behind x=3 on one worker, and the test that waited for
    two paused trials saw them only as the study ended (a make test run)."""
    if config["x"] == 3.0:
        for _ in range(300):
            time.sleep(0.1)
    return resumable(config)


def folder_of(db: str, study: str) -> str:
    storage = Storage(db)
    try:
        return storage.checkpoint_folder(study)
    finally:
        storage.close()


def files_in(folder: str) -> list[str]:
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def wait_until(study, ready, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while not ready(study.trials) and time.time() < deadline:
        time.sleep(0.05)
    assert ready(study.trials), study.trials


def stop_when(study, ready, timeout: float = 60.0) -> None:
    wait_until(study, ready, timeout)
    study.stop().wait(60)


def paused(n: int):
    return lambda trials: sum(t.state == T.PAUSED for t in trials) >= n


def test_trials_paused_when_the_study_is_stopped_resume_where_they_paused(client, db):
    """A resume ran paused trials again from epoch 1: their checkpoints lived on the workers
    (first-day test, round 11: for long GPU trials the biggest gap against Ray)."""
    study = nbtune.tune(slow_three, space(True), searcher="grid", metric="v", mode="max",
                        scheduler=NeverResume(2), concurrency=2, cluster=client, storage=db,
                        study="cut", background=True)
    stop_when(study, paused(2))
    folder = folder_of(db, "cut")
    assert files_in(folder) == ["trial-0.ckpt", "trial-1.ckpt"]  # x=3 never paused
    assert os.path.dirname(folder) == os.path.abspath(db) + ".checkpoints"

    sched = PauseOnceAt(2)
    resumed = nbtune.tune(resumable, space(True), searcher="grid", metric="v", mode="max",
                          scheduler=sched, cluster=client, storage=db, study="cut", resume=True)
    by_x = {t.config["x"]: t for t in resumed.trials}
    for x in (1.0, 2.0):  # from the checkpoint their first run kept: epochs 3 and 4 only
        assert by_x[x].state == T.COMPLETED
        assert [r["epoch"] for r in by_x[x].reports] == [1, 2, 3, 4]
        assert by_x[x].metrics["resumed_from"] == 3
        assert by_x[x].attempts == 1  # a resume from a pause is not a retry
    assert by_x[3.0].state == T.COMPLETED  # interrupted while it ran: from its beginning
    assert sched.ended[:2] == [(0, T.PAUSED), (1, T.PAUSED)]  # replayed, paused at their rung
    stored = nbtune.load_study("cut", storage=db)
    assert [[r["epoch"] for r in t.reports] for t in stored.trials] == [[1, 2, 3, 4]] * 3
    # every trial ended: what resuming needed is gone, the best one's last checkpoint kept
    # (a Guard: unpickled here, it fails; the study never did)
    assert files_in(folder) == [f"trial-{stored.best.id}.final.ckpt"]


class HeardEpochs(Observer):
    """The epochs each trial reported in one run of a study."""

    def __init__(self):
        self.epochs: dict[int, list] = {}

    def trial_reported(self, trial, report):
        self.epochs.setdefault(trial.id, []).append(report["epoch"])


def test_a_study_file_moved_without_its_checkpoints_says_where_they_were(client, db, tmp_path):
    """A study file moved (or copied) without its NAME.db.checkpoints folder resumed its paused
    trials from their start without a word (first-day tests, rounds 15 and 16). It now says
    where the checkpoints are and where they belong; moved with the file, they are used."""
    import shutil

    study = nbtune.tune(slow_three, space(True), searcher="grid", metric="v", mode="max",
                        scheduler=NeverResume(2), concurrency=2, cluster=client, storage=db,
                        study="cut", background=True)
    stop_when(study, paused(2))
    old = folder_of(db, "cut")
    moved = str(tmp_path / "moved.db")
    shutil.copy(db, moved)  # the study file alone (a WAL file is folded in when it closes)
    heard = HeardEpochs()
    with pytest.warns(nbtune.NbtuneWarning) as said:
        resumed = nbtune.tune(resumable, space(True), searcher="grid", metric="v", mode="max",
                              scheduler=PauseOnceAt(2), cluster=client, storage=moved,
                              study="cut", resume=True, progress=False, observers=[heard])
    new = folder_of(moved, "cut")
    assert [str(w.message) for w in said] == [
        f"study 'cut' kept the checkpoints of its 2 unfinished trials in {old!r} when it last "
        f"ran, and none are in {new!r}, which this run reads: they train again from their "
        "start. To go on from the checkpoints, interrupt this study, move that folder to "
        f"{new!r} and resume it"]
    assert [t.state for t in resumed.trials] == [T.COMPLETED] * 3
    assert heard.epochs[0] == heard.epochs[1] == [1, 2, 3, 4]  # from their start, as said
    assert files_in(old) == ["trial-0.ckpt", "trial-1.ckpt"]  # the first file's, untouched

    again = str(tmp_path / "again.db")  # moved as the README says: the file and its folder
    nbtune.delete_study("cut", storage=db)
    study = nbtune.tune(slow_three, space(True), searcher="grid", metric="v", mode="max",
                        scheduler=NeverResume(2), concurrency=2, cluster=client, storage=db,
                        study="cut", background=True)
    stop_when(study, paused(2))
    shutil.move(db, again)
    shutil.move(os.path.abspath(db) + ".checkpoints", again + ".checkpoints")
    heard = HeardEpochs()
    with warnings.catch_warnings():
        warnings.simplefilter("error", nbtune.NbtuneWarning)
        nbtune.tune(resumable, space(True), searcher="grid", metric="v", mode="max",
                    scheduler=PauseOnceAt(2), cluster=client, storage=again, study="cut",
                    resume=True, progress=False, observers=[heard])
    assert heard.epochs[0] == heard.epochs[1] == [3, 4]  # from their checkpoints


def stalls_after_three(config):
    """Pauses at epoch 2 like ``resumable``; resumed, reports epoch 3 (v = -1) and stalls."""
    checkpoint = nbtune.get_checkpoint()
    first = checkpoint.epoch + 1 if checkpoint is not None else 1
    for epoch in range(first, 5):
        if epoch == 4:
            for _ in range(600):  # in slices: the study's end halts it
                time.sleep(0.1)
        nbtune.report(epoch=epoch, v=-1.0 if epoch == 3 else config["x"] * epoch,
                      checkpoint=Guard(epoch, config["pid"]))


def test_a_trial_cut_short_after_its_resume_goes_back_to_its_last_checkpoint(client, db):
    """Reports made after the last checkpoint kept are trained again, and stored once: the
    resumed run's, not the lost run's."""
    study = nbtune.tune(stalls_after_three, {**space(True), "x": nbtune.grid(1.0)},
                        searcher="grid", metric="v", mode="max", scheduler=PauseOnceAt(2),
                        cluster=client, storage=db, study="rewind", background=True)
    stop_when(study, lambda trials: bool(trials) and len(trials[0].reports) == 3)
    assert nbtune.load_study("rewind", storage=db).trials[0].reports[-1]["v"] == -1.0

    resumed = nbtune.tune(resumable, {**space(True), "x": nbtune.grid(1.0)}, searcher="grid",
                          metric="v", mode="max", scheduler=PauseOnceAt(2), cluster=client,
                          storage=db, study="rewind", resume=True)
    trial = resumed.trials[0]
    assert trial.state == T.COMPLETED and trial.metrics["resumed_from"] == 3
    assert [r["v"] for r in trial.reports] == [1.0, 2.0, 3.0, 4.0]
    stored = nbtune.load_study("rewind", storage=db).trials[0]
    assert [(r["epoch"], r["v"]) for r in stored.reports] == [(1, 1.0), (2, 2.0), (3, 3.0),
                                                              (4, 4.0)]


KILLED = textwrap.dedent("""
    import sys, time
    import nbtune

    def train(config):
        checkpoint = nbtune.get_checkpoint()
        first = checkpoint["epoch"] + 1 if checkpoint else 1
        for epoch in range(first, 10):
            time.sleep(0.05)
            nbtune.report(epoch=epoch, v=config["q"] * epoch, first=first,
                          checkpoint={"epoch": epoch})

    if __name__ == "__main__":
        nbtune.tune(train, {"q": nbtune.grid(*range(12, 0, -1))}, searcher="grid", metric="v",
                    mode="max", scheduler="asha", type="promotion", rung_levels=[3], max_t=9,
                    storage=sys.argv[1], study="killed", progress=False)
        time.sleep(600)  # the test kills it before
""")


def ladder(config):
    """``train`` of KILLED, in this process."""
    checkpoint = nbtune.get_checkpoint()
    first = checkpoint["epoch"] + 1 if checkpoint else 1
    for epoch in range(first, 10):
        nbtune.report(epoch=epoch, v=config["q"] * epoch, first=first,
                      checkpoint={"epoch": epoch})


def test_a_killed_processs_paused_trials_resume_from_their_checkpoints(client, db, tmp_path):
    """The process (a kernel, a script) dies with its local cluster: the checkpoints were
    written as the trials paused, so a resume in another process promotes them from there."""
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    proc = subprocess.Popen([sys.executable, str(script), db], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = folder_of(db, "killed")
    try:
        deadline = time.time() + 90
        while len(files_in(folder)) < 4 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert len(files_in(folder)) >= 4, "no paused trial kept its checkpoint"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    before = {t.id: t for t in nbtune.load_study("killed", storage=db).trials}
    saved = {int(name[6:-5]) for name in files_in(folder)}
    # each file's trial paused at rung 3 (its state may not say so yet: the file is written
    # on the worker as the pause's verdict arrives, the state when the loop hears of its end;
    # one promoted since runs on past it, and goes back there)
    assert saved and all([r["epoch"] for r in before[i].reports][:3] == [1, 2, 3] for i in saved)

    study = nbtune.tune(ladder, {"q": nbtune.grid(*range(12, 0, -1))}, searcher="grid",
                        metric="v", mode="max", scheduler="asha", type="promotion",
                        rung_levels=[3], max_t=9, cluster=client, storage=db, study="killed",
                        resume=True, progress=False)
    by_id = {t.id: t for t in study.trials}
    for i in saved:  # those promoted went on from their rung: no epoch trained twice
        epochs = [r["epoch"] for r in by_id[i].reports]
        assert epochs == list(range(1, len(epochs) + 1)), (i, epochs)
    promoted = [i for i in saved if len(by_id[i].reports) > 3]
    assert promoted and all(by_id[i].reports[3]["first"] == 4 for i in promoted)
    assert study.best.config["q"] == 12
    assert files_in(folder) == [f"trial-{study.best.id}.final.ckpt"]


def test_deleting_or_replacing_a_study_deletes_its_checkpoints(client, db):
    for name in ("gone", "again"):
        study = nbtune.tune(slow_three, space(True), searcher="grid", metric="v", mode="max",
                            scheduler=NeverResume(2), concurrency=2, cluster=client, storage=db,
                            study=name, background=True)
        stop_when(study, paused(2))
        assert len(files_in(folder_of(db, name))) == 2
    nbtune.delete_study("gone", storage=db)
    assert not os.path.exists(folder_of(db, "gone"))
    nbtune.tune(resumable, space(True), searcher="grid", metric="v", mode="max",
                scheduler=NeverResume(2), cluster=client, storage=db, study="again",
                replace=True)
    assert not os.path.exists(os.path.dirname(folder_of(db, "again")))


@pytest.mark.parametrize("name", ["a/b", "..", "spaced name"])
def test_a_studys_checkpoint_folder_is_its_own_whatever_its_name(db, name):
    folder = folder_of(db, name)
    assert os.path.dirname(folder) == os.path.abspath(db) + ".checkpoints"
    assert os.path.basename(folder) not in ("", ".", "..")


def test_a_checkpoint_file_that_cannot_be_read_is_said_and_the_trial_starts_again(client, db):
    study = nbtune.tune(slow_three, space(True), searcher="grid", metric="v", mode="max",
                        scheduler=NeverResume(2), concurrency=2, cluster=client, storage=db,
                        study="torn", background=True)
    stop_when(study, paused(2))
    path = os.path.join(folder_of(db, "torn"), "trial-0.ckpt")
    with open(path, "rb") as f:
        head = f.readline()
    with open(path, "wb") as f:
        f.write(head + b"\x80\x05 cut short")  # a header, and half a pickle
    with pytest.warns(UserWarning, match=r"trial 0 could not resume from the checkpoint an "
                                         r"earlier run kept \(.*\), so it trains again"):
        resumed = nbtune.tune(resumable, space(True), searcher="grid", metric="v", mode="max",
                              scheduler=PauseOnceAt(2), cluster=client, storage=db,
                              study="torn", resume=True)
    by_x = {t.config["x"]: t for t in resumed.trials}
    assert by_x[1.0].metrics["resumed_from"] == 1  # from its beginning
    assert by_x[2.0].metrics["resumed_from"] == 3


def test_a_checkpoint_that_cannot_be_kept_is_said_once_and_the_study_goes_on(client, db):
    """A folder that cannot be made (a file in its place): the trials resume from the workers
    as before, and the study says, once, that a resume would start them again."""
    with open(os.path.dirname(folder_of(db, "unkept")), "w") as f:
        f.write("in the way")
    with pytest.warns(UserWarning, match=r"trial \d's checkpoint could not be kept on disk "
                                         r"\((FileExistsError|NotADirectoryError)") as said:
        study = nbtune.tune(resumable, space(True), searcher="grid", metric="v", mode="max",
                            scheduler=PauseOnceAt(2), cluster=client, storage=db,
                            study="unkept")
    assert sum("could not be kept" in str(w.message) for w in said) == 1
    assert [t.metrics["resumed_from"] for t in study.trials] == [3, 3, 3]  # on the workers


@pytest.fixture
def threads(monkeypatch):
    """A cluster of one worker in this process, whose trials write a running trial's checkpoint
    with each report (KEEP_EVERY 0 here: 60 s on a real study)."""
    from distributed import Client, LocalCluster

    from nbtune.run import kept

    monkeypatch.setattr(kept, "KEEP_EVERY", 0.0)
    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                           dashboard_address=":0")
    c = Client(cluster, set_as_default=False)
    yield c
    c.close()
    cluster.close()


def long_run(config, stall=True):
    """Eight epochs, from its checkpoint's next (epoch 5 carries none); stalls after epoch 5."""
    checkpoint = nbtune.get_checkpoint()
    first = checkpoint["epoch"] + 1 if checkpoint else 1
    for epoch in range(first, 9):
        if epoch == 6 and stall:
            for _ in range(600):
                time.sleep(0.1)
        nbtune.report(epoch=epoch, v=config["x"] * epoch, first=first,
                      checkpoint={"epoch": epoch} if epoch != 5 else None)


def runs_through(config):
    return long_run(config, stall=False)


def test_a_running_trial_cut_short_resumes_from_its_latest_checkpoint(threads, db):
    """Without early stopping too: a long trial that never pauses keeps its latest checkpoint
    (at most once a minute), and a resume goes on from it, not from epoch 1."""
    study = nbtune.tune(long_run, {"x": nbtune.grid(1.0, 2.0)},
                        searcher="grid", metric="v", mode="max", cluster=threads, storage=db,
                        study="long", background=True)
    stop_when(study, lambda trials: len(trials) == 2 and all(len(t.reports) == 5
                                                             for t in trials))
    assert files_in(folder_of(db, "long")) == ["trial-0.ckpt", "trial-1.ckpt"]

    resumed = nbtune.tune(runs_through, {"x": nbtune.grid(1.0, 2.0)},
                          searcher="grid", metric="v", mode="max", cluster=threads, storage=db,
                          study="long", resume=True)
    for trial in resumed.trials:  # epoch 5 carried no checkpoint: from epoch 4's, epoch 5 again
        assert trial.state == T.COMPLETED
        assert [(r["epoch"], r["first"]) for r in trial.reports] == \
            [(1, 1), (2, 1), (3, 1), (4, 1), (5, 5), (6, 5), (7, 5), (8, 5)]
    stored = nbtune.load_study("long", storage=db)
    assert [[r["first"] for r in t.reports] for t in stored.trials] == [[1] * 4 + [5] * 4] * 2
    assert files_in(folder_of(db, "long")) == [f"trial-{stored.best.id}.final.ckpt"]


class Judge(nbtune.schedule.Scheduler):
    """Stops trials at epoch 3 once told to (a rung that, replayed, ranks them out)."""

    name = "judge"

    def __init__(self, stop: bool):
        self.stop = stop

    def on_report(self, trial_id, report):
        return STOP if self.stop and report.get("epoch") == 3 else CONTINUE


def test_a_restored_trial_its_scheduler_now_stops_ends_stopped_with_its_reports(threads, db):
    study = nbtune.tune(long_run, {"x": nbtune.grid(1.0)}, searcher="grid", metric="v",
                        mode="max", scheduler=Judge(False), cluster=threads, storage=db,
                        study="judged", background=True)
    stop_when(study, lambda trials: bool(trials) and len(trials[0].reports) == 5)
    resumed = nbtune.tune(runs_through, {"x": nbtune.grid(1.0)}, searcher="grid", metric="v",
                          mode="max", scheduler=Judge(True), cluster=threads, storage=db,
                          study="judged", resume=True)
    trial = resumed.trials[0]
    assert trial.state == T.STOPPED and trial.value == 4.0  # its checkpoint's report, epoch 4
    assert [r["epoch"] for r in trial.reports] == [1, 2, 3, 4]
    assert nbtune.load_study("judged", storage=db).trials[0].state == T.STOPPED
    assert not os.path.exists(folder_of(db, "judged"))


class Replayed(Keeping):
    """The loop's state a restored trial's replay reads and writes, around a real scheduler."""

    def __init__(self, scheduler):
        self.scheduler, self.paused, self.resume_now, self.kept_ids = scheduler, {}, [], set()
        self.settings = LoopSettings(metric="v", keep_at=None)
        self.observer = Observer()


def test_a_restored_trial_paused_at_each_rung_waits_at_its_last_and_is_promoted_there():
    """Told of its pauses at rungs 1 and 3 only after all its reports, ASHA cleared the rung the
    trial waits at (9): the best trial there was never promoted after a resume (first-day test,
    round 15: it ended stopped at 9 while worse ones went on to 27)."""
    sched = ASHAScheduler(max_t=27, type="promotion")
    sched.setup("v", "max", "epoch")
    held = Replayed(sched)
    trial = T.Trial(id=0, config={}, reports=[{"epoch": e, "v": float(e)} for e in range(1, 10)],
                    state=T.PAUSED)
    saved = kept.Saved("trial-0.ckpt", {})
    held._replay_restored(trial, saved)  # alone at each rung: it paused at 1, 3 and 9
    assert held.paused == {0: saved} and held.resume_now == []
    assert sched.paused_trials() == {0: 9}
    assert sched.next_action(can_start=False) == (RESUME, 0)  # the study's trials all drawn


def holds_a_lock(config):
    """Four epochs, resuming after its checkpoint's, which holds a lock; x=3 takes 3 s at its
    start, so that one worker is busy while the other is free to resume the paused trials."""
    import threading

    checkpoint = nbtune.get_checkpoint()
    first = checkpoint["epoch"] + 1 if checkpoint is not None else 1
    if config["x"] == 3.0 and first == 1:
        for _ in range(30):
            time.sleep(0.1)
    for epoch in range(first, 5):
        nbtune.report(epoch=epoch, v=config["x"] * epoch,
                      checkpoint={"epoch": epoch, "lock": threading.Lock()})
    return {"resumed_from": first}


@pytest.mark.parametrize("storage", ["file", None])
def test_a_checkpoint_that_cannot_be_pickled_resumes_on_its_own_worker(client, db, storage):
    """A resume sent to the free worker waited for a transfer that never came: the study hung
    (first-day test, round 15). Said once; each trial resumes where it paused."""
    with pytest.warns(UserWarning, match=r"trial \d's checkpoint cannot be pickled \(TypeError: "
                                         r"cannot pickle '_thread.lock' object\): it resumes "
                                         r"only on the worker that holds it") as said:
        study = nbtune.tune(holds_a_lock, {"x": nbtune.grid(1.0, 2.0, 3.0)}, searcher="grid",
                            metric="v", mode="max", scheduler=PauseOnceAt(2), cluster=client,
                            storage=db if storage else None, study="locked", max_time=30)
    assert sum("cannot be pickled" in str(w.message) for w in said) == 1
    assert study.stop_reason != "max_time"
    assert [t.metrics.get("resumed_from") for t in study.trials] == [3, 3, 3]


def test_the_outcome_of_a_pause_whose_end_message_came_late_is_read_where_the_trial_paused(
        client, db, monkeypatch):
    """Under load a paused trial's "end" message can reach the notebook after its task ended:
    its outcome was then split from its result on whichever worker Dask chose, the free one
    while the trial's own ran another trial, and an unpicklable checkpoint could not be sent
    there: the study waited until max_time cut it (a make test run). It is read where it is."""
    from nbtune.run.loop import Loop

    heard = Loop._on_message

    def no_end(self, msg):  # as if each "end" came after its task's end
        if msg.get("kind") != "end":
            heard(self, msg)

    monkeypatch.setattr(Loop, "_on_message", no_end)
    study = nbtune.tune(holds_a_lock, {"x": nbtune.grid(1.0, 2.0, 3.0)}, searcher="grid",
                        metric="v", mode="max", scheduler=PauseOnceAt(2), cluster=client,
                        storage=db, study="late", max_time=30)
    assert study.stop_reason != "max_time"
    assert [t.metrics.get("resumed_from") for t in study.trials] == [3, 3, 3]


def test_a_synchronous_hyperband_trial_promoted_before_its_checkpoint_runs_again():
    """A replay cannot tell synchronous Hyperband a promotion (its bracket decides once the
    whole rung is in): such a trial ran unjudged to max_t. It runs again from its start, as
    before checkpoints were kept; one that paused at its first rung, and ASHA's, are restored."""
    from nbtune.schedule import HyperbandScheduler

    hyperband = HyperbandScheduler(max_t=9)
    hyperband.setup("v", "max", "epoch")
    asha = ASHAScheduler(max_t=9, type="promotion")
    asha.setup("v", "max", "epoch")
    past_a_rung = [{"epoch": e, "v": 1.0} for e in (1, 2)]  # before its checkpoint at 3
    assert Replayed(hyperband)._promoted_before(past_a_rung)
    assert not Replayed(hyperband)._promoted_before(past_a_rung[1:])
    assert not Replayed(asha)._promoted_before(past_a_rung)


def test_checkpoints_of_another_machines_workers_are_fetched_when_the_study_is_stopped(
        client, db, monkeypatch):
    """Workers of another machine write no file (their disk is not the notebook's folder): a
    study cut short by the user fetches those paused trials' checkpoints, pickled where they
    are, and keeps them here, so that a resume takes them up where they paused too."""
    monkeypatch.setattr(kept, "this_host", lambda: "the-notebooks-machine")  # not the workers'
    study = nbtune.tune(slow_three, space(True), searcher="grid", metric="v", mode="max",
                        scheduler=NeverResume(2), concurrency=2, cluster=client, storage=db,
                        study="remote", background=True)
    wait_until(study, paused(2))
    assert files_in(folder_of(db, "remote")) == []  # none written by the workers
    study.stop().wait(60)
    assert files_in(folder_of(db, "remote")) == ["trial-0.ckpt", "trial-1.ckpt"]
    assert kept.header(folder_of(db, "remote"), 0) == {"trial": 0, "seq": 2, "level": 2}

    resumed = nbtune.tune(resumable, space(True), searcher="grid", metric="v", mode="max",
                          scheduler=PauseOnceAt(2), cluster=client, storage=db, study="remote",
                          resume=True)
    by_x = {t.config["x"]: t for t in resumed.trials}
    assert by_x[1.0].metrics["resumed_from"] == 3 and by_x[2.0].metrics["resumed_from"] == 3


def test_a_shared_checkpoint_folder_is_written_by_every_machines_workers(
        client, db, tmp_path, monkeypatch):
    """Workers of another machine kept their paused trials' checkpoints in memory, which a
    kernel's death lost (a resume trained those trials again from their start). With a folder
    they all reach (checkpoints=, a shared file system), each writes its own as it pauses."""
    monkeypatch.setattr(kept, "this_host", lambda: "the-notebooks-machine")  # not the workers'
    shared = tmp_path / "shared"
    study = nbtune.tune(slow_three, space(True), searcher="grid", metric="v", mode="max",
                        scheduler=NeverResume(2), concurrency=2, cluster=client, storage=db,
                        study="far", background=True, checkpoints=str(shared))
    folder = str(shared / "far")
    wait_until(study, lambda trials: paused(2)(trials) and len(files_in(folder)) == 2)
    assert files_in(folder) == ["trial-0.ckpt", "trial-1.ckpt"]  # before any stop: a kernel
    assert folder_of(db, "far") == folder                        # that dies now loses none
    study.stop().wait(60)
    assert not os.path.exists(os.path.abspath(db) + ".checkpoints")

    heard = HeardEpochs()
    nbtune.tune(resumable, space(True), searcher="grid", metric="v", mode="max",
                scheduler=PauseOnceAt(2), cluster=client, storage=db, study="far", resume=True,
                progress=False, observers=[heard])  # the folder as stored
    assert heard.epochs[0] == heard.epochs[1] == [3, 4]  # from their checkpoints
    nbtune.delete_study("far", storage=db)
    assert not os.path.exists(folder) and os.path.isdir(shared)  # the user's folder stays
    with pytest.raises(ValueError, match="checkpoints= keeps the paused trials' checkpoints for "
                                         "a resume, which needs a study file"):
        nbtune.tune(resumable, space(True), storage=None, checkpoints=str(shared))
    with pytest.raises(nbtune.StorageError, match=r"checkpoints='.*studies.db' is a file"):
        nbtune.tune(resumable, space(True), storage=db, checkpoints=db)


def test_the_magic_keeps_checkpoints_in_the_folder_it_is_given(shell, db, tmp_path, capsys):
    from test_magic import run

    shared = tmp_path / "shared"
    res = run(shell, f"--storage {db} --study m --checkpoints {shared} -n 2 --metric v "
                     "--scheduler asha --type promotion --max-t 3 --rung-levels 1 --mode max",
              "x = uniform(0, 1)\nfor epoch in (1, 2, 3):\n"
              "    report(epoch=epoch, v=x * epoch, checkpoint={'epoch': epoch})")
    assert res.success, capsys.readouterr().err
    assert nbtune.load_study("m", storage=db).settings["checkpoints"] == str(shared)
    assert folder_of(db, "m") == str(shared / "m") and os.path.isdir(shared)


ORPHANS = textwrap.dedent("""
    import sys, time
    import nbtune

    def forever(config):  # long for a trial, as a GPU epoch is: its kernel dies meanwhile
        nbtune.report(epoch=1, v=config["x"])
        for _ in range(900):
            time.sleep(0.1)
        return config["x"]

    if __name__ == "__main__":
        nbtune.tune(forever, {"x": nbtune.grid(1.0, 2.0)}, searcher="grid", metric="v",
                    cluster=sys.argv[1], storage=sys.argv[2], study="orphans", progress=False)
""")


def quick(config):
    return config["x"]


def test_a_resume_stops_what_the_dead_run_left_running_on_the_cluster(client, db, tmp_path):
    """A kernel that died left its trials running on the workers of a cluster it had not
    started, or waiting at a rung for a verdict for 10 minutes: they held every thread, and the
    resumed study trained nothing (first-day test, round 18). The resume halts them first."""
    script = tmp_path / "orphans.py"
    script.write_text(ORPHANS)
    proc = subprocess.Popen([sys.executable, str(script), client.scheduler.address, db],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 90
        while time.time() < deadline and proc.poll() is None:
            if "orphans" in nbtune.list_studies(db) and sum(bool(t.reports) for t in
                                                            nbtune.load_study(
                                                                "orphans", storage=db).trials) == 2:
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)  # the kernel dies; its trials run on
        proc.wait(30)
    busy = client.call_stack()  # the scheduler forgot them with their client; the workers not
    assert sum(len(keys) for keys in busy.values()) == 2, busy  # both threads held
    run = nbtune.load_study("orphans", storage=db).settings["run"]

    study = nbtune.tune(quick, {"x": nbtune.grid(1.0, 2.0)}, searcher="grid", metric="v",
                        cluster=client, storage=db, study="orphans", resume=True,
                        progress=False, max_time=60)
    assert [t.state for t in study.trials] == [T.COMPLETED] * 2, study  # not cut by max_time
    assert study.settings["run"] != run  # its own run, which the next resume stops in turn
    assert not any(client.call_stack().values())
    from test_stream import topics_on
    from waiting import wait_for

    wait_for(lambda: client.run_on_scheduler(topics_on) == [], "the dead run's topic to go", 12)


def test_a_resume_that_names_a_checkpoint_folder_without_the_studys_checkpoints_says_so(
        tmp_path):
    """A resume naming another checkpoints= folder trained every paused trial again from epoch
    1 in silence (first-day test, round 18: the share moved, or the path typed wrong)."""
    from nbtune.starting import left_behind_note

    db = str(tmp_path / "s.db")
    paused = [T.Trial(i, {}, state=T.INTERRUPTED, reports=[{"epoch": 1}]) for i in range(2)]
    a, b, empty = (str(tmp_path / x) for x in ("a", "b", "empty"))
    kept.save(os.path.join(b, "mvw"), 0, 1, 1, b"x")
    kept.save(os.path.join(b, "mvw"), 1, 1, 1, b"x")
    assert left_behind_note("mvw", paused, db, db, b, b) is None  # where they are
    assert left_behind_note("mvw", paused, db, db, a, b) is None  # moved there: found
    said = left_behind_note("mvw", paused, db, db, b, empty)
    assert said == (f"study 'mvw' kept the checkpoints of its 2 unfinished trials in "
                    f"{os.path.join(b, 'mvw')!r} when it last ran, and none are in "
                    f"{os.path.join(empty, 'mvw')!r}, which this run reads: they train again "
                    "from their start. To go on from the checkpoints, interrupt this study, move "
                    f"that folder to {os.path.join(empty, 'mvw')!r} and resume it")
    assert left_behind_note("mvw", paused, db, db, a, empty) == (
        f"checkpoints={empty!r} holds no checkpoint of study 'mvw''s 2 unfinished trials (its "
        f"last run kept them in {os.path.join(a, 'mvw')!r}): they train again from their "
        "start; interrupt it and name the folder that holds them")
    assert left_behind_note("mvw", paused, db, db, None, None) is None  # beside the file
