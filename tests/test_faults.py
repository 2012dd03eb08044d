"""Stop verdicts through the report channel, dead workers, and KeyboardInterrupt."""
from __future__ import annotations

import _thread
import os
import re
import signal
import threading
import time

import pytest

import nbtune
from nbtune import trial as T
from waiting import busy_threads, wait_for


def climbs(config):
    """Accuracy config['q'] * epoch / 10 for 10 epochs."""
    for epoch in range(1, 11):
        nbtune.report(epoch=epoch, accuracy=config["q"] * epoch / 10)
    return config["q"]


def test_a_stop_verdict_reaches_the_running_trial(client, db):
    rule = nbtune.ThresholdScheduler(0.2, at=[3, 6])
    study = nbtune.tune(climbs, {"q": nbtune.grid(0.5, 1.0, 2.0, 4.0)}, searcher="grid",
                        metric="accuracy", mode="max", scheduler=rule, cluster=client,
                        storage=db, study="stop")
    by_q = {t.config["q"]: t for t in study.trials}
    # q=0.5: 0.15 at epoch 3 < 0.2 -> stopped there; q=1.0: 0.3 at 3, 0.6 at 6 -> runs on
    assert by_q[0.5].state == T.STOPPED
    assert [r["epoch"] for r in by_q[0.5].reports] == [1, 2, 3]
    for q in (1.0, 2.0, 4.0):
        assert by_q[q].state == T.COMPLETED
        assert len(by_q[q].reports) == 10
    stored = {t.config["q"]: t for t in nbtune.load_study("stop", storage=db).trials}
    assert stored[0.5].state == T.STOPPED and len(stored[0.5].reports) == 3
    assert study.best.config["q"] == 4.0


def dies_once(config):
    """Kills its own worker process the first time it runs."""
    marker = config["marker"]
    nbtune.report(epoch=1, alive=1)
    time.sleep(0.5)  # a real trial has trained a while: its messages have left the worker
    if not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return 1.0


def dies_when_zero(config):
    if config["i"] == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    return 1.0


def start_cluster(kind: str):
    """Two single-threaded workers whose nannies restart killed workers.

    ``nbtune``: as nbtune starts its embedded cluster (a task fails at its first worker death).
    ``dask``: Dask's defaults, as on a user's cluster (Dask re-runs the task elsewhere itself).
    """
    from distributed import Client, LocalCluster

    from nbtune.run.cluster import local_cluster

    if kind == "nbtune":
        cluster = local_cluster(2)
    else:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=":0")
    return cluster, Client(cluster, set_as_default=False)


@pytest.fixture(params=["nbtune", "dask"])
def own_cluster(request):
    cluster, c = start_cluster(request.param)
    yield c
    c.close()
    cluster.close()


@pytest.fixture
def nbtune_cluster():
    cluster, c = start_cluster("nbtune")
    assert cluster.scheduler.allowed_failures == 0
    yield c
    c.close()
    cluster.close()


def test_a_trial_whose_worker_dies_is_retried(own_cluster, db, tmp_path):
    from nbtune.live import LivePanel

    study = nbtune.tune(dies_once, {"marker": nbtune.fixed(str(tmp_path / "died"))},
                        metric="alive", mode="max", n_trials=1, cluster=own_cluster,
                        storage=db, study="die", progress=LivePanel)
    (trial,) = study.trials
    assert trial.state == T.COMPLETED and trial.value == 1.0
    assert trial.attempts == 2
    # said, not only counted in `attempts` (a resumed trial's rerun counts there too)
    said = "1 trial ran again after its worker died or the scheduler was lost: trial 0"
    text = str(study.summary())
    assert said in text and "\n  time " in text  # beside the study's time (round 13)
    assert said in str(nbtune.load_study("die", storage=db).summary())  # kept with the study
    assert "1 ran again (a worker or the scheduler was lost)" in study.live.counts_html.value


def test_a_trial_that_keeps_killing_workers_fails_and_the_study_goes_on(nbtune_cluster, db):
    study = nbtune.tune(dies_when_zero, {"i": nbtune.grid(0, 1)}, searcher="grid", metric="m",
                        retries=1, cluster=nbtune_cluster, storage=db, study="die2")
    assert [t.state for t in study.trials] == [T.FAILED, T.COMPLETED]
    assert "worker died" in study.trials[0].error


def crashes(config):
    """Dies as a crash in a library's C code does: a last line on the process's stderr."""
    nbtune.report(epoch=1, alive=1)
    os.write(2, b"Fatal Python error: Segmentation fault (in the library, say)\n")
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_trial_whose_worker_died_says_its_last_words_and_where_its_log_is(nbtune_cluster,
                                                                            db):
    """A trial whose worker died said "its worker died" and nothing more: a crash's own line
    went to the kernel's stderr (a cell, or the terminal JupyterLab runs in); it is in the
    worker's log now, which the error quotes (first-day test, round 30)."""
    from nbtune.run.worker_setup import last_words

    study = nbtune.tune(crashes, {"i": nbtune.grid(0)}, searcher="grid", metric="alive",
                        retries=0, cluster=nbtune_cluster, storage=db, study="crash")
    (trial,) = study.trials
    assert trial.state == T.FAILED
    words = ("its worker died; its last words: Fatal Python error: Segmentation fault (in the "
             "library, say) (its log: ")
    assert trial.error.startswith(words), trial.error
    path = trial.error[len(words):-1]
    assert os.path.exists(path)
    with open(path) as log:  # the process that died said it; the restarted one did not
        assert log.read().count("Segmentation fault") >= 1
    assert last_words(path, 0) is None  # another process's: none


def dies_once_with(config, big):
    """Kills its worker once (trial 0), after reporting the sum of the data it was given."""
    nbtune.report(epoch=1, total=float(big.sum()))
    time.sleep(0.5)
    if config["i"] == 0 and not os.path.exists(config["marker"]):
        open(config["marker"], "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return float(big.sum())


@pytest.mark.parametrize("sent", ["in the function", "with_parameters"])
def test_large_data_survives_the_death_of_a_worker(nbtune_cluster, db, tmp_path, sent):
    """A function over a large array (PickledOnce.carried) and with_parameters' data are sent
    to the cluster once: a copy on the dying worker alone took every later trial with it."""
    import numpy as np

    big = np.ones(300_000)  # 2.4 MB
    if sent == "with_parameters":
        fn = nbtune.with_parameters(dies_once_with, big=big)
    else:  # a notebook's function reading a global: pickled by value, with the array
        cell = {"__name__": "__main__", "dies_once_with": dies_once_with, "big": big}
        exec("def trial(config):\n    return dies_once_with(config, big)\n", cell)
        fn = cell["trial"]
    study = nbtune.tune(fn, {"i": nbtune.grid(0, 1, 2, 3), "marker": nbtune.fixed(
                        str(tmp_path / "died"))}, searcher="grid", metric="total",
                        cluster=nbtune_cluster, storage=db, study="die-big")
    assert [(t.state, t.value) for t in study.trials] == [(T.COMPLETED, 300_000.0)] * 4
    assert study.trials[0].attempts == 2


def first_dies_once(config):
    """Trial 0 kills its worker once, after a while; the others return at once."""
    if config["i"] == 0:
        dies_once(config)
    return 1.0


class Created(nbtune.Observer):
    """How many times each trial was sent to the cluster."""

    def __init__(self):
        self.sent: dict[int, int] = {}

    def trial_created(self, trial):
        self.sent[trial.id] = self.sent.get(trial.id, 0) + 1


def test_a_trial_queued_on_a_worker_that_dies_is_sent_again_without_an_attempt(db, tmp_path):
    from distributed import Client

    from nbtune.run.cluster import local_cluster

    # one worker: trial 1 waits in its queue behind trial 0, and dies with it, unstarted
    with local_cluster(1) as cluster, Client(cluster, set_as_default=False) as c:
        created = Created()
        study = nbtune.tune(first_dies_once, {"i": nbtune.grid(0, 1),
                                              "marker": nbtune.fixed(str(tmp_path / "died"))},
                            searcher="grid", metric="alive", mode="max", retries=1, cluster=c,
                            storage=db, study="queued", observers=[created])
    first, second = study.trials
    assert first.state == T.COMPLETED and first.attempts == 2  # it ran when its worker died
    assert second.state == T.COMPLETED and second.attempts == 1  # it had not started
    assert created.sent == {0: 2, 1: 2}  # both went to the cluster again
    stored = {t.id: t.attempts for t in nbtune.load_study("queued", storage=db).trials}
    assert stored == {0: 2, 1: 1}


def sleeps(config):
    time.sleep(0.3)
    return config["x"]


def test_a_study_whose_last_able_worker_leaves_says_it_waits_and_goes_on_with_a_new_one(db):
    """The only worker offering GPU=1 died: the study waited in silence, its panel saying "1
    running · 1/1 slots busy" and a time left that grew (first-day test, round 10)."""
    import io

    from distributed import Client, LocalCluster

    from nbtune.live import TextProgress

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, resources={"GPU": 1},
                      dashboard_address=":0") as cluster, \
            Client(cluster, set_as_default=False) as c:
        study = nbtune.tune(sleeps, {"x": nbtune.uniform(0, 1)}, metric="x", n_trials=12,
                            resources={"GPU": 1}, cluster=c, storage=db, study="starved",
                            background=True, progress=TextProgress)
        view = study.live
        view.stream = io.StringIO()
        wait_for(lambda: len(study.completed) >= 2, "the first trials", 60)
        cluster.scale(0)  # the GPU worker leaves
        message = wait_for(view.stalled, "the view to say the study waits", 30)
        assert message == ("the cluster has no workers now: the study waits for one (`dask "
                           f"worker {cluster.scheduler_address} --resources GPU=1`), or stop it")
        assert view.slots() == 0 and message in view.line()
        cluster.scale(1)  # a new one with GPU=1 joins: the study goes on by itself
        study.wait(120)
        assert not study.running and len(study.completed) == 12
        assert view.stalled() == ""


def long_trial(config):
    for epoch in range(1, 400):
        time.sleep(0.05)
        nbtune.report(epoch=epoch, v=config["x"])
    return config["x"]


def quick(config):
    return config["x"]


def test_keyboard_interrupt_keeps_the_study_and_resume_finishes_it(client, db, capsys,
                                                                   as_in_a_script):
    """Outside IPython (a script, as pytest is) the interrupt stops the caller once the study is
    kept, as Python's own Ctrl-C does; the KeyboardInterrupt carries the study."""
    # Ctrl-C as in an interactive Python; a process started with SIGINT ignored (a background
    # job of a non-interactive shell) has no handler, and interrupt_main then does nothing.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Timer(1.5, _thread.interrupt_main).start()
    t0 = time.time()
    try:
        with pytest.raises(KeyboardInterrupt, match="study 'ki' was interrupted and is kept"
                           ) as stopped:
            nbtune.tune(long_trial, {"x": nbtune.uniform(0, 1)}, metric="v", mode="max",
                        n_trials=4, seed=0, cluster=client, storage=db, study="ki")
    finally:
        signal.signal(signal.SIGINT, previous)
    study = stopped.value.study
    assert time.time() - t0 < 6
    assert study.stop_reason == "interrupted"
    assert "resume=True" in capsys.readouterr().out
    interrupted = [t for t in study.trials if t.state == T.INTERRUPTED]
    assert len(interrupted) == 2 and all(t.reports for t in interrupted)
    stored = nbtune.load_study("ki", storage=db)
    assert [t.state for t in stored.trials] == [t.state for t in study.trials]
    assert [len(t.reports) for t in stored.trials] == [len(t.reports) for t in study.trials]

    resumed = nbtune.tune(quick, {"x": nbtune.uniform(0, 1)}, metric="v", mode="max",
                          n_trials=4, seed=0, cluster=client, storage=db, study="ki",
                          resume=True)
    assert [t.state for t in resumed.trials] == [T.COMPLETED] * 4
    assert [t.config for t in resumed.trials[:2]] == [t.config for t in study.trials]
    assert all(t.attempts == 2 for t in resumed.trials[:2])  # re-queued, run again


def test_report_outside_a_trial_says_where_to_call_it():
    with pytest.raises(RuntimeError, match="outside a trial"):
        nbtune.report(epoch=1, accuracy=0.5)


class InterruptAtFirstRung(nbtune.Scheduler):
    """The kernel is interrupted while the loop decides a rung: the verdict is never sent."""

    def decision_points(self):
        return (1,)

    def on_report(self, trial_id, report):
        raise KeyboardInterrupt


def waits_at_a_rung(config):
    nbtune.report(epoch=1, v=1.0)
    time.sleep(60)  # a stop reaches it only through report(): this trial must never get here
    return 1.0


def test_a_trial_left_waiting_for_a_verdict_frees_its_worker_when_the_study_ends(client, db,
                                                                                as_in_a_script):
    with pytest.raises(KeyboardInterrupt) as stopped:
        nbtune.tune(waits_at_a_rung, {"x": nbtune.uniform(0, 1)}, metric="v", n_trials=1,
                    scheduler=InterruptAtFirstRung(), cluster=client, storage=db,
                    study="orphan")
    assert stopped.value.study.stop_reason == "interrupted"
    wait_for(lambda: not busy_threads(client), "the trial waiting for a verdict to leave",
             30)  # far below the verdict timeout (600 s)


def answers_waited_for() -> int:
    """How many verdicts trial threads of this worker process wait for now."""
    from nbtune.run import channel

    return len(channel._answers)


def test_verdicts_reach_workers_the_notebook_cannot_reach_through_the_scheduler(db, monkeypatch):
    """A cluster that only lets the notebook talk to its scheduler (here: workers that cannot
    reach the study's listener, and refuse the verdict sent straight to them) still gets every
    verdict, stop and go on alike."""
    import dask
    from distributed import Client, LocalCluster

    from nbtune.run import stream

    monkeypatch.setattr(stream.Listener, "start", lambda self: "tcp://127.0.0.1:9")  # nobody

    with dask.config.set({"distributed.worker.blocked-handlers": ["nbtune_verdict"]}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
    with cluster, Client(cluster) as client:
        rule = nbtune.ThresholdScheduler(0.2, at=[3, 6])
        study = nbtune.tune(climbs, {"q": nbtune.grid(0.5, 1.0, 2.0)}, searcher="grid",
                            metric="accuracy", mode="max", scheduler=rule, cluster=client,
                            storage=db, study="indirect", max_time=60)
        by_q = {t.config["q"]: t for t in study.trials}
        assert by_q[0.5].state == T.STOPPED and len(by_q[0.5].reports) == 3
        assert [by_q[q].state for q in (1.0, 2.0)] == [T.COMPLETED] * 2  # told to go on, twice
        assert study.stop_reason == "exhausted"
        assert set(client.run(answers_waited_for).values()) == {0}


def busy_for(seconds: float) -> int:
    """Pure Python for ``seconds``: what a training loop looks like between two reports."""
    end, n = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        n += 1
    return n


def test_halting_raises_in_the_threads_of_that_study_alone():
    from nbtune.run.halt import TrialHalted, halt_trials, halting

    outcomes: dict[str, str] = {}
    inside = threading.Barrier(4)

    def trial(prefix: str, execution: str, seconds: float) -> None:
        try:
            with halting(prefix, execution):
                inside.wait()
                busy_for(seconds)
            outcomes[execution] = "ran to its end"
        except TrialHalted:
            outcomes[execution] = "halted"

    threads = [threading.Thread(target=trial, args=args, daemon=True)
               for args in (("s1", "a", 30), ("s1", "b", 30), ("s2", "c", 1.0))]
    for thread in threads:
        thread.start()
    inside.wait()
    assert halt_trials("s1") == 2
    for thread in threads:
        thread.join(timeout=10)
    assert outcomes == {"a": "halted", "b": "halted", "c": "ran to its end"}
    assert halt_trials("s1") == 0 and halt_trials("s2") == 0  # nothing left registered


def test_a_halt_waits_for_the_end_of_a_shielded_section_then_is_raised():
    from nbtune.run.halt import TrialHalted, halt_trials, halting, shielded

    steps: list[str] = []
    inside = threading.Event()

    def trial() -> None:
        try:
            with halting("s3", "d"):
                with shielded("s3", "d"):  # as report() talking to the scheduler
                    inside.set()
                    busy_for(1.0)
                    steps.append("shielded section done")
                steps.append("back in the trial")
        except TrialHalted:
            steps.append("halted")

    thread = threading.Thread(target=trial, daemon=True)
    thread.start()
    inside.wait(10)
    assert halt_trials("s3") == 0  # no target meanwhile, but the study is marked halted
    thread.join(timeout=10)
    assert steps == ["shielded section done", "halted"]
    with pytest.raises(TrialHalted):  # a trial of that study that starts later stops at once
        with halting("s3", "e"):
            pass


def never_reports(config):
    busy_for(60)  # a study's stop flag reaches a trial only in report(): this one never calls it
    return 1.0


def test_trials_that_never_report_are_halted_when_the_study_ends(client, db):
    wait_for(lambda: not busy_threads(client), "the workers to be free before the study",
             30)  # two trials, one a worker
    study = nbtune.tune(never_reports, {"x": nbtune.uniform(0, 1)}, metric="v", n_trials=4,
                        max_time=2, cluster=client, storage=db, study="never-reports")
    assert study.stop_reason == "max_time"
    assert [t.state for t in study.trials] == [T.INTERRUPTED] * 2  # two workers, two trials
    wait_for(lambda: not busy_threads(client), "the ended study's trials to leave",
             15)  # far below their 60 s
    again = nbtune.tune(climbs, {"q": nbtune.uniform(0, 1)}, metric="accuracy", mode="max",
                        n_trials=2, cluster=client, storage=db, study="after")
    assert again.counts() == {"completed": 2}


def test_the_scheduler_forgets_a_study_topic_when_its_inbox_closes(client):
    from nbtune.run.inbox import FORGET_AGAIN_S, Inbox

    topic = "nbtune-inbox-test-reports"
    inbox = Inbox(client, topic, threading.Condition())
    time.sleep(0.2)  # the subscription travels on the client's stream
    for i in range(3):
        client.log_event(topic, {"i": i})
    deadline = time.time() + 10
    while len(inbox.messages) < 3:
        assert time.time() < deadline, "the events did not arrive"
        time.sleep(0.05)
    assert len(client.get_events(topic)) == 3  # what the scheduler keeps while it runs
    inbox.close()
    inbox.close()  # a second close is a no-op
    time.sleep(0.5)  # anything still travelling on the client's stream has arrived

    def topics(dask_scheduler=None):  # (get_events would make the topic again, empty)
        return list(dask_scheduler._broker._topics)

    assert topic not in client.run_on_scheduler(topics)  # not even an empty one
    assert topic not in client._event_handlers  # nor its handler, holding the inbox

    # a short study's subscription can reach the scheduler after its inbox closed (it travels
    # on the client's batched stream): the scheduler drops the topic a second time
    late = Inbox(client, topic + "-late", threading.Condition())
    late.close()
    client.subscribe_topic(topic + "-late", lambda event: None)  # as if it came late
    client._event_handlers.pop(topic + "-late")
    time.sleep(0.5)
    assert topic + "-late" in client.run_on_scheduler(topics)
    wait_for(lambda: topic + "-late" not in client.run_on_scheduler(topics),
             "the late topic to be dropped again", FORGET_AGAIN_S + 10)


def test_a_trial_whose_completion_is_never_delivered_still_ends(client, db, monkeypatch):
    """A resumed promotion study once waited a minute on a trial that had paused, its slot held
    (first-day test, round 18): the loop takes a done future that ``as_completed`` did not
    deliver at its next check of its running trials. Here the second trial's completion is
    dropped on its way into ``as_completed``."""
    from distributed import as_completed

    add, added = as_completed.add, []

    def add_but_lose_one(self, future):
        added.append(future)
        if len(added) != 2:
            add(self, future)

    monkeypatch.setattr(as_completed, "add", add_but_lose_one)
    study = nbtune.tune(climbs, {"q": nbtune.grid(0.5, 1.0, 2.0)}, searcher="grid",
                        metric="accuracy", mode="max", cluster=client, storage=db,
                        study="undelivered", max_time=60, progress=False)
    assert study.stop_reason == "exhausted"  # not max_time: it did not wait for the lost one
    assert [t.state for t in study.trials] == [T.COMPLETED] * 3
    assert [len(t.reports) for t in study.trials] == [10] * 3


def test_data_lost_with_every_worker_that_held_it_is_sent_again(db, tmp_path):
    """The notebook holds the data it sent: where the cluster lost it with its workers, it goes
    again, and the trial with it. A study whose body read notebook arrays ended for good when
    the one worker holding them was killed (Dask keeps a single copy of data no task waits
    for), its trial failed and never run again (first-day test, round 55; round 21 ended it
    with a line where a trial took the workers past their memory limit)."""
    import numpy as np
    from distributed import Client

    from nbtune.run.cluster import local_cluster

    # as a %%tune cell sends the notebook's arrays it reads (past Tune.scatter_threshold)
    fn = nbtune.with_parameters(dies_once_with, big=np.ones(300_000))
    with local_cluster(1) as cluster, Client(cluster, set_as_default=False) as client:
        study = nbtune.tune(fn, {"i": nbtune.grid(0, 1, 2), "marker": nbtune.fixed(
                            str(tmp_path / "died"))}, searcher="grid", metric="total",
                            cluster=client, storage=db, study="data-lost", progress=False,
                            concurrency=2)  # trial 1 waits in the one worker's queue
    assert (tmp_path / "died").exists()  # the one worker died, and the data with it
    assert study.stop_reason == "exhausted"
    assert [(t.state, t.value) for t in study.trials] == [(T.COMPLETED, 300_000.0)] * 3
    # its first ran until the worker died; trial 1, queued behind it there, dies unstarted
    # and is sent again with the data, not charged an attempt
    assert [t.attempts for t in study.trials] == [2, 1, 1]
    stored = nbtune.load_study("data-lost", storage=db)
    assert [t.state for t in stored.trials] == [T.COMPLETED] * 3


def test_a_trial_function_lost_with_every_worker_is_sent_again(db, tmp_path, caplog):
    """A function that holds an array travels apart from the tasks, once (its bytes were in
    each task under 1 MB); should the one worker die, the notebook sends it again, and the
    study goes on as it did when it travelled inside each task."""
    import numpy as np
    from distributed import Client

    from nbtune.run.cluster import local_cluster

    cluster = local_cluster(1)
    client = Client(cluster, set_as_default=False)
    big = np.ones(40_000)  # 320 KB: sent apart

    def dies_once(config):
        return dies_once_with(config, big)

    try:
        study = nbtune.tune(dies_once, {"i": nbtune.grid(0, 1, 2), "marker": nbtune.fixed(
                            str(tmp_path / "died"))}, searcher="grid", metric="total",
                            cluster=client, storage=db, study="fn-lost", progress=False)
        assert (tmp_path / "died").exists()  # the worker died once
        assert study.stop_reason == "exhausted"
        assert [t.state for t in study.trials] == [T.COMPLETED] * 3
        assert [t.value for t in study.trials] == [40_000.0] * 3
        # Dask's ERROR on the scattered data lost, which the loop sent again: not in the cell
        assert "lose scattered data" not in caplog.text
    finally:
        client.close()
        cluster.close()


def test_data_that_cannot_fit_the_workers_memory_limit_is_refused_before_it_is_sent(db, capsys):
    """Data larger than a worker's memory limit paused the workers, their nannies restarted
    them, and the cell waited for ever with Dask's logs alone (first-day test, round 21). Data
    on its way is said while it goes."""
    import numpy as np
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, memory_limit="400MiB",
                      dashboard_address=":0") as cluster, \
            Client(cluster, set_as_default=False) as client:
        def study(n_floats, name):
            return nbtune.tune(nbtune.with_parameters(lambda config, big: float(big[0]),
                                                      big=np.ones(n_floats)),
                               {"x": nbtune.uniform(0, 1)}, n_trials=1, cluster=client,
                               storage=db, study=name, progress=True)

        with pytest.raises(ValueError, match=r"^the data sent with the trials \(big: 343\.\d+ "
                                             r"MiB\) does not fit the workers' memory limit "
                                             r"\(400\.00 MiB on tcp://.*, whose process uses "):
            study(45_000_000, "too-big")
        assert nbtune.list_studies(db) == []  # refused before anything was sent or stored
        capsys.readouterr()
        done = study(5_000_000, "sent")  # 38 MiB: said while it travels
        assert done.trials[0].value == 1.0
        assert "nbtune: sending big (38.15 MiB) to 1 worker ...\n" in capsys.readouterr().err


def test_a_worker_dask_paused_for_its_memory_is_named_while_the_study_waits():
    """Dask's "Pausing worker" log in the cell was the only sign (first-day test, round 21)."""
    import dask
    from distributed import Client, LocalCluster
    from nbtune.panel import LivePanel

    # every worker process passes this share of its limit at once: Dask pauses it
    with dask.config.set({"distributed.worker.memory.pause": 0.01}), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=True, memory_limit="1GiB",
                         dashboard_address=":0") as cluster, \
            Client(cluster, set_as_default=False) as client:
        study = nbtune.tune(lambda config: config["x"], {"x": nbtune.uniform(0, 1)}, metric="v",
                            n_trials=2, cluster=client, storage=None, progress=LivePanel,
                            background=True)
        try:
            deadline = time.time() + 30
            while "paused" not in study.live.counts_html.value and time.time() < deadline:
                time.sleep(0.1)
            assert re.fullmatch(r"\d queued · worker tcp://\S+ is paused: its process uses "
                                r"[\d.]+ MiB of its 1\.00 GiB memory limit, past the share .*",
                                study.live.counts_html.value), study.live.counts_html.value
            assert not study.completed
        finally:
            study.stop()


def test_data_that_leaves_the_trials_little_room_is_said():
    from nbtune.run.sending import check_fits

    mib = 2**20
    limits = {"tcp://a:1": (400 * mib, 60 * mib), "tcp://b:1": (0, 0)}  # b: no limit
    assert check_fits(limits, {"big": 100 * mib}) is None  # 100 of 260 MiB of room
    said = check_fits(limits, {"big": 150 * mib, "small": 10 * mib})
    assert said == ("the data sent with the trials (big, small: 160.00 MiB) takes 62% of the "
                    "room under the workers' memory limit (400.00 MiB on tcp://a:1, whose "
                    "process uses 60.00 MiB): a trial that copies it may pass the limit, and "
                    "Dask's nanny restarts a worker there")
    with pytest.raises(ValueError, match="does not fit"):
        check_fits(limits, {"big": 261 * mib})
    assert check_fits({"tcp://b:1": (0, 0)}, {"big": 10**12}) is None  # no limit: no check


def test_a_key_the_config_lacks_is_named_with_the_keys_it_has(client):
    """config["C"] where the space named it "c" read `KeyError: 'C'` alone (first-day test,
    round 41)."""
    study = nbtune.tune(lambda config: config["C"], {"c": nbtune.uniform(0, 1), "lr": 0.1},
                        n_trials=1, mode="min", cluster=client, storage=None, progress=False)
    error = study.trials[0].error
    assert error.rstrip().endswith("KeyError: 'C'\nnbtune: KeyError 'C': the trial's config has "
                                   "no such key (did you mean 'c'?); its keys are the space's "
                                   "names: 'c', 'lr'"), error
    # another dict's key near a config key is its own (check round 44: params["C"])
    params = {"c": 1}
    near = nbtune.tune(lambda config: params["C"], {"c": nbtune.uniform(0, 1)}, n_trials=1,
                       mode="min", cluster=client, storage=None, progress=False)
    assert near.trials[0].error.rstrip().endswith("KeyError: 'C'")
    # another dict's KeyError is not blamed on the config (check round 43: a cell's
    # settings["maxiter"] read "the trial's config has the keys 'C'")
    settings = {"max_iter": 300}
    other = nbtune.tune(lambda config: settings["maxiter"], {"C": nbtune.uniform(0, 1)},
                        n_trials=1, mode="min", cluster=client, storage=None, progress=False)
    assert other.trials[0].error.rstrip().endswith("KeyError: 'maxiter'")


def fills_memory(config):
    import numpy as np
    held = []
    for _ in range(40):  # up to 2 GB, 50 MB at a time: its nanny ends it on the way
        held.append(np.ones(6_250_000))
        time.sleep(0.05)
    return config["x"]


def test_a_trial_its_worker_s_nanny_restarted_for_memory_says_so(db):
    """A trial that filled its worker's memory read "its worker died 2 times (retries=1)",
    nothing of memory, where the worker's log said it passed its memory budget (first-day
    test, round 67)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, memory_limit="600MiB",
                      dashboard_address=":0") as cluster, \
            Client(cluster, set_as_default=False) as client:
        study = nbtune.tune(fills_memory, {"x": nbtune.uniform(0, 1)}, metric="x", n_trials=1,
                            cluster=client, storage=db, study="memory", progress=False,
                            fail_fast=False)
    trial = study.trials[0]
    assert trial.state == T.FAILED, trial
    assert re.search(r"^its worker died( 2 times \(retries=1\))?: its nanny restarted it for "
                     r"its memory \(the process held [\d.]+ MiB, past 95% of the worker's "
                     r"memory limit\): a smaller model or batch, or workers with more memory$",
                     trial.error), trial.error


def hangs_when_asked(config):
    import time
    if config["hang"] != "at once":
        nbtune.report(epoch=1, score=config["x"])
    while config["hang"] != "no":  # a data loader or a lock that never returns
        time.sleep(0.05)
    return config["x"]


def test_a_trial_past_max_trial_time_ends_there_and_the_study_goes_on(client, db):
    """A trial that hung kept its worker, and a study without max_time open, for good: the
    panel said "~3 s left" the while (first-day test, round 67). max_trial_time ends it: a
    trial that reported its metric is stopped with its last value, one that did not failed;
    its thread is halted, and the other trials run."""
    hang = nbtune.choice("no", "after a report", "at once", weights=[98, 1, 1])
    study = nbtune.tune(hangs_when_asked, {"x": nbtune.uniform(0, 1), "hang": hang},
                        metric="score", mode="max", n_trials=6, cluster=client, storage=db,
                        study="hung", seed=3, max_trial_time=1.5, progress=False,
                        points_to_evaluate=[{"x": 0.25, "hang": "after a report"},
                                            {"x": 0.5, "hang": "at once"}])
    hung = [t for t in study.trials if t.config["hang"] != "no"]
    assert {t.state for t in study.trials if t.config["hang"] == "no"} == {T.COMPLETED}
    assert len(study.trials) == 6 and study.stop_reason == "n_trials"
    first, second = study.trials[0], study.trials[1]
    assert first.state == T.STOPPED and first.value == 0.25, first
    assert first.error == "it ran past max_trial_time=1.5 s: stopped at its last report"
    assert second.state == T.FAILED and second.value is None
    assert second.error == "it ran past max_trial_time=1.5 s and reported no 'score'"
    assert all(t.finished - t.started < 5 for t in hung), [(t.started, t.finished) for t in hung]
    # its thread was halted: both workers are free again, and a resume keeps the limit
    wait_for(lambda: not busy_threads(client), "the halted trials' threads to leave", 10)
    again = nbtune.load_study("hung", storage=db)
    assert again.settings["max_trial_time"] == 1.5
    again.settings["max_trial_time"] = 30.0  # as a resume that gives another limit stores it
    assert [t.id for t in hung] == [0, 1]  # the two asked for; none of the drawn ones
    assert dict(again.summary().facts())["trial time"] == (  # the limit that ended them
        "2 trials ran past max_trial_time=1.5 s and were ended there: trials 0-1")
    with pytest.raises(ValueError, match=r"^max_trial_time must be a positive number or None, "
                                         r"got nan$"):  # it compared as no limit at all
        nbtune.tune(hangs_when_asked, {"x": nbtune.uniform(0, 1), "hang": hang}, metric="score",
                    n_trials=1, cluster=client, storage=None, max_trial_time=float("nan"))


def sleeps_in_one_call(config):
    import time
    if config["i"] == 0:
        time.sleep(15)  # one call into C: a halt reaches its thread only once it returns
    return config["i"]


def test_a_trial_past_max_trial_time_in_one_long_call_is_named_held(db, capsys):
    """The halt of a trial past its time cannot reach a thread inside one long compiled call:
    the study says which worker the thread holds, sends the trial Dask had queued behind it
    elsewhere, and ends without waiting for it."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, \
            Client(cluster, set_as_default=False) as client:
        study = nbtune.tune(sleeps_in_one_call, {"i": nbtune.grid(0, 1, 2, 3)},
                            searcher="grid", metric="i", mode="max", cluster=client,
                            storage=db, study="held", max_trial_time=0.5, progress=False)
        # %tune_cluster names what holds the worker (round 67: it said "1 worker" alone
        # while nbtune restarted the other)
        from nbtune.run.workers import describe
        shown = repr(describe(client))
    assert "held: trial 0 of study 'held'" in shown, shown
    assert [t.state for t in study.trials] == [T.FAILED] + [T.COMPLETED] * 3
    assert study.trials[0].error == "it ran past max_trial_time=0.5 s and reported no 'i'"
    out = capsys.readouterr().out
    held = study.trials[0].worker
    assert (f"trial 0 of study 'held' still runs on worker {held}: it did not stop when it "
            f"ran past max_trial_time=0.5 s: ") in out, out
    # the trial Dask had queued behind it ran on the other worker, without waiting 15 s for it
    assert all(t.worker != held for t in study.trials[1:]), [t.worker for t in study.trials]
    assert max(t.finished for t in study.trials) < study.trials[0].started + 10


def hangs_at_epoch_4(config):
    import time
    start = nbtune.get_checkpoint() or 0
    for epoch in range(start + 1, 10):
        while config["x"] == 0.01 and epoch == 4:  # this config's loader hangs there
            time.sleep(0.05)
        time.sleep(0.02)
        nbtune.report(epoch=epoch, loss=config["x"] / epoch, checkpoint=epoch)


def test_a_paused_and_resumed_trial_past_max_trial_time_ends_and_asha_goes_on(client, db):
    """Under ASHA's promotion type the clock starts again with each resumption; a trial that
    hangs after one ends stopped at its last report, and the scheduler promotes the others."""
    study = nbtune.tune(hangs_at_epoch_4, {"x": nbtune.uniform(0, 1)}, metric="loss",
                        mode="min", n_trials=12, scheduler="asha", type="promotion", max_t=9,
                        cluster=client, storage=db, study="promoted", seed=0,
                        max_trial_time=1.0, progress=False,
                        points_to_evaluate=[{"x": 0.01}, {"x": 0.02}, {"x": 0.03}])
    hung = study.trials[0]
    assert hung.state == T.STOPPED and hung.last("epoch") == 3, hung
    assert hung.error == "it ran past max_trial_time=1 s: stopped at its last report"
    assert study.best.config["x"] == 0.02 and study.best.last("epoch") == 9
    assert all(t.state != T.RUNNING for t in study.trials)


def sleeps_in_epochs(config):
    import time
    for epoch in range(1, 4):
        time.sleep(0.8)  # ordinary compiled calls, each back in Python within a second
        nbtune.report(epoch=epoch, loss=config["x"])


def test_trials_past_max_trial_time_in_short_calls_hold_no_worker(db, capsys):
    """Trials halted mid-way in a 0.8 s call were named held "inside a long call", their
    workers kept apart after the threads had left, and nbtune restarted both healthy workers
    (first-day check, round 68): the halt waits as long as at a study's end, and an end heard
    before the halt's answer is not held."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, \
            Client(cluster, set_as_default=False) as client:
        before = set(client.scheduler_info()["workers"])
        study = nbtune.tune(sleeps_in_epochs, {"x": nbtune.uniform(0, 1)}, metric="loss",
                            n_trials=6, cluster=client, storage=db, study="short",
                            max_trial_time=1.0, restart_held=1.0, progress=False)
        time.sleep(2.0)  # past restart_held: a worker wrongly held would be restarted now
        after = set(client.scheduler_info()["workers"])
    assert {t.state for t in study.trials} == {T.STOPPED}
    assert "still runs on worker" not in capsys.readouterr().out
    assert after == before  # no worker was restarted
