"""The direct report stream (nbtune/run/stream.py): trials' messages straight from the workers to
the notebook, verdicts back over the same connection, and the Dask way wherever that fails."""
from __future__ import annotations

import contextlib

import pytest

import nbtune
import nbtune.trial as T
from nbtune.live import TextProgress
from nbtune.run import inbox, stream

from waiting import busy_threads, wait_for


def climbs(config):
    """Accuracy config['q'] * epoch / 10 for 10 epochs."""
    for epoch in range(1, 11):
        nbtune.report(epoch=epoch, accuracy=config["q"] * epoch / 10)
    return config["q"]


class Kept(stream.Listener):
    """The study's listener, kept where the test can look at it afterwards."""

    made: list["Kept"] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        Kept.made.append(self)


@pytest.fixture
def listeners(monkeypatch):
    Kept.made = []
    monkeypatch.setattr(inbox, "Listener", Kept)
    return Kept.made


@pytest.fixture
def unreachable(monkeypatch):
    """The notebook's listener advertises an address where nobody listens (port 9, discard): as
    for workers behind a NAT, or a firewall, that cannot reach the notebook."""
    monkeypatch.setattr(stream.Listener, "start", lambda self: "tcp://127.0.0.1:9")


def routes() -> int:
    """The study connections this worker process keeps."""
    from nbtune.run import stream

    return len(stream._routes)


def check_study(trials, qs):
    """Each trial stopped at epoch 3 where its accuracy there is below 0.2 (the threshold rule of
    these tests), else ran its 10 epochs; every report is there, in order."""
    by_q = {t.config["q"]: t for t in trials}
    assert set(by_q) == set(qs)
    for q, trial in by_q.items():
        stopped = q * 3 / 10 < 0.2
        assert trial.state == (T.STOPPED if stopped else T.COMPLETED), (q, trial.state)
        assert [r["epoch"] for r in trial.reports] == list(range(1, 4 if stopped else 11))


QS = (0.1, 0.2, 0.5, 1.0, 0.3, 2.0, 0.4, 4.0)


def test_reports_and_verdicts_travel_the_workers_own_connection(client, db, listeners):
    rule = nbtune.ThresholdScheduler(0.2, at=[3, 6])
    study = nbtune.tune(climbs, {"q": nbtune.grid(*QS)}, searcher="grid", metric="accuracy",
                        mode="max", scheduler=rule, cluster=client, storage=db, study="direct")
    check_study(study.trials, QS)
    [listener] = listeners
    # each worker's first trials go the Dask way while it connects; the later ones go straight
    assert listener.received > 0 and listener.told > 0
    assert nbtune.load_study("direct", db).trials[-1].reports == study.trials[-1].reports
    wait_for(lambda: not any(client.run(routes).values()),
             "the workers to forget the ended study's connection")
    # the study's reading thread, and each worker's thread for its connection, end with it
    wait_for(lambda: stream_threads() == 0, "the notebook's stream thread to end")
    wait_for(lambda: not any(client.run(stream_threads).values()),
             "the workers' stream threads to end")


def stream_threads() -> int:
    """This process's threads that carry a study's stream."""
    import threading

    return sum(t.name == "nbtune-stream" for t in threading.enumerate())


def test_a_connection_without_the_studys_key_is_dropped_unread(client):
    """The listener unpickles nothing from a connection whose first bytes are not the study's
    key: what a stranger sends never reaches the loop, and the connection is closed. A stranger
    that sends half a key and waits holds up nobody."""
    import socket

    got = []
    listener = stream.Listener(client, got.append)
    address = listener.start()
    try:
        host, port, key = stream._parse(address)
        halfway = socket.create_connection((host, port))
        halfway.sendall(key[:3])  # and nothing more, for longer than the test

        stranger = socket.create_connection((host, port))
        stranger.sendall(bytes(len(key)))  # the key's length, not the key
        stranger = stream._connection(stranger)
        with contextlib.suppress(OSError):  # the listener may have closed it already
            stranger.send({"worker": "tcp://10.0.0.1:1"})
            stranger.send({"kind": "report", "trial": 1})
        with pytest.raises((EOFError, OSError)):
            stranger.recv()  # closed by the listener
        assert listener.received == 0 and got == []

        worker = socket.create_connection((host, port))  # with the key: its messages arrive,
        worker.sendall(key)  # and verdicts go back
        worker = stream._connection(worker)
        worker.send({"worker": "tcp://10.0.0.1:2"})
        worker.send({"kind": "report", "trial": 1})
        wait_for(lambda: got, "the message sent with the key", stream.CONNECT_TIMEOUT / 2)
        assert got == [{"kind": "report", "trial": 1}]
        assert listener.tell("tcp://10.0.0.1:2", "v-1", "stop")
        assert worker.recv() == {"name": "v-1", "verdict": "stop"}
    finally:
        listener.close()
    assert worker.recv() == {"ended": True}
    with pytest.raises((EOFError, OSError)):
        worker.recv()
    halfway.close()


def test_workers_that_cannot_reach_the_notebook_report_through_the_scheduler(
        client, db, listeners, unreachable):
    rule = nbtune.ThresholdScheduler(0.2, at=[3, 6])
    study = nbtune.tune(climbs, {"q": nbtune.grid(*QS)}, searcher="grid", metric="accuracy",
                        mode="max", scheduler=rule, cluster=client, storage=db,
                        study="events")
    check_study(study.trials, QS)
    assert listeners[0].received == 0 and listeners[0].told == 0


def test_a_connection_that_breaks_during_a_study_loses_nothing(client, db, monkeypatch):
    """The connection breaks as a trial's second report travels on it (that report is lost with
    it): the trial's later reports go the Dask way with the lost one before them, so its rung at
    epoch 3 is judged as if nothing broke; the next trials connect again."""
    class Lossy(Kept):
        broken = 0

        def __init__(self, client, on_message):
            def lossy(message):
                if (message.get("kind") == "report" and message["seq"] == 2
                        and Lossy.broken < 2 and message["trial"] in (5, 6)):
                    Lossy.broken += 1  # lost on the way, and the connection with it
                    for comm in list(self._comms):
                        comm.close()
                    return
                on_message(message)

            super().__init__(client, lossy)

    Kept.made = []
    monkeypatch.setattr(inbox, "Listener", Lossy)
    space = {"q": nbtune.grid(*QS), "copy": nbtune.grid(0, 1)}
    rule = nbtune.ThresholdScheduler(0.2, at=[3, 6])
    study = nbtune.tune(climbs, space, searcher="grid", metric="accuracy", mode="max",
                        scheduler=rule, cluster=client, storage=db, study="broken", max_time=120)
    assert study.stop_reason == "exhausted" and Lossy.broken >= 1
    for copy in (0, 1):
        check_study([t for t in study.trials if t.config["copy"] == copy], QS)
    assert Kept.made[0].received > 0


def sleeps_in_compiled_code(config):
    """Reports 50 times, then sleeps where a halt cannot reach it (past the study's end and its
    wait for halted trials), then reports again."""
    import time

    time.sleep(0.5)  # the first trial on each worker: the next one there reports straight
    for step in range(1, 51):
        nbtune.report(step=step, loss=config["x"] / step)
    if config["x"] > 0.5:
        time.sleep(5)
        nbtune.report(step=51, loss=0.0)


def topics_on(dask_scheduler=None) -> list[str]:
    """The report topics the scheduler holds: an ended study's inbox makes it forget its topic,
    and forget it again a moment later (a subscription still on the client's batched stream when
    a short study's inbox closes can arrive after the first time)."""
    return [name for name in dask_scheduler._broker._topics if name.endswith("-reports")]


def test_trials_still_running_when_their_study_ends_send_the_scheduler_nothing(client, db,
                                                                                listeners):
    """A trial past its study's end (held in compiled code) whose message finds the connection
    closed drops it: the study told its workers it ended, so nothing goes the Dask way to a topic
    nobody reads (which the scheduler would keep, a thousand events a topic)."""
    study = nbtune.tune(sleeps_in_compiled_code, {"x": nbtune.grid(0.1, 0.2, 0.8, 0.9)},
                        searcher="grid", metric="loss", cluster=client, storage=db,
                        study="held", max_time=2.0)
    assert study.stop_reason == "max_time"
    assert listeners[0].received > 0, "no trial reported straight"
    wait_for(lambda: not busy_threads(client), "the held trials to leave", 30)
    wait_for(lambda: client.run_on_scheduler(topics_on) == [], "ended studies' topics to go",
             inbox.FORGET_AGAIN_S + 10)


def talks(config):
    """Prints a line before each of its three reports."""
    for epoch in range(1, 4):
        print(f"q={config['q']} epoch {epoch}")
        nbtune.report(epoch=epoch, score=config["q"] * epoch)
    return config["q"] * 3


def test_a_trials_messages_that_arrive_after_its_task_ended_are_kept(client, db, monkeypatch):
    """The notebook's reading thread can lag behind the Dask client's event loop (a busy
    machine): a trial's task may be seen to end before the messages it sent straight. The loop
    waits for them, so the output they carried is shown live, and the reports kept once."""
    import io
    import time

    made = []

    class Lagging(stream.Listener):
        """Hands on each trial's start a moment late, and so everything it sent after it."""

        def __init__(self, client, on_message):
            def late(message):
                if message.get("kind") == "start":
                    time.sleep(0.3)
                on_message(message)

            super().__init__(client, late)
            made.append(self)

    monkeypatch.setattr(inbox, "Listener", Lagging)
    shown = io.StringIO()

    class Captured(TextProgress):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, stream=shown, **kwargs)

    study = nbtune.tune(talks, {"q": nbtune.grid(*range(1, 7))}, searcher="grid", metric="score",
                        mode="max", cluster=client, storage=db, study="late", progress=Captured,
                        show_output=True, concurrency=1)
    assert made[0].received > 0, "no trial reported straight"
    lines = shown.getvalue().splitlines()
    for trial in study.trials:
        q = trial.config["q"]
        assert trial.state == T.COMPLETED and trial.value == q * 3
        assert [r["epoch"] for r in trial.reports] == [1, 2, 3]
        assert [ln for ln in lines if ln.startswith(f"[trial {trial.id}] ")] == [
            f"[trial {trial.id}] q={q} epoch {e}" for e in (1, 2, 3)], "\n".join(lines)


def test_a_trial_keeps_for_resending_only_the_reports_after_the_last_one_answered():
    """What a broken connection may have lost: once the loop answers a report, it has that one
    and every report sent before it on the same connection."""
    post = stream.Post(worker=None)
    first, rung, after = ({"kind": "report", "seq": seq, "wait": seq == 2} for seq in (1, 2, 3))
    post._sent = [first, rung, after]
    post.answered(rung)
    assert post._sent == [after] and post._sent[0] is after
    post.answered(rung)  # an answer to a report already let go changes nothing
    assert post._sent == [after]
