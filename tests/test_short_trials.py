"""What a short trial costs the notebook: its start message is held a moment, sent before
anything else the trial says, never twice, and not at all for a trial that ends silent within
the moment (nbtune.run.starts); its outcome travels as one pickled object."""
from __future__ import annotations

import threading
import time

import nbtune
from nbtune import trial as T
from nbtune.run import starts
from nbtune.run.starts import START_DELAY, announce_later
from nbtune.run.task import Outcome
from waiting import wait_for


def test_a_held_start_is_sent_once_it_falls_due():
    sent = []
    t0 = time.monotonic()
    announce_later(sent.append, {"kind": "start", "n": 1})
    assert sent == []
    wait_for(lambda: sent == [{"kind": "start", "n": 1}], "the start message", 5, 0.01)
    assert time.monotonic() - t0 >= START_DELAY


def test_a_flushed_start_goes_at_once_and_only_once():
    sent = []
    notice = announce_later(sent.append, {"kind": "start"})
    notice.flush()
    notice.flush()
    assert sent == [{"kind": "start"}]
    time.sleep(START_DELAY + 0.2)  # the sending thread finds it sent
    assert sent == [{"kind": "start"}]


def test_a_dropped_start_is_never_sent():
    sent = []
    announce_later(sent.append, {"kind": "start"}).drop()
    later = []
    announce_later(later.append, {"kind": "start", "after": True})  # one due after it
    wait_for(lambda: later, "the later start message", 5, 0.01)
    assert sent == []


def test_a_start_racing_the_trials_next_message_goes_first_and_once():
    # the sending thread and the trial flush together; whoever wins, the trial's own message
    # (sent after its flush returns) comes after the start, and the start comes once
    for _ in range(50):
        out, lock = [], threading.Lock()

        def send(message):
            with lock:
                out.append(message["kind"])

        notice = announce_later(send, {"kind": "start"})
        notice.due = time.monotonic()  # due now: the thread is about to send it
        with starts._cond:
            starts._cond.notify()
        notice.flush()
        send({"kind": "report"})
        time.sleep(0.005)
        assert out == ["start", "report"]


class Events(nbtune.Observer):
    """The order of the loop's events per trial."""

    def __init__(self):
        self.events: list[tuple[str, int]] = []

    def trial_started(self, trial):
        assert trial.worker is not None and trial.started is not None
        self.events.append(("started", trial.id))

    def trial_reported(self, trial, report):
        self.events.append(("reported", trial.id))

    def trial_finished(self, trial):
        self.events.append(("finished", trial.id))


def varied(config):
    if config["kind"] == "silent-slow":
        time.sleep(START_DELAY + 0.5)
    elif config["kind"] == "reports":
        nbtune.report(epoch=1, v=1.0)
    return 1.0


def test_the_loop_hears_of_a_start_only_where_it_says_something(client, db):
    events = Events()
    study = nbtune.tune(varied, {"kind": nbtune.grid("quick", "silent-slow", "reports")},
                        searcher="grid", metric="v", cluster=client, storage=db, study="starts",
                        observers=[events])
    assert [t.state for t in study.trials] == [T.COMPLETED] * 3
    by_kind = {t.config["kind"]: t.id for t in study.trials}
    per_trial = {i: [e for e, j in events.events if j == i] for i in by_kind.values()}
    assert per_trial[by_kind["quick"]] == ["finished"]  # it ended before its start was due
    assert per_trial[by_kind["silent-slow"]] == ["started", "finished"]  # due while it ran
    assert per_trial[by_kind["reports"]] == ["started", "reported", "finished"]  # sent first
    for t in nbtune.load_study("starts", storage=db).trials:  # every row knows where and when
        assert t.worker is not None and t.started is not None and t.started <= t.finished


def test_an_outcome_travels_in_one_piece():
    # distributed sends a plain dict field by field, a frame each; an Outcome is one object
    from distributed.protocol import dumps, to_serialize

    fields = dict(state="completed", returned=0.5, error=None, output="", warnings=[],
                  reports=[{"epoch": 1, "v": 0.5}], first_seq=0, exec="e", worker="tcp://w",
                  started=1.0, finished=2.0)

    def frames(value):
        return len(dumps({"status": "OK", "data": {"key": to_serialize(value)}}))

    assert frames(Outcome(fields)) == frames(0.5) < frames(fields)
    assert Outcome(fields) == fields
