"""What a hostile or unlucky user does to a study: values that cannot travel, trials that will not
stop, what the embedded cluster exposes, files it creates."""
from __future__ import annotations

import os
import stat
import threading
import time

import numpy as np
import pandas as pd
import pytest

import nbtune
from nbtune import trial as T
from nbtune.run.cluster import local_cluster
from nbtune.run.resources import worker_info
from nbtune.run.held import held_workers
from waiting import wait_for


@pytest.fixture(scope="module")
def cluster_client():
    """Two single-threaded workers started as nbtune starts its own (nannies restart them)."""
    from distributed import Client

    cluster = local_cluster(n_workers=2)
    client = Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


def worker_addresses(client) -> set[str]:
    return set(worker_info(client))  # scheduler_info's copy may read none


def untravelled(config):
    """Reports or returns a value of the kind ``config['kind']`` names."""
    kind = config["kind"]
    if kind == "exact":
        nbtune.report(epoch=1, flops=int(1e20))  # 64 bits cannot hold it, a float can
    elif kind == "huge-report":
        nbtune.report(epoch=10**400)
    elif kind == "huge-return":
        return 10**400
    elif kind == "tuple-key":
        return {(1, 2): 3.0, "value": 1.0}
    elif kind == "surrogate":
        nbtune.report(note="\udc80")
    return 1.0


def test_values_that_cannot_travel_fail_their_trial_and_the_cluster_lives(cluster_client, db):
    before = worker_addresses(cluster_client)
    kinds = ["exact", "huge-report", "huge-return", "tuple-key", "surrogate", "fine"]
    study = nbtune.tune(untravelled, {"kind": nbtune.grid(*kinds)}, searcher="grid",
                        cluster=cluster_client, storage=db, study="big", progress=False,
                        max_time=120)
    by_kind = {t.config["kind"]: t for t in study.trials}
    assert by_kind["exact"].state == T.COMPLETED
    assert by_kind["exact"].reports == [{"epoch": 1, "flops": 1e20}]
    assert isinstance(by_kind["exact"].reports[0]["flops"], float)
    assert by_kind["fine"].state == T.COMPLETED
    expected = {"huge-report": "epoch= is an integer of 1329 bits",
                "huge-return": "is an integer of 1329 bits",
                "tuple-key": "the key (1, 2), a tuple",
                "surrogate": "note= is a string that is not valid UTF-8"}
    for kind, text in expected.items():
        trial = by_kind[kind]
        assert trial.state == T.FAILED, (kind, trial.error)
        assert text in trial.error
        assert "nbtune/run" not in trial.error  # one line about the user's value, not our code
    stored = {t.config["kind"]: t.state for t in nbtune.load_study("big", storage=db).trials}
    assert stored == {k: t.state for k, t in by_kind.items()}
    # the workers never lost their scheduler, and the next study runs on them
    assert worker_addresses(cluster_client) == before
    again = nbtune.tune(lambda c: c["x"], {"x": nbtune.uniform(0, 1)}, n_trials=4,
                        cluster=cluster_client, storage=None, progress=False, max_time=60)
    assert [t.state for t in again.trials] == [T.COMPLETED] * 4


def test_an_array_reported_is_told_it_goes_as_a_checkpoint():
    """report(oof=predictions) read only "report numbers, strings or booleans" (first-day
    test, round 46): an array, a list, travels as the report's checkpoint."""
    from nbtune.run.metrics import clean_metrics

    for value in (np.zeros(300), [0.1, 0.2], pd.Series([0.5, 0.7])):
        with pytest.raises(TypeError, match=r"oof= is a \w+; report numbers, strings or booleans "
                           r"\(use float\(x\) for a one-element tensor\); an array goes with the "
                           r"report as its checkpoint, report\(..., checkpoint=array\), and "
                           r"study.best_checkpoint gives the best trial's back$"):
            clean_metrics({"auc": 0.7, "oof": value})
    with pytest.raises(TypeError, match=r"one-element tensor\)$"):  # no array: no checkpoint
        clean_metrics({"model": object()})
    assert clean_metrics({"auc": np.array([0.75])}) == {"auc": 0.75}


def sleeps_when_first(config):
    """Trial 'hold' sleeps in one call, which no halt interrupts; the others return at once."""
    if config.get("hold"):
        time.sleep(config["hold"])
    return 1.0


def test_a_trial_that_cannot_be_halted_keeps_the_next_study_off_its_worker(cluster_client,
                                                                            capsys):
    # 3 s, not 1: on a loaded machine (make test, once) the trial's start message came after a
    # 1 s budget ended, and the study dropped it as never started while it slept on its worker
    first = nbtune.tune(sleeps_when_first, {"hold": 10.0}, n_trials=1, max_time=3.0,
                        cluster=cluster_client, storage=None, progress=False, study="sleeper",
                        restart_held=None)
    assert first.stop_reason == "max_time"
    [trial] = first.trials
    assert trial.state == T.INTERRUPTED and trial.worker is not None
    out = capsys.readouterr().out
    assert f"trial 0 of study 'sleeper' still runs on worker {trial.worker}" in out
    assert "new trials go to the other workers" in out
    assert held_workers(cluster_client).workers() == {trial.worker}

    second = nbtune.tune(sleeps_when_first, {"x": nbtune.uniform(0, 1)}, n_trials=6,
                         cluster=cluster_client, storage=None, progress=False, max_time=60)
    assert [t.state for t in second.trials] == [T.COMPLETED] * 6
    assert {t.worker for t in second.trials}.isdisjoint({trial.worker})
    assert "this study's trials go to the other workers" in capsys.readouterr().out
    # when the sleep returns, the halt lands, and the worker says it is free again
    wait_for(lambda: not held_workers(cluster_client).workers(), "the held worker's release",
             timeout=30)


def test_a_held_trial_whose_end_went_unheard_is_checked_and_forgotten(cluster_client, capsys):
    """The notebook missed the worker's word that a held trial ended (it came before anyone
    listened): the next study asks the workers, forgets it, and uses every worker."""
    held = held_workers(cluster_client)
    worker = sorted(worker_addresses(cluster_client))[0]
    held.add("gone", {worker: [{"trial": 3, "execution": "never-ran"}]}, prefix="nbtune-gone")
    assert held.workers() == {worker}
    study = nbtune.tune(lambda c: time.sleep(0.2) or c["x"], {"x": nbtune.uniform(0, 1)},
                        n_trials=6, cluster=cluster_client, storage=None, progress=False,
                        max_time=60)
    assert [t.state for t in study.trials] == [T.COMPLETED] * 6
    assert not held.workers()
    assert "still runs" not in capsys.readouterr().out
    assert worker in {t.worker for t in study.trials}


def swallows_halts(config):
    """Catches everything, TrialHalted included, for a minute: only a restart ends it."""
    end = time.time() + 60
    while time.time() < end:
        try:
            time.sleep(0.05)
        except BaseException:
            pass
    return 1.0


def test_a_worker_held_past_the_grace_period_is_restarted(cluster_client, capsys):
    """... quietly: the nanny's own lines ("Worker process still alive after 4.0 seconds,
    killing", "Restarting worker") landed in whatever cell ran then (first-day test, round 41)."""
    import logging

    said: list[logging.LogRecord] = []
    listener = logging.Handler(logging.WARNING)
    listener.emit = said.append
    logging.getLogger("distributed.nanny").addHandler(listener)
    before = worker_addresses(cluster_client)
    first = nbtune.tune(swallows_halts, {"x": 1}, n_trials=1, max_time=1.0,
                        cluster=cluster_client, storage=None, progress=False, study="stubborn",
                        restart_held=1.0)
    holder = first.trials[0].worker
    assert "nbtune restarts that worker in 1 s if it still runs" in capsys.readouterr().out
    # the nanny starts a fresh worker process in its place: a new address, two workers again
    wait_for(lambda: holder not in worker_addresses(cluster_client)
             and len(worker_addresses(cluster_client)) == 2, "a fresh worker in its place")
    wait_for(lambda: not held_workers(cluster_client).workers(), "the held worker's release",
             timeout=30)
    assert worker_addresses(cluster_client) != before
    logging.getLogger("distributed.nanny").removeHandler(listener)
    assert not said, [r.getMessage() for r in said]
    again = nbtune.tune(sleeps_when_first, {"x": nbtune.uniform(0, 1)}, n_trials=4,
                        cluster=cluster_client, storage=None, progress=False, max_time=60)
    assert [t.state for t in again.trials] == [T.COMPLETED] * 4


def test_where_every_worker_is_held_no_other_workers_are_promised():
    from nbtune.run.held import HeldTrial, held_note

    held = [HeldTrial("tcp://a:1", "s", 0, "e0", 0.0), HeldTrial("tcp://b:1", "s", 1, "e1", 0.0)]
    assert "every worker is held, so this study's trials wait until one is free" in held_note(
        held, workers=2)
    assert "no worker is free for new trials until then; nbtune restarts those workers in " \
           "10 s" in held_note(held, 10.0, workers=2)
    assert "new trials go to the other workers" in held_note(held[:1], 10.0, workers=2)


def test_restart_held_takes_auto_none_or_seconds():
    from nbtune.run.held import RESTART_AFTER, restart_delay

    assert restart_delay("auto", embedded=True) == RESTART_AFTER
    assert restart_delay("auto", embedded=False) is None
    assert restart_delay(None, embedded=True) is None
    assert restart_delay(2, embedded=False) == 2.0
    with pytest.raises(ValueError, match="restart_held must be 'auto', None or a number"):
        restart_delay("soon", embedded=True)


def listening(pids: set[int]) -> list[tuple[int, str, int]]:
    import psutil

    return [(c.pid, c.laddr.ip, c.laddr.port) for c in psutil.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.pid in pids]


def test_the_embedded_cluster_listens_on_this_machine_only():
    import psutil
    from distributed import Client

    cluster = local_cluster(n_workers=1)
    try:
        with Client(cluster, set_as_default=False) as client:
            workers = set(client.run(os.getpid).values()) | set(client.run(os.getppid).values())
            workers.discard(os.getpid())  # the nannies run in this process
            dashboard = int(cluster.dashboard_link.split(":")[2].split("/")[0])
            scheduler = int(cluster.scheduler_address.rsplit(":", 1)[1])
            here = [s for s in listening({os.getpid()}) if s[2] in (dashboard, scheduler)]
            theirs = listening(workers)
            assert {s[2] for s in here} == {dashboard, scheduler}, here
            assert theirs and psutil.pid_exists(next(iter(workers)))
            assert all(ip == "127.0.0.1" for _, ip, _ in here + theirs), here + theirs
    finally:
        cluster.close()


def test_a_new_study_file_is_readable_by_its_owner_alone(tmp_path):
    from nbtune.storage import Storage

    path = tmp_path / "private.db"
    old = os.umask(0o022)
    try:
        db = Storage(path)
        db.create_study("s", "{}", "value", "min", {})
        db.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for extra in (f"{path}-wal", f"{path}-shm"):
        if os.path.exists(extra):
            assert stat.S_IMODE(os.stat(extra).st_mode) == 0o600


def reports_for_a_while(config):
    """Reports every 20 ms for up to 30 s: halted when its study ends."""
    for epoch in range(1, 1501):
        nbtune.report(epoch=epoch, v=float(epoch))
        time.sleep(0.02)
    return 1.0


class BreaksAtReport(nbtune.Observer):
    """An observer of the user's that raises on the third report."""

    def __init__(self):
        self.seen = 0

    def trial_reported(self, trial, report):
        self.seen += 1
        if self.seen == 3:
            raise RuntimeError("the dashboard's database is down")


def test_a_study_kept_in_memory_that_fails_is_not_told_to_resume(cluster_client):
    """Resume advice for a study with storage=None led to "resume=True needs a storage file"
    (first-day test, round 5)."""
    with pytest.raises(nbtune.StudyFailed) as err:
        nbtune.tune(reports_for_a_while, {"x": nbtune.uniform(0, 1)}, n_trials=2, metric="v",
                    cluster=cluster_client, storage=None, study="mem", progress=False,
                    observers=[BreaksAtReport()], max_time=120)
    assert str(err.value) == ("study 'mem' stopped: RuntimeError: the dashboard's database is "
                              "down; its trials until then are kept in memory only (it had no "
                              "storage file, so it cannot be resumed)")
    assert err.value.study.trials


def test_a_failure_inside_the_loop_ends_the_study_recorded_and_its_trials_halted(
        cluster_client, db):
    with pytest.raises(nbtune.StudyFailed) as err:
        nbtune.tune(reports_for_a_while, {"x": nbtune.uniform(0, 1)}, n_trials=2, metric="v",
                    cluster=cluster_client, storage=db, study="broken", progress=False,
                    observers=[BreaksAtReport()], max_time=120)
    message = str(err.value)
    assert message.startswith("study 'broken' stopped: RuntimeError: the dashboard's database "
                              "is down; its trials until then are kept.")
    assert "\n" not in message and "could not be saved" not in message
    study = err.value.study
    assert study.stop_reason == "error" and study.error == message
    assert {t.state for t in study.trials} == {T.INTERRUPTED}
    stored = nbtune.load_study("broken", storage=db)
    assert stored.stop_reason == "error"
    assert [t.state for t in stored.trials] == [t.state for t in study.trials]
    # the halted trials left their workers: both take the next study's trials at once
    again = nbtune.tune(reports_for_a_while, {"x": nbtune.uniform(0, 1)}, n_trials=2,
                        metric="v", concurrency=2, cluster=cluster_client, storage=None,
                        progress=False, max_time=2)
    assert all(len(t.reports) > 5 for t in again.trials)
    assert not held_workers(cluster_client).workers()


class LocksTheFile(nbtune.Observer):
    """Another process takes the study file's write lock at the first report, for good."""

    def __init__(self, path):
        import sqlite3

        self.other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def trial_reported(self, trial, report):
        if not self.other.in_transaction:
            self.other.execute("BEGIN IMMEDIATE")


def test_a_file_locked_past_the_patience_stops_the_study_saying_what_was_not_saved(
        cluster_client, db, monkeypatch, capsys):
    from nbtune import storage as S

    monkeypatch.setattr(S, "BUSY_PATIENCE", 0.5)
    monkeypatch.setattr(S, "_BUSY_TIMEOUT", 0.05)
    monkeypatch.setattr(S, "BUSY_SAID_AFTER", 0.1)
    lock = LocksTheFile(db)
    nbtune.tune(lambda c: 1.0, {"x": 1}, n_trials=1, cluster=cluster_client, storage=db,
                study="locked", progress=False)  # creates the file's tables
    try:
        with pytest.raises(nbtune.StudyFailed) as err:
            nbtune.tune(reports_for_a_while, {"x": nbtune.uniform(0, 1)}, n_trials=1,
                        metric="v", cluster=cluster_client, storage=db, study="locked2",
                        progress=False, observers=[lock], max_time=120)
    finally:
        lock.other.execute("ROLLBACK")
        lock.other.close()
    message = str(err.value)
    assert "stayed locked by another process for 0.5 s" in message
    assert "kept in memory, but the final state of trial 0 and the study's end could not be " \
           "saved" in message
    assert err.value.study.trials[0].state == T.INTERRUPTED
    # the wait was said while it lasted, once (a study sat still with nothing said: round 12)
    said = [line for line in capsys.readouterr().err.splitlines() if "waiting for" in line]
    assert said[0] == (f"nbtune: waiting for {db!r}: another process holds its write lock (a "
                       "sqlite3 shell, a database browser with unsaved changes?); nbtune waits "
                       "up to 0.5 s"), said


def test_an_interrupt_while_another_process_locks_the_file_ends_the_study_at_once(
        cluster_client, db, monkeypatch, capsys, as_in_a_script):
    """The stop button did nothing for as long as a foreign write lock held the file: the
    interrupted trials' ends waited its whole patience (first-day test, round 12). Now they
    wait a few seconds, the rest are not tried, and the study returns interrupted, saying what
    was not saved."""
    import signal
    import threading

    from nbtune import recorder as R
    from nbtune import storage as S

    monkeypatch.setattr(R, "STOPPING_PATIENCE", 0.3)
    monkeypatch.setattr(S, "_BUSY_TIMEOUT", 0.05)
    lock = LocksTheFile(db)
    nbtune.tune(lambda c: 1.0, {"x": 1}, n_trials=1, cluster=cluster_client, storage=db,
                study="warm", progress=False)  # the file's tables

    class InterruptsOnceLocked(nbtune.Observer):
        def trial_reported(self, trial, report):
            if lock.other.in_transaction and not timer.is_alive():
                timer.start()

    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
    # Ctrl-C as in an interactive Python: a process started with SIGINT ignored (make test as a
    # background job of a non-interactive shell) ignored the signal, and the study waited for
    # the lock its whole patience (see tests/test_faults.py)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt) as stopped:  # a script's: once the study ended
            nbtune.tune(reports_for_a_while, {"x": nbtune.uniform(0, 1)}, n_trials=1,
                        metric="v", cluster=cluster_client, storage=db, study="cut",
                        progress=False, observers=[lock, InterruptsOnceLocked()],
                        max_time=120)
        study = stopped.value.study
        still_locked = lock.other.in_transaction  # the study ended while the file was locked
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
        lock.other.execute("ROLLBACK")
        lock.other.close()
    assert still_locked and study.stop_reason == "interrupted"
    assert study.trials[0].state == T.INTERRUPTED
    said = capsys.readouterr().err
    assert (f"nbtune: the study was interrupted, but storage {db!r} stayed locked by another "
            "process for 0.3 s; close what holds it and resume the study; the final state of "
            "trial 0, ") in said, said
    assert said.rstrip().endswith("reports and the study's end could not be saved (the study "
                                  "returned holds them)"), said


FULL_DISK = """
import resource, signal, sys
import nbtune
from distributed import Client, LocalCluster


def chatty(config):
    for epoch in range(1, 2001):
        nbtune.report(epoch=epoch, note="x" * 2000)
    return 1.0


if __name__ == "__main__":
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address="127.0.0.1:0")
    client = Client(cluster)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))  # this process's files only
    try:
        nbtune.tune(chatty, {"x": nbtune.uniform(0, 1)}, n_trials=1, metric="epoch",
                    storage=sys.argv[1], study="full", cluster=client, progress=False)
    except nbtune.StudyFailed as exc:
        print("FAILED", exc)
    client.close()
    cluster.close()
"""


def test_a_full_disk_stops_the_study_with_one_line_and_keeps_what_was_written(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "full_disk.py"
    script.write_text(FULL_DISK)
    path = str(tmp_path / "full.db")
    done = subprocess.run([sys.executable, str(script), path], capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    [line] = [ln for ln in done.stdout.splitlines() if ln.startswith("FAILED")]
    assert "study 'full' stopped: storage" in line and "is the disk full" in line
    assert "could not be saved" in line
    stored = nbtune.load_study("full", storage=path)
    [trial] = stored.trials
    assert 10 < len(trial.reports) < 2000  # what was written before the disk filled is there


def wait_for_a_report(study, timeout: float = 60.0) -> None:
    wait_for(lambda: any(t.reports for t in study.trials), "a report", timeout)


def test_a_study_runs_once_at_a_time_in_one_process(cluster_client, db):
    running = nbtune.tune(reports_for_a_while, {"x": nbtune.uniform(0, 1)}, n_trials=2,
                          metric="v", cluster=cluster_client, storage=db, study="twice",
                          progress=False, background=True, max_time=60)
    try:
        wait_for_a_report(running)
        with pytest.raises(nbtune.StorageError, match="study 'twice' is being run by another "
                           r"study run in this process \(since .*, last heard \d+ s ago\): let "
                           "that run end or stop it first"):
            nbtune.tune(reports_for_a_while, {"x": nbtune.uniform(0, 1)}, n_trials=2,
                        metric="v", cluster=cluster_client, storage=db, study="twice",
                        resume=True, progress=False)
    finally:
        running.stop()
    ids = [t.id for t in nbtune.load_study("twice", storage=db).trials]
    assert ids == sorted(set(ids))  # nothing of the refused run got in
    again = nbtune.tune(lambda c: {"v": 1.0}, {"x": nbtune.uniform(0, 1)},
                        cluster=cluster_client, storage=db, study="twice", resume=True,
                        progress=False)  # the lease was given back: the study continues
    assert again.stop_reason == "n_trials"
    assert [t.state for t in again.trials] == [T.COMPLETED] * 2


OWNER = """
import sys, time
import nbtune
from distributed import Client, LocalCluster


def slow(config):
    nbtune.report(epoch=1, v=1.0)
    open(sys.argv[1] + ".running", "w").close()  # (what a trial prints is its own output)
    time.sleep(120)
    return 1.0


if __name__ == "__main__":
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                           dashboard_address="127.0.0.1:0")
    nbtune.tune(slow, {"x": nbtune.uniform(0, 1)}, n_trials=1, metric="v", storage=sys.argv[1],
                study="shared", cluster=Client(cluster), progress=False)
"""


def test_another_process_running_the_study_is_named_and_its_lease_taken_over_when_it_dies(
        cluster_client, tmp_path):
    import subprocess
    import sys

    import psutil

    script = tmp_path / "owner.py"
    script.write_text(OWNER)
    path = str(tmp_path / "shared.db")
    owner = subprocess.Popen([sys.executable, str(script), path], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    try:
        wait_for(lambda: os.path.exists(path + ".running"), "the other process's lease")
        with pytest.raises(nbtune.StorageError, match=f"study 'shared' is being run by process "
                           f"{owner.pid} on "):
            nbtune.tune(lambda c: 1.0, {"x": nbtune.uniform(0, 1)}, n_trials=1,
                        cluster=cluster_client, storage=path, study="shared", resume=True,
                        metric="v", progress=False)
    finally:
        owner.kill()  # a kernel that dies: its lease is never given back
    try:  # dead and not yet reaped by its parent (a zombie): refused, naming it (round 33)
        wait_for(lambda: psutil.Process(owner.pid).status() == psutil.STATUS_ZOMBIE,
                 "the killed process, not yet reaped")
        stored = nbtune.load_study("shared", storage=path)  # its run died: trial interrupted
        assert [t.state for t in stored.trials] == [T.INTERRUPTED]
        assert stored.stop_reason == nbtune.studies.DIED
        resumed = nbtune.tune(lambda c: {"v": 2.0}, {"x": nbtune.uniform(0, 1)}, n_trials=1,
                              cluster=cluster_client, storage=path, study="shared",
                              resume=True, metric="v", progress=False)
        assert [t.state for t in resumed.trials] == [T.COMPLETED]
    finally:
        owner.wait()


def reports_slowly(config):
    for epoch in range(1, 200):
        nbtune.report(epoch=epoch, v=float(epoch))
        time.sleep(0.05)
    return 1.0


def test_a_live_run_on_this_host_keeps_its_study_however_late_its_lease(cluster_client, db):
    """A kernel paused 39 s, or kept from the file by another process's lock, had its study
    taken over by a second run while it ran on (first-day test, round 12)."""
    import sqlite3

    first = nbtune.tune(reports_slowly, {"x": nbtune.uniform(0, 1)}, n_trials=1, metric="v",
                        cluster=cluster_client, storage=db, study="late", progress=False,
                        background=True)
    try:
        wait_for(lambda: first.trials and first.trials[0].reports, "the first report")
        with sqlite3.connect(db) as other:  # its lease last renewed long ago
            other.execute("UPDATE leases SET heartbeat = 0 WHERE study = 'late'")
        with pytest.raises(nbtune.StorageError, match=r"^study 'late' is being run by another "
                                                      r"study run in this process"):
            nbtune.tune(reports_slowly, {"x": nbtune.uniform(0, 1)}, n_trials=2, metric="v",
                        cluster=cluster_client, storage=db, study="late", resume=True,
                        progress=False)
    finally:
        first.stop()
        first.wait(30)


def test_a_run_whose_lease_another_host_took_over_stops_and_writes_no_more(
        cluster_client, db, monkeypatch, capsys):
    """Where another run took the lease over (from another host, which cannot see this
    process), this run stops at its next renewal, says so, and writes nothing more: two runs
    overwrote each other's results in the file (first-day test, round 12)."""
    import sqlite3

    from nbtune import lease as L

    monkeypatch.setattr(L, "HEARTBEAT_EVERY", 0.2)
    study = nbtune.tune(reports_slowly, {"x": nbtune.uniform(0, 1)}, n_trials=1, metric="v",
                        cluster=cluster_client, storage=db, study="taken", progress=False,
                        background=True)
    wait_for(lambda: study.trials and study.trials[0].reports, "the first report")
    with sqlite3.connect(db) as other:  # as a run on another host takes a stale lease
        other.execute("UPDATE leases SET owner = 'theirs', host = 'elsewhere', pid = 4242 "
                      "WHERE study = 'taken'")
        other.execute("UPDATE studies SET status = 'theirs' WHERE name = 'taken'")
    study.wait(30)
    assert study.stop_reason == "taken_over"
    assert "nbtune: study 'taken' was taken over by process 4242 on 'elsewhere', which found " \
           "its lease not renewed for 30 s: this run stops and writes nothing more" \
           in capsys.readouterr().err
    with sqlite3.connect(db) as other:
        assert other.execute("SELECT status FROM studies").fetchall() == [("theirs",)]
        assert other.execute("SELECT owner FROM leases").fetchall() == [("theirs",)]  # kept
        stored = other.execute("SELECT state FROM trials").fetchall()
    assert stored == [(T.RUNNING,)]  # as it was when the lease went; its end not written


def exits(config):
    import sys

    if config["how"] == "exit":
        sys.exit(3)
    if config["how"] == "interrupt":
        raise KeyboardInterrupt
    return 1.0


def test_sys_exit_and_keyboard_interrupt_in_a_trial_are_recorded_and_the_worker_lives(
        cluster_client):
    before = worker_addresses(cluster_client)
    study = nbtune.tune(exits, {"how": nbtune.grid("exit", "interrupt", "fine")},
                        searcher="grid", cluster=cluster_client, storage=None, progress=False,
                        retries=0, max_time=60)
    by_how = {t.config["how"]: t for t in study.trials}
    assert by_how["exit"].state == T.FAILED and "SystemExit: 3" in by_how["exit"].error
    assert "the trial raised SystemExit" in by_how["exit"].error
    assert by_how["interrupt"].state == T.FAILED
    assert "the trial raised KeyboardInterrupt" in by_how["interrupt"].error
    assert by_how["fine"].state == T.COMPLETED
    assert worker_addresses(cluster_client) == before  # no worker died for it


def reports_then_dies(config):
    import os

    for epoch in (1, 2, 3):
        nbtune.report(epoch=epoch, loss=config["x"] / epoch)
    os._exit(1)  # at once: no flush, no goodbye


def test_reports_made_just_before_a_worker_dies_are_kept(cluster_client, db, caplog):
    """The first trial on a worker process (each one after a death) sent its reports as Dask
    events, batched: a process that died at once took them along (a trial's three reports,
    then os._exit: none kept, first-day test, round 8). They now go straight, written before
    report() returns. And the scheduler's ERROR lines about the trials' tasks (a red box under
    the study in a notebook) are not shown: the study records each death."""
    import logging

    with caplog.at_level(logging.INFO, logger="distributed"):
        # one trial a worker: a trial queued behind another on a worker that died twice
        # before it started failed with no report (retries=0; a make test run)
        study = nbtune.tune(reports_then_dies, {"x": nbtune.uniform(0, 1)}, metric="loss",
                            n_trials=3, retries=0, cluster=cluster_client, storage=db,
                            study="dies", progress=False, max_time=120, concurrency=2)
    assert [t.state for t in study.trials] == [T.FAILED] * 3
    for t in (*study.trials, *nbtune.load_study("dies", storage=db).trials):
        assert [r["epoch"] for r in t.reports] == [1, 2, 3], (t.id, t.reports, t.error)
        assert "its worker died" in t.error
    said = [r.getMessage() for r in caplog.records]
    assert any("Restarting worker" in line for line in said), said  # Dask's lines are heard
    assert not [line for line in said if "nbtune-trial-" in line]  # not those of the trials


def reports_from_a_thread(config):
    import threading

    def work():
        for epoch in (1, 2, 3):
            nbtune.report(epoch=epoch, v=float(epoch))

    helper = threading.Thread(target=work)
    helper.start()
    helper.join()
    return 3.0


def test_report_works_from_a_thread_the_trial_started(cluster_client):
    study = nbtune.tune(reports_from_a_thread, {"x": nbtune.uniform(0, 1)}, n_trials=2,
                        metric="v", cluster=cluster_client, storage=None, progress=False)
    for trial in study.trials:
        assert trial.state == T.COMPLETED
        assert [r["epoch"] for r in trial.reports] == [1, 2, 3]


def test_a_thread_cannot_report_for_one_of_several_trials():
    from nbtune.run.channel import LocalContext, activate, deactivate

    tokens = [activate(LocalContext()) for _ in range(2)]
    outcome = []

    def work():
        try:
            nbtune.report(epoch=1)
        except RuntimeError as exc:
            outcome.append(str(exc))

    import threading

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    for token in reversed(tokens):
        deactivate(token)
    assert "runs 2 trials at once, so nbtune cannot tell whose it is" in outcome[0]


def test_a_loaded_study_that_another_run_runs_waits_for_it_and_is_not_stopped_here(
        cluster_client, db):
    """wait() returned at once and stop() did nothing on a study another kernel ran (first-day
    test, round 12). The other run here: a foreground one on a thread of this process (a
    background one of this kernel is stopped: test_magic)."""
    ran: list = []
    threading.Thread(target=lambda: ran.append(nbtune.tune(
        reports_slowly, {"x": nbtune.uniform(0, 1)}, n_trials=1, metric="v",
        cluster=cluster_client, storage=db, study="there", progress=False)), daemon=True).start()

    def reported() -> bool:
        try:
            return any(t.reports for t in nbtune.load_study("there", storage=db).trials)
        except Exception:  # not stored yet
            return False

    wait_for(reported, "the first report")
    loaded = nbtune.load_study("there", storage=db)
    assert dict(loaded.summary().facts())["ended"] == ("still running, in another run "
                                                        "(study.wait() waits for it)")
    with pytest.raises(ValueError, match=r"^study 'there' is run by a run in this process \(the "
                                         r"Study that nbtune.tune returned\), not by this Study: "
                                         r"stop it there"):
        loaded.stop()
    assert loaded.wait(0.5) is False  # a timeout: back with what is stored
    assert loaded.counts() == {T.RUNNING: 1}
    assert loaded.wait() is True
    assert loaded.counts() == {T.COMPLETED: 1}  # read again once that run ended
    assert dict(loaded.summary().facts())["ended"] == "n_trials"
    wait_for(lambda: ran, "the run's return")
    assert not ran[0].running
