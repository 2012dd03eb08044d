"""The simulator: nbtune's searchers and schedulers in simulated time, on parametric curves and
tables, against the same contract as the real loop (one short test on a real cluster)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nbtune
from nbtune import trial as T
from nbtune.schedule import ASHAScheduler, CONTINUE, STOP, Scheduler
from nbtune.setup_text import scheduler_text
from nbtune.sim import PowerLawCurves, Table

BOX = PowerLawCurves(max_t=9)


def record(study):
    """Everything a study decided, and when: ids, configs, states, reports, times, workers."""
    return [(t.id, t.config, t.state, t.reports, t.started, t.finished, t.worker, t.attempts)
            for t in study.trials]


@pytest.mark.parametrize("scheduler,options", [
    ("asha", {}), ("asha", {"type": "promotion"}), ("hyperband", {}), ("median", {}),
    ("asha", {"brackets": 3})])
def test_same_seed_same_decisions_and_times_other_seeds_differ(scheduler, options):
    run = lambda seed: nbtune.simulate(BOX, scheduler=scheduler, n_workers=4, max_time=400,
                                       seed=seed, failure_rate=0.1, start_overhead=0.5, **options)
    first, again, other = run(3), run(3), run(4)
    assert len(first.trials) >= 17  # hyperband(max_t=9) starts 17
    assert record(first) == record(again)
    assert record(first) != record(other)


def test_budgets_end_the_study_as_in_the_real_loop():
    timed = nbtune.simulate(BOX, scheduler="asha", n_workers=8, max_time=120, seed=0)
    assert timed.stop_reason == "max_time"
    assert max(t.finished for t in timed.trials) <= 120
    assert timed.counts()[T.INTERRUPTED] == 8  # the eight running at the end
    counted = nbtune.simulate(BOX, n_workers=3, n_trials=10, seed=0)
    assert counted.stop_reason == "n_trials" and counted.counts() == {T.COMPLETED: 10}
    target = nbtune.simulate(BOX, n_workers=4, target=0.8, seed=0)
    assert target.stop_reason == "target"
    assert max(r["accuracy"] for t in target.trials for r in t.reports) >= 0.8
    used = nbtune.simulate(BOX, scheduler="asha", n_workers=2, max_resource=100, seed=0)
    assert used.stop_reason == "max_resource"
    assert sum(t.trained("epoch") for t in used.trials) == 100


def test_hyperbands_rounds_follow_the_budget_in_simulated_time():
    # n_trials="auto" raised TypeError (trial_count's space was left out)
    one = nbtune.simulate(BOX, scheduler="hyperband", n_workers=4, n_trials="auto", seed=0)
    assert len(one.trials) == 17 and one.stop_reason == "scheduler"  # one round: 9 + 5 + 3
    more = nbtune.simulate(BOX, scheduler="hyperband", n_workers=4, n_trials=40, seed=0)
    assert len(more.trials) == 40 and more.stop_reason == "n_trials"
    assert more.scheduler.rung_counts()[1] == 9 + 9 + 6  # bracket 0 of rounds 1, 2 and 3
    timed = nbtune.simulate(BOX, scheduler="hyperband", n_workers=4, max_time=400, seed=0)
    assert len(timed.trials) > 17 and timed.stop_reason == "max_time"


def test_time_is_the_tables_seconds_plus_the_start_overhead():
    study = nbtune.simulate(BOX, n_workers=2, n_trials=4, seed=1, start_overhead=2.0)
    for t in study.trials:
        per_level = 1.0 + 2.0 * t.config["x"]
        assert t.started - t.created == pytest.approx(2.0)
        assert t.duration == pytest.approx(9 * per_level)
    # two workers: trials 2 and 3 start when 0 and 1 end
    ends = sorted(t.finished for t in study.trials[:2])
    assert sorted(t.created for t in study.trials[2:]) == pytest.approx(ends)


def test_pause_resume_continues_from_the_checkpoint_or_repeats_and_counts_without_one():
    kept = nbtune.simulate(BOX, scheduler="asha", type="promotion", n_workers=4, n_trials=40,
                           seed=0)
    resumed = [t for t in kept.trials if t.resource("epoch") > 1]
    assert resumed
    for t in kept.trials:
        levels = [r["epoch"] for r in t.reports]
        assert levels == list(range(1, len(levels) + 1))  # nothing lost, nothing repeated
        assert t.trained("epoch") == t.resource("epoch")
    lost = nbtune.simulate(BOX, scheduler="asha", type="promotion", n_workers=4, n_trials=40,
                           seed=0, checkpoints=False)
    # resumed from scratch: levels 1.. again, trained and timed again (a trial that went on
    # at a rung without pausing repeats nothing there)
    again = [t for t in lost.trials if [r["epoch"] for r in t.reports].count(1) > 1]
    assert again
    for t in lost.trials:
        levels = [r["epoch"] for r in t.reports]
        starts = [i for i, level in enumerate(levels) if level == 1]
        for a, b in zip(starts, starts[1:] + [len(levels)]):  # each submission from level 1
            assert levels[a:b] == list(range(1, b - a + 1))
        assert t.trained("epoch") >= t.resource("epoch")
        if t.state == T.COMPLETED and t in again:  # its last submission ran every level
            assert len(levels) - starts[-1] == 9
            assert t.duration == pytest.approx(9 * (1.0 + 2.0 * t.config["x"]))
    assert sum(t.trained("epoch") for t in lost.trials) > sum(
        t.trained("epoch") for t in kept.trials[:len(lost.trials)])


def test_failed_workers_are_retried_then_failed_and_nan_curves_fail():
    study = nbtune.simulate(PowerLawCurves(max_t=9, diverge=0.2), n_workers=4, n_trials=60,
                            seed=0, failure_rate=0.4, retries=1)
    states = study.counts()
    assert any(t.attempts == 2 and t.state == T.COMPLETED for t in study.trials)
    died = [t for t in study.trials if t.error == "its worker died"]
    assert died and all(t.attempts == 2 and t.state == T.FAILED for t in died)
    diverged = [t for t in study.trials if t.config["x"] > 0.8 and t.error != "its worker died"]
    assert diverged and all(t.state == T.FAILED and "not a finite number" in t.error
                            for t in diverged)
    assert sum(states.values()) == 60


class StopBelow(Scheduler):
    """A user's rule: stop a trial whose accuracy is below a bar at epoch 3."""

    name = "stop-below"

    def __init__(self, bar: float):
        self.bar, self.seen = bar, []

    def decision_points(self):
        return (3,)

    def on_report(self, trial_id, report):
        self.seen.append(trial_id)
        if report[self.resource] == 3 and report[self.metric] < self.bar:
            return STOP
        return CONTINUE


def test_a_users_scheduler_subclass_runs_unchanged():
    rule = StopBelow(0.45)
    study = nbtune.simulate(BOX, scheduler=rule, n_workers=8, n_trials=50, seed=2)
    assert study.scheduler is rule and rule.seen
    for t in study.trials:
        at3 = t.reports[2]["accuracy"]
        assert t.state == (T.STOPPED if at3 < 0.45 else T.COMPLETED)
        assert t.resource("epoch") == (3 if at3 < 0.45 else 9)
    assert {T.STOPPED, T.COMPLETED} <= set(study.counts())


def test_a_simulated_study_is_a_normal_study(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    db = str(tmp_path / "sim.db")
    study = nbtune.simulate(BOX, scheduler="asha", n_workers=4, n_trials=30, seed=0,
                            storage=db, study="simulated")
    assert "asha scheduler" in str(study.summary())
    frame = study.to_dataframe()
    assert len(frame) == 30 and set(frame["state"]) <= {T.COMPLETED, T.STOPPED}
    for plot in ("history", "learning_curves", "rungs", "parallel_coordinates"):
        getattr(study.plot, plot)()
    loaded = nbtune.load_study("simulated", storage=db)
    assert [t.reports for t in loaded.trials] == [t.reports for t in study.trials]
    assert loaded.stop_reason == "n_trials"


def test_a_table_maps_configs_to_their_nearest_row_and_round_trips(tmp_path):
    space = nbtune.Space({"lr": nbtune.loguniform(1e-3, 1.0), "act": nbtune.choice("a", "b")})
    configs = [{"lr": 0.001, "act": "a"}, {"lr": 0.01, "act": "b"}, {"lr": 0.5, "act": "a"}]
    values = np.array([[0.1, 0.2], [0.3, np.nan], [0.5, 0.6]])
    table = Table("tiny", space, configs, [1, 2], values, np.ones((3, 2)), [0, 0, 0],
                  "acc", "max", "epoch", {"command": "by hand"})
    path = tmp_path / "tiny.npz"
    table.save(path)
    loaded = Table.load(path)
    assert loaded.configs == configs and loaded.meta["command"] == "by hand"
    assert np.array_equal(loaded.values, table.values, equal_nan=True)
    assert loaded.row({"lr": 0.4, "act": "a"}) == 2
    assert loaded.row({"lr": 0.4, "act": "b"}) == 1  # the same choice first, however far
    assert loaded.row({"lr": 0.0011, "act": "a"}) == 0
    assert loaded.best_value == pytest.approx(0.6)
    study = nbtune.simulate(str(path), n_workers=2, n_trials=6, seed=0)
    assert {t.state for t in study.trials} <= {T.COMPLETED, T.FAILED}


def test_bad_input_gets_one_clear_line():
    with pytest.raises(ValueError, match="unknown table 'nope': use one of") as e:
        nbtune.simulate("nope", n_trials=3)
    with pytest.raises(ValueError, match="the space does not match the table 'power-law': it "
                                         "lacks 'width'"):
        nbtune.simulate(BOX, space={"x": nbtune.uniform(0, 1), "y": nbtune.loguniform(1e-3, 1)},
                        n_trials=3)
    with pytest.raises(ValueError, match="hyperparameter 'x' is uniform.0.0, 2.0., outside"):
        nbtune.simulate(BOX, space={**BOX.space, "x": nbtune.uniform(0, 2)}, n_trials=3)
    with pytest.raises(ValueError, match=r"target=0.99 can never be reached: the best accuracy "
                                         r"in 'power-law' is 0\.8"):
        nbtune.simulate(BOX, target=0.99)
    with pytest.raises(ValueError, match="the study has no end"):
        nbtune.simulate(BOX)
    with pytest.raises(ValueError, match="the table 'power-law' records 'accuracy' .mode 'max'"
                                         "., not metric='loss'"):
        nbtune.simulate(BOX, metric="loss", n_trials=3)
    for message in (str(e.value),):
        assert "\n" not in message


# -- the simulator and the real loop ask the scheduler the same questions ------------------

class Recording(ASHAScheduler):
    """ASHA that writes down every question the loop asks it and its answer."""

    def setup(self, *args, **kwargs):
        super().setup(*args, **kwargs)
        self.log = []

    def on_trial_start(self, trial_id, config):
        self.log.append(("start", trial_id))
        super().on_trial_start(trial_id, config)

    def on_report(self, trial_id, report):
        answer = super().on_report(trial_id, report)
        self.log.append(("report", trial_id, report["epoch"], round(report["accuracy"], 9),
                         answer))
        return answer

    def on_trial_end(self, trial_id, state):
        self.log.append(("end", trial_id, state))
        super().on_trial_end(trial_id, state)

    def next_action(self, can_start=True):
        answer = super().next_action(can_start)
        if answer[0] != "wait":  # the real loop asks again while it waits; the answer is the same
            self.log.append(("next", can_start, *answer))
        return answer

    def on_trial_resume(self, trial_id):
        self.log.append(("resume", trial_id))
        super().on_trial_resume(trial_id)


def curve_trial(config):
    """A real trial that reports its power-law curve, resuming after its checkpoint."""
    values, _ = BOX.curve(config)
    first = nbtune.get_checkpoint() or 0
    for j in range(first, len(values)):
        nbtune.report(epoch=j + 1, accuracy=float(values[j]), checkpoint=j + 1)


@pytest.mark.parametrize("kind", ["stopping", "promotion"])
def test_simulator_and_real_loop_ask_the_scheduler_the_same_questions(client, kind):
    real = Recording(max_t=9, type=kind)
    nbtune.tune(curve_trial, BOX.space, metric="accuracy", mode="max", scheduler=real,
                n_trials=7, seed=5, cluster=client, concurrency=1, storage=None, progress=False)
    simulated = Recording(max_t=9, type=kind)
    nbtune.simulate(BOX, scheduler=simulated, n_trials=7, seed=5, n_workers=1)
    assert any(entry[-1] in ("stop", "pause") for entry in real.log)
    # A trial stopped at a decision point frees its slot at once; its end reaches the real loop
    # when its future completes, which may come after its successor's first report. That is the
    # one order the real loop leaves to chance, so those ends are compared as a set.
    def fixed_order(log):
        return [e for e in log if e[:1] != ("end",) or e[2] != "stopped"]

    assert fixed_order(simulated.log) == fixed_order(real.log)
    assert sorted(e for e in simulated.log if e not in fixed_order(simulated.log)) == sorted(
        e for e in real.log if e not in fixed_order(real.log))


def test_shipped_tables_hold_what_they_claim():
    names = nbtune.sim.table_names()
    if not names:
        pytest.skip("no table generated yet: run `make tables`")
    total = 0
    for name in names:
        table = nbtune.sim.load_table(name)
        total += (nbtune.sim.tables.DATA / f"{name}.npz").stat().st_size
        assert len(table) >= 500 and len(table.levels) >= 27
        for key in ("command", "versions", "date", "seed", "description", "lookup"):
            assert table.meta[key] not in (None, "")
        assert np.all(table.seconds > 0) and math.isfinite(table.best_value)
        assert table.row(table.configs[17]) == 17  # a config of the table is its own neighbour
    assert total < 20e6


def test_a_simulated_trial_reports_its_nearest_rows_real_curve_at_its_measured_pace():
    table = nbtune.sim.load_table("digits-mlp")
    study = nbtune.simulate("digits-mlp", scheduler="asha", n_workers=32, max_time=60, seed=0)
    assert study.stop_reason == "max_time" and len(study.trials) > 100
    for t in study.trials:
        i = table.row(t.config)
        k = len(t.reports)
        assert np.array_equal([r["accuracy"] for r in t.reports], table.values[i, :k],
                              equal_nan=True)
        if t.state != T.INTERRUPTED:
            assert t.duration == pytest.approx(float(np.sum(table.seconds[i, :k], dtype=float)))


def test_the_simulator_and_the_contract_never_import_run_or_dask():
    import ast
    from pathlib import Path

    root = Path(nbtune.__file__).parent
    for folder in ("sim", "contract"):
        for path in (root / folder).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom):
                    names = [("." * node.level) + (node.module or "")]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    continue
                for name in names:
                    assert not name.startswith(("..run", "nbtune.run", "distributed", "dask")), \
                        f"{path.name} imports {name}"


class PauseAtEnd(Scheduler):
    """A user's rule that pauses every trial once at its last level, then resumes them."""

    name = "pause-at-end"
    pauses = True

    def __init__(self):
        self.waiting, self.resumed = [], set()

    def decision_points(self):
        return (9,)

    def on_report(self, trial_id, report):
        done = report[self.resource] == 9 and trial_id not in self.resumed
        return "pause" if done else "continue"

    def on_trial_end(self, trial_id, state):
        if state == T.PAUSED:
            self.waiting.append(trial_id)

    def next_action(self, can_start=True):
        if self.waiting:
            return "resume", self.waiting[0]
        return ("start", None) if can_start else ("wait", None)

    def on_trial_resume(self, trial_id):
        self.waiting.remove(trial_id)
        self.resumed.add(trial_id)


def test_a_trial_resumed_after_its_last_level_completes_with_nothing_trained():
    for checkpoints, levels, failures in ((True, list(range(1, 10)), 0.2),
                                          (False, [*range(1, 10)] * 2, 0.0)):
        study = nbtune.simulate(BOX, scheduler=PauseAtEnd(), n_workers=2, n_trials=4, seed=0,
                                checkpoints=checkpoints, failure_rate=failures, retries=3)
        for t in study.trials:
            assert t.state == T.COMPLETED
            assert [r["epoch"] for r in t.reports] == levels


def test_a_max_t_below_the_tables_last_level_ends_trials_past_it_as_in_the_real_loop():
    study = nbtune.simulate(BOX, scheduler="asha", max_t=3, n_workers=2, n_trials=12, seed=0)
    reached = {max(r["epoch"] for r in t.reports) for t in study.trials}
    assert reached == {1, 4}  # stopped at rung 1, or ended at the first report past max_t
    assert all(t.state == T.COMPLETED for t in study.trials if len(t.reports) == 4)


def test_a_long_simulation_without_n_trials_is_named_once(monkeypatch):
    """The README's example (256 workers, 600 simulated seconds, no n_trials) started 400,000
    trials over 7 minutes in silence (first-day test, round 61)."""
    import sys

    monkeypatch.setattr(sys.modules["nbtune.simulate"], "LONG", 0.0)
    with pytest.warns(nbtune.NbtuneWarning) as warned:
        nbtune.simulate(BOX, scheduler="asha", n_workers=64, max_time=100, seed=0)
    said = [str(w.message) for w in warned if "without n_trials" in str(w.message)]
    assert len(said) == 1 and said[0].startswith("nbtune.simulate has started 1,000 trials in ")
    assert said[0].endswith("give n_trials=N to end it sooner (a few thousand trials take "
                            "seconds)")
    assert warned[0].filename == __file__
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", nbtune.NbtuneWarning)
        nbtune.simulate(BOX, scheduler="asha", n_workers=64, n_trials=2000, max_time=100,
                        seed=0)


def test_trials_no_worker_started_when_the_study_ends_are_withdrawn_as_in_the_real_loop():
    study = nbtune.simulate(BOX, n_workers=2, max_time=10, start_overhead=1000, seed=0)
    assert study.stop_reason == "max_time" and study.trials == []

    class Withdrawn(nbtune.Observer):
        def __init__(self):
            self.ids = []

        def trial_withdrawn(self, trial):
            self.ids.append(trial.id)

    for max_time in range(20, 80):  # some budget ends while the newest trial waits to start
        seen = Withdrawn()
        late = nbtune.simulate(BOX, n_workers=2, max_time=max_time, start_overhead=5, seed=0,
                               observers=[seen])
        if seen.ids:
            break
    assert seen.ids and seen.ids[0] == len(late.trials)  # the newest, taken back
    assert all(t.started is not None for t in late.trials)


def test_an_unreachable_target_is_fine_beside_another_end():
    study = nbtune.simulate(BOX, target=0.99, max_time=50, n_workers=2, seed=0)
    assert study.stop_reason == "max_time"


@pytest.mark.parametrize("searcher", ["random", "bayesopt", "kde"])
def test_on_a_table_each_searcher_suggests_the_tables_own_configs_each_once(searcher):
    table = nbtune.sim.load_table("digits-mlp")
    study = nbtune.simulate(table, searcher=searcher, scheduler="asha", n_workers=4,
                            n_trials=40, seed=1)
    rows = [table.row(t.config) for t in study.trials]
    assert len(set(rows)) == len(rows) == 40  # no two trials share a row
    assert all(t.config == table.configs[i] for t, i in zip(study.trials, rows))
    # restrict=False: suggestions are looked up by nearest neighbour, and may share a row
    loose = nbtune.simulate(table, searcher=searcher, scheduler="asha", n_workers=4,
                            n_trials=40, seed=1, restrict=False)
    assert any(t.config not in table.configs for t in loose.trials)


def test_a_restricted_searcher_repeats_only_once_every_allowed_config_ran():
    space = nbtune.Space({"x": nbtune.uniform(0.0, 1.0)})
    searcher = nbtune.RandomSearcher(space, seed=0)
    searcher.restrict([{"x": 0.1}, {"x": 0.5}, {"x": 0.9}])
    first = [searcher.suggest(i)["x"] for i in range(3)]
    assert sorted(first) == [0.1, 0.5, 0.9]
    assert searcher.unused_allowed() == []
    assert searcher.suggest(3)["x"] in (0.1, 0.5, 0.9)


def test_a_narrower_space_restricts_the_searcher_to_the_table_configs_inside_it():
    table = nbtune.sim.load_table("digits-mlp")
    name = next(k for k in table.space.unit_names if isinstance(table.space[k], nbtune.loguniform))
    lo, hi = table.space[name].lo, table.space[name].hi
    mid = math.exp((math.log(lo) + math.log(hi)) / 2)
    space = {**{k: table.space[k] for k in table.space}, name: nbtune.loguniform(lo, mid)}
    study = nbtune.simulate(table, space=space, searcher="random", n_trials=30, n_workers=4,
                            seed=0)
    assert all(lo <= t.config[name] <= mid for t in study.trials)
    assert all(t.config in table.configs for t in study.trials)


def test_asha_judged_by_the_bayesopt_model_is_seeded_and_differs_from_its_rank():
    """judge="model" asks bayesopt what each trial reaches at max_t; with a searcher without a
    model it is the rank rule, decision for decision."""
    run = lambda searcher, judge, seed=1: nbtune.simulate(
        BOX, scheduler="asha", judge=judge, searcher=searcher, n_workers=4, n_trials=40, seed=seed)
    by_model = {seed: record(run("bayesopt", "model", seed)) for seed in (1, 2, 3, 4)}
    assert record(run("bayesopt", "model")) == by_model[1]  # seeded
    # the model keeps trials the rank would stop, in most studies (where its predictions agree
    # with the ranks the two runs are the same)
    differ = [by_model[seed] != record(run("bayesopt", "rank", seed)) for seed in by_model]
    assert sum(differ) >= 3, differ
    with pytest.warns(nbtune.NbtuneWarning, match=r"^judge='model' asks the searcher's model "
                      r"what a trial would reach at max_t: searcher 'random' has none, so the "
                      r"rank alone decides; searcher='bayesopt' has one$"):
        random_by_model = record(run("random", "model"))  # said, not a silent no-op (round 64)
    assert random_by_model == record(run("random", "rank"))
    study = run("bayesopt", "model")
    kept = study.settings["model_kept"]
    assert kept == study.scheduler.model_kept >= 1
    trials = "trial" if kept == 1 else "trials"
    assert scheduler_text(study.settings).endswith(
        f", judged by rank and by the searcher's model ({kept} {trials} went on that the rank "
        "stopped)")


def test_simulate_names_nbtune_tunes_own_arguments():
    """simulate(progress=False) read "scheduler 'fifo' has no option 'progress'" (check round
    44)."""
    with pytest.raises(TypeError, match=r"^simulate\(\) takes no progress=: it is nbtune.tune's"):
        nbtune.simulate("hgb", n_trials=2, progress=False)
