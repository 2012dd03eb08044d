"""PASHA (Syne Tune's ``type="pasha"``): promotion ASHA whose top level starts at the second
rung and goes up a rung while the trials at the two top rungs are ranked differently."""
from __future__ import annotations

import warnings

import pytest

import nbtune
from nbtune import trial as T
from nbtune.schedule import CONTINUE, PAUSE, RESUME, START, ASHAScheduler
from nbtune.schedule.pasha import Noise, pair_gap, ranks_agree, start_index
from nbtune.setup_text import scheduler_text
from nbtune.sim import PowerLawCurves


def pasha(max_t=27):
    s = ASHAScheduler(max_t=max_t, type="pasha")
    s.setup("acc", "max", "epoch", seed=0)
    return s


def test_the_top_level_starts_at_the_second_rung():
    s = pasha()
    assert s.levels == [1, 3, 9, 27] and s.top_level() == 3 and s.max_level() == 27
    assert start_index([1, 9]) == 1 and start_index([9]) == 0  # max_t: promotion ASHA
    assert pasha(max_t=3).top_level() == 3  # rungs 1, 3: the second rung is max_t


def test_a_top_rung_ranked_as_the_rung_below_keeps_the_top_and_ends_them_completed():
    s = pasha()
    # promoted one by one: each reaches rung 3 in the order it ranked at rung 1
    for trial, (first, third) in enumerate([(0.9, 0.95), (0.8, 0.85), (0.7, 0.75)]):
        s.on_trial_start(trial, {})
        s.on_report(trial, {"epoch": 1, "acc": first})
        s.on_report(trial, {"epoch": 2, "acc": first})
        assert s.on_report(trial, {"epoch": 3, "acc": third}) == PAUSE
        s.on_trial_end(trial, "paused")
    assert s.top_level() == 3
    assert [s.ends_paused_as(t) for t in range(3)] == ["completed"] * 3
    assert s.next_action(can_start=True) == (START, None)  # none is promoted past the top


def test_a_top_rung_ranked_otherwise_raises_the_top_and_its_trials_are_promoted():
    s = pasha()
    for trial, (first, third) in enumerate([(0.9, 0.75), (0.8, 0.85)]):
        s.on_trial_start(trial, {})
        s.on_report(trial, {"epoch": 1, "acc": first})
        answer = s.on_report(trial, {"epoch": 3, "acc": third})
        s.on_trial_end(trial, "paused")
    # trial 1 was second at rung 1 and is first at rung 3: the ranks disagree
    assert s.top_level() == 9 and answer in (PAUSE, CONTINUE)
    assert s.ends_paused_as(0) is None  # below the top now: it would end stopped
    action, trial = s.next_action(can_start=False)
    assert action == RESUME and trial in (0, 1)


def test_soft_ranks_count_gaps_within_epsilon_as_ties():
    top, below = {0: 0.80, 1: 0.81}, {0: 0.705, 1: 0.700}  # swapped by 0.005 below
    assert not ranks_agree(top, below, "max", epsilon=0.0)
    assert ranks_agree(top, below, "max", epsilon=0.01)
    assert ranks_agree({0: 0.1, 1: 0.2}, {0: 0.3, 1: 0.4}, "min", epsilon=0.0)
    assert ranks_agree({0: 0.9}, {0: 0.1}, "max", epsilon=0.0)  # one trial: nothing to rank


def test_epsilon_is_the_gap_of_pairs_whose_order_flipped_and_came_back():
    # trials 0 and 1: 0 ahead at 1, behind at 2, ahead again at 3 (noise); 2 is always last
    curves = {0: {1: 0.50, 2: 0.50, 3: 0.62}, 1: {1: 0.40, 2: 0.55, 3: 0.60},
              2: {1: 0.10, 2: 0.10, 3: 0.10}}
    assert pair_gap(curves[0], curves[1], 1, 3) == pytest.approx(0.02)
    assert pair_gap(curves[0], curves[2], 1, 3) is None
    noise = Noise()
    noise.set_window(1, 3)
    for trial, curve in curves.items():  # as they report, one level at a time
        for level, value in curve.items():
            noise.add(trial, level, value)
    assert noise.epsilon() == pytest.approx(0.02) and list(noise.gaps) == [(0, 1)]
    noise.forget(1)
    assert noise.epsilon() is None
    noise.set_window(3, 9)  # the top went up: nobody reported above 3 yet
    assert noise.gaps == {} and noise.epsilon() is None


def test_pasha_takes_no_brackets_and_names_its_type():
    with pytest.raises(ValueError, match="type='pasha' raises one top level for the whole "
                                         "study: it takes no brackets"):
        ASHAScheduler(max_t=27, type="pasha", brackets=2)
    with pytest.raises(ValueError, match="type must be 'stopping', 'promotion' or 'pasha'"):
        ASHAScheduler(max_t=27, type="progressive")
    assert "type='pasha'" in repr(ASHAScheduler(max_t=27, type="pasha"))


def test_a_simulated_pasha_study_ends_its_top_trials_completed_without_a_short_loop_note():
    box = PowerLawCurves(max_t=27)
    with warnings.catch_warnings():
        warnings.simplefilter("error", nbtune.NbtuneWarning)
        study = nbtune.simulate(box, scheduler="asha", type="pasha", n_workers=4, n_trials=60,
                                seed=0)
    top = study.scheduler.top_level()
    done = [t for t in study.trials if t.state == T.COMPLETED]
    assert done and study.best is not None
    assert {max(r["epoch"] for r in t.reports) for t in done} == {top}
    assert all(max(r["epoch"] for r in t.reports) <= top for t in study.trials)


def pasha_trial(config):
    state = nbtune.get_checkpoint()
    first = state["epoch"] + 1 if state else 1
    for epoch in range(first, 10):
        nbtune.report(epoch=epoch, acc=config["q"] * (1 - 0.5 ** epoch),
                      checkpoint={"epoch": epoch})


def test_a_pasha_study_on_a_cluster_ends_with_completed_trials_at_its_top(client, db):
    with warnings.catch_warnings():  # no note: "completed below max_t" least of all
        warnings.simplefilter("error", nbtune.NbtuneWarning)
        study = nbtune.tune(pasha_trial, {"q": nbtune.grid(*[0.1 * i for i in range(1, 10)])},
                            searcher="grid", metric="acc", mode="max", scheduler="asha",
                            type="pasha", max_t=9, concurrency=1, cluster=client,
                            storage=db, study="p", progress=False)
    # the ranks never change (q scales every curve): the top stays at the second rung, 3
    assert study.scheduler.top_level() == 3
    done = [t for t in study.trials if t.state == T.COMPLETED]
    assert done and {max(r["epoch"] for r in t.reports) for t in done} == {3}
    assert study.best.config["q"] == pytest.approx(0.9)
    assert all(max(r["epoch"] for r in t.reports) <= 3 for t in study.trials)
    assert scheduler_text(study.settings) == ("asha (pasha) scheduler on epoch, rungs 1, 3, 9, "
                                              "trials trained up to 3 (its top level)")
    # its best's checkpoint, written as it paused at the top, is kept as its last
    assert study.best_checkpoint == {"epoch": 3}
    loaded = nbtune.load_study("p", storage=db)
    assert loaded.best_checkpoint == {"epoch": 3}
    assert loaded.scheduler is None  # the README sends a loaded study's reader to its summary
    assert "trials trained up to 3 (its top level)" in str(loaded.summary())


def test_the_magic_takes_type_pasha():
    from nbtune.notebook.options import parse_line, scheduler_options

    args = parse_line("--scheduler asha --type pasha --max-t 9")
    assert scheduler_options(args) == {"type": "pasha", "max_t": 9}
