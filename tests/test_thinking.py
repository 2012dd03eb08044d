"""A searcher whose suggestions cost (a model's) thinks on a thread of its own: the loop goes on
handling reports and verdicts meanwhile, the searcher still sees every call in the loop's order,
and what it raises ends the study as it did on the loop's thread."""
from __future__ import annotations

import os
import sys
import threading
import time

import pytest

import nbtune
from nbtune.run import thinking
from nbtune.schedule import DONE


class SlowSearcher(nbtune.RandomSearcher):
    """Random configs, each past the first two after ``delay`` seconds of thought; notes when it
    thought and every call it was given."""

    costly_suggest = True

    def __init__(self, *args, delay: float = 0.3, **kwargs):
        super().__init__(*args, **kwargs)
        self.delay = delay
        self.thought: list[tuple[float, float]] = []
        self.calls: list[tuple[str, int]] = []

    def _suggest(self, index: int) -> dict:
        start = time.monotonic()
        if index >= 2:
            time.sleep(self.delay)
        self.thought.append((start, time.monotonic()))
        return super()._suggest(index)

    def on_trial_start(self, trial_id, config):
        self.calls.append(("start", trial_id))

    def on_report(self, trial_id, config, level, value):
        self.calls.append(("report", trial_id))

    def on_trial_end(self, trial_id, config, state, value):
        self.calls.append(("end", trial_id))


class ReportTimes(nbtune.Observer):
    def __init__(self):
        self.times: list[float] = []

    def trial_reported(self, trial, report):
        self.times.append(time.monotonic())


def steady(config):
    for epoch in range(1, 10):
        time.sleep(0.02)
        nbtune.report(epoch=epoch, score=config["x"] * epoch)


def test_reports_are_handled_while_the_searcher_thinks_and_it_sees_every_call(client):
    space = {"x": nbtune.uniform(0, 1)}
    searcher, seen = SlowSearcher(space, seed=0, mode="max"), ReportTimes()
    study = nbtune.tune(steady, space, metric="score", mode="max", searcher=searcher,
                        scheduler="asha", max_t=9, n_trials=6, cluster=client, storage=None,
                        progress=False, observers=[seen])
    assert len(study.trials) == 6 and all(t.is_finished for t in study.trials)
    long_thoughts = [(a, b) for a, b in searcher.thought if b - a > 0.2]
    assert len(long_thoughts) == 4
    # on the loop's thread, no report could be handled while a suggestion was being made
    assert any(a < t < b for t in seen.times for a, b in long_thoughts)
    # the calls queued while it thought were all made, in the loop's order, before tune returned
    assert sorted(i for kind, i in searcher.calls if kind == "end") == list(range(6))
    for trial in study.trials:
        mine = [kind for kind, i in searcher.calls if i == trial.id]
        assert mine == ["start"] + ["report"] * len(trial.reports) + ["end"]
    assert not [t for t in threading.enumerate() if t.name == "nbtune-searcher"]


class UntilAnEnd(nbtune.FIFOScheduler):
    """Starts trials until one ends, then is done: it changes its mind while the searcher
    thinks about the next trial."""

    def __init__(self):
        super().__init__()
        self.ended = False

    def on_trial_end(self, trial_id, state):
        self.ended = True

    def next_action(self, can_start=True):
        return (DONE, None) if self.ended else super().next_action(can_start)


def test_a_study_ends_when_its_scheduler_wants_no_trial_of_the_suggestion_being_made(client):
    space = {"x": nbtune.uniform(0, 1)}
    searcher = SlowSearcher(space, seed=0, mode="max")  # trials 0 and 1 end while it thinks of 2
    study = nbtune.tune(steady, space, metric="score", mode="max", searcher=searcher,
                        scheduler=UntilAnEnd(), n_trials=10, cluster=client, storage=None,
                        progress=False, background=True)
    study.wait(60)
    assert not study.running and study.stop_reason == "scheduler"
    assert [t.state for t in study.trials] == ["completed"] * 2


class BrokenSearcher(nbtune.RandomSearcher):
    def _suggest(self, index: int) -> dict:
        if index == 2:
            raise RuntimeError("the model broke")
        return super()._suggest(index)


@pytest.mark.parametrize("costly", [False, True], ids=["on the loop's thread", "its own"])
def test_what_the_searcher_raises_ends_the_study_wherever_it_thinks(client, costly):
    searcher = BrokenSearcher({"x": nbtune.uniform(0, 1)}, seed=0)
    searcher.costly_suggest = costly
    with pytest.raises(nbtune.StudyFailed, match="the model broke") as failed:
        nbtune.tune(steady, {"x": nbtune.uniform(0, 1)}, metric="score", mode="max",
                    searcher=searcher, n_trials=5, cluster=client, storage=None, progress=False)
    assert failed.value.study.stop_reason == "error"
    assert not [t for t in threading.enumerate() if t.name == "nbtune-searcher"]


class SlowModel(SlowSearcher):
    """A model whose suggestions (``x`` a whole thousandth) each take ``delay`` seconds of
    thought, and that may draw a random config while it thinks, as bayesopt does."""

    draws_while_thinking = True

    def reset(self):
        self._tried = set()

    def _suggest(self, index: int) -> dict:
        start = time.monotonic()
        time.sleep(self.delay)
        self.thought.append((start, time.monotonic()))
        return {"x": index / 1000}

    def on_trial_start(self, trial_id, config):
        super().on_trial_start(trial_id, config)
        self._tried.add(nbtune.search.base.config_key(config))


def modelled(config) -> bool:
    return abs(config["x"] * 1000 - round(config["x"] * 1000)) < 1e-9


def blink(config):
    nbtune.report(epoch=1, score=config["x"])


def test_short_trials_start_with_a_random_config_while_the_model_thinks(client):
    space = {"x": nbtune.uniform(0, 1)}
    searcher = SlowModel(space, seed=0, mode="max", delay=0.1)
    study = nbtune.tune(blink, space, metric="score", mode="max", searcher=searcher,
                        n_trials=40, max_time=120, cluster=client, storage=None,
                        progress=False)
    assert len(study.trials) == 40 and all(t.state == "completed" for t in study.trials)
    drawn = [t for t in study.trials if not modelled(t.config)]
    # each suggestion of the model takes many trials' time: most trials are random draws, the
    # model's suggestions go to later trials than they were made for, each to one trial
    assert searcher.quick_draws == len(drawn) >= 10
    models = [t.config["x"] for t in study.trials if modelled(t.config)]
    assert len(models) == len(set(models)) <= len(searcher.thought)
    assert len({t.config["x"] for t in study.trials}) == 40
    # the model saw every trial, its own and the random ones, start and end
    for trial in study.trials:
        assert [k for k, i in searcher.calls if i == trial.id] == ["start", "report", "end"]
    assert study.settings["searcher_quick_draws"] == len(drawn)
    assert f"{len(drawn)} random configs while the model was busy" in str(study.summary())


@pytest.mark.parametrize("trial, delay, max_time", [
    (steady, 0.002, 120),  # trials far longer than a suggestion
    (blink, 0.05, None),  # a budget of trials, not of time: each is worth a suggestion
], ids=["long trials", "a trial budget"])
def test_the_model_is_waited_for_where_its_wait_costs_little(client, trial, delay, max_time):
    space = {"x": nbtune.uniform(0, 1)}
    searcher = SlowModel(space, seed=0, mode="max", delay=delay)
    study = nbtune.tune(trial, space, metric="score", mode="max", searcher=searcher,
                        n_trials=8, max_time=max_time, cluster=client, storage=None,
                        progress=False)
    assert [modelled(t.config) for t in study.trials] == [True] * 8
    assert searcher.quick_draws == 0 and "searcher_quick_draws" not in study.settings
    assert "random config" not in str(study.summary())


def test_a_quick_draw_is_random_untried_and_never_a_listed_point():
    space = {"x": nbtune.uniform(0, 1), "n": nbtune.randint(1, 4)}
    searcher = nbtune.search.bayesopt.BayesOptSearcher(space, seed=3,
                                                       points_to_evaluate=[{"x": 0.5, "n": 2}])
    assert searcher.quick(0) is None  # trial 0 is the listed point
    first = searcher.quick(1)
    space_ = nbtune.space.as_space(space)
    space_.validate(first)
    assert first == searcher.quick(1)  # a function of the seed and the index
    assert first != searcher.suggest(1)  # a stream of its own: not the model's first draw
    searcher.on_trial_start(1, first)
    assert searcher.quick(1) != first  # tried: drawn again
    assert searcher.quick_draws == 3
    assert nbtune.RandomSearcher(space, seed=3).quick(5) is None  # draws nothing while thinking


def test_a_late_model_thinks_ahead_and_draws_only_for_an_idle_worker():
    """SearcherThread alone (no loop): once suggestions outlast the trials, taking a suggestion
    and starting its trial sets the next one going unasked; a random config is drawn only when
    a worker is idle and no suggestion is ready, and the model's goes to the next trial."""
    from nbtune.contract.dispatch import THINKING
    from nbtune.run.thinking import SearcherThread

    idle = [False]
    woken = threading.Event()
    searcher = SlowModel({"x": nbtune.uniform(0, 1)}, seed=0, mode="max", delay=0.05)
    searcher.reset()
    thread = SearcherThread(searcher, woken.set, lambda: idle[0])

    def take(index):
        while (config := thread.suggest(index)) is THINKING:
            assert woken.wait(5)
            woken.clear()
        thread.on_trial_start(index, config)
        return config

    def thoughts(n):
        deadline = time.monotonic() + 5
        while len(searcher.thought) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(searcher.thought)

    try:
        for i in range(3):  # three suggestions of 50 ms, three runs of 1 ms
            assert modelled(take(i))
            thread.on_trial_time(i, {}, 0.001)
        assert thread.late()
        assert take(3) == {"x": 0.003}  # no idle worker: the loop waited for it
        assert thoughts(5) == 5  # trial 3's start set trial 4's suggestion going, unasked
        assert thread.suggest(4) == {"x": 0.004} and searcher.quick_draws == 0
        thread.on_trial_start(4, {"x": 0.004})  # ... and trial 5's
        idle[0] = True
        drawn = thread.suggest(5)  # a worker idles and trial 5's is not ready: drawn at once
        assert not modelled(drawn) and searcher.quick_draws == 1
        thread.on_trial_start(5, drawn)
        assert thoughts(6) == 6 and thread.suggest(6) == {"x": 0.005}  # the model's, next
    finally:
        thread.close(raise_error=False)


class FirstSlow(SlowModel):
    """A model whose first suggestions are quick and whose later ones wait ``delay`` seconds, as
    a warm-started model's fits of hundreds of observations do."""

    def _suggest(self, index: int) -> dict:
        start = time.monotonic()
        time.sleep(0.001 if index < 3 else self.delay)
        self.thought.append((start, time.monotonic()))
        return {"x": index / 1000}


def test_a_worker_that_empties_while_the_loop_waits_gets_a_random_config():
    """The loop asked while every worker had a queued trial and waited; a worker emptied since.
    It waited for the whole suggestion: a random config was drawn only on a first ask, so a
    warm-started bayesopt held slots empty for most of a 20 s study (first-day test, round 36).
    And a suggestion that has already taken longer than the trials run is late though the
    latest ones were quick."""
    from nbtune.contract.dispatch import THINKING
    from nbtune.run.thinking import SearcherThread

    idle = [False]
    woken = threading.Event()
    searcher = FirstSlow({"x": nbtune.uniform(0, 1)}, seed=0, mode="max", delay=2.0)
    searcher.reset()
    thread = SearcherThread(searcher, woken.set, lambda: idle[0])
    try:
        for i in range(3):  # three quick suggestions, three runs of a second
            while (config := thread.suggest(i)) is THINKING:
                assert woken.wait(5)
                woken.clear()
            thread.on_trial_start(i, config)
            thread.on_trial_time(i, {}, 1.0)
        assert not thread.late()  # its suggestions were quick so far
        assert thread.suggest(3) is THINKING and thread.asked  # no idle worker: it waits
        time.sleep(0.1)  # the suggestion has taken a tenth of a trial's run
        assert thread.late()
        idle[0] = True  # a worker emptied meanwhile
        drawn = thread.suggest(3)
        assert drawn is not THINKING and not modelled(drawn) and searcher.quick_draws == 1
        assert not thread.asked and searcher.waiting_since is None  # the loop waits no more
        assert searcher.waited < 0.05  # no worker was free while it waited: no time lost
    finally:
        thread.close(raise_error=False)
    assert len(searcher.thought) == 4  # the one being made was finished, none queued after


def test_the_views_say_while_the_loop_waits_for_a_suggestion_and_the_summary_how_long(client):
    """Trial slots empty while bayesopt chose, and the panel read "0/2 slots busy" with no
    reason (first-day test, round 19): the views name the searcher that is choosing, once the
    wait lasts, and the summary adds up the waits."""
    import io

    from nbtune.text_view import TextProgress
    from nbtune.tracker import CHOOSING_SHOWN

    space = {"x": nbtune.uniform(0, 1)}
    searcher = SlowSearcher(space, seed=0, mode="max", delay=2 * CHOOSING_SHOWN)
    study = nbtune.tune(blink, space, metric="score", mode="max", searcher=searcher,
                        n_trials=4, concurrency=1, cluster=client, storage=None,
                        progress=False, background=True)
    view = TextProgress(study, stream=io.StringIO())
    seen = set()
    while study.running:  # the loop waits about 0.6 s for each of trials 2 and 3
        seen.add(view.choosing().split(" (")[0])
        time.sleep(0.05)
    study.wait()
    assert "the random searcher is choosing the next config" in seen
    assert view.choosing() == ""  # ended: nothing is waited for
    assert searcher.waiting_since is None and searcher.waited >= 2 * 2 * CHOOSING_SHOWN * 0.9
    assert study.settings["searcher_waited"] == searcher.waited
    assert f"{study.summary()}".count(" waiting for its suggestions") == 1


class Intervals(nbtune.Observer):
    """Python's thread switch interval at each report, as the loop's thread sees it."""

    def __init__(self):
        self.seen: list[float] = []

    def trial_reported(self, trial, report):
        self.seen.append(sys.getswitchinterval())


def test_the_interpreter_changes_hands_often_while_a_model_thinks_and_as_before_after(client):
    """The model's fit holds the interpreter between its numpy calls; the loop, woken by a
    report, waited up to Python's 5 ms switch interval for it each time (on a loaded machine, a
    fifth to a half of the epochs of trials of milliseconds). The interval is shortened while a
    searcher thinks on its thread, and set back to what it was after."""
    space = {"x": nbtune.uniform(0, 1)}
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.004)  # what it was, whatever that is, comes back
    try:
        seen = Intervals()
        nbtune.tune(steady, space, metric="score", mode="max",
                    searcher=SlowSearcher(space, seed=0, mode="max", delay=0.01), n_trials=4,
                    cluster=client, storage=None, progress=False, observers=[seen])
        assert seen.seen and all(x == pytest.approx(thinking.SWITCH_INTERVAL) for x in seen.seen)
        assert sys.getswitchinterval() == pytest.approx(0.004)
        random = Intervals()  # a searcher that thinks on the loop's thread changes nothing
        nbtune.tune(steady, space, metric="score", mode="max", n_trials=2, cluster=client,
                    storage=None, progress=False, observers=[random])
        assert random.seen and all(x == pytest.approx(0.004) for x in random.seen)
    finally:
        sys.setswitchinterval(before)


def test_the_interval_is_set_back_when_the_last_of_two_thinking_studies_ends(client):
    space = {"x": nbtune.uniform(0, 1)}
    before = sys.getswitchinterval()
    try:
        first = nbtune.tune(steady, space, metric="score", mode="max", background=True,
                            searcher=SlowSearcher(space, seed=0, mode="max", delay=0.01),
                            n_trials=6, cluster=client, storage=None, progress=False)
        second = nbtune.tune(steady, space, metric="score", mode="max", n_trials=2,
                             searcher=SlowSearcher(space, seed=1, mode="max", delay=0.01),
                             cluster=client, storage=None, progress=False)
        assert second.stop_reason == "n_trials"
        if first.running:  # the first still thinks: its interval holds
            assert sys.getswitchinterval() == pytest.approx(thinking.SWITCH_INTERVAL)
        first.wait()
        assert sys.getswitchinterval() == pytest.approx(before)
    finally:
        sys.setswitchinterval(before)




# run in a fresh process: once a thread other than the main one has set OpenBLAS's threads (as
# scikit-learn's fits do), this OpenBLAS no longer takes the main thread's setting
FRESH_PROCESS_CHECK = """
import threading, time
import numpy as np, scipy.linalg
from threadpoolctl import threadpool_info
import nbtune
from nbtune.run import thinking
from nbtune.search.bayesopt import BayesOptSearcher
from nbtune.search.gp import fitter, imports_done

def blas():
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

a = np.random.default_rng(0).random((1500, 1500))

def others_cpu():  # CPU seconds the other threads spent while this one multiplied
    before, own = time.process_time(), time.thread_time()
    for _ in range(3):
        a @ a
    own = time.thread_time() - own
    return time.process_time() - before - own

space = {"x": nbtune.uniform(0, 1)}
out = {"before": (blas(), others_cpu() > 0.1)}
off_main = []
beside = threading.Thread(target=lambda: off_main.append(thinking.SearcherThread(
    BayesOptSearcher(space, seed=0), lambda: None)))
beside.start()
beside.join()
imports_done()  # this look at the libraries, too, could deadlock with the model's imports
out["background"] = blas()
off_main[0].close()
thread = thinking.SearcherThread(BayesOptSearcher(space, seed=0), lambda: None)
imports_done()  # the model's imports: the limit waits for them (a suggestion sets it)
thread.suggest(0)
out["thinking"] = (blas(), fitter().submit(others_cpu).result() < 0.05)
thread.close()
out["after"] = blas()
print(out)
"""


def test_the_blas_limit_waits_while_the_model_imports_its_libraries(monkeypatch):
    """threadpoolctl's look at the loaded libraries (dl_iterate_phdr, calling Python back)
    deadlocked with the fitter's imports of scipy, which load their libraries holding the
    interpreter: the loop's thread hung in 1 run of 12 (threadpoolctl 3.1, `make test-lowest`).
    No look is taken while they run; the next suggestion's call takes it."""
    busy = [True]
    monkeypatch.setattr(thinking, "importing", lambda: busy[0])
    blas = thinking.OneBlasThread()
    blas.limit()
    assert blas._limits == []
    busy[0] = False
    blas.limit()
    assert len(blas._limits) == 1
    blas.restore()
    assert blas._limits == []


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: BLAS uses one thread")
def test_a_foreground_models_blas_runs_on_one_thread_and_is_set_back():
    """OpenBLAS's threads spin while they wait: a bayesopt study's notebook process spent 12 s of
    CPU where it spent 4 with one BLAS thread (120 trials, two workers on two cores), cores its
    local workers trained on. While a foreground study's model thinks, the process's BLAS runs
    on one thread (the fits on the fitter's thread too); the libraries' setting comes back when
    it ends. A study on another thread (a background one) leaves it alone."""
    import subprocess

    env = {k: v for k, v in os.environ.items()  # Dask's workers' start leaves them at 1 here
           if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", FRESH_PROCESS_CHECK], capture_output=True,
                          text=True, timeout=120, env={**env, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("{'before': ({2}, True), 'background': {2}, "
                                   "'thinking': ({1}, True), 'after': {2}}"), done
