"""A trial that runs more threads at once than its share of the cores is told: LightGBM's
scikit-learn estimators take every core unless told (``n_jobs=None``), and on 2 cores two
trials of two threads each ran 6 to 7 times slower than with ``n_jobs=1``, with nothing said
why (first-day test, round 29)."""
from __future__ import annotations

import threading
import time

import pytest

import nbtune
from nbtune.run.threads import WATCHED_FROM, cores_watched

# two threads of a trial must get two cores: `make test` runs these after the others, alone
pytestmark = pytest.mark.cores


def _compute(seconds: float) -> None:
    import numpy as np

    a = np.random.default_rng(0).random((200, 200))
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        a @ a  # numpy lets go of the GIL: threads of it run on cores of their own


def threads_of(config):
    seconds = config["seconds"]
    if config["kind"] == "one":
        _compute(seconds)
    else:  # a thread of the trial's computes beside it, or while it waits
        helper = threading.Thread(target=_compute, args=(seconds,))
        helper.start()
        if config["kind"] == "two":
            _compute(seconds)
        helper.join()
    return 0.0


def test_a_trial_of_more_threads_than_its_share_is_told_and_the_others_are_not(client):
    space = {"kind": nbtune.grid("one", "two", "waits"), "seconds": WATCHED_FROM + 0.3}
    study = nbtune.tune(threads_of, space, searcher="grid", metric="loss", cluster=client,
                        storage=None, progress=False)
    by_kind = {t.config["kind"]: t for t in study.trials}
    assert {k: t.state for k, t in by_kind.items()} == dict.fromkeys(by_kind, "completed")
    (told,) = by_kind["two"].warnings
    assert told["message"].startswith("the trial ran more threads than its 1 core "
                                      "here: every trial runs slower; give its library "
                                      "n_jobs=1\n"), told
    assert "(LightGBM: n_jobs=1, or num_threads=1 in lgb.train's params;" in told["message"]
    # the session's cluster is not nbtune's own, whose size %tune_cluster local sets (round 55)
    assert "start the workers with OMP_NUM_THREADS=1" in told["message"]
    assert "%tune_cluster" not in told["message"]
    assert by_kind["one"].warnings == [] and by_kind["waits"].warnings == []
    summary = study.summary()  # where a user reads it, in a notebook and on a terminal
    assert "the trial ran more threads than its 1 core here" in summary._repr_html_()
    assert ("NbtuneWarning: the trial ran more threads than its 1 core here: every trial "
            "runs slower; give its library n_jobs=1 (1 trial)") in str(summary)


def test_a_trial_that_was_not_alone_in_its_process_is_not_judged():
    # a worker of several threads, or a trial whose folds ran as tasks beside it: the process's
    # CPU time is not the trial's alone
    told: list = []
    with cores_watched(told.append, alone=lambda: False):
        helper = threading.Thread(target=_compute, args=(WATCHED_FROM + 0.2,))
        helper.start()
        _compute(WATCHED_FROM + 0.2)
        helper.join()
    assert told == []
    with cores_watched(told.append, alone=lambda: True):
        helper = threading.Thread(target=_compute, args=(WATCHED_FROM + 0.2,))
        helper.start()
        _compute(WATCHED_FROM + 0.2)
        helper.join()
    assert len(told) == 1


def test_a_trial_is_told_while_it_runs_and_once(monkeypatch):
    """A LightGBM trial of a minute said nothing until it ended (first-day test, round 30): the
    threads are judged a few seconds in, and the warning goes with the trial's next report."""
    from nbtune.run import threads

    monkeypatch.setattr(threads, "LIVE_AFTER", WATCHED_FROM + 0.3)
    told: list = []
    with cores_watched(lambda record: told.append((time.monotonic(), record)),
                       alone=lambda: True):
        helper = threading.Thread(target=_compute, args=(WATCHED_FROM + 2.5,))
        helper.start()
        _compute(WATCHED_FROM + 2.5)
        helper.join()
        ended = time.monotonic()
    assert len(told) == 1 and told[0][0] < ended - 1.0, told  # while it ran, not again after


def test_the_note_names_the_fix_for_the_cluster_it_ran_on():
    from nbtune.run.threads import cores_note

    assert cores_note(2, ours=True).endswith(
        "Fewer workers give each trial more cores: %tune_cluster local --workers N.")
    assert "OMP_NUM_THREADS=2" in cores_note(2, ours=False)
