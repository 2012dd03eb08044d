"""Schedulers replayed on fixed report sequences: every decision is asserted, worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from nbtune.schedule import (CONTINUE, DONE, PAUSE, RESUME, SCHEDULERS, START, STOP, WAIT,
                             ASHAScheduler, FIFOScheduler, HyperbandScheduler, MedianScheduler,
                             PercentileScheduler, hyperband_brackets, infer_max_t, make_scheduler,
                             rung_levels)
from nbtune.schedule.rungs import quantile
from nbtune.space import Space, choice, fixed, randint, uniform

NAN = float("nan")


def setup(scheduler, mode="max", seed=0, space=None):
    scheduler.setup("acc", mode, "epoch", seed=seed, space=space)
    return scheduler


def rep(s, trial, epoch, value):
    return s.on_report(trial, {"epoch": epoch, "acc": value})


def start(s, *trials):
    for t in trials:
        s.on_trial_start(t, {})


def paused(s, *trials):
    for t in trials:
        s.on_trial_end(t, "paused")


# -- rung levels ----------------------------------------------------------------------------------

def test_rung_levels_geometric_then_max_t():
    assert rung_levels(81) == [1, 3, 9, 27, 81]
    assert rung_levels(56) == [1, 3, 9, 27, 56]
    assert rung_levels(81, grace_period=2) == [2, 6, 18, 54, 81]
    assert rung_levels(10, 1, 2) == [1, 2, 4, 8, 10]
    assert rung_levels(100, grace_period=5, reduction_factor=4) == [5, 20, 80, 100]
    assert rung_levels(27, grace_period=27) == [27]
    assert rung_levels(1) == [1]
    assert rung_levels(27.0, 1, 3.0) == [1, 3, 9, 27]  # whole floats are fine


def test_explicit_rung_levels():
    assert rung_levels(None, rung_levels=[2, 5, 10]) == [2, 5, 10]
    assert rung_levels(10, rung_levels=[2, 5, 10]) == [2, 5, 10]
    assert rung_levels(20, rung_levels=[2, 5, 10]) == [2, 5, 10, 20]
    assert rung_levels(20, grace_period=7, rung_levels=(1, 4)) == [1, 4, 20]  # grace ignored


@pytest.mark.parametrize("args, message", [
    ({"max_t": 81, "reduction_factor": 1}, "reduction_factor must be an integer >= 2"),
    ({"max_t": 81, "reduction_factor": 2.5}, "reduction_factor must be an integer >= 2"),
    ({"max_t": 81, "grace_period": 0}, "grace_period must be a positive integer"),
    ({"max_t": 81, "grace_period": 1.5}, "grace_period must be a positive integer"),
    ({"max_t": 81, "grace_period": 100}, r"grace_period=100 is above max_t=81: give grace_period <= max_t"),
    ({"max_t": 0}, "max_t must be a positive integer"),
    ({"max_t": 2.5}, "max_t must be a positive integer"),
    ({"max_t": True}, "max_t must be a positive integer"),
    ({"max_t": "81"}, "max_t must be a positive integer"),
    ({"max_t": None}, r"max_t is needed .* give max_t="),
    ({"max_t": None, "rung_levels": []}, "non-empty list of positive integers"),
    ({"max_t": None, "rung_levels": [0, 1]}, "non-empty list of positive integers"),
    ({"max_t": None, "rung_levels": [1, 2.5]}, "non-empty list of positive integers"),
    ({"max_t": None, "rung_levels": [3, 3, 9]}, "strictly increasing"),
    ({"max_t": None, "rung_levels": [9, 3]}, "strictly increasing"),
    ({"max_t": 8, "rung_levels": [2, 5, 10]}, r"max_t=8 is below the last rung level 10: give max_t >= 10"),
])
def test_rung_level_errors_name_the_option_and_the_fix(args, message):
    with pytest.raises(ValueError, match=message):
        rung_levels(**args)


def test_scheduler_options_are_checked_at_construction():
    with pytest.raises(ValueError, match="reduction_factor"):
        ASHAScheduler(reduction_factor=1)
    with pytest.raises(ValueError, match="grace_period"):
        ASHAScheduler(grace_period=0)
    with pytest.raises(ValueError, match="grace_period=100 is above max_t=81"):
        ASHAScheduler(max_t=81, grace_period=100)
    with pytest.raises(ValueError, match="type must be 'stopping', 'promotion' or 'pasha'"):
        ASHAScheduler(max_t=9, type="promote")
    for bad in (0, -1, 1.5, "2"):
        with pytest.raises(ValueError, match="brackets must be an integer >= 1"):
            ASHAScheduler(max_t=9, brackets=bad)
        with pytest.raises(ValueError, match="brackets must be None"):
            HyperbandScheduler(max_t=9, brackets=bad)
    with pytest.raises(ValueError, match="reduction_factor"):
        HyperbandScheduler(reduction_factor=1)


# -- max_t from the space -------------------------------------------------------------------------

def test_infer_max_t_from_the_space():
    assert infer_max_t(Space({"lr": uniform(0.0, 1.0), "epochs": fixed(27)})) == 27
    assert infer_max_t(Space({"epochs": 12})) == 12  # a plain value is fixed
    assert infer_max_t({"max-epochs": 12}) == 12
    assert infer_max_t({"max_epochs": fixed(5), "epochs": fixed(7)}) == 7  # epochs first
    assert infer_max_t({"max_epochs": 5, "max_t": 9}) == 9  # then max_t
    assert infer_max_t({"max-t": 4.0}) == 4
    assert infer_max_t(Space({"lr": uniform(0.0, 1.0)})) is None
    assert infer_max_t(None) is None
    with pytest.raises(ValueError, match=r"'epochs': it is randint\(.*not fixed\(N\); give max_t="):
        infer_max_t(Space({"epochs": randint(5, 50)}))
    with pytest.raises(ValueError, match="'epochs'"):
        infer_max_t(Space({"epochs": choice(10, 20)}))
    for bad in (2.5, 0, "ten", True):
        with pytest.raises(ValueError, match="must be a positive integer"):
            infer_max_t({"epochs": fixed(bad)})


@pytest.mark.parametrize("make", [ASHAScheduler, HyperbandScheduler])
def test_schedulers_take_max_t_from_the_space_or_say_how_to_give_it(make):
    s = setup(make(), space=Space({"lr": uniform(0.0, 1.0), "epochs": fixed(27)}))
    assert s.decision_points() == (1, 3, 9)
    s = setup(make(max_t=9), space=Space({"epochs": fixed(27)}))  # given max_t wins
    assert s.decision_points() == (1, 3)
    with pytest.raises(RuntimeError, match="call setup"):
        make().decision_points()
    expected = ("needs max_t: give max_t=N (in %%tune: --max-t N), the largest value of the "
                "resource 'epoch' a trial reports, or put epochs = fixed(N) in the space")
    with pytest.raises(ValueError) as e:
        setup(make(), space=Space({"lr": uniform(0.0, 1.0)}))
    assert expected in str(e.value)
    with pytest.raises(ValueError, match="needs max_t"):
        setup(make())


# -- ASHA, stopping type --------------------------------------------------------------------------

def test_quantile_matches_numpy_and_treats_infinities_as_limits():
    rng = np.random.default_rng(3)
    for n in range(1, 30):
        values = rng.normal(size=n).round(2).tolist()
        for q in (0.0, 1 / 3, 1 - 1 / 3, 0.5, 1 - 27 / 56, 1.0):
            assert quantile(values, q) == np.quantile(values, q)
    inf = math.inf
    assert quantile([-inf, -inf, 0.1], 1 - 1 / 3) == -inf
    assert quantile([-inf, 0.1, 0.2], 1 - 1 / 3) == pytest.approx(0.1 + 0.1 / 3)
    assert quantile([0.1, inf, inf], 1 / 3) == inf
    assert quantile([-inf, -inf], 0.5) == -inf


def test_asha_stopping_max_mode():
    s = setup(ASHAScheduler(max_t=9))
    assert s.decision_points() == (1, 3) and s.pauses is False
    start(s, *range(6))
    assert rep(s, 0, 1, 0.5) == CONTINUE   # 1 value < 3
    assert rep(s, 1, 1, 0.7) == CONTINUE   # 2 values < 3
    assert rep(s, 2, 1, 0.6) == STOP       # [.5 .6 .7]: cut-off .6333
    assert rep(s, 3, 1, 0.8) == CONTINUE   # [.5 .6 .7 .8]: cut-off .7
    assert rep(s, 4, 1, 0.7) == CONTINUE   # [.5 .6 .7 .7 .8]: cut-off .7, a tie goes on
    assert rep(s, 5, 1, 0.65) == STOP      # [.5 .6 .65 .7 .7 .8]: cut-off .7
    assert rep(s, 1, 2, 0.1) == CONTINUE   # not a rung level
    assert rep(s, 1, 3, 0.75) == CONTINUE
    assert rep(s, 3, 3, 0.85) == CONTINUE
    assert rep(s, 4, 3, 0.7) == STOP       # [.7 .75 .85]: cut-off .7833
    assert rep(s, 3, 9, 0.9) == CONTINUE   # max_t: it completes by itself
    assert rep(s, 1, 9, 0.0) == CONTINUE
    assert s.rung_counts() == {1: 6, 3: 3, 9: 2}
    assert s.next_action() == (START, None) and s.next_action(False) == (WAIT, None)
    assert s.take_discarded() == []


def test_asha_judged_by_the_model_keeps_what_the_model_expects_to_end_best():
    """judge="model": a trial its rank would stop goes on when the searcher's prediction at
    max_t puts it in the best third of the rung's trials; no prediction: the rank decides."""
    asked = []

    def predict(configs, level):
        asked.append(level)
        if len(configs) < 4:
            return None  # too little to say: the rank alone decides
        return np.array([c["late"] for c in configs])  # what each config reaches at max_t

    s = setup(ASHAScheduler(max_t=9, judge="model"))
    s.use_model(predict)
    for t, late in enumerate([0.1, 0.2, 0.9, 0.3, 0.25, 0.5]):
        s.on_trial_start(t, {"late": late})
    assert rep(s, 0, 1, 0.5) == CONTINUE
    assert rep(s, 1, 1, 0.7) == CONTINUE
    assert rep(s, 2, 1, 0.6) == STOP       # [.5 .6 .7]: its rank stops it; 3 configs: no model
    assert rep(s, 3, 1, 0.8) == CONTINUE   # its rank keeps it, whatever the model says
    assert rep(s, 4, 1, 0.55) == STOP      # rank and model agree: predicted .25 is not top third
    assert rep(s, 5, 1, 0.56) == CONTINUE  # ranked 4th of 6, predicted .5: top third of the rung
    assert asked == [9, 9, 9]              # asked about max_t, only when the rank would stop
    assert "judge='model'" in repr(s)
    assert s.model_kept == 1  # trial 5: what the summary counts (round 64)


def test_asha_judge_by_rank_ignores_a_model_and_bad_judges_are_one_clear_line():
    s = setup(ASHAScheduler(max_t=9))
    s.use_model(lambda configs, level: pytest.fail("asked the model"))
    start(s, 0, 1, 2)
    assert [rep(s, t, 1, v) for t, v in enumerate([0.5, 0.7, 0.6])] == [CONTINUE, CONTINUE, STOP]
    with pytest.raises(ValueError, match="judge must be 'rank' or 'model'"):
        ASHAScheduler(judge="oracle")
    with pytest.raises(ValueError, match="type='stopping' only"):
        ASHAScheduler(judge="model", type="promotion")


def test_asha_stopping_min_mode():
    s = setup(ASHAScheduler(max_t=9), mode="min")
    start(s, *range(6))
    assert rep(s, 0, 1, 0.5) == CONTINUE
    assert rep(s, 1, 1, 0.3) == CONTINUE
    assert rep(s, 2, 1, 0.4) == STOP       # [.3 .4 .5]: cut-off .3667
    assert rep(s, 3, 1, 0.2) == CONTINUE   # [.2 .3 .4 .5]: cut-off .3
    assert rep(s, 4, 1, 0.3) == CONTINUE   # [.2 .3 .3 .4 .5]: cut-off .3
    assert rep(s, 5, 1, 0.45) == STOP      # [.2 .3 .3 .4 .45 .5]: cut-off .3667


def test_asha_reduction_factor_two():
    s = setup(ASHAScheduler(max_t=8, reduction_factor=2))
    assert s.levels == [1, 2, 4, 8]
    start(s, *range(4))
    assert rep(s, 0, 1, 0.5) == CONTINUE   # 1 value < 2
    assert rep(s, 1, 1, 0.4) == STOP       # [.4 .5]: median .45
    assert rep(s, 2, 1, 0.45) == CONTINUE  # [.4 .45 .5]: median .45
    assert rep(s, 3, 1, 0.44) == STOP      # [.4 .44 .45 .5]: median .445


def test_asha_non_finite_metric_is_the_worst_and_stops():
    s = setup(ASHAScheduler(max_t=9))
    start(s, *range(6))
    assert rep(s, 0, 1, NAN) == STOP                         # even with fewer than 3 values
    assert s.on_report(1, {"epoch": 1}) == STOP              # no metric at a rung
    assert rep(s, 2, 1, 0.1) == CONTINUE  # [worst worst .1]: cut-off is the worst, not NaN
    assert rep(s, 3, 1, math.inf) == STOP                    # not finite: the worst too
    assert rep(s, 4, 1, 0.05) == CONTINUE  # [w w w .05 .1]: cut-off is the worst
    assert rep(s, 5, 1, 0.01) == STOP      # [w w w .01 .05 .1]: cut-off .0233
    assert s.rung_counts()[1] == 6
    m = setup(ASHAScheduler(max_t=9), mode="min")
    start(m, 0, 1, 2)
    assert rep(m, 0, 1, NAN) == STOP and rep(m, 1, 1, -math.inf) == STOP
    assert rep(m, 2, 1, 100.0) == CONTINUE


def test_asha_restart_is_not_judged_again_but_a_retry_is():
    s = setup(ASHAScheduler(max_t=27))
    start(s, 0, 1, 2)
    assert [rep(s, 0, 1, 0.5), rep(s, 1, 1, 0.6), rep(s, 2, 1, 0.7)] == [CONTINUE, CONTINUE, CONTINUE]
    assert rep(s, 0, 3, 0.5) == CONTINUE
    # trial 0 starts again from epoch 1 (no checkpoint): levels it passed are not judged
    assert rep(s, 0, 1, 0.0) == CONTINUE
    assert rep(s, 0, 2, 0.0) == CONTINUE
    assert rep(s, 0, 3, 0.0) == CONTINUE
    assert s.rung_counts() == {1: 3, 3: 1, 9: 0, 27: 0}
    assert rep(s, 0, 9, 0.9) == CONTINUE  # the next rung above its highest is judged (1 value)
    # a retry (on_trial_start again) forgets its values, keeps its bracket, is judged again
    s.on_trial_start(0, {})
    assert s.rung_counts() == {1: 2, 3: 0, 9: 0, 27: 0} and s.bracket_of(0) == 0
    assert rep(s, 0, 1, 0.0) == STOP      # [0 .6 .7]: cut-off .6333


def test_rung_levels_given_by_hand_are_judged_below_a_max_t_they_do_not_set():
    """Syne Tune's rung_levels are the rungs below max_t, which is given apart: their last one
    became max_t in silence, and trials were ended there (first-day test, round 61)."""
    with pytest.raises(ValueError, match=r"^scheduler 'asha' needs max_t \(rung_levels=\[1, 3\] "
                                         r"are the rungs where trials are judged, below it\)"):
        setup(ASHAScheduler(rung_levels=[1, 3]))
    from_space = setup(ASHAScheduler(rung_levels=[1, 3]), space={"epochs": fixed(9)})
    assert from_space.levels == [1, 3, 9] and from_space.max_level() == 9
    with pytest.raises(ValueError, match="strictly increasing"):
        ASHAScheduler(rung_levels=[3, 1])  # checked as it is made, as before


def test_grace_period_or_reduction_factor_beside_rung_levels_is_named_as_unused(recwarn):
    import nbtune

    with pytest.warns(nbtune.NbtuneWarning) as warned:
        s = ASHAScheduler(rung_levels=[2, 4, 8], reduction_factor=3, max_t=9)
    assert [str(w.message) for w in warned] == [
        "rung_levels=[2, 4, 8] set the rungs, so reduction_factor=3 is not used: at each rung a "
        "trial goes on when it is in the best fraction level/next level of the values there "
        "(2/4, 4/8, 8/max_t), as Syne Tune's rung_levels do; drop reduction_factor, or drop "
        "rung_levels for rungs at grace_period * reduction_factor**k"]
    assert warned[0].filename == __file__ and s._keep == [(2, 4), (4, 8), (8, 9)]
    with pytest.warns(nbtune.NbtuneWarning, match="grace_period=2 and reduction_factor=4 are"):
        ASHAScheduler(rung_levels=[2], grace_period=2, reduction_factor=4, max_t=9)
    recwarn.clear()
    ASHAScheduler(rung_levels=[2], max_t=9), ASHAScheduler(grace_period=2, reduction_factor=4)
    assert not recwarn.list


def test_asha_explicit_rung_levels_use_the_ratio_of_successive_levels():
    s = setup(ASHAScheduler(rung_levels=[2, 4], max_t=12))
    assert s.levels == [2, 4, 12] and s.decision_points() == (2, 4)
    start(s, *range(4))
    # rung 2 keeps 2/4: a median rule that needs 2 values
    assert rep(s, 0, 2, 0.5) == CONTINUE
    assert rep(s, 1, 2, 0.4) == STOP       # [.4 .5]: median .45
    assert rep(s, 2, 2, 0.6) == CONTINUE   # [.4 .5 .6]: median .5
    assert rep(s, 3, 2, 0.5) == CONTINUE   # [.4 .5 .5 .6]: median .5
    # rung 4 keeps 4/12 = 1/3
    assert rep(s, 0, 4, 0.6) == CONTINUE
    assert rep(s, 2, 4, 0.7) == CONTINUE
    assert rep(s, 3, 4, 0.65) == STOP      # [.6 .65 .7]: cut-off .6667
    assert rep(s, 0, 12, 0.0) == CONTINUE


def test_asha_ratio_with_levels_that_are_not_a_multiple():
    s = setup(ASHAScheduler(rung_levels=[1, 3], max_t=7))  # rung 3 keeps 3/7: needs 3 values
    assert s.levels == [1, 3, 7]
    start(s, *range(4))
    assert rep(s, 0, 3, 0.1) == CONTINUE
    assert rep(s, 1, 3, 0.0) == CONTINUE   # 2 values: 2 < 7/3
    assert rep(s, 2, 3, 0.2) == CONTINUE   # [0 .1 .2]: q = 4/7, cut-off .1143
    assert rep(s, 3, 3, 0.05) == STOP      # [0 .05 .1 .2]: cut-off .0857


def test_asha_generated_levels_keep_one_over_reduction_factor_even_below_an_odd_max_t():
    s = setup(ASHAScheduler(max_t=56))
    assert s.levels == [1, 3, 9, 27, 56]
    start(s, *range(6))
    assert [rep(s, t, 27, v) for t, v in enumerate([0.1, 0.2, 0.3, 0.5, 0.6])] == [CONTINUE] * 5
    # [.1 .2 .3 .4 .5 .6]: the 1/3 cut-off is .4333 (the ratio 27/56 would give .3589 and go on)
    assert rep(s, 5, 27, 0.4) == STOP


# -- ASHA, promotion type -------------------------------------------------------------------------

def test_asha_promotion_highest_rung_first_best_first_never_twice():
    s = setup(ASHAScheduler(max_t=9, type="promotion"))
    assert s.pauses is True and s.decision_points() == (1, 3)
    start(s, 0)
    assert rep(s, 0, 1, 0.5) == PAUSE                      # paused, even alone
    paused(s, 0)
    assert s.next_action() == (START, None)                # floor(1/3) = 0 promotable
    # no new trial may start: the rung's part rounds up, as a bracket ends: ceil(1/3) = 1
    assert s.next_action(can_start=False) == (RESUME, 0)
    start(s, 1)
    assert rep(s, 1, 1, 0.7) == PAUSE
    paused(s, 1)
    assert s.next_action() == (START, None)                # floor(2/3) = 0
    start(s, 2)
    assert rep(s, 2, 1, 0.6) == PAUSE                      # top 1 of 3 is trial 1, not 2
    paused(s, 2)
    assert s.next_action() == (RESUME, 1)                  # top floor(3/3) = 1: trial 1 (.7)
    assert s.next_action() == (RESUME, 1)                  # not marked until resumed
    assert s.paused_trials() == {0: 1, 1: 1, 2: 1}
    s.on_trial_resume(1)
    assert s.next_action() == (START, None)                # trial 1 is promoted already
    assert rep(s, 1, 2, 0.72) == CONTINUE
    assert rep(s, 1, 3, 0.75) == PAUSE                     # its next pause: the next rung
    paused(s, 1)
    assert s.next_action() == (START, None)                # rung 3: floor(1/3) = 0
    start(s, 3)
    # 4 values, top 1: trial 3 itself, and nothing promotable waits above it: the slot its
    # pause would free would resume it, so it goes on without pausing
    assert rep(s, 3, 1, 0.8) == CONTINUE
    assert 3 not in s.paused_trials()
    assert s.next_action() == (START, None)                # trial 3 is promoted already
    start(s, 4, 5, 6)
    assert [rep(s, 4, 1, 0.65), rep(s, 5, 1, 0.55), rep(s, 6, 1, 0.7)] == [PAUSE] * 3
    paused(s, 4, 5, 6)
    # 7 values, top 2: trial 3 (.8), then trials 1 and 6 tie at .7: the earlier id, 1, is in
    # the top 2 and already promoted; 6 is not in the top 2
    assert s.next_action() == (START, None)
    start(s, 7)
    assert rep(s, 7, 1, 0.9) == CONTINUE                   # 8 values, top 2: 7 (.9), 3 (.8)
    assert rep(s, 3, 3, 0.78) == PAUSE                     # rung 3: floor(2/3) = 0
    paused(s, 3)
    assert rep(s, 7, 3, 0.76) == PAUSE                     # rung 3's top 1 of 3 is trial 3
    paused(s, 7)
    start(s, 8)
    # 9 values at rung 1, top 3: 7, 8, 3, so 8 is promotable there; but trial 3 waits
    # promotable at rung 3, which goes first: the slot 8 frees resumes 3, and 8 waits
    assert rep(s, 8, 1, 0.85) == PAUSE
    paused(s, 8)
    assert s.next_action() == (RESUME, 3)                  # the highest rung first
    s.on_trial_resume(3)
    assert s.next_action() == (RESUME, 8)
    s.on_trial_resume(8)
    assert s.next_action() == (START, None)
    assert rep(s, 3, 9, 0.97) == CONTINUE                  # max_t: it completes
    s.on_trial_end(3, "completed")
    start(s, 9)
    assert rep(s, 9, 1, 0.99) == CONTINUE                  # the best at rung 1: it goes on
    s.on_trial_end(9, "interrupted")                       # and ends otherwise
    assert s.next_action() == (START, None)                # top 3 of 10: 9, 7, 8: none paused
    assert s.rung_counts() == {1: 10, 3: 3, 9: 1}
    assert s.paused_trials() == {0: 1, 1: 3, 2: 1, 4: 1, 5: 1, 6: 1, 7: 3}
    assert s.take_discarded() == []


def test_asha_promotion_min_mode_and_worst_values_are_never_promoted():
    s = setup(ASHAScheduler(max_t=9, type="promotion"), mode="min")
    start(s, *range(6))
    assert rep(s, 2, 1, 0.4) == PAUSE
    assert rep(s, 0, 1, NAN) == PAUSE
    assert s.on_report(1, {"epoch": 1}) == PAUSE          # top 1 of 3 is trial 2, still running
    paused(s, 0, 1)
    assert s.next_action() == (START, None)                # trial 2 is best but has not left
    paused(s, 2)
    assert s.next_action() == (RESUME, 2)                  # top 1 of 3 in min mode: .4
    s.on_trial_resume(2)
    assert [rep(s, 5, 1, 0.5), rep(s, 3, 1, 0.45)] == [PAUSE] * 2  # top 1 of 4, 5: trial 2
    paused(s, 3, 5)
    assert rep(s, 4, 1, 0.6) == PAUSE                      # top 2 of 6: .4 (2), .45 (3)
    paused(s, 4)
    assert s.next_action() == (RESUME, 3)
    s.on_trial_resume(3)
    assert s.next_action() == (START, None)                # NaN and no value: never promoted
    start(s, 6)
    assert rep(s, 6, 1, 0.1) == CONTINUE                   # top 2 of 7: .1 (6) itself, .4 (2)


def test_asha_promotion_explicit_levels_promote_by_the_ratio():
    s = setup(ASHAScheduler(rung_levels=[2, 4], max_t=8, type="promotion"))
    start(s, 0, 1)
    assert rep(s, 0, 1, 0.9) == CONTINUE                  # not a rung level
    assert [rep(s, 1, 2, 0.6), rep(s, 0, 2, 0.5)] == [PAUSE, PAUSE]
    paused(s, 0, 1)
    assert s.next_action() == (RESUME, 1)                  # floor(2 * 2/4) = 1


class _AlwaysPauses(ASHAScheduler):
    """The promotion type's plain rule: pause at every rung, resume from a freed slot."""

    def _promotes_itself(self, trial_id, rung):
        return False


@pytest.mark.parametrize("brackets", [1, 2])
def test_asha_promotion_goes_on_exactly_where_a_pause_would_resume_it(brackets):
    """A random run of 4 slots, in lockstep with the plain rule: at each rung a trial goes on
    exactly when pausing it would have resumed it in the slot it freed, and otherwise the freed
    slot gets what the plain rule gives it; the rungs end the same."""
    rng = np.random.default_rng(brackets)
    fast = setup(ASHAScheduler(max_t=27, type="promotion", brackets=brackets), seed=1)
    plain = setup(_AlwaysPauses(max_t=27, type="promotion", brackets=brackets), seed=1)
    running: dict[int, int] = {}  # trial -> the epoch it reports next
    new = iter(range(10**6))
    went_on = 0

    def fill():
        action, trial = fast.next_action()
        assert plain.next_action() == (action, trial)
        if action == RESUME:
            fast.on_trial_resume(trial)
            plain.on_trial_resume(trial)
            running[trial] = max(fast._trials[trial].values) + 1
        else:
            trial = next(new)
            start(fast, trial)
            start(plain, trial)
            running[trial] = 1

    for _ in range(3000):
        while len(running) < 4:
            fill()
        trial = int(rng.choice(sorted(running)))
        epoch, value = running[trial], float(rng.random())
        verdict = rep(fast, trial, epoch, value)
        if epoch == 27 or epoch not in fast.decision_points() \
                or epoch < fast.decision_points()[fast.bracket_of(trial)]:
            assert verdict == rep(plain, trial, epoch, value) == CONTINUE
            running[trial] = epoch + 1
            if epoch == 27:
                del running[trial]
                fast.on_trial_end(trial, "completed")
                plain.on_trial_end(trial, "completed")
            continue
        assert rep(plain, trial, epoch, value) == PAUSE
        plain.on_trial_end(trial, "paused")
        if verdict == CONTINUE:  # the plain rule resumes it in the slot it freed
            went_on += 1
            assert plain.next_action() == (RESUME, trial)
            plain.on_trial_resume(trial)
            running[trial] = epoch + 1
        else:
            assert verdict == PAUSE
            del running[trial]
            fast.on_trial_end(trial, "paused")
            fill()
    assert went_on > 20 and fast.rung_counts() == plain.rung_counts()
    assert fast.paused_trials() == plain.paused_trials()


def test_asha_promotion_resumed_without_checkpoint_pauses_at_the_next_rung():
    s = setup(ASHAScheduler(max_t=27, type="promotion"))
    start(s, 0, 1, 2)
    assert [rep(s, t, 1, v) for t, v in [(0, 0.9), (1, 0.1), (2, 0.2)]] == [PAUSE] * 3
    paused(s, 0, 1, 2)
    assert s.next_action() == (RESUME, 0)
    s.on_trial_resume(0)
    assert rep(s, 0, 3, 0.9) == PAUSE
    paused(s, 0)
    s.on_trial_resume(0)  # the loop may resume a trial on its own; it runs on to the next rung
    # trained again from scratch: epochs 1 and 3 were judged before
    assert [rep(s, 0, e, 0.0) for e in range(1, 9)] == [CONTINUE] * 8
    assert rep(s, 0, 9, 0.9) == PAUSE
    assert s.rung_counts() == {1: 3, 3: 1, 9: 1, 27: 0}


# -- asynchronous Hyperband (brackets > 1) --------------------------------------------------------

def test_bracket_probabilities_follow_synchronous_hyperband_sizes():
    s = setup(ASHAScheduler(max_t=81, brackets=5), seed=1)
    weights = np.array([81 / 5, 27 / 4, 9 / 3, 3 / 2, 1 / 1])  # eta^s / (s + 1), s = 4 .. 0
    assert s.bracket_probabilities == pytest.approx(weights / 28.45)
    n = 20000
    start(s, *range(n))
    counts = np.bincount([s.bracket_of(t) for t in range(n)], minlength=5)
    assert counts / n == pytest.approx(weights / weights.sum(), abs=0.015)
    assert counts[0] > counts[1] > counts[2] > counts[3] > counts[4] > 0
    last = [t for t in range(n) if s.bracket_of(t) == 4][:3]
    for t in last:  # bracket 4 has max_t only: its trials run unjudged
        assert [rep(s, t, e, 0.0) for e in (1, 3, 9, 27, 81)] == [CONTINUE] * 5
    assert s.rung_counts() == {1: 0, 3: 0, 9: 0, 27: 0, 81: 3}
    setup(s)  # setup starts afresh
    assert s.rung_counts()[81] == 0 and s.bracket_of(0) is None
    capped = setup(ASHAScheduler(max_t=81, brackets=10))
    assert capped.n_brackets == 5
    three = setup(ASHAScheduler(max_t=81, brackets=3))
    assert three.bracket_probabilities == pytest.approx(np.array([16.2, 6.75, 3]) / 25.95)
    one = setup(ASHAScheduler(max_t=81))
    start(one, *range(50))
    assert {one.bracket_of(t) for t in range(50)} == {0} and one.bracket_of(50) is None


def test_brackets_are_seeded():
    def draws(seed):
        s = setup(ASHAScheduler(max_t=81, brackets=5), seed=seed)
        start(s, *range(100))
        return [s.bracket_of(t) for t in range(100)]
    assert draws(7) == draws(7)
    assert draws(7) != draws(8)


def test_a_trials_bracket_depends_on_the_seed_and_its_id_not_on_the_order_of_starts():
    # a resumed study replays its ended trials only: the interrupted ones, started again later,
    # leave gaps; each trial still gets the bracket it ran in
    forward = setup(ASHAScheduler(max_t=81, brackets=5), seed=3)
    start(forward, *range(200))
    gaps = setup(ASHAScheduler(max_t=81, brackets=5), seed=3)
    start(gaps, *[t for t in range(200) if t % 7], *reversed(range(0, 200, 7)))
    assert [forward.bracket_of(t) for t in range(200)] == \
        [gaps.bracket_of(t) for t in range(200)]
    assert len({forward.bracket_of(t) for t in range(200)}) == 5


def _by_bracket(s, n):
    start(s, *range(n))
    groups: dict[int, list[int]] = {}
    for t in range(n):
        groups.setdefault(s.bracket_of(t), []).append(t)
    return groups


@pytest.mark.parametrize("per_bracket", [False, True])
def test_rung_system_shared_or_per_bracket(per_bracket):
    s = setup(ASHAScheduler(max_t=9, brackets=2, rung_system_per_bracket=per_bracket), seed=0)
    assert s.bracket_probabilities == pytest.approx([2 / 3, 1 / 3])  # 9/3 and 3/2
    groups = _by_bracket(s, 30)
    (a, b, c), d = groups[0][:3], groups[1][0]
    assert [rep(s, a, 1, 0.1), rep(s, b, 1, 0.2), rep(s, c, 1, 0.3)] == [CONTINUE] * 3
    assert [rep(s, a, 3, 0.9), rep(s, b, 3, 0.8)] == [CONTINUE] * 2
    assert rep(s, c, 3, 0.7) == STOP                   # [.7 .8 .9]: cut-off .8333
    assert rep(s, d, 1, 0.0) == CONTINUE               # below its bracket's first rung
    # shared: [.7 .75 .8 .9] has cut-off .8; per bracket, d is alone at its rung 3
    assert rep(s, d, 3, 0.75) == (CONTINUE if per_bracket else STOP)
    assert s.rung_counts() == {1: 3, 3: 4, 9: 0}
    s.on_trial_start(d, {})  # a retry keeps its bracket
    assert s.bracket_of(d) == 1 and s.rung_counts()[3] == 3


def test_async_hyperband_promotion_scans_every_bracket():
    s = setup(ASHAScheduler(max_t=9, brackets=2, type="promotion", rung_system_per_bracket=True))
    groups = _by_bracket(s, 30)
    zero, one = groups[0][:3], groups[1][:3]
    for t, v in zip(zero, [0.3, 0.2, 0.1]):          # the best first: none goes on itself
        assert rep(s, t, 1, v) == PAUSE
    for t, v in zip(one, [0.6, 0.5, 0.4]):
        assert rep(s, t, 1, v) == CONTINUE             # bracket 1 starts at rung 3
        assert rep(s, t, 3, v) == PAUSE
    paused(s, *zero, *one)
    assert s.next_action() == (RESUME, one[0])         # rung 3 first (bracket 1's system)
    s.on_trial_resume(one[0])
    assert s.next_action() == (RESUME, zero[0])
    s.on_trial_resume(zero[0])
    assert s.next_action() == (START, None)


# -- synchronous Hyperband ------------------------------------------------------------------------

def test_hyperband_table_of_li_et_al():
    assert hyperband_brackets(81) == [
        [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        [(34, 3), (11, 9), (3, 27), (1, 81)],
        [(15, 9), (5, 27), (1, 81)],
        [(8, 27), (2, 81)],
        [(5, 81)],
    ]


def test_hyperband_tables_for_other_settings():
    assert hyperband_brackets(9) == [[(9, 1), (3, 3), (1, 9)], [(5, 3), (1, 9)], [(3, 9)]]
    assert hyperband_brackets(54, grace_period=2) == [
        [(27, 2), (9, 6), (3, 18), (1, 54)], [(12, 6), (4, 18), (1, 54)], [(6, 18), (2, 54)],
        [(4, 54)]]
    # max_t not a power of eta: r_i = 56 / 3^(s-i) rounded, every bracket ends at 56
    assert hyperband_brackets(56) == [
        [(27, 2), (9, 6), (3, 19), (1, 56)], [(12, 6), (4, 19), (1, 56)], [(6, 19), (2, 56)],
        [(4, 56)]]
    assert hyperband_brackets(8, reduction_factor=2) == [
        [(8, 1), (4, 2), (2, 4), (1, 8)], [(6, 2), (3, 4), (1, 8)], [(4, 4), (2, 8)], [(4, 8)]]
    assert hyperband_brackets(1) == [[(1, 1)]]
    with pytest.raises(ValueError, match="grace_period=10 is above max_t=9"):
        hyperband_brackets(9, grace_period=10)
    with pytest.raises(ValueError, match="reduction_factor must be an integer >= 2"):
        hyperband_brackets(9, reduction_factor=1)


def test_hyperband_brackets_option():
    assert HyperbandScheduler(max_t=81).table == hyperband_brackets(81)
    assert HyperbandScheduler(max_t=81, brackets=1).table == hyperband_brackets(81)[:1]
    assert HyperbandScheduler(max_t=81, brackets=2).table == hyperband_brackets(81)[:2]
    assert HyperbandScheduler(max_t=81, brackets=9).table == hyperband_brackets(81)  # capped
    assert setup(HyperbandScheduler(max_t=81)).decision_points() == (1, 3, 9, 27)
    assert setup(HyperbandScheduler(max_t=81, brackets=1)).decision_points() == (1, 3, 9, 27)
    assert setup(HyperbandScheduler(max_t=81, brackets=None)).pauses is True


def _start(s, n, can_start=True):
    ids = []
    for _ in range(n):
        assert s.next_action(can_start) == (START, None)
        ids.append(len(s._trials))
        s.on_trial_start(ids[-1], {})
    return ids


def test_successive_halving_full_run():
    s = setup(HyperbandScheduler(max_t=9, brackets=1))  # rungs (9, 1), (3, 3), (1, 9)
    assert s.decision_points() == (1, 3)
    assert _start(s, 9) == list(range(9))
    assert s.next_action() == (WAIT, None)          # rung 1 is running
    values = [0.1, 0.9, 0.5, 0.7, 0.3, 0.9, 0.2, 0.8, 0.4]
    for t, v in enumerate(values):
        if t != 4:
            assert rep(s, t, 1, v) == PAUSE
    s.on_trial_end(4, "failed")                     # ended at rung 1: worst, never promoted
    paused(s, 0, 1, 2, 3, 5, 6, 7)
    assert s.next_action() == (WAIT, None)          # trial 8 has not paused yet
    assert s.take_discarded() == []
    paused(s, 8)
    assert s.next_action() == (RESUME, 1)           # best 3: .9 (1), .9 (5), .8 (7)
    assert s.next_action() == (RESUME, 1)           # until the loop resumes it
    assert sorted(s.take_discarded()) == [0, 2, 3, 6, 8]
    assert s.take_discarded() == []
    s.on_trial_resume(1)
    assert s.next_action() == (RESUME, 5)
    s.on_trial_resume(5)
    assert s.next_action() == (RESUME, 7)
    s.on_trial_resume(7)
    assert s.next_action() == (WAIT, None)
    assert rep(s, 1, 2, 0.9) == CONTINUE
    assert rep(s, 1, 3, 0.95) == PAUSE
    assert rep(s, 5, 3, 0.92) == PAUSE
    # trial 7 starts again from scratch: epoch 1 was judged before
    assert [rep(s, 7, 1, 0.0), rep(s, 7, 2, 0.0), rep(s, 7, 3, 0.97)] == [CONTINUE, CONTINUE, PAUSE]
    paused(s, 1, 5)
    assert s.next_action() == (WAIT, None)
    paused(s, 7)
    assert s.next_action() == (RESUME, 7)
    assert sorted(s.take_discarded()) == [1, 5]
    s.on_trial_resume(7)
    assert s.next_action() == (WAIT, None)
    assert [rep(s, 7, e, 0.98) for e in range(4, 10)] == [CONTINUE] * 6  # 9 = max_t: completes
    s.on_trial_end(7, "completed")
    assert s.next_action() == (DONE, None)
    assert s.rung_counts() == {1: 8, 3: 3, 9: 1}


def test_successive_halving_makes_do_when_no_trial_can_start():
    s = setup(HyperbandScheduler(max_t=27, brackets=1))  # (27,1) (9,3) (3,9) (1,27)
    _start(s, 10)
    assert s.next_action(can_start=False) == (WAIT, None)
    assert s.bracket_status() == [{"rungs": [(10, 1), (3, 3), (1, 9), (1, 27)], "rung": 0,
                                   "started": 10, "finished": False}]
    for t in range(10):
        assert rep(s, t, 1, t / 10) == PAUSE
        paused(s, t)
    assert s.next_action(False) == (RESUME, 9)
    s.on_trial_resume(9)
    assert s.next_action(False) == (RESUME, 8)
    s.on_trial_resume(8)
    assert s.next_action(False) == (RESUME, 7)
    s.on_trial_resume(7)
    assert s.next_action(False) == (WAIT, None)
    assert sorted(s.take_discarded()) == list(range(7))
    assert [rep(s, 9, 3, 0.1), rep(s, 8, 3, 0.5), rep(s, 7, 3, 0.3)] == [PAUSE] * 3
    paused(s, 9, 8, 7)
    assert s.next_action(False) == (RESUME, 8)       # n_2 = max(1, 10 // 9) = 1
    assert sorted(s.take_discarded()) == [7, 9]
    s.on_trial_resume(8)
    assert rep(s, 8, 9, 0.6) == PAUSE
    paused(s, 8)
    assert s.next_action(False) == (RESUME, 8)       # n_3 = 1: the same trial goes on
    assert s.take_discarded() == []
    s.on_trial_resume(8)
    assert rep(s, 8, 27, 0.7) == CONTINUE
    s.on_trial_end(8, "completed")
    assert s.next_action(False) == (DONE, None)


def test_a_bracket_without_trials_is_dropped():
    s = setup(HyperbandScheduler(max_t=9, brackets=1))
    assert s.next_action(can_start=False) == (DONE, None)


def test_hyperband_fills_brackets_in_order_and_runs_them_side_by_side():
    s = setup(HyperbandScheduler(max_t=9))  # (9,1)(3,3)(1,9) | (5,3)(1,9) | (3,9)
    assert _start(s, 17) == list(range(17))
    assert [s.bracket_of(t) for t in range(17)] == [0] * 9 + [1] * 5 + [2] * 3
    assert s.next_action() == (WAIT, None)
    for t in range(14, 17):                         # bracket 2: max_t only, never paused
        assert [rep(s, t, e, 0.5) for e in range(1, 10)] == [CONTINUE] * 9
        s.on_trial_end(t, "completed")
    for t in range(9, 14):                          # bracket 1: first rung is 3
        assert [rep(s, t, 1, t / 100), rep(s, t, 2, t / 100)] == [CONTINUE, CONTINUE]
        assert rep(s, t, 3, t / 100) == PAUSE
        paused(s, t)
    for t in range(8):
        assert rep(s, t, 1, t / 10) == PAUSE
        paused(s, t)
    # bracket 0 waits for trial 8; bracket 1's rung is complete: it goes on meanwhile
    assert s.next_action() == (RESUME, 13)
    assert sorted(s.take_discarded()) == [9, 10, 11, 12]
    s.on_trial_resume(13)
    assert s.next_action() == (WAIT, None)
    assert rep(s, 8, 1, 0.05) == PAUSE
    paused(s, 8)
    assert s.next_action() == (RESUME, 7)           # best 3 of bracket 0: 7, 6, 5
    s.on_trial_resume(7)
    assert s.next_action() == (RESUME, 6)
    s.on_trial_resume(6)
    assert s.next_action() == (RESUME, 5)
    s.on_trial_resume(5)
    assert sorted(s.take_discarded()) == [0, 1, 2, 3, 4, 8]
    assert rep(s, 13, 9, 0.9) == CONTINUE
    s.on_trial_end(13, "completed")
    assert [rep(s, t, 3, v) for t, v in [(5, 0.3), (6, 0.1), (7, 0.2)]] == [PAUSE] * 3
    paused(s, 5, 6)
    s.on_trial_end(7, "stopped")                    # ended at its rung: never promoted
    assert s.next_action() == (RESUME, 5)
    assert sorted(s.take_discarded()) == [6]
    s.on_trial_resume(5)
    assert rep(s, 5, 9, 0.3) == CONTINUE
    assert s.next_action() == (WAIT, None)
    s.on_trial_end(5, "completed")
    assert s.next_action() == (DONE, None)
    assert [b["finished"] for b in s.bracket_status()] == [True, True, True]


def test_a_budget_above_one_round_of_brackets_gets_round_after_round():
    """--trials 1000 with brackets that start 49 ran 49 and ended the study (round 27)."""
    s = setup(HyperbandScheduler(max_t=3, brackets=1))  # (3, 1), (1, 3): 3 trials a round
    s.set_budget(7, timed=False)
    assert _start(s, 3) == [0, 1, 2]
    assert s.next_action() == (START, None)  # the first round's rung runs: a new round starts
    assert _start(s, 4) == [3, 4, 5, 6]
    assert [s.bracket_of(t) for t in range(7)] == [0] * 7  # the same bracket, a round each
    assert s.next_action(can_start=False) == (WAIT, None)  # the budget is spent
    assert [b["rungs"] for b in s.bracket_status()] == [[(3, 1), (1, 3)]] * 2 + [[(1, 1),
                                                                                  (1, 3)]]
    for t, v in zip(range(7), (0.1, 0.3, 0.2, 0.5, 0.4, 0.6, 0.9)):
        assert rep(s, t, 1, v) == PAUSE
        paused(s, t)
    resumed = []
    while (action := s.next_action(can_start=False))[0] == RESUME:
        resumed.append(action[1])
        s.on_trial_resume(action[1])
    assert resumed == [1, 5, 6]  # each round's best: promoted within its own round
    assert sorted(s.take_discarded()) == [0, 2, 3, 4]
    for t in resumed:
        assert rep(s, t, 3, 0.9) == CONTINUE
        s.on_trial_end(t, "completed")
    assert s.next_action(can_start=False) == (WAIT, None)  # the loop ends: its budget is spent
    assert s.rung_counts() == {1: 7, 3: 3}
    one = setup(HyperbandScheduler(max_t=3, brackets=1))
    for budget, timed, repeat in ((3, False, False), (None, False, False), (4, False, True),
                                  (None, True, True), (2, True, False)):
        one.set_budget(budget, timed)
        assert one.repeat is repeat, (budget, timed)


def test_hyperband_non_finite_values_are_never_promoted():
    s = setup(HyperbandScheduler(max_t=3, brackets=1), mode="min")  # (3, 1), (1, 3)
    _start(s, 3)
    assert rep(s, 0, 1, NAN) == PAUSE
    assert s.on_report(1, {"epoch": 1}) == PAUSE
    assert rep(s, 2, 1, 5.0) == PAUSE
    paused(s, 0, 1, 2)
    assert s.next_action() == (RESUME, 2)
    assert sorted(s.take_discarded()) == [0, 1]
    t = setup(HyperbandScheduler(max_t=3, brackets=1))
    _start(t, 3)
    for i in range(3):
        assert rep(t, i, 1, math.inf) == PAUSE
    paused(t, 0, 1, 2)
    assert t.next_action() == (DONE, None)          # nobody to promote: the bracket ends
    assert sorted(t.take_discarded()) == [0, 1, 2]


def test_hyperband_retries():
    s = setup(HyperbandScheduler(max_t=3, brackets=1))  # (3, 1), (1, 3)
    _start(s, 3)
    assert rep(s, 0, 1, 0.1) == PAUSE
    s.on_trial_end(1, "failed")
    s.on_trial_start(1, {})                          # retried while its rung still runs
    assert rep(s, 1, 1, 0.9) == PAUSE                # judged as usual
    assert rep(s, 2, 1, 0.5) == PAUSE
    paused(s, 0, 2)
    assert s.next_action() == (WAIT, None)           # waits for the retry
    paused(s, 1)
    assert s.next_action() == (RESUME, 1)
    s.on_trial_resume(1)
    s.on_trial_end(1, "failed")                      # fails at the last rung: the bracket ends
    assert s.next_action() == (DONE, None)
    s.on_trial_start(1, {})                          # retried anyway: runs to max_t
    assert [rep(s, 1, 1, 0.0), rep(s, 1, 2, 0.0), rep(s, 1, 3, 0.9)] == [CONTINUE] * 3
    late = setup(HyperbandScheduler(max_t=3, brackets=1))
    _start(late, 3)
    assert [rep(late, 0, 1, 0.1), rep(late, 1, 1, 0.2)] == [PAUSE, PAUSE]
    paused(late, 0, 1)
    late.on_trial_end(2, "failed")                   # the rung is complete: decided without it
    assert late.next_action() == (RESUME, 1)
    late.on_trial_start(2, {})                       # a retry after the decision
    assert rep(late, 2, 1, 0.9) == STOP
    extra = setup(HyperbandScheduler(max_t=3, brackets=1))
    _start(extra, 3)
    extra.on_trial_start(99, {})                     # a trial no bracket asked for
    assert extra.bracket_of(99) is None and extra.bracket_of(5) is None
    assert [rep(extra, 99, e, 0.0) for e in (1, 2, 3)] == [CONTINUE] * 3


def test_hyperband_setup_starts_afresh():
    s = setup(HyperbandScheduler(max_t=3, brackets=1))
    _start(s, 3)
    setup(s)
    assert s.bracket_status()[0]["started"] == 0 and s.next_action() == (START, None)


# -- percentile and median ------------------------------------------------------------------------

def _complete(s, trial, values):
    s.on_trial_start(trial, {})
    for step, v in values.items():
        s.on_report(trial, {"epoch": step, "acc": v})
    s.on_trial_end(trial, "completed")


def test_median_startup_trials_and_every_step():
    s = setup(MedianScheduler(n_startup_trials=2))
    assert s.decision_points() is None and s.pauses is False
    start(s, 0)
    assert [rep(s, 0, e, v) for e, v in [(1, 0.5), (2, 0.6), (3, 0.7)]] == [CONTINUE] * 3
    s.on_trial_end(0, "completed")
    start(s, 1)
    assert rep(s, 1, 1, 0.1) == CONTINUE             # 1 completed < 2 startup trials
    assert [rep(s, 1, e, v) for e, v in [(2, 0.4), (3, 0.5)]] == [CONTINUE] * 2
    s.on_trial_end(1, "completed")
    start(s, 2, 3, 4)
    assert rep(s, 2, 1, 0.25) == STOP                # median at step 1 of [.5 .1]: .3
    assert rep(s, 3, 1, 0.35) == CONTINUE
    assert rep(s, 3, 2, 0.45) == STOP                # best .45, median at step 2 of [.6 .4]: .5
    assert rep(s, 4, 1, 0.3) == CONTINUE             # equal to the median: goes on
    assert rep(s, 4, 2, 0.65) == CONTINUE
    assert rep(s, 4, 3, 0.1) == CONTINUE             # its best .65 counts (median [.7 .5]: .6)
    assert rep(s, 4, 4, 0.0) == CONTINUE             # no completed trial reported step 4
    assert rep(s, 4, 5, 0.0) == CONTINUE
    start(s, 5)
    assert rep(s, 5, 3, 0.55) == STOP                # best .55 < median at step 3 of [.7 .5]: .6


def test_median_min_mode_and_only_completed_trials_count():
    s = setup(MedianScheduler(n_startup_trials=3), mode="min")
    _complete(s, 0, {1: 1.0, 2: 0.8})
    _complete(s, 1, {1: 2.0, 2: 1.6})
    start(s, 2)
    assert rep(s, 2, 1, 0.5) == CONTINUE
    s.on_trial_end(2, "stopped")                     # pruned or stopped: not completed
    for state in ("failed", "interrupted", "paused"):
        start(s, 3)
        assert rep(s, 3, 1, 9.0) == CONTINUE         # still 2 completed < 3
        s.on_trial_end(3, state)
    _complete(s, 4, {1: 3.0, 2: 2.4})
    start(s, 5)
    assert rep(s, 5, 1, 2.1) == STOP                 # median at step 1 of [1 2 3]: 2
    start(s, 6)
    assert rep(s, 6, 1, 2.0) == CONTINUE
    assert rep(s, 6, 2, 1.7) == STOP                 # best 1.7 > median of [.8 1.6 2.4]: 1.6


def test_no_completed_trial_means_no_pruning_even_without_startup_trials():
    s = setup(MedianScheduler(n_startup_trials=0))
    start(s, 0)
    assert rep(s, 0, 1, NAN) == CONTINUE
    s.on_trial_end(0, "completed")
    start(s, 1)
    assert rep(s, 1, 1, NAN) == STOP                 # a NaN best value is pruned
    start(s, 2)
    assert s.on_report(2, {"epoch": 1}) == STOP      # so is a missing metric
    start(s, 3)
    assert rep(s, 3, 2, 0.9) == CONTINUE             # no completed trial reported step 2
    assert rep(s, 3, 3, NAN) == CONTINUE             # best over its steps is .9


def test_percentile_keeps_the_top_quarter():
    for mode, below, above in [("max", 0.32, 0.33), ("min", 0.18, 0.17)]:
        s = setup(PercentileScheduler(25.0, n_startup_trials=4), mode=mode)
        for t, v in enumerate([0.1, 0.2, 0.3, 0.4]):
            _complete(s, t, {1: v})
        start(s, 10, 11)
        # max: the 75th percentile of [.1 .2 .3 .4] is .325; min: the 25th is .175
        assert rep(s, 10, 1, below) == STOP
        assert rep(s, 11, 1, above) == CONTINUE


def test_percentile_warmup_steps():
    s = setup(PercentileScheduler(50.0, n_startup_trials=1, n_warmup_steps=2))
    _complete(s, 0, {0: 0.5, 1: 0.5, 2: 0.5, 3: 0.5})
    start(s, 1)
    assert rep(s, 1, 0, 0.1) == CONTINUE             # step 0 < 2 warm-up steps
    assert rep(s, 1, 1, 0.1) == CONTINUE
    assert rep(s, 1, 2, 0.1) == STOP


def test_percentile_interval_steps_follow_optuna():
    s = setup(PercentileScheduler(50.0, n_startup_trials=1, n_warmup_steps=1, interval_steps=3))
    _complete(s, 0, {e: float(e) for e in range(10)})  # checks at steps 1, 4, 7, ...
    start(s, 1, 2, 3)
    assert rep(s, 1, 0, 1.5) == CONTINUE             # warm-up
    assert rep(s, 1, 1, 1.5) == CONTINUE             # checked: 1.5 >= 1
    assert rep(s, 1, 2, 1.5) == CONTINUE             # not checked (1.5 < 2)
    assert rep(s, 1, 3, 1.5) == CONTINUE             # not checked (1.5 < 3)
    assert rep(s, 1, 4, 1.5) == STOP                 # checked: 1.5 < 4
    assert rep(s, 2, 0, 3.5) == CONTINUE
    assert rep(s, 2, 3, 3.5) == CONTINUE             # first report since check 1: 3.5 >= 3
    assert rep(s, 2, 5, 3.5) == STOP                 # step 4 was not reported: checked at 5
    assert rep(s, 3, 3, 3.5) == CONTINUE
    assert rep(s, 3, 4, 3.5) == STOP                 # 3 is checkpoint 1's, 4 is a new one


def test_percentile_n_min_trials():
    s = setup(PercentileScheduler(50.0, n_startup_trials=1, n_min_trials=2))
    _complete(s, 0, {1: 0.5, 2: 0.5})
    _complete(s, 1, {1: 0.5})
    start(s, 2, 3)
    assert rep(s, 2, 1, 0.1) == STOP                 # 2 completed trials reported step 1
    assert rep(s, 3, 2, 0.1) == CONTINUE             # only 1 reported step 2


def test_percentile_reports_it_cannot_judge():
    s = setup(PercentileScheduler(50.0, n_startup_trials=1))
    _complete(s, 0, {1: 0.5, 2: 0.5})
    start(s, 1)
    assert s.on_report(1, {"acc": 0.0}) == CONTINUE              # no step
    assert s.on_report(1, {"epoch": -1, "acc": 0.0}) == CONTINUE  # not a step
    assert s.on_report(1, {"epoch": 1.5, "acc": 0.0}) == CONTINUE
    assert rep(s, 1, 1, 0.9) == CONTINUE
    assert rep(s, 1, 1, 0.0) == CONTINUE             # a step seen before is not judged again
    assert rep(s, 1, 2.0, 0.6) == CONTINUE           # best .9 (the first value at step 1 kept)
    s.on_trial_start(1, {})                          # a retry forgets its values
    assert rep(s, 1, 1, 0.0) == STOP


@pytest.mark.parametrize("kwargs, message", [
    ({"percentile": 101}, "percentile must be a number between 0 and 100"),
    ({"percentile": -1}, "percentile must be a number between 0 and 100"),
    ({"percentile": "50"}, "percentile must be a number between 0 and 100"),
    ({"n_startup_trials": -1}, "n_startup_trials must be an integer >= 0"),
    ({"n_warmup_steps": -1}, "n_warmup_steps must be an integer >= 0"),
    ({"interval_steps": 0}, "interval_steps must be an integer >= 1"),
    ({"n_min_trials": 0}, "n_min_trials must be an integer >= 1"),
    ({"n_startup_trials": 1.5}, "n_startup_trials must be an integer >= 0"),
])
def test_percentile_option_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PercentileScheduler(**kwargs)


def test_median_is_the_fiftieth_percentile():
    m = MedianScheduler(n_startup_trials=3, n_warmup_steps=1, interval_steps=2, n_min_trials=4)
    assert m.percentile == 50.0 and m.name == "median"
    assert (m.n_startup_trials, m.n_warmup_steps, m.interval_steps, m.n_min_trials) == (3, 1, 2, 4)
    assert repr(m) == ("MedianScheduler(n_startup_trials=3, n_warmup_steps=1, interval_steps=2, "
                       "n_min_trials=4)")
    assert repr(PercentileScheduler()) == ("PercentileScheduler(percentile=25.0, n_startup_trials=5, "
                                           "n_warmup_steps=0, interval_steps=1, n_min_trials=1)")


# -- registry -------------------------------------------------------------------------------------

def test_registry_and_make_scheduler():
    assert SCHEDULERS == {"fifo": FIFOScheduler, "asha": ASHAScheduler,
                          "hyperband": HyperbandScheduler, "median": MedianScheduler,
                          "percentile": PercentileScheduler}
    for name, cls in SCHEDULERS.items():
        assert isinstance(make_scheduler(name), cls) and cls.name == name
    a = make_scheduler("ASHA", max_t=27, type="promotion")
    assert isinstance(a, ASHAScheduler) and a.levels == [1, 3, 9, 27] and a.pauses
    assert make_scheduler(a) is a and isinstance(make_scheduler(None), FIFOScheduler)
    assert make_scheduler("percentile", percentile=10).percentile == 10.0


def test_make_scheduler_names_an_unknown_option():
    with pytest.raises(ValueError) as e:
        make_scheduler("asha", max_epochs=27)
    assert str(e.value) == ("scheduler 'asha' has no option 'max_epochs': its options are max_t, "
                            "grace_period, reduction_factor, rung_levels, type, brackets, "
                            "rung_system_per_bracket, judge")
    with pytest.raises(ValueError, match=r"has no option 'max-t' \(did you mean 'max_t'\?\)"):
        make_scheduler("hyperband", **{"max-t": 27})
    with pytest.raises(ValueError, match=r"scheduler 'median' has no option 'percentile' "
                                         r"\(percentile is an option of scheduler 'percentile': "
                                         r"give scheduler='percentile', --scheduler percentile in "
                                         r"%%tune\): its options are n_startup_trials, "):
        make_scheduler("median", percentile=10)
    with pytest.raises(ValueError, match=r"scheduler 'fifo' has no option 'max_t' \(max_t is an "
                                         r"option of scheduler 'asha' and 'hyperband': give "
                                         r"scheduler='asha', .*\): it takes no options"):
        make_scheduler("fifo", max_t=9)
    with pytest.raises(ValueError, match="type must be"):
        make_scheduler("asha", type="bogus")
    with pytest.raises(ValueError, match="unknown scheduler"):
        make_scheduler("asha2")


def test_reprs_show_the_options():
    assert repr(ASHAScheduler(max_t=81)) == ("ASHAScheduler(max_t=81, grace_period=1, "
                                             "reduction_factor=3, type='stopping', brackets=1)")
    assert repr(ASHAScheduler(rung_levels=[1, 5], type="promotion", brackets=2)) == (
        "ASHAScheduler(max_t=None, grace_period=1, reduction_factor=3, rung_levels=[1, 5], "
        "type='promotion', brackets=2, rung_system_per_bracket=False)")
    assert repr(HyperbandScheduler(max_t=27, brackets=1)) == (
        "HyperbandScheduler(max_t=27, grace_period=1, reduction_factor=3, brackets=1)")


def test_a_last_rung_just_short_of_max_t_is_named_with_the_max_t_that_fits():
    """--max-t 30 gave rungs 1, 3, 9, 27, 30: three trials were stopped 3 epochs from the end
    (first-day test, round 41)."""
    import nbtune
    from nbtune.schedule.asha import ASHAScheduler

    assert ASHAScheduler(max_t=30).layout_note() == (
        "the asha scheduler's last rungs, 27 and max_t=30, are close: a trial stopped at 27 has "
        "trained 90% of max_t; give max_t=27 or 81 (%%tune --max-t 27), where the rungs "
        "grace_period * reduction_factor**k end")
    for fine in (27, 81, 100, 56):
        assert ASHAScheduler(max_t=fine).layout_note() is None, fine
    assert ASHAScheduler(max_t=30, rung_levels=[1, 5, 27]).layout_note() is None  # by hand
    with pytest.warns(nbtune.NbtuneWarning, match=r"^the asha scheduler's last rungs, 27 and "
                                                  r"max_t=30, are close"), \
            pytest.raises(ConnectionError):  # said before the cluster is reached
        nbtune.tune(lambda c: c["x"], {"x": nbtune.uniform(0, 1)}, mode="min", n_trials=2,
                    scheduler="asha", max_t=30, cluster="tcp://127.0.0.1:1", storage=None,
                    progress=False)
