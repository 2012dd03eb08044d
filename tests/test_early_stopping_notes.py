"""The notes for early-stopping mistakes that would pass in silence: each given once a study, at
the user's line, naming the trial, what it did and the fix; none for the README's recipe."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import nbtune
from nbtune import trial as T
from nbtune.notebook.trialfn import cell_filename

PROMOTION = dict(scheduler="asha", type="promotion", rung_levels=[3], max_t=9)


def tune(train, space=None, **options):
    """A small grid study, one trial at a time (the trials pause, are promoted and end in the
    same order on every run); returns the study and the NbtuneWarnings it gave."""
    space = space or {"q": nbtune.grid(6, 5, 4, 3, 2, 1)}
    options = {"cluster": None, "storage": None, "progress": False, "concurrency": 1,
               "searcher": "grid", "metric": "score", "mode": "max", **options}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = nbtune.tune(train, space, **options)
    return study, [w for w in caught if issubclass(w.category, nbtune.NbtuneWarning)]


def weights(config, state):
    """The README recipe's model: numpy weights trained one epoch at a time."""
    return state["w"] if state else np.zeros(4) + config["q"]


def recipe(config):
    """The README's checkpoint recipe: resumes after the epoch of its checkpoint."""
    state = nbtune.get_checkpoint()
    w, first = weights(config, state), state["epoch"] + 1 if state else 1
    for epoch in range(first, 10):
        w = w + 0.1 * np.tanh(w)
        nbtune.report(epoch=epoch, score=float(w.mean()),
                      checkpoint={"w": w, "epoch": epoch})


def loss_then_accuracy(config):
    """Reports the training loss with the epoch, then the validation score alone."""
    state = nbtune.get_checkpoint()
    first = state["epoch"] + 1 if state else 1
    for epoch in range(first, 4):
        nbtune.report(epoch=epoch, loss=1 / (config["q"] * epoch), checkpoint={"epoch": epoch})
        nbtune.report(score=config["q"] * epoch)


@pytest.mark.parametrize("scheduler, options", [
    ("asha", {"type": "promotion"}), ("hyperband", {})], ids=["promotion asha", "hyperband"])
def test_the_metric_reported_apart_from_the_resource_is_named_when_trials_pause(
        client, scheduler, options):
    study, warned = tune(loss_then_accuracy, cluster=client, scheduler=scheduler, max_t=3,
                         **options)
    assert [str(w.message) for w in warned][:1] == [
        f"trial 0 reported 'epoch' without 'score' (it reported epoch, loss): the {scheduler} "
        f"scheduler judges each rung by 'score', so it stopped the trial at its first rung; "
        f"report both at once, report(epoch=N, score=...), or name the key reported as the "
        f"metric (metric=KEY, %%tune --metric KEY)"]
    assert warned[0].filename == __file__
    assert [r.get("epoch") for r in study.trials[0].reports] == [1]  # it never went on
    # failed, as a trial without the metric is (they were "stopped", the study ended as run),
    # and the first three failing alike end the study
    assert {t.state for t in study.trials} == {T.FAILED}
    assert study.trials[0].error.startswith(
        f"the trial never reported the metric 'score' before its {scheduler} scheduler judged "
        f"it at epoch 1 (it reported epoch, loss)")
    assert "its first 3 trials (0, 1, 2) all failed alike" in str(warned[-1].message)


def ends_at_5(config):
    """The README recipe with a loop shorter than max_t=9."""
    state = nbtune.get_checkpoint()
    first = state["epoch"] + 1 if state else 1
    for epoch in range(first, 6):
        nbtune.report(epoch=epoch, score=config["q"] * epoch, checkpoint={"epoch": epoch})


def test_trials_that_complete_below_max_t_are_named(client):
    study, warned = tune(ends_at_5, cluster=client, **PROMOTION)
    assert [str(w.message) for w in warned] == [
        "trial 0 completed at epoch 5, below max_t=9: its loop ends before max_t, so the asha "
        "scheduler's levels above 5 are never reached (a trial promoted past 5 resumes with "
        "nothing left to train); run the loop to max_t, for epoch in range(first, max_t + 1), "
        "or give max_t=5 (%%tune --max-t 5). A model that stopped itself (its own early "
        "stopping) ends below max_t by design: it is ranked by its value, as any completed "
        "trial"]
    assert warned[0].filename == __file__
    assert study.trials[0].state == T.COMPLETED


def from_zero(config):
    """Keras' on_epoch_end and range(max_t) count from 0."""
    for epoch in range(5):
        nbtune.report(epoch=epoch, score=config["q"] * epoch)


def test_trials_that_count_the_resource_from_0_are_named_with_that_fix(client):
    """epoch from 0 to max_t - 1 was named as a loop that ends short, whose fix "give
    max_t=4" kept every rung one epoch late (first-day test, round 50)."""
    study, warned = tune(from_zero, cluster=client, scheduler="asha", max_t=5)
    assert [str(w.message) for w in warned] == [
        "trial 0 reported epoch from 0 and ended at 4, one below max_t=5: the asha scheduler "
        "counts epoch from 1 (its rung at epoch 1 is the first one trained), so each rung "
        "judged the trial one epoch late; report epoch=epoch + 1 (range() and Keras' "
        "on_epoch_end count from 0), or loop over range(1, max_t + 1)"]


def test_a_report_inside_lightnings_sanity_check_is_left_out(monkeypatch):
    """Lightning runs its sanity check inside Trainer._run_sanity_check, a callback's report
    there read as epoch 1 (round 50); here a function of that name and file stands in for
    Lightning, which `make test-torch` runs for real (tests/test_frameworks.py)."""
    import sys
    import types

    from nbtune.run.channel import LocalContext, activate, deactivate
    from nbtune.run.frameworks import SANITY_NOTE

    monkeypatch.setitem(sys.modules, "pytorch_lightning", types.ModuleType("pytorch_lightning"))
    code = {}
    exec(compile("def _run_sanity_check(self, hook):\n    self.sanity_checking = True\n"
                 "    hook()\n    self.sanity_checking = False\n",
                 "/site-packages/lightning/pytorch/trainer/trainer.py", "exec"), code)
    trainer = types.SimpleNamespace(sanity_checking=False)
    ctx = LocalContext()
    token = activate(ctx)
    try:
        with pytest.warns(nbtune.NbtuneWarning) as warned:
            code["_run_sanity_check"](trainer, lambda: nbtune.report(epoch=1, acc=0.1))
        nbtune.report(epoch=1, acc=0.8)
    finally:
        deactivate(token)
    assert [str(w.message) for w in warned] == [SANITY_NOTE]
    assert ctx.reports == [{"epoch": 1, "acc": 0.8}]


def test_trials_that_report_past_max_t_are_named(client):
    study, warned = tune(recipe, cluster=client, scheduler="asha", max_t=3)
    assert [str(w.message) for w in warned] == [
        "trial 0 went on past max_t=3: nbtune ended it at its report of epoch 4, as Ray Tune and "
        "Syne Tune end a trial at max_t (the asha scheduler judges trials up to epoch 3), and "
        "recorded it completed; end the loop at max_t, for epoch in range(first, max_t + 1), to "
        "spare each trial what it trains past max_t, or give a larger max_t (%%tune --max-t N) "
        "for longer trials"]
    # the first two reach max_t (fewer values at a rung than the reduction factor) and are
    # ended, complete, at epoch 4; the rest are stopped at rung 1
    assert [max(r["epoch"] for r in t.reports) for t in study.trials] == [4, 4, 1, 1, 1, 1]
    assert [t.state for t in study.trials[:2]] == [T.COMPLETED] * 2
    assert warned[0].filename == __file__


def every_5_epochs(config):
    for epoch in range(5, 26, 5):
        nbtune.report(epoch=epoch, score=config["q"] * epoch)


def test_reports_that_never_land_on_a_rung_are_named(client):
    study, warned = tune(every_5_epochs, cluster=client, scheduler="asha", max_t=25)
    assert [str(w.message) for w in warned] == [
        "trial 0 reported epoch 5, 10, 15, 20, 25: none is a level at which the asha scheduler "
        "judges trials (its rungs 1, 3, 9 below max_t=25), so early stopping is off; report "
        "every epoch, or rung_levels=[5, 15] (%%tune --rung-levels 5,15)"]
    assert warned[0].filename == __file__
    assert {t.state for t in study.trials} == {T.COMPLETED}  # none was judged
    # and the study says it, where the warning was in the cell's output alone: it read as an
    # ASHA study whose every trial passed every rung (first-day test, round 65)
    said = ("the asha scheduler judged no trial: the trials reported epoch 5, 10, 15, 20, 25, "
            "and none is a rung (1, 3, 9 below max_t=25), so each trained in full; report every "
            "epoch, or rung_levels=[5, 15] (%%tune --rung-levels 5,15)")
    assert ("scheduler", said) in study.summary().facts()
    from nbtune.findings import unjudged_note

    study.trials[0].reports.insert(0, {"epoch": 3, "score": 1.0})  # one report on a rung
    assert unjudged_note(study) is None


def restarts_the_count(config):
    """Takes its checkpoint back but counts the epochs from 1 again."""
    state = nbtune.get_checkpoint()
    w = weights(config, state)
    for epoch in range(1, 10):
        w = w + 0.1 * np.tanh(w)
        nbtune.report(epoch=epoch, score=float(w.mean()), checkpoint={"w": w, "epoch": epoch})


def test_a_resumed_trial_that_counts_from_the_start_again_is_named(client):
    study, warned = tune(restarts_the_count, cluster=client, **PROMOTION)
    assert [str(w.message) for w in warned] == [
        "trial 0 resumed from its checkpoint at epoch 3, and its first report after it was at "
        "epoch 1: its loop counts epoch from the start again, so it trains more than it reports "
        "and is compared unfairly with the others; continue from the checkpoint's epoch: state "
        "= nbtune.get_checkpoint(), then count from state[\"epoch\"] + 1, as the checkpoint "
        "recipe in nbtune's README does"]
    assert warned[0].filename == __file__
    assert [r["epoch"] for r in study.trials[0].reports] == [1, 2, 3, *range(1, 10)]


def logs_then_keeps(config):
    """The README's recipe, each epoch reported twice: first by a logging helper without the
    checkpoint, then with it; the pause at epoch 3 comes at the first, so the trial resumes
    from epoch 2's checkpoint and goes on at epoch 3 again, as it should."""
    state = nbtune.get_checkpoint()
    w, first = weights(config, state), state["epoch"] + 1 if state else 1
    for epoch in range(first, 10):
        w = w + 0.1 * np.tanh(w)
        nbtune.report(epoch=epoch, score=float(w.mean()))
        nbtune.report(epoch=epoch, score=float(w.mean()), checkpoint={"w": w, "epoch": epoch})


def test_a_trial_resumed_from_a_checkpoint_before_its_pause_is_not_named_as_restarting(client):
    """It was told that its loop "counts epoch from the start again", with the recipe it
    followed as the fix (check round 53)."""
    study, warned = tune(logs_then_keeps, cluster=client, **PROMOTION)
    assert not [str(w.message) for w in warned if "from the start again" in str(w.message)]
    assert [r["epoch"] for r in study.trials[0].reports][:6] == [1, 1, 2, 2, 3, 3]


def no_checkpoint(config):
    """Never passes checkpoint= to report: a resumed trial starts from scratch."""
    w = weights(config, None)
    for epoch in range(1, 10):
        w = w + 0.1 * np.tanh(w)
        nbtune.report(epoch=epoch, score=float(w.mean()))


NO_CHECKPOINT = (
    "trial 0 was resumed from its pause at epoch 3 without a checkpoint (no report before the "
    "pause passed checkpoint=...), so it trains again from the beginning; pass the trial's state "
    "with each report, report(epoch=N, ..., checkpoint=state), and take it back with "
    "nbtune.get_checkpoint() (in %%tune the name checkpoint holds what the trial resumes from: "
    "assigning it saves nothing)")


def test_a_trial_resumed_without_a_checkpoint_is_named(client):
    study, warned = tune(no_checkpoint, cluster=client, **PROMOTION)
    assert [str(w.message) for w in warned] == [NO_CHECKPOINT]  # not also as a restart
    assert warned[0].filename == __file__
    assert [r["epoch"] for r in study.trials[0].reports] == [1, 2, 3, *range(1, 10)]


def cell_notes(shell, line: str, cell: str) -> list:
    """The nbtune warnings a %%tune cell with ``line``'s flags gave, once it ran well."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = shell.run_cell(f"%%tune {line}\n" + cell)
    assert res.success, res.error_in_exec
    return [w for w in caught if issubclass(w.category, nbtune.NbtuneWarning)]


def test_a_tune_cell_that_assigns_checkpoint_instead_of_reporting_it_is_named(shell):
    cell = ("q = grid(6, 5, 4, 3, 2, 1)\n"
            "first = checkpoint['epoch'] + 1 if checkpoint else 1\n"
            "for epoch in range(first, 10):\n"
            "    checkpoint = {'epoch': epoch}\n"
            "    report(epoch=epoch, score=q * epoch)\n")
    warned = cell_notes(shell, "--searcher grid --metric score --mode max --concurrency 1 "
                                "--scheduler asha --type promotion --rung-levels 3 --max-t 9", cell)
    assert [str(w.message) for w in warned] == [NO_CHECKPOINT]
    assert warned[0].filename == cell_filename(shell)


def test_a_loop_over_folds_that_counts_its_rounds_from_1_in_each_is_named_once(shell):
    """A hand-written 5-fold loop reported each fold's boosting rounds from 1 again: ASHA judged
    fold 1 alone, without a word (the best trial had 500 reports; user test of a Kaggle user's
    CV loop). Named once for the study, at the cell's line, for every trial that did it."""
    cell = ("q = grid(4, 3, 2, 1)\n"
            "for fold in range(3):\n"
            "    for r in range(1, 10):\n"
            "        report(round=r, auc=q * r / 100 + fold / 1000)\n")
    warned = cell_notes(shell, "--searcher grid --metric auc --mode max --concurrency 1 "
                                "--scheduler asha --resource round --max-t 9", cell)
    assert [str(w.message) for w in warned] == [
        "trial 0's round went from 9 back to 1 (a loop over folds?): the asha scheduler judged "
        "only its first pass, and its learning curve draws the passes over one another; report "
        "once per fold, the mean so far, with resource='fold', max_t=K (%%tune --resource fold "
        "--max-t K, K folds), or, for stages of one training, keep round rising across them"]
    assert warned[0].filename == cell_filename(shell)
    assert len(shell.user_ns["study"].trials[0].reports) == 27  # three passes of 9 rounds


def test_a_loop_over_folds_is_named_without_early_stopping_too(client):
    def folds(config):
        for fold in range(2):
            for epoch in range(1, 4):
                nbtune.report(epoch=epoch, score=config["q"] * epoch)

    _, warned = tune(folds, {"q": nbtune.grid(2, 1)}, cluster=client)
    assert [str(w.message) for w in warned] == [
        "trial 0's epoch went from 3 back to 1 (a loop over folds?): its learning curve draws "
        "the passes over one another; report once per fold, the mean so far, with "
        "resource='fold', max_t=K (%%tune --resource fold --max-t K, K folds), or, for stages "
        "of one training, keep epoch rising across them"]


@pytest.mark.parametrize("options", [
    {"scheduler": "asha"}, {"scheduler": "asha", "type": "promotion"},
    {"scheduler": "asha", "type": "promotion", "rung_levels": [3]},
    {"scheduler": "hyperband", "space": {"q": nbtune.uniform(1, 6)}, "searcher": "random",
     "seed": 0}],  # 17 trials: what its brackets start
    ids=["stopping asha", "promotion asha", "promotion asha, rung 3", "hyperband"])
def test_the_readme_recipe_gives_no_note(client, options):
    study, warned = tune(recipe, cluster=client, max_t=9, **options)
    assert warned == []
    for trial in study.trials:  # resumed from checkpoints: each epoch once, up to max_t
        assert [r["epoch"] for r in trial.reports] == list(range(1, len(trial.reports) + 1))
    reached = {len(t.reports) for t in study.trials}
    assert min(reached) < max(reached)  # some went on past a rung, some ended there


def flat_at_first(config):
    """Scores 0.5 at epochs 1 and 2 whatever its config (a model that learns nothing there),
    then its config's own."""
    for epoch in range(1, 10):
        nbtune.report(epoch=epoch, score=0.5 if epoch < 3 else config["q"] * epoch)
    return config["q"] * 9


def test_a_rung_where_every_trial_reports_the_same_value_is_named_once():
    """At 11 and 33 rows every candidate of a SearchCV scored 0.5, and ASHA's choice there was
    chance, without a word (first-day test, round 9)."""
    space = {"q": nbtune.grid(*range(1, 11))}
    study, notes = tune(flat_at_first, space, scheduler="asha", max_t=9, grace_period=1,
                        reduction_factor=3)
    said = [str(w.message) for w in notes if "cannot tell them apart" in str(w.message)]
    assert said == ["the first 8 trials to reach epoch 1 all reported score = 0.5: the asha "
                    "scheduler's rung there cannot tell them apart, so which of them go on is "
                    "chance; start the rungs where the trials differ (a larger grace_period, or "
                    "rung_levels)"]
    _, notes = tune(flat_at_first, space, scheduler="asha", max_t=9, grace_period=3,
                    reduction_factor=3)  # the rungs start where the trials differ
    assert not [w for w in notes if "cannot tell them apart" in str(w.message)]


def test_the_notes_fixes_speak_of_a_boosters_callback_where_the_resource_is_its_rounds():
    """A booster's loop is the library's: "count from state['round'] + 1" and "end the loop at
    max_t" did not fit an XGBoost callback resumed with xgb_model=, whose epoch starts from 0
    again (first-day test, round 29)."""
    from nbtune.contract.outcome import past_max_t_note, restart_note
    from nbtune.schedule import make_scheduler

    for resource in ("round", "boosting_rounds", "n_estimators"):
        assert restart_note(1, resource, 3, 1).endswith(
            "; from a booster's callback, report the booster's own count (XGBoost's "
            "model.num_boosted_rounds(): with xgb_model= its epoch starts from 0 again)")
    assert "booster" not in restart_note(1, "epoch", 3, 1)
    trial = T.Trial(0, {"q": 0.5}, state=T.COMPLETED,
                    reports=[{"round": r, "score": 0.5} for r in (1, 2, 3, 100000)])
    asha = make_scheduler("asha", max_t=3)
    assert "range(first, max_t + 1) (a booster: num_boost_round=max_t), to spare" \
        in past_max_t_note(trial, "round", asha)
    epochs = T.Trial(0, {"q": 0.5}, state=T.COMPLETED,
                     reports=[{"epoch": r, "score": 0.5} for r in (1, 2, 3, 9)])
    assert "booster" not in past_max_t_note(epochs, "epoch", asha)
