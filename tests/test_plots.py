"""study.plot.*, study.summary() and to_dataframe on real studies, live and loaded from storage."""
from __future__ import annotations

import base64
import functools
import math
import re
import time

import numpy as np
import pytest
from matplotlib.figure import Figure

import nbtune
from nbtune import trial as T
from nbtune.images import FixedFrame
from nbtune.drawing import FADED
from nbtune.ranking import rank_rule
from nbtune.space import Space
from nbtune.study import Study

from html_tables import trials_table, written_alike

SPACE = {"x": nbtune.uniform(0.0, 1.0), "lr": nbtune.loguniform(1e-4, 1e-1),
         "act": nbtune.choice("relu", "<b>tanh</b>")}
FIRST = [{"x": 0.5, "lr": 0.09},                                  # fails before any report
         {"x": 0.99, "lr": 0.001, "act": "<b>tanh</b>"},          # fails after two reports
         {"x": 0.3, "lr": 0.001, "act": "<b>tanh</b>"}]           # the best there can be
PNG = b"\x89PNG\r\n\x1a\n"


def three_epochs(config):
    """loss = (x - 0.3)**2 + 1/epoch: only x matters. lr > 0.05 fails, x > 0.95 fails late."""
    if config["lr"] > 0.05:
        raise ValueError("diverged")
    for epoch in (1, 2, 3):
        if epoch == 3 and config["x"] > 0.95:
            raise RuntimeError("late failure")
        nbtune.report(epoch=epoch, loss=(config["x"] - 0.3) ** 2 + 1.0 / epoch)


def linear(config):
    for epoch in range(1, 10):
        nbtune.report(epoch=epoch, score=config["q"] * epoch)
    return config["q"] * 9


def no_reports(config):
    return config["x"]


def always_fails(config):
    raise ValueError("no")


@pytest.fixture(scope="module")
def studies(client, tmp_path_factory):
    """Two studies run once for the module: random search with failures, and ASHA."""
    path = str(tmp_path_factory.mktemp("plots") / "studies.db")
    fifo = nbtune.tune(three_epochs, SPACE, metric="loss", mode="min", n_trials=18, seed=3,
                       points_to_evaluate=FIRST, cluster=client, storage=path, study="fifo")
    # as in test_early_stopping: q=9 and q=8 reach max_t, the others stop at the first rung
    asha = nbtune.tune(linear, {"q": nbtune.grid(9, 8, 7, 6, 5, 4, 3)}, searcher="grid",
                       metric="score", mode="max", scheduler="asha", max_t=9, concurrency=1,
                       cluster=client, storage=path, study="asha")
    return {"fifo": fifo, "asha": asha, "path": path}


@pytest.fixture(params=["live", "loaded"])
def fifo(request, studies):
    if request.param == "live":
        return studies["fifo"]
    return nbtune.load_study("fifo", storage=studies["path"])


@pytest.fixture(params=["live", "loaded"])
def asha(request, studies):
    if request.param == "live":
        return studies["asha"]
    return nbtune.load_study("asha", storage=studies["path"])


def lines_by_gid(ax):
    return {line.get_gid(): line for line in ax.get_lines()}


def completed(study):
    return [t for t in study.trials if t.state == T.COMPLETED]


def test_the_studies_have_what_the_plots_need(studies):
    fifo, asha = studies["fifo"], studies["asha"]
    assert [t.state for t in fifo.trials[:3]] == [T.FAILED, T.FAILED, T.COMPLETED]
    assert [r["epoch"] for r in fifo.trials[1].reports] == [1, 2]
    assert len(completed(fifo)) >= 8 and fifo.best.id == 2
    by_q = {t.config["q"]: t for t in asha.trials}
    assert [by_q[q].state for q in (9, 8, 7, 3)] == [T.COMPLETED, T.COMPLETED, T.STOPPED,
                                                     T.STOPPED]


def test_history_shows_each_trial_the_best_so_far_and_the_failures(fifo):
    fig = fifo.plot.history()
    png, metadata = fig._repr_png_()  # with its title as the image's alternative text, which
    # nbconvert's HTML found missing (first-day test, round 22)
    assert isinstance(fig, Figure) and png.startswith(PNG)
    assert metadata == {"alt": f"{fifo.name}: {fifo.metric} ({fifo.mode}) by trial"}
    ax = fig.axes[0]
    lines = lines_by_gid(ax)
    done = completed(fifo)
    assert lines["completed"].get_xydata().tolist() == [[t.id, t.value] for t in done]
    best = np.minimum.accumulate([t.value for t in done])
    assert lines["best"].get_ydata().tolist() == pytest.approx(best.tolist())
    failed = [t.id for t in fifo.trials if t.state == T.FAILED]
    assert lines["failed"].get_xdata().tolist() == failed
    assert lines["failed"].get_transform() == ax.get_xaxis_transform()  # y on the axes' scale
    # at the worse edge: the top of a minimised loss (at its bottom they read as the best)
    assert set(lines["failed"].get_ydata()) == {0.98}
    assert "stopped" not in lines
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("trial", "loss")


def test_history_of_a_max_study_keeps_the_running_maximum(asha):
    ax = asha.plot.history().axes[0]
    lines = lines_by_gid(ax)
    assert lines["best"].get_ydata().tolist() == [81, 81]  # q=9 then q=8
    stopped = [t for t in asha.trials if t.state == T.STOPPED]
    assert lines["stopped"].get_xydata().tolist() == [[t.id, t.value] for t in stopped]
    assert lines["stopped"].get_alpha() == FADED


def test_learning_curves_one_line_per_trial_with_reports(fifo):
    ax = fifo.plot.learning_curves().axes[0]
    lines = lines_by_gid(ax)
    with_reports = [t for t in fifo.trials if t.reports]
    assert set(lines) == {f"trial-{t.id}" for t in with_reports}
    for t in with_reports:
        expected = [[r["epoch"], r["loss"]] for r in t.reports]
        assert np.allclose(lines[f"trial-{t.id}"].get_xydata(), expected)
    best = lines[f"trial-{fifo.best.id}"]
    assert best.get_linewidth() > max(line.get_linewidth() for gid, line in lines.items()
                                      if gid != f"trial-{fifo.best.id}")
    assert lines["trial-1"].get_alpha() == FADED  # failed after two epochs
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "loss")
    assert ax.get_xscale() == "linear"  # no rungs: the epochs as they are
    assert any(t.get_text() == "best: trial 2" for t in ax.get_legend().get_texts())


def test_learning_curves_top_keeps_the_best_trials(fifo):
    ax = fifo.plot.learning_curves(top=3).axes[0]
    best3 = sorted(completed(fifo), key=lambda t: t.value)[:3]
    assert {line.get_gid() for line in ax.get_lines()} == {f"trial-{t.id}" for t in best3}


def test_learning_curves_fade_stopped_trials_and_highlight_the_best(asha):
    ax = asha.plot.learning_curves().axes[0]
    lines = lines_by_gid(ax)
    assert len(lines) == 7
    by_q = {t.config["q"]: t for t in asha.trials}
    best = lines[f"trial-{by_q[9].id}"]
    assert best.get_xydata().tolist() == [[e, 9 * e] for e in range(1, 10)]
    assert best.get_linewidth() == 2.5 and best.get_alpha() in (None, 1.0)
    for q in (7, 6, 5, 4, 3):
        line = lines[f"trial-{by_q[q].id}"]
        assert line.get_alpha() == FADED and line.get_xydata().tolist() == [[1, q]]
    assert lines[f"trial-{by_q[8].id}"].get_alpha() == 0.8
    # the rungs evenly apart, where five trials of seven stopped at the first (round 63)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch (log scale, ticks at the rungs)",
                                                  "score")
    assert ax.get_xscale() == "log" and list(ax.get_xticks()) == [1, 3, 9]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "3", "9"]


def heights(ax):
    return [p.get_height() for p in ax.patches]


def reached_counts(study, levels):
    reached = [t.resource("epoch") for t in study.trials if t.reports]
    return [sum(1 for r in reached if r >= level) for level in levels]


def test_rungs_count_the_trials_that_reached_each_level(studies, asha):
    ax = asha.plot.rungs().axes[0]
    levels = [int(t.get_text()) for t in ax.get_xticklabels()]
    assert heights(ax) == reached_counts(asha, levels)
    assert set(levels) <= {1, 3, 9} and {1, 9} <= set(levels)
    if asha is studies["asha"] or asha.settings.get("rung_levels"):  # the rungs are known
        assert levels == [1, 3, 9] and heights(ax) == [7, 2, 2]
    else:  # inferred from the reports: the levels where trials ended
        assert levels == [1, 9] and heights(ax) == [7, 2]
    # the same counts as a dict, for a study run here or loaded (study.scheduler.rung_counts()
    # failed on a loaded study, its scheduler None: first-day test, round 61)
    assert asha.rungs() == dict(zip(levels, heights(ax)))
    ax = asha.plot.rungs(levels=[1, 3, 9]).axes[0]
    assert heights(ax) == [7, 2, 2] and asha.rungs([1, 3, 9]) == {1: 7, 3: 2, 9: 2}
    assert ax.get_ylim()[1] >= 7 * 1.15  # the tallest bar's count clear of the frame (round 62)
    assert ax.get_ylabel() == "trials that reached it" and ax.get_xlabel().startswith("epoch")


def test_rungs_of_a_study_without_a_scheduler_say_why_there_are_none(fifo):
    """One bar, "3 trials reached epoch 3", read as a rung of a scheduler that never ran."""
    with pytest.raises(ValueError, match=r"study 'fifo' ran without a scheduler: every trial "
                                         r"trained to its end, so it has no rungs; "
                                         r"plot.learning_curves\(\) shows how they trained"):
        fifo.plot.rungs()
    with pytest.raises(ValueError, match=r"they trained, rungs\(levels=\[1, 3, 9\]\) counts"):
        fifo.rungs()
    ax = fifo.plot.rungs(levels=[1, 3]).axes[0]  # asked for: counted
    assert heights(ax) == reached_counts(fifo, [1, 3])


def test_a_misspelt_figure_is_named_with_the_one_meant(fifo):
    with pytest.raises(AttributeError, match=r"study.plot has no 'histroy' \(did you mean "
                                             r"'history'\?\); its figures: history, importance"):
        fifo.plot.histroy()


def test_parallel_coordinates_one_line_per_completed_trial(fifo):
    ax = fifo.plot.parallel_coordinates().axes[0]
    done = completed(fifo)
    lines = lines_by_gid(ax)
    assert set(lines) == {f"trial-{t.id}" for t in done}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "lr", "act", "loss"]
    lo, hi = min(t.value for t in done), max(t.value for t in done)
    for t in done:
        xs, ys = lines[f"trial-{t.id}"].get_data()
        assert list(xs) == [0, 1, 2, 3]
        lr = (math.log10(t.config["lr"]) + 4) / 3  # log10 over [1e-4, 1e-1]
        act = ["relu", "<b>tanh</b>"].index(t.config["act"])  # codes 0 and 1
        assert list(ys) == pytest.approx([t.config["x"], lr, act, (t.value - lo) / (hi - lo)])
    labels = {t.get_text().strip() for t in ax.texts}
    assert {"relu", "<b>tanh</b>", "0.0001", "0.1"} <= labels


def test_importance_ranks_the_only_hyperparameter_that_matters_first(fifo):
    ax = fifo.plot.importance().axes[0]
    widths = [p.get_width() for p in ax.patches]
    assert len(widths) == len(fifo.space) == 3
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "x"
    assert widths == sorted(widths, reverse=True) and sum(widths) == pytest.approx(1.0)
    assert widths[0] > 0.5


def test_importance_names_a_pipelines_one_step_once():
    """histgradientboostingregressor__learning_rate and its siblings took three quarters of the
    figure's width (first-day test, round 65): the step is said once, in the title."""
    rng = np.random.default_rng(0)
    step = "histgradientboostingregressor__"
    study = Study("pipe", Space({f"{step}learning_rate": nbtune.uniform(0, 1),
                                 f"{step}max_leaf_nodes": nbtune.uniform(0, 1)}), "rmse", "min")
    for i in range(30):
        lr, leaves = rng.uniform(0, 1, 2)
        config = {f"{step}learning_rate": lr, f"{step}max_leaf_nodes": leaves}
        study.trials.append(T.Trial(i, config, state=T.COMPLETED, value=lr + 0.01 * leaves))
    ax = study.plot.importance().axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["learning_rate", "max_leaf_nodes"]
    assert ax.get_title().replace("\n", " ").endswith(f"({step}...)")
    from nbtune.plots import _common_step

    assert _common_step(["a__x", "b__y"]) == "" and _common_step(["a__x", "y"]) == ""
    assert _common_step(["a__x"]) == "" and _common_step(["a__x", "a__y__z"]) == "a__"


def test_importance_of_a_study_of_thousands_is_fitted_on_a_seeded_sample():
    """A forest and its permutations over 3,000 trials took 7 to 22 s on a loaded machine
    (first-day test, round 58): a bigger study is weighed on a seeded sample, which still finds
    the hyperparameter that matters, the same way each time."""
    from nbtune.importance import IMPORTANCE_ROWS, param_importances

    rng = np.random.default_rng(0)
    study = Study("many", Space({"x": nbtune.uniform(0, 1), "y": nbtune.uniform(0, 1)}),
                  "loss", "min")
    for i in range(IMPORTANCE_ROWS + 500):
        x, y = rng.uniform(0, 1, 2)
        study.trials.append(T.Trial(i, {"x": x, "y": y}, state=T.COMPLETED,
                                    value=x + 0.05 * rng.normal()))
    shares = param_importances(study)
    assert list(shares) == ["x", "y"] and shares["x"] > 0.9, shares
    assert param_importances(study) == shares
    keep = np.sort(np.random.default_rng(0).choice(len(study.trials), IMPORTANCE_ROWS,
                                                   replace=False))
    sample = Study("sample", study.space, "loss", "min",
                   trials=[study.trials[i] for i in keep])
    assert param_importances(sample) == shares  # what it was fitted on: that sample


def add_lr_batch_trials(study, rng, ids, completing) -> None:
    """Trials whose first epoch's accuracy follows the learning rate and whose last (of those
    that complete: ids below ``completing``) follows the batch alone."""
    for i in ids:
        lr, batch = 10 ** rng.uniform(-4, 0), rng.uniform(0, 1)
        first = 0.2 + 0.7 * (np.log10(lr) + 4) / 4 + 0.01 * rng.normal()
        done = i < completing
        last = 0.9 + 0.05 * batch
        reports = [{"epoch": 1, "acc": first}] + ([{"epoch": 9, "acc": last}] if done else [])
        study.trials.append(T.Trial(i, {"lr": lr, "batch": batch},
                                    state=T.COMPLETED if done else T.STOPPED,
                                    value=last if done else first, reports=reports))


def test_importance_of_an_early_stopping_study_weighs_every_trial_at_a_common_level():
    """Fitted on the 4 completed trials of 40 ASHA trials, importance named batch size; all 40
    at epoch 1 said the learning rate (first-day test, round 26)."""
    rng = np.random.default_rng(0)
    space = nbtune.Space({"lr": nbtune.loguniform(1e-4, 1.0), "batch": nbtune.uniform(0, 1)})
    study = nbtune.Study("stopped", space, "acc", "max", trials=[],
                         settings={"resource": "epoch"})
    add_lr_batch_trials(study, rng, range(40), completing=4)  # those differ by batch alone
    ax = study.plot.importance().axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "lr"
    assert ax.get_xlabel().endswith("(a forest fitted on 40 trials at epoch 1; 4 completed)")
    # 12 completed of 120: enough to fit on, and still the few the rungs kept (round 27)
    add_lr_batch_trials(study, rng, range(40, 120), completing=48)
    ax = study.plot.importance().axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "lr"
    assert ax.get_xlabel().replace("\n", " ").endswith(
        "(a forest fitted on 120 trials at epoch 1; 12 completed; what shows only later weighs "
        "little at the first epoch: importance(at=9) fits the 12 trials at epoch 9)")


def test_importance_at_the_first_rung_says_what_a_later_one_would_fit_and_fits_there():
    """A booster's learning rate cannot move its AUC after one round: fitted on the 30 trials at
    round 1, importance gave it 0.00, and nothing said a later rung would weigh it (first-day
    test, round 29)."""
    rng = np.random.default_rng(1)
    space = nbtune.Space({"lr": nbtune.loguniform(1e-3, 1.0), "leaves": nbtune.uniform(0, 1)})
    study = nbtune.Study("boost", space, "auc", "max", trials=[], settings={"resource": "round"})
    for i in range(30):
        lr, leaves = 10 ** rng.uniform(-3, 0), rng.uniform(0, 1)
        first = 0.8 + 0.1 * leaves  # one round: the trees' shape, not the rate
        reports = [{"round": 1, "auc": first}]
        if i < 10:  # the survivors of the first rung: the rate shows by round 3
            reports.append({"round": 3, "auc": first + 0.3 * (np.log10(lr) + 3) / 3})
        study.trials.append(T.Trial(i, {"lr": lr, "leaves": leaves}, state=T.STOPPED,
                                    value=reports[-1]["auc"], reports=reports))
    ax = study.plot.importance().axes[0]
    label = ax.get_xlabel().replace("\n", " ")
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "leaves"
    assert label.endswith("(a forest fitted on 30 trials at round 1; 0 completed; what shows "
                          "only later weighs little at the first round: importance(at=3) fits "
                          "the 10 trials at round 3)"), label
    ax = study.plot.importance(at=3).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "lr"
    assert ax.get_xlabel().endswith("(a forest fitted on 10 trials at round 3; 0 completed)")
    with pytest.raises(ValueError, match=r"^importance at round 9 needs 3 trials that reached "
                                         r"it; 0 did \(levels with 3 or more: 1 \(30\), 3 "
                                         r"\(10\)\)$"):
        study.plot.importance(at=9)


def test_a_slice_says_what_it_left_out_and_spans_each_range(asha, fifo):
    """It drew the 10 completed trials of 60 of an ASHA study on their own part of the range,
    and said nothing of the 50 stopped ones (first-day test, round 26)."""
    fig = asha.plot.slice()
    assert fig._suptitle.get_text().replace("\n", " ").endswith(
        "(2 completed trials of 7; left out: 5 stopped; parallel_coordinates() draws the "
        "stopped at their last value; under each choice: completed/ended)")
    # a choice none of whose trials outlived the rungs is there, said so (round 27)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [
        "9\n1/1", "8\n1/1", "7\n0/1", "6\n0/1", "5\n0/1", "4\n0/1", "3\n0/1"]
    fig = fifo.plot.slice()
    failed = sum(t.state == T.FAILED for t in fifo.trials)
    assert fig._suptitle.get_text().replace("\n", " ").endswith(
        f"left out: {failed} failed; under each choice: completed/ended)")
    x, lr = fig.axes[0].get_xlim(), fig.axes[1].get_xlim()  # the ranges searched, a margin
    assert x[0] < 0.0 < 1.0 < x[1] and lr[0] < 1e-4 < 1e-1 < lr[1] < 0.2


def test_a_slice_counts_the_trials_its_studys_end_cut():
    """"8 completed trials of 31; left out: 23 stopped" of a study of 33, 2 cut by max_time
    (first-day test, round 45): they are left out and said; one never started is not."""
    trials = [T.Trial(i, {"x": 0.1 * i}, reports=[{"epoch": 1, "loss": 1.0 / (i + 1)}],
                      state=T.COMPLETED if i < 2 else T.STOPPED, value=1.0 / (i + 1),
                      started=100.0 + i, finished=101.0 + i) for i in range(5)]
    trials += [T.Trial(5, {"x": 0.6}, reports=[{"epoch": 1, "loss": 0.4}], state=T.INTERRUPTED,
                       started=106.0),
               T.Trial(6, {"x": 0.7}, state=T.INTERRUPTED)]  # never started
    study = Study("cut", Space({"x": nbtune.uniform(0, 1)}), "loss", "min", trials=trials,
                  stop_reason="max_time")
    title = study.plot.slice()._suptitle.get_text().replace("\n", " ")
    assert "(2 completed trials of 6; left out: 3 stopped, 1 cut by max_time;" in title, title


def test_a_legend_entry_whose_curves_the_range_leaves_out_says_so():
    """"trial 1 (stopped)" and "stopped" in the legend, where the range the best trials set
    showed none of their curves (first-day test, round 50)."""
    rising = [{"epoch": e, "acc": 0.80 + 0.02 * e} for e in range(1, 6)]
    trials = [T.Trial(i, {"x": 0.1 * i}, reports=[dict(r, acc=r["acc"] + 0.005 * i)
                                                   for r in rising],
                      state=T.COMPLETED, value=0.9 + 0.005 * i) for i in range(2)]
    trials += [T.Trial(i, {"x": 0.1 * i}, reports=[{"epoch": 1, "acc": 0.3 + 0.01 * i}],
                       state=T.STOPPED, value=0.3 + 0.01 * i) for i in range(2, 12)]
    study = Study("unseen", Space({"x": nbtune.uniform(0, 2)}), "acc", "max", trials=trials)
    ax = study.plot.learning_curves().axes[0]
    assert ax.get_ylim()[0] > 0.5  # the stopped trials lie below it
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "best: trial 1", "trial 0 (completed)", "trial 11 (stopped, out of view)",
        "stopped (out of view)"]


def test_a_choice_of_an_int_and_its_float_is_labelled_apart_on_the_axes():
    """max_df = choice(1, 0.5, 1.0): the slice's and parallel coordinates' labels read 1, 0.5
    and 1, two values of one label (the summary's table and config lines keep them apart)."""
    trials = [T.Trial(i, {"max_df": v}, state=T.COMPLETED, value=0.1 * i)
              for i, v in enumerate([1, 0.5, 1.0])]
    study = Study("df", Space({"max_df": nbtune.choice(1, 0.5, 1.0)}), "loss", "min",
                  trials=trials)
    ticks = [t.get_text().split("\n")[0] for t in study.plot.slice().axes[0].get_xticklabels()]
    assert ticks == ["1", "0.5", "1.0"]
    ax = study.plot.parallel_coordinates().axes[0]
    assert {"1", "0.5", "1.0"} <= {t.get_text().strip() for t in ax.texts}


def test_slice_plots_the_metric_against_each_hyperparameter(fifo):
    fig = fifo.plot.slice()
    done = completed(fifo)
    assert [a.get_xlabel() for a in fig.axes] == ["x", "lr", "act"]
    for a, name in zip(fig.axes, ["x", "lr"]):
        (line,) = a.get_lines()
        assert line.get_xydata().tolist() == [[t.config[name], t.value] for t in done]
    assert fig.axes[1].get_xscale() == "log"
    codes = fig.axes[2].get_lines()[0].get_xdata().tolist()
    assert codes == [["relu", "<b>tanh</b>"].index(t.config["act"]) for t in done]
    one = fifo.plot.slice("lr")
    assert len(one.axes) == 1 and one.axes[0].get_xlabel() == "lr"
    with pytest.raises(ValueError, match="unknown hyperparameter 'nope'"):
        fifo.plot.slice("nope")


def test_every_plot_draws_on_the_axes_it_is_given(fifo, asha):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    for draw in (fifo.plot.history, fifo.plot.learning_curves, fifo.plot.parallel_coordinates,
                 fifo.plot.importance, lambda ax: fifo.plot.slice("x", ax=ax), asha.plot.rungs):
        fig = Figure()
        ax = fig.add_subplot()
        assert draw(ax=ax) is fig
        assert ax.get_lines() or ax.patches
    with pytest.raises(ValueError, match="name="):
        fifo.plot.slice(ax=Figure().add_subplot())
    assert plt.get_fignums() == before  # nothing went through pyplot


def test_summary_html_has_the_best_the_ranked_trials_and_an_image(fifo):
    summary = fifo.summary()
    page = summary._repr_html_()
    assert "fifo" in page and "loss (min)" in page
    assert f"{fifo.best.value:.6g}" in page and "(trial 2)" in page
    ranked = [t.id for t in sorted(completed(fifo), key=lambda t: t.value)][:10]
    table = trials_table(page)
    assert table["rows"][0] == ["#", "trial", "loss", "epoch", "state", "x", "lr", "act"]
    assert [int(row[1]) for row in table["rows"][1:]] == ranked
    assert [int(row[0]) for row in table["rows"][1:]] == list(range(1, 11))
    by_id = {t.id: t for t in fifo.trials}
    for row, align in zip(table["rows"][1:], table["align"][1:]):
        t = by_id[int(row[1])]  # each hyperparameter in its own column
        assert float(row[5]) == pytest.approx(t.config["x"], rel=1e-3)
        assert float(row[6]) == pytest.approx(t.config["lr"], rel=1e-3)
        assert row[7] == t.config["act"] and float(row[2]) == pytest.approx(t.value, rel=1e-5)
        assert align == ["right"] * 4 + ["left"] + ["right"] * 2 + ["left"]
    for column in (2, 5, 6):  # each column's numbers written alike
        assert written_alike([row[column] for row in table["rows"][1:]])
    assert "e-0" in table["rows"][1][6]  # lr spans a log range: exponent form
    assert table["caption"] == "top 10 trials, ranked: completed trials first, lowest loss first"
    counts = fifo.counts()
    assert f"{counts['completed']} completed" in page and f"{counts['failed']} failed" in page
    assert "n_trials" in page  # the stop reason
    image = re.search(r'<img [^>]*src="data:image/png;base64,([^"]+)"', page)
    assert base64.b64decode(image.group(1)).startswith(PNG)
    assert "&lt;b&gt;tanh&lt;/b&gt;" in page and "<b>tanh</b>" not in page
    assert fifo._repr_html_().split("base64,")[0] == page.split("base64,")[0]  # bare `study`


def test_summary_as_text(fifo):
    text = str(fifo.summary(top=3))
    assert repr(fifo.summary(top=3)) == text
    assert "<" not in text.replace("<b>tanh</b>", "")
    lines = text.splitlines()
    assert lines[0] == "nbtune study 'fifo'"
    assert any(ln.split() == ["best", "loss", "=", f"{fifo.best.value:.6g}", "(trial", "2)"]
               for ln in lines)
    head = lines.index("top 3 trials:")
    assert lines[head + 1].split() == ["#", "trial", "loss", "epoch", "state", "x", "lr", "act"]
    best3 = sorted(completed(fifo), key=lambda t: t.value)[:3]
    for rank, (t, ln) in enumerate(zip(best3, lines[head + 2:]), start=1):
        cells = ln.split()
        assert cells[:2] == [str(rank), str(t.id)] and cells[3:5] == ["3", "completed"]
        assert float(cells[2]) == pytest.approx(t.value, rel=1e-5)
    assert written_alike([ln.split()[2] for ln in lines[head + 2:]])
    assert len({ln.index("completed") for ln in lines[head + 2:]}) == 1  # aligned columns


def test_to_dataframe_has_a_row_per_trial_with_resource_and_times(fifo):
    frame = fifo.to_dataframe()
    assert list(frame.index) == [t.id for t in fifo.trials]
    assert {"state", "loss", "config.x", "config.lr", "config.act", "epoch", "reports",
            "attempts", "worker", "started", "finished", "duration", "error",
            "output_lines"} <= set(frame.columns)
    assert not [c for c in frame.columns if c.startswith("epoch_")]  # one resource column
    for t in fifo.trials:
        row = frame.loc[t.id]
        assert row["state"] == t.state and row["reports"] == len(t.reports)
        if t.reports:
            assert row["epoch"] == t.resource("epoch")
        assert (row["finished"] - row["started"]).total_seconds() == pytest.approx(t.duration,
                                                                                 abs=1e-3)
    assert frame.loc[1, "epoch"] == 2 and frame.loc[0, "reports"] == 0


def test_a_study_without_reports(client, db):
    study = nbtune.tune(no_reports, {"x": nbtune.uniform(0, 1)}, metric="x", n_trials=2, seed=0,
                        cluster=client, storage=db, study="plain")
    for s in (study, nbtune.load_study("plain", storage=db)):
        with pytest.raises(ValueError, match="no trial reported 'epoch' with 'x'"):
            s.plot.learning_curves()
        with pytest.raises(ValueError, match="no trial reported 'epoch'"):
            s.plot.rungs()
        with pytest.raises(ValueError, match="at least 3 completed trials; the study has 2"):
            s.plot.importance()
        assert len(s.plot.history().axes[0].get_lines()) == 2  # completed, best so far
        summary = s.summary()
        assert summary.png().startswith(PNG)  # the history instead of the curves
        assert "<img" in summary._repr_html_() and "epoch" not in str(summary)


def test_an_empty_study_says_so(client, db):
    failing = nbtune.tune(always_fails, {"x": nbtune.uniform(0, 1)}, metric="x", n_trials=2,
                          cluster=client, storage=db, study="failing")
    bare = Study("bare", Space({"x": nbtune.uniform(0, 1)}), "loss", "min")
    for s in (bare, failing, nbtune.load_study("failing", storage=db)):
        for draw in (s.plot.history, s.plot.learning_curves, s.plot.parallel_coordinates,
                     s.plot.importance, s.plot.slice, s.plot.rungs):
            with pytest.raises(ValueError, match="the study has no completed trials yet"):
                draw()
        summary = s.summary()
        assert summary.png() is None
        page = summary._repr_html_()
        assert "<img" not in page and "<tbody>" not in page
        assert "no completed trial yet" in page and "no completed trial yet" in str(summary)
    with pytest.raises(ValueError, match=r"yet \(2 failed\)"):
        failing.plot.history()
    assert "trials  none yet" in str(bare.summary())
    assert len(failing.to_dataframe()) == 2 and len(bare.to_dataframe()) == 0
    assert "config.x" in bare.to_dataframe().columns


def test_the_summary_ranks_completed_trials_then_the_furthest_along(asha):
    by_id = {t.id: t for t in asha.trials}
    page = asha.summary()._repr_html_()
    table = trials_table(page)
    ranked = [by_id[int(row[1])].config["q"] for row in table["rows"][1:]]
    assert ranked == [9, 8, 7, 6, 5, 4, 3]  # completed by score, then stopped at rung 1
    assert "then running, paused, stopped and cut-short trials, the furthest epoch first" in \
        table["caption"]  # the rule that puts them there is said
    text = str(asha.summary(top=3))
    rows = [ln.split() for ln in text.splitlines()[-3:]]
    assert [r[2:5] for r in rows] == [["81", "9", "completed"], ["72", "9", "completed"],
                                      ["7", "1", "stopped"]]
    # trials that report another key than the study's resource (round= in a study left at its
    # "epoch"): the caption said "the furthest epoch first" of trials that had none (round 31);
    # in a study without a scheduler, round= is its resource (round 65), and named
    rounds = Study("rounds", asha.space, asha.metric, asha.mode, settings={},
                   trials=[T.Trial(t.id, dict(t.config), state=t.state, value=t.value,
                                   reports=[{"round": r.get("epoch"), asha.metric: r[asha.metric]}
                                            for r in t.reports]) for t in asha.trials])
    assert "cut-short trials, the furthest round first" in rank_rule(rounds), rank_rule(rounds)
    rounds.settings.update(scheduler="asha", resource="epoch")  # judged by epoch: not round
    assert "cut-short trials, by their last" in rank_rule(rounds), rank_rule(rounds)


def test_plots_of_a_study_running_in_the_background(client, db):
    study = nbtune.tune(linear, {"q": nbtune.uniform(0, 1)}, metric="score", mode="max",
                        n_trials=6, concurrency=2, cluster=client, storage=db, study="bg",
                        background=True)
    drawn = 0
    while study.running:
        try:
            study.plot.learning_curves(top=3)
            str(study.summary())
            drawn += 1
        except ValueError as e:  # before the first report
            assert "no completed trials yet" in str(e)
        time.sleep(0.05)
    study.wait()
    assert len(study.plot.learning_curves().axes[0].get_lines()) == 6
    assert study.to_dataframe()["epoch"].tolist() == [9] * 6


def hand_made(states: list[str], epochs: list[int]) -> Study:
    """A study of trials in ``states``, each reporting score = epoch up to its ``epochs``."""
    study = Study("made", Space({"x": nbtune.uniform(0, 1)}), "score", "max",
                  settings={"resource": "epoch"})
    for i, (state, last) in enumerate(zip(states, epochs)):
        reports = [{"epoch": e, "score": e + i / 10} for e in range(1, last + 1)]
        study.trials.append(T.Trial(i, {"x": i / 10}, state=state, reports=reports,
                                    value=reports[-1]["score"] if state == T.COMPLETED else None))
    return study


@pytest.mark.parametrize("n", [6, 130])  # one line a curve; past MANY_CURVES, collections
def test_the_learning_curves_legend_names_the_lines_so_a_new_legend_call_keeps_it(n):
    # ax.legend(loc=...) to move the legend (as one does for a report) emptied it: the legend
    # was drawn from stand-in lines, and the lines on the Axes had no labels
    study = hand_made([T.COMPLETED] * (n - 2) + [T.STOPPED, T.FAILED], [3] * (n - 2) + [1, 2])
    ax = study.plot.learning_curves().axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == [f"best: trial {n - 3}", f"trial {n - 4} (completed)",
                     f"trial {n - 5} (completed)", "other trials", "stopped or failed"]
    moved = ax.legend(loc="upper left")
    assert sorted(t.get_text() for t in moved.get_texts()) == sorted(texts)  # as drawn
    colours = {t.get_text(): h.get_color() if hasattr(h, "get_color") else h.get_colors()[0]
               for t, h in zip(moved.get_texts(), moved.legend_handles)}
    assert colours[f"best: trial {n - 3}"] == "C3"


def test_learning_curves_name_the_faded_trials_as_they_ended():
    legend = lambda s: [t.get_text() for t in  # noqa: E731
                        s.plot.learning_curves().axes[0].get_legend().get_texts()]
    study = hand_made([T.COMPLETED] * 4 + [T.INTERRUPTED], [3, 3, 3, 3, 2])
    assert legend(study)[-2:] == ["other trials", "interrupted"]  # not "stopped or failed"
    study = hand_made([T.COMPLETED] * 4 + [T.STOPPED, T.FAILED, T.INTERRUPTED], [3] * 4 + [1] * 3)
    assert legend(study)[-1] == "stopped, failed or interrupted"



def test_rungs_count_whole_trials():
    ax = hand_made([T.COMPLETED, T.STOPPED, T.STOPPED], [9, 3, 1]).plot.rungs([1, 3, 9]).axes[0]
    assert heights(ax) == [3, 2, 1]
    ticks = [y for y in ax.get_yticks() if ax.get_ylim()[0] <= y <= ax.get_ylim()[1]]
    assert len(ticks) >= 2 and all(float(y).is_integer() for y in ticks), ticks  # no 2.5


def test_a_fixed_frame_keeps_its_place_until_labels_leave_it():
    """The live panel's images keep the axes where a constrained layout put them (half the cost
    of solving it each time); labels that no longer fit are laid out again."""
    def draw(scale):
        def on(ax):
            ax.plot([1, 2, 3], [scale, 2 * scale, 3 * scale])
            ax.set_xlabel("epoch")
            ax.set_ylabel("score")
            ax.set_title("curves")
        return on

    frame = FixedFrame(size=(5.0, 3.0), dpi=50)  # a size of its own: places are per size
    key = (frame.size, frame.dpi)
    FixedFrame.places.pop(key, None)
    assert frame.png(draw(1.0))[:4] == b"\x89PNG"
    first = FixedFrame.places[key]
    assert 0.05 < first.x0 < 0.2 and first.x1 > 0.9  # laid out round short labels
    FixedFrame(size=(5.0, 3.0), dpi=50).png(draw(2.0))  # labels alike: the place kept
    assert FixedFrame.places[key] is first
    frame.png(draw(123456.789))  # tick labels far wider: the axes move right to hold them
    wider = FixedFrame.places[key]
    assert wider is not first and wider.x0 > first.x0 + 0.05
    frame.png(draw(1.0))  # narrow again: they fit the wider margin, which is kept
    assert FixedFrame.places[key] is wider


def test_many_learning_curves_are_drawn_together_under_the_named_ones():
    """A line per trial cost ~1 ms each: a 1,000-trial study's summary image took 1.1 s at its
    end. Past MANY_CURVES the curves without a colour of their own are drawn as one collection
    per style; the best and the named ones stay lines of their own."""
    from matplotlib.collections import LineCollection

    from nbtune.drawing import MANY_CURVES

    trials = []
    for i in range(MANY_CURVES + 50):
        stopped = i % 3 == 0  # a third stopped at the first rung: one point each
        epochs = [1] if stopped else [1, 2, 3]
        trials.append(T.Trial(i, {"q": i / 200}, state=T.STOPPED if stopped else T.COMPLETED,
                              value=None if stopped else i / 200 * 3, attempts=1,
                              reports=[{"epoch": e, "score": i / 200 * e} for e in epochs]))
    study = Study("many", Space({"q": nbtune.uniform(0, 1)}), "score", "max", trials=trials,
                  settings={"resource": "epoch"})
    ax = study.plot.learning_curves().axes[0]
    lines = lines_by_gid(ax)
    best = study.best
    assert best.id == MANY_CURVES + 49
    done = sorted(completed(study), key=lambda t: -t.value)
    assert [t.id for t in done[:3]] == [149, 148, 146]  # the best and two named (147 stopped)
    assert set(lines) == {"trial-149", "trial-148", "trial-146", "trials-ended-points"}
    collections = {c.get_gid(): c for c in ax.collections if isinstance(c, LineCollection)}
    assert set(collections) == {"trials-others"}
    others = done[3:]
    assert [s.tolist() for s in collections["trials-others"].get_segments()] == \
        [[[e, t.id / 200 * e] for e in (1, 2, 3)] for t in reversed(others)]  # the best on top
    stopped = [t for t in trials if t.state == T.STOPPED]
    points = lines["trials-ended-points"]
    assert sorted(points.get_xydata().tolist()) == sorted([1, t.id / 200] for t in stopped)
    assert points.get_alpha() == FADED and points.get_marker() == "."
    assert ax.get_xlim()[0] <= 1 and ax.get_xlim()[1] >= 3  # the collection's extent in view
    assert any(t.get_text() == "stopped" for t in ax.get_legend().get_texts())


def ended(study_name: str, values: list[float], mode: str = "min") -> Study:
    """A study whose trials ended one per second, with these values, in this order."""
    trials = [T.Trial(i, {"x": 0.1 * i}, state=T.COMPLETED, value=v, started=100.0 + i,
                      finished=101.0 + i) for i, v in enumerate(values)]
    trials.append(T.Trial(len(values), {"x": 0.9}, state=T.FAILED, error="boom",
                          started=100.0 + len(values), finished=101.0 + len(values)))
    return Study(study_name, Space({"x": nbtune.uniform(0, 1)}), "loss", mode, trials=trials)


def test_compare_by_time_leaves_out_the_time_between_a_study_and_its_resume():
    """A study resumed three times was drawn over 7 minutes of its 87 s (first-day test,
    round 58): the seconds between its runs counted as if it searched."""
    resumed = ended("resumed", [3.0, 2.0, 1.0])  # trials end at 101, 102, 103; one fails at 104
    resumed.trials += [T.Trial(10 + i, {"x": 0.5}, state=T.COMPLETED, value=0.5 - i / 10,
                               started=1000.0 + i, finished=1001.0 + i) for i in range(2)]
    # an older study keeps no runs' spans: the spans its trials ran count
    line = nbtune.compare(resumed, by="time").axes[0].get_lines()[0]
    assert list(line.get_xdata()) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    # each run's span, kept since: the second run's 2 s before its first trial count
    resumed.settings["run_spans"] = [[99.0, 104.5], [998.0, 1003.0]]
    line = nbtune.compare(resumed, by="time").axes[0].get_lines()[0]
    assert list(line.get_xdata()) == [1.0, 2.0, 3.0, 4.0, 7.5, 8.5]


def test_a_resumed_studys_runs_are_kept_and_compare_by_time_draws_their_seconds(client, db):
    run = functools.partial(nbtune.tune, no_reports, {"x": nbtune.uniform(0, 1)}, metric="x",
                            n_trials=2, seed=0, cluster=client, storage=db, study="paused",
                            progress=False)
    first = run()
    time.sleep(3)
    run(n_trials=4, resume=True)
    study = nbtune.load_study("paused", storage=db)
    spans = study.settings["run_spans"]
    assert len(spans) == 2 and spans[0] == [first.started_at, first.finished_at]
    assert spans[1][0] - spans[0][1] >= 3
    drawn = nbtune.compare(study, by="time").axes[0].get_lines()[0].get_xdata()
    assert len(drawn) == 4 and drawn[-1] <= sum(b - a for a, b in spans)


def test_compare_draws_each_studys_best_so_far_named_in_the_legend(db):
    """Two studies drawn with study.plot.history(ax=ax) had the same colours and legends, and
    no study's name (first-day test, round 9)."""
    first, second = ended("first", [3.0, 1.0, 2.0]), ended("second", [2.5, 2.0, 0.5, 0.7])
    fig = nbtune.compare(first, second)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    lines = {line.get_gid(): line for line in ax.get_lines()}
    # each ended trial a step, the failed one too (it spent a trial of the budget)
    assert list(lines["compare-0"].get_ydata()) == [3.0, 1.0, 1.0, 1.0]
    assert list(lines["compare-1"].get_ydata()) == [2.5, 2.0, 0.5, 0.5, 0.5]
    assert list(lines["compare-1"].get_xdata()) == [1, 2, 3, 4, 5]
    assert lines["compare-0"].get_color() != lines["compare-1"].get_color()
    # a line that lies under the other still shows: dashes and markers of its own (round 19)
    assert lines["compare-0"].get_linestyle() != lines["compare-1"].get_linestyle()
    assert lines["compare-0"].get_marker() != lines["compare-1"].get_marker()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "first: best 1 (3 completed of 4)", "second: best 0.5 (4 completed of 5)"]
    assert ax.get_xlabel() == "ended trials" and ax.get_ylabel() == "best loss so far"
    fig.canvas.draw()
    assert all(float(tick).is_integer() for tick in ax.get_xticks())  # none at 1.5 (round 11)
    assert lines["compare-0"].get_marker() == "."
    big = nbtune.compare(ended("big", [float(i % 7) for i in range(300)])).axes[0]
    assert big.get_lines()[0].get_marker() in (None, "None")  # 300 markers: a thick band
    timed = nbtune.compare(first, by="time").axes[0].get_lines()[0]
    assert list(timed.get_xdata()) == [1.0, 2.0, 3.0, 4.0]  # seconds since the first started
    stopping = ended("asha", [4.0, 2.0])  # two completed among eight: ASHA stopped the rest
    stopping.trials[1:1] = [T.Trial(10 + i, {"x": 0.5}, state=T.STOPPED, value=9.0,
                                    started=100.5 + i / 10, finished=101.5 + i / 10)
                            for i in range(5)]
    line = nbtune.compare(stopping).axes[0].get_lines()[0]
    assert list(line.get_xdata()) == list(range(1, 9))  # it read "(2 completed)", at 2 trials
    assert list(line.get_ydata()) == [4.0] * 6 + [2.0] * 2  # a stopped trial's value is no best
    with pytest.raises(ValueError, match=r"^the studies optimise in different directions: "
                                         r"'first' \(loss, min\), 'up' \(loss, max\); "):
        nbtune.compare(first, ended("up", [1.0], mode="max"))
    with pytest.raises(ValueError, match=r"^by must be 'trial' or 'time', got 'epoch'$"):
        nbtune.compare(first, by="epoch")
    other = ended("auc", [0.3])
    other.metric = "auc"  # two metrics drawn on one axis were not remarked (round 26)
    with pytest.warns(nbtune.NbtuneWarning, match=r"^compare draws 'loss' and 'auc' on one "
                                                  r"axis: they compare only where"):
        nbtune.compare(first, other)
    with pytest.raises(ValueError, match=r"^compare needs studies: "):
        nbtune.compare()


def test_compare_takes_the_names_of_stored_studies(client, db):
    for name, seed in (("a", 0), ("b", 1)):
        nbtune.tune(linear, {"q": nbtune.uniform(0, 1)}, metric="score", n_trials=3, seed=seed,
                    cluster=client, storage=db, study=name, progress=False)
    ax = nbtune.compare("a", "b", storage=db).axes[0]
    assert [t.get_text().split(":")[0] for t in ax.get_legend().get_texts()] == ["a", "b"]


def test_the_summary_after_an_interrupt_ranks_the_trials_it_cut():
    """After an interrupt every trial was left out of the ranked table, and none was drawn:
    the trials a resume goes on with (first-day test, round 18)."""
    study = nbtune.Study("intr", nbtune.Space({"q": nbtune.uniform(0, 1)}), "acc", "max",
                         settings={"resource": "epoch"})
    study.stop_reason = "interrupted"
    for i, epochs in enumerate([(1,), (1, 2, 3), (1, 2)]):
        study.trials.append(T.Trial(i, {"q": i / 10}, state=T.INTERRUPTED,
                                    reports=[{"epoch": e, "acc": i + e / 10} for e in epochs]))
    text = str(study.summary())
    rows = [ln.split() for ln in text.splitlines()[-3:]]
    assert [r[1] for r in rows] == ["1", "2", "0"], text  # the furthest first
    assert "then running, paused, stopped and cut-short trials" in text


def edge_study(values: list[tuple[float, int, float]]) -> Study:
    """A study of (lr, n, accuracy) trials over ranges whose tops are 0.5 and 100, its other
    hyperparameters (a linspace, a narrow integer range, a choice of words) at one value."""
    space = Space({"lr": nbtune.loguniform(0.01, 0.5), "n": nbtune.randint(1, 100),
                   "step": nbtune.linspace(0.0, 1.0, 5), "layers": nbtune.randint(1, 3),
                   "k": nbtune.choice("a", "b")})
    trials = [T.Trial(i, {"lr": lr, "n": n, "step": 1.0 if v > 0.85 else 0.5, "layers": 3,
                          "k": "b"}, state=T.COMPLETED, value=v)
              for i, (lr, n, v) in enumerate(values)]
    return Study("edges", space, "accuracy", "max", trials=trials)


def test_the_summary_names_a_range_whose_edge_the_best_trials_crowd():
    """A learning rate whose range tops out too low, its best trials at the top, and bayesopt's
    suggestions piled on a bound: nothing on screen said that better values may lie beyond the
    range (first-day tests, rounds 19 and 20: the first version of this note needed three trials
    exactly there)."""
    from nbtune.findings import edge_notes

    rest = [(0.02, 40, 0.7), (0.03, 60, 0.72), (0.05, 30, 0.75), (0.04, 20, 0.71)]
    crowded = edge_study([(0.49, 50, 0.9), (0.45, 50, 0.95), (0.35, 50, 0.93),
                          (0.1, 50, 0.8)] + rest)  # the best at 97.7% of the log range
    assert edge_notes(crowded) == [
        "lr: the best trials crowd the top of its range (the best at 0.45, the top 0.5): better "
        "values may lie beyond it (widen the range)",
        "step: the best trials crowd the top of its range (the best at 1, the top 1): better "
        "values may lie beyond it (widen the range)"]  # a linspace: three of four at its last
    # n: the middle; layers 3 of 1..3: a choice in all but name; k: words, no ends
    assert "  range        lr: the best trials crowd the top" in str(crowded.summary())
    lone = edge_study([(0.49, 50, 0.95), (0.02, 50, 0.93), (0.1, 50, 0.9), (0.03, 50, 0.8)]
                      + rest)  # the best at the top, the next ones far from it
    assert [n for n in edge_notes(lone) if n.startswith("lr")] == []
    low = edge_study([(0.01, 1, 0.95), (0.01, 1, 0.9), (0.0101, 2, 0.93), (0.011, 1, 0.86)]
                     + rest)
    assert [n.split(" (")[0] for n in edge_notes(low)] == [
        "lr: the best trials crowd the bottom of its range",
        "n: the best trials crowd the bottom of its range", "step: the best trials crowd the "
        "top of its range"]
    assert edge_notes(edge_study([(0.5, 100, 0.9)] * 7)) == []  # fewer than 8 completed


def test_the_summary_says_when_no_trial_moved_the_metric():
    """Every trial of a learning rate too small to train ended at 0.846296: ten identical values
    in the table, and no remark (first-day test, round 20)."""
    from nbtune.findings import flat_note

    flat = edge_study([(0.01 * (1 + i / 10), 50, 0.846296) for i in range(8)])
    assert flat_note(flat) == (
        "all 8 completed trials ended at 0.846296: in these ranges the metric does not move "
        "(ranges too narrow, a learning rate too small to train, or hyperparameters that do not "
        "reach the model)")
    assert str(flat.summary()).count("  range  ") == 1  # that line alone: no edge to crowd
    assert flat_note(edge_study([(0.01, 50, 0.8)] * 7)) is None  # too few to say
    assert flat_note(edge_study([(0.01, 50, 0.8)] * 7 + [(0.02, 50, 0.81)])) is None


def curves_study(curves, mode="max"):
    """A study of completed trials whose reports follow ``curves`` (values at epochs 8, 24,
    72, 200, or fewer for a trial stopped early)."""
    trials = []
    for i, values in enumerate(curves):
        t = T.Trial(i, {"q": i / 10}, state=T.COMPLETED, value=values[-1])
        t.reports = [{"max_iter": level, "auc": v} for level, v in zip((8, 24, 72, 200), values)]
        trials.append(t)
    return Study("hgb", Space({"q": nbtune.uniform(0, 1)}), "auc", mode, trials=trials,
                 settings={"resource": "max_iter"})


def test_the_summary_says_when_training_longer_makes_the_trials_worse():
    """Every HGB curve peaked at 24 iterations and fell by 200: SearchCV returned the best of
    those trained to 200, its 18th candidate of 24, and nothing said why (first-day test, 23)."""
    from nbtune.findings import falling_note

    falling = curves_study([(0.672, 0.692, 0.684, 0.672), (0.660, 0.680, 0.671, 0.664),
                            (0.650, 0.671, 0.662, 0.655), (0.60, 0.62), (0.61,)])
    note = ("the metric falls with max_iter: 3 of 3 trials trained to 200 peaked earlier (the "
            "highest peak, trial 0: 0.692 at 24, 0.672 at 200): training longer makes them "
            "worse; a smaller max_t, or the model's own early stopping, keeps the peak")
    assert falling_note(falling) == note
    assert dict(falling.summary().facts())["curves"] == note
    rising = curves_study([(0.60, 0.65, 0.68, 0.69), (0.60, 0.66, 0.67, 0.669),  # a wobble
                           (0.55, 0.60, 0.64, 0.66)])
    assert falling_note(rising) is None and "curves" not in dict(rising.summary().facts())
    assert falling_note(curves_study([(0.6, 0.7, 0.5)] * 2)) is None  # two trained to the top
    loss = curves_study([(0.5, 0.3, 0.4, 0.45)] * 3, mode="min")  # a loss that climbs back
    # said in a minimised metric's words: it rises as it gets worse (round 64)
    assert falling_note(loss) == (
        "the metric rises with max_iter: 3 of 3 trials trained to 200 were at their lowest "
        "earlier (the lowest, trial 0: 0.3 at 24, 0.45 at 200): training longer makes them "
        "worse; a smaller max_t, or the model's own early stopping, keeps the lowest value")
    # the trial named is one that peaked earlier, not the best at 200 where that one did not
    mixed = curves_study([(0.60, 0.64, 0.67, 0.69), (0.66, 0.71, 0.68, 0.665),
                          (0.65, 0.70, 0.672, 0.66), (0.64, 0.69, 0.67, 0.655)])
    assert falling_note(mixed) == (
        "the metric falls with max_iter: 3 of 4 trials trained to 200 peaked earlier (the "
        "highest peak, trial 1: 0.71 at 24, 0.665 at 200; the best at 200: trial 0, 0.69): "
        "training longer makes them worse; a smaller max_t, or the model's own early "
        "stopping, keeps the peak")



@pytest.mark.parametrize("resource", ["fold", "folds", "cv_fold", "n_splits", "CV",
                                      "n_samples"])  # SearchCV's rows (check round 48)
def test_no_fall_is_said_of_a_resource_that_counts_folds(resource):
    """The running mean of a 5-fold loop's AUCs, reported once a fold, fell as the later folds
    scored lower, and the summary said "training longer makes them worse; a smaller max_t ...
    keeps the peak": fewer folds (user test: a Kaggle user's hand-written CV loop)."""
    from nbtune.findings import falling_note

    def study(key):
        trials = [T.Trial(i, {"q": i / 10}, state=T.COMPLETED, value=means[-1],
                          reports=[{key: k + 1, "auc": v} for k, v in enumerate(means)])
                  for i, means in enumerate([(0.78, 0.80, 0.79, 0.77, 0.76),
                                             (0.77, 0.79, 0.78, 0.76, 0.75),
                                             (0.76, 0.78, 0.77, 0.75, 0.74)])]
        return Study("cv", Space({"q": nbtune.uniform(0, 1)}), "auc", "max", trials=trials,
                     settings={"resource": key})

    assert falling_note(study("epoch")).startswith("the metric falls with epoch: 3 of 3")
    assert falling_note(study(resource)) is None
    assert "curves" not in dict(study(resource).summary().facts())


def test_no_fall_is_said_of_curves_whose_resource_goes_back():
    """Three folds each reporting rounds 1 to 30: "the metric falls with round: 3 of 3 trials
    trained to 30 peaked earlier (the highest peak, trial 0: 0.9929 at 30, 0.982698 at 30)"
    (check round 47): passes drawn over one another are no curve to read."""
    from nbtune.findings import falling_note

    def trial(i, passes):
        reports = [{"round": r, "auc": a} for fold in passes for r, a in fold]
        return T.Trial(i, {"q": i / 10}, state=T.COMPLETED, value=reports[-1]["auc"],
                       reports=reports)

    folds = [[(1, 0.90), (10, 0.95), (30, 0.99)], [(1, 0.89), (10, 0.94), (30, 0.98)],
             [(1, 0.80), (10, 0.85), (30, 0.88)]]  # the last fold scores lower
    study = Study("kfold", Space({"q": nbtune.uniform(0, 1)}), "auc", "max",
                  trials=[trial(i, folds) for i in range(3)], settings={"resource": "round"})
    assert falling_note(study) is None


def test_curves_that_all_fall_from_their_first_report_ask_about_the_mode():
    """A booster's logloss maximised: every curve at its best at its first round, and the note
    said "a smaller max_t ... keeps the peak" (first-day test, round 29)."""
    from nbtune.findings import falling_note

    maximised = curves_study([(0.60, 0.40, 0.30, 0.25), (0.62, 0.45, 0.35, 0.30),
                              (0.65, 0.50, 0.41, 0.38)], mode="max")
    assert falling_note(maximised) == (
        "the metric falls with max_iter from the first report of each trial trained to 200 "
        "(3 of them): if lower auc is better, the study's mode is the wrong way round; give "
        "mode='min' (%%tune --mode min)")
    # one that rose first, then fell: the fall is the model's, and so is the note
    assert falling_note(curves_study([(0.60, 0.40, 0.30, 0.25), (0.62, 0.45, 0.35, 0.30),
                                      (0.55, 0.65, 0.41, 0.38)])).startswith(
        "the metric falls with max_iter: 3 of 3 trials trained to 200 peaked earlier")


def test_no_fall_is_said_where_stopping_earlier_gains_less_than_the_curves_jitter():
    """27 epochs of accuracies that wander by about 0.001 from one epoch to the next, each
    a little below an early peak, and the best at the end 0.0002 below the highest peak: "the
    metric falls with epoch ... (the best, trial 156: 0.547333 at 27, 0.547333 at 27)" (a
    trial that had not fallen), where nothing was to be gained (first-day test, round 27)."""
    from nbtune.findings import falling_note

    rng = np.random.default_rng(0)
    study = Study("sgd", Space({"q": nbtune.uniform(0, 1)}), "accuracy", "max",
                  settings={"resource": "epoch"})
    for i in range(6):
        values = 0.545 + 0.001 * rng.standard_normal(27)
        values[4] = 0.5476 if i else 0.5472  # an early peak, above the trial's later values
        if i == 0:
            values[-1] = 0.5474  # the best at 27, 0.0002 below the highest peak
        study.trials.append(T.Trial(i, {"q": i / 10}, state=T.COMPLETED, value=values[-1],
                                    reports=[{"epoch": e + 1, "accuracy": float(v)}
                                             for e, v in enumerate(values)]))
    assert falling_note(study) is None
    for t in study.trials:  # the same curves, the later epochs 0.01 lower: a real fall
        for r in t.reports[8:]:
            r["accuracy"] -= 0.01
        t.value = t.reports[-1]["accuracy"]
    assert falling_note(study).startswith("the metric falls with epoch: 6 of 6 trials trained "
                                          "to 27 peaked earlier (the highest peak, trial ")


def test_figures_take_the_size_the_notebook_set_for_its_figures():
    # rcParams["figure.figsize"] set for a report's figures was ignored: every figure 6.4 x 4
    import matplotlib

    study = hand_made([T.COMPLETED] * 5, [3] * 5)
    assert tuple(study.plot.history().get_size_inches()) == (6.4, 4.0)  # nbtune's own size
    with matplotlib.rc_context({"figure.figsize": (10, 6)}):
        assert tuple(study.plot.history().get_size_inches()) == (10, 6)
        assert tuple(study.plot.learning_curves().get_size_inches()) == (10, 6)
        # a figure sized to what it holds, and a grid of plots, scale alike
        assert tuple(study.plot.importance().get_size_inches())[0] == 10
        wide, tall = study.plot.slice().get_size_inches()
        assert (wide, tall) == pytest.approx((3.4 * 10 / 6.4, 3.0 * 6 / 4.0))


def test_long_hyperparameter_names_under_parallel_axes_do_not_overlap():
    # a Pipeline's names ("mlpclassifier__learning_rate_init") ran into each other
    space = Space({"mlpclassifier__learning_rate_init": nbtune.loguniform(1e-4, 1e-1),
                   "mlpclassifier__hidden_layer_sizes": nbtune.choice(16, 32, 64),
                   "mlpclassifier__alpha": nbtune.loguniform(1e-6, 1e-2),
                   "standardscaler__with_mean": nbtune.choice(True, False)})
    study = Study("long", space, "mean_test_score", "max")
    rng = np.random.default_rng(0)
    for i in range(12):
        value = float(rng.random())
        study.trials.append(T.Trial(i, space.sample(rng), state=T.COMPLETED,
                                    reports=[{"mean_test_score": value}], value=value))
    fig = study.plot.parallel_coordinates()
    fig.canvas.draw()
    labels = fig.axes[0].get_xticklabels()
    assert [t.get_text().replace("\n", "") for t in labels] == [*space.unit_names,
                                                                 "mean_test_score"]
    boxes = [t.get_window_extent() for t in labels]
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:])), [(b.x0, b.x1) for b in boxes]


def test_the_summary_draws_the_best_curves_as_the_panel_does():
    # 3,000 trials' curves were a solid mass, and a 250 KB image in each summary (round 27)
    from nbtune.tracker import CURVES

    study = hand_made([T.COMPLETED] * 130, [3] * 130)
    title = "made: learning curves, the best 50 of 130 trials"
    fig = study.plot.learning_curves(top=CURVES)
    assert fig.axes[0].get_title() == title and len(fig.axes[0].get_lines()) == CURVES == 50
    assert f'alt="{title}"' in study.summary()._repr_html_()
    assert study.plot.learning_curves().axes[0].get_title() == "made: learning curves"  # all
    few = hand_made([T.COMPLETED] * 5, [3] * 5)
    assert 'alt="made: learning curves"' in few.summary()._repr_html_()  # nothing left out


def test_parallel_coordinates_of_many_trials_colour_by_rank_and_draw_the_best_tenth_apart():
    # 3,000 trials, 90% of them within the top tenth of the metric's range: on a linear
    # colour scale nearly every line was the same yellow, the best nowhere (round 27)
    from matplotlib import colormaps
    from matplotlib.colors import to_rgba

    space = Space({"x": nbtune.uniform(0, 1)})
    study = Study("many", space, "score", "max")
    rng = np.random.default_rng(1)
    for i in range(150):
        value = 0.5 if i == 7 else 0.95 + 0.04 * float(rng.random())  # one far outlier
        done = i % 5 == 0
        study.trials.append(T.Trial(i, {"x": float(rng.random())},
                                    state=T.COMPLETED if done else T.STOPPED,
                                    reports=[{"epoch": 1, "score": value}],
                                    value=value if done else None))
    fig = study.plot.parallel_coordinates()
    ax = fig.axes[0]
    apart = {line.get_gid(): line for line in ax.get_lines()}
    assert len(apart) == 15 and {c.get_gid() for c in ax.collections} >= {
        "trials-completed", "trials-ended"}
    done = sorted((t for t in study.trials if t.state == T.COMPLETED), key=lambda t: t.value)
    assert set(apart) == {f"trial-{t.id}" for t in done[-15:]}  # the best tenth, completed
    ranks = {t.id: k for k, t in enumerate(sorted(study.trials,
                                                  key=lambda t: t.reports[-1]["score"]))}
    for t in done[-15:]:  # by rank among all 150: the outlier takes one colour, not the range
        assert to_rgba(apart[f"trial-{t.id}"].get_color()) == to_rgba(
            colormaps["viridis"](ranks[t.id] / 149))
    assert fig.axes[1].get_ylabel() == "score, coloured by rank"


def test_faded_marks_read_in_the_legend_and_stopped_dots_lie_under_the_completed():
    # the legend's "stopped" line was near invisible, and thousands of faded blue "stopped"
    # dots covered the completed ones, drawn in the same blue (round 27)
    study = hand_made([T.COMPLETED] * 4 + [T.STOPPED] * 3, [3] * 4 + [1] * 3)
    for t in study.trials[4:]:
        t.value = t.reports[-1]["score"]
    for fig in (study.plot.learning_curves(), study.plot.history()):
        legend = fig.axes[0].get_legend()
        assert all((h.get_alpha() or 1.0) >= 0.6 for h in legend.legend_handles)
    lines = lines_by_gid(study.plot.history().axes[0])
    assert lines["stopped"].get_alpha() == FADED  # on the figure, still faded
    assert lines["stopped"].get_zorder() < lines["completed"].get_zorder()
    assert lines["stopped"].get_color() != lines["completed"].get_color()


def test_the_summarys_table_says_which_stopped_trials_it_could_not_rank():
    # trials an early-stopping scheduler stopped at a NaN left the table without a word (27)
    study = hand_made([T.COMPLETED] * 3 + [T.STOPPED] * 3, [3] * 3 + [1] * 3)
    for t in study.trials[4:]:
        t.reports[-1]["score"] = float("nan")
    text = str(study.summary())
    assert "2 stopped trials without a finite score, not ranked" in text
    assert "not ranked" in study.summary()._repr_html_()
    assert "not ranked" not in str(hand_made([T.COMPLETED] * 3, [3] * 3).summary())


def test_a_running_panels_table_says_the_same_of_them():
    from nbtune.panel import LivePanel

    study = hand_made([T.COMPLETED] * 3 + [T.STOPPED] * 3, [3] * 3 + [1] * 3)
    for t in study.trials[4:]:
        t.reports[-1]["score"] = float("nan")
    panel = LivePanel(study, n_trials=10, top=5)
    assert "2 stopped trials without a finite score, not ranked" in panel.table_html(
        panel.live())


def test_compare_zooms_to_where_the_studies_bests_differ():
    """The axis started at the first trial's value: 0.77 against 0.78 a few pixels at the top
    (first-day test, round 36). It now starts at the bests after each study's first tenth."""
    rising = [0.1, 0.3] + [0.70 + 0.0008 * i for i in range(98)]  # to 0.7784
    other = [0.2] + [0.72 + 0.0006 * i for i in range(99)]  # to 0.7794
    ax = nbtune.compare(ended("a", rising, mode="max"), ended("b", other, mode="max")).axes[0]
    low, high = ax.get_ylim()
    assert 0.6 < low < 0.71 and 0.7794 < high < 0.8  # the first steps leave the view
    few = nbtune.compare(ended("c", [0.1, 0.8], mode="max")).axes[0]
    assert few.get_ylim()[0] < 0.1  # a handful of trials: all in view


def loss_and_more(config):
    for epoch in (1, 2, 3):
        nbtune.report(epoch=epoch, loss=config["x"] / epoch, accuracy=1 - config["x"] / epoch,
                      lag=config["x"] * epoch)


@pytest.mark.parametrize("loaded", [False, True], ids=["live", "loaded"])
def test_every_plot_draws_another_reported_value_on_request(client, db, loaded):
    """A researcher who minimised a loss and reported accuracy could not plot the accuracy:
    history(metric=...) was Python's TypeError (first-day test, round 38)."""
    study = nbtune.tune(loss_and_more, {"x": nbtune.uniform(0, 1)}, metric="loss", mode="min",
                        n_trials=5, seed=1, cluster=client, storage=db, study="more",
                        progress=False)
    if loaded:
        study = nbtune.load_study("more", storage=db)
    accuracy = {t.id: 1 - t.config["x"] / 3 for t in study.trials}
    ax = study.plot.history(metric="accuracy").axes[0]
    assert ax.get_ylabel() == "accuracy" and "accuracy (max)" in ax.get_title()
    best = lines_by_gid(ax)["best"].get_ydata()
    assert list(best) == pytest.approx(np.maximum.accumulate([accuracy[i] for i in
                                                              sorted(accuracy)]))
    curves = lines_by_gid(study.plot.learning_curves(metric="accuracy").axes[0])
    for t in study.trials:
        assert list(curves[f"trial-{t.id}"].get_ydata()) == pytest.approx(
            [1 - t.config["x"] / e for e in (1, 2, 3)])
    assert study.plot.slice(metric="accuracy").axes[0].get_ylabel() == "accuracy"
    assert isinstance(study.plot.parallel_coordinates(metric="accuracy"), Figure)
    assert isinstance(study.plot.importance(metric="accuracy"), Figure)
    # the study is as it was: its own metric and values
    assert study.metric == "loss" and study.best.value == pytest.approx(
        min(t.config["x"] / 3 for t in study.trials))
    lag = lines_by_gid(study.plot.history(metric="lag", mode="min").axes[0])["best"]
    assert list(lag.get_ydata()) == pytest.approx(np.minimum.accumulate(
        [study.trials[i].config["x"] * 3 for i in sorted(accuracy)]))


@pytest.mark.parametrize("call, message", [
    (lambda p: p.history(metric="acc"), "no trial reported 'acc' (did you mean 'accuracy'?); "
     "the study's metric is 'loss', its other values: 'accuracy', 'epoch', 'lag'"),
    (lambda p: p.learning_curves(metric="lag"), "which way is 'lag' better? give mode='max' "
     "or mode='min'"),
    (lambda p: p.history(metric="accuracy", mode="maximize"), "mode must be 'max' or 'min', "
     "got 'maximize'"),
    (lambda p: p.slice("x", "y"), "slice() takes one hyperparameter's name, got 'x' and 'y': "
     "slice() with no name draws every hyperparameter, slice('x') one"),
    (lambda p: p.history(ax="left"), "ax= takes a matplotlib Axes (fig, ax = plt.subplots(); "
     "then ax=ax, or ax=axes[0] of several), got str 'left'"),
], ids=["unknown", "no mode", "optuna's mode", "two names", "ax a string"])
def test_a_plot_called_wrongly_says_so_in_one_line(client, db, call, message):
    study = nbtune.tune(loss_and_more, {"x": nbtune.uniform(0, 1)}, metric="loss", mode="min",
                        n_trials=2, seed=1, cluster=client, storage=db, progress=False)
    with pytest.raises(ValueError) as raised:
        call(study.plot)
    assert str(raised.value) == message


def test_titles_fit_a_paper_columns_width(fifo, asha):
    """At figure.figsize (3.4, 2.4), a paper's column, the parallel coordinates' and the
    importance's titles ran past the figure's edges, cut off in the saved file (first-day
    test, round 38)."""
    import matplotlib

    def named(study):  # a paper's study name, as long as the tester's
        return Study("paper-random-seed-0", study.space, study.metric, study.mode,
                     trials=study.trials, settings=study.settings)

    fifo, asha = named(fifo), named(asha)
    with matplotlib.rc_context({"figure.figsize": (3.4, 2.4)}):
        figures = [fifo.plot.parallel_coordinates(), fifo.plot.importance(),
                   fifo.plot.history(), fifo.plot.learning_curves(), asha.plot.rungs()]
    for fig in figures:
        fig.canvas.draw()
        box = fig.bbox
        title = fig.axes[0].title
        assert title.get_text(), fig
        extent = title.get_window_extent()
        assert box.x0 - 1 <= extent.x0 and extent.x1 <= box.x1 + 1, (title.get_text(), extent)


def test_a_slice_of_long_choices_wraps_and_tilts_their_labels_apart():
    """Estimators' reprs as a list of grids' choices printed over one another (first-day
    test, round 59)."""
    names = ["LogisticRegression(max_iter=5000)", "SVC()",
             "RandomForestClassifier(n_estimators=60, random_state=0)"]
    trials = [T.Trial(i, {"clf": names[i % 3]}, state=T.COMPLETED, value=float(i),
                      started=100.0 + i, finished=101.0 + i) for i in range(6)]
    study = Study("families", Space({"clf": nbtune.choice(*names)}), "loss", "min",
                  trials=trials)
    fig = study.plot.slice()
    fig.canvas.draw()
    ticks = fig.axes[0].get_xticklabels()
    assert [t.get_text().split("\n")[:2] for t in ticks] == [
        ["LogisticRegression(", "max_iter=5000)"], ["SVC()"],
        ["RandomForestClassifier(", "n_estimators=60,"]]
    assert {(t.get_rotation(), t.get_horizontalalignment()) for t in ticks} == {(30, "right")}


def test_one_panels_slice_keeps_a_long_study_names_title_inside_the_figure():
    """slice() of a one-hyperparameter study with a default (long) name had its title cut off
    at both edges (check round 44)."""
    study = ended("tune-2026-12-06-14-33-12-a-long-default-name", [3.0, 1.0, 2.0, 0.5])
    fig = study.plot.slice()
    fig.canvas.draw()
    extent = fig._suptitle.get_window_extent()
    assert fig.bbox.x0 - 1 <= extent.x0 and extent.x1 <= fig.bbox.x1 + 1, (
        fig._suptitle.get_text(), extent, fig.bbox)
    assert fig._suptitle.get_text().replace("\n", "").startswith(
        "tune-2026-12-06-14-33-12-a-long-default-name: loss by")


def test_many_studies_compared_have_their_legend_below_the_lines():
    """Six studies (two methods, three seeds) had their legend on their lines (first-day test,
    round 38); four or fewer keep it on the axes."""
    six = [ended(f"s{i}", [3.0 - 0.1 * i, 1.0 + 0.1 * i, 0.5]) for i in range(6)]
    fig = nbtune.compare(*six)
    fig.canvas.draw()
    ax = fig.axes[0]
    legend, box = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.y1 < box.y0 and len(ax.get_legend().get_texts()) == 6
    few = nbtune.compare(*six[:4])
    few.canvas.draw()
    inside = few.axes[0].get_legend().get_window_extent()
    assert few.axes[0].get_window_extent().contains(inside.x0 + 1, inside.y0 + 1)


def test_compare_draws_a_group_of_repeats_as_its_median_and_range(db):
    """A researcher with three seeds of two methods drew six crossing lines (first-day test,
    round 38); Optuna draws repeats as a mean and its spread. A list of studies is one method's
    repeats: the median of their best so far, a band from the lowest to the highest, up to the
    shortest one's end."""
    a = [ended(f"asha-s{i}", values, mode="max") for i, values in
         enumerate([[0.5, 0.7, 0.6, 0.9], [0.6, 0.6, 0.8], [0.4, 0.8, 0.8, 0.85, 0.95]])]
    r = [ended(f"rand-{i}", [0.3 + 0.1 * i, 0.5], mode="max") for i in range(2)]
    ax = nbtune.compare(a, r).axes[0]
    lines = {line.get_gid(): line for line in ax.get_lines()}
    # best so far: [.5 .7 .7 .9 .9], [.6 .6 .8 .8], [.4 .8 .8 .85 .95 .95] (a failed trial last)
    # to the longest's end, the shorter ones keeping their final best: the line ends at the
    # median of the final bests, the legend's value (check round 43)
    assert list(lines["compare-0"].get_xdata()) == [1, 2, 3, 4, 5, 6]
    assert np.allclose(lines["compare-0"].get_ydata(), [0.5, 0.7, 0.8, 0.85, 0.9, 0.9])
    band = next(c for c in ax.collections if c.get_gid() == "compare-0-band")
    corners = band.get_paths()[0].vertices
    assert np.isclose(corners[:, 1].max(), 0.95) and np.isclose(corners[:, 1].min(), 0.4)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "asha: median best 0.9 of 3 studies (0.8 to 0.95)",
        "rand: median best 0.5 of 2 studies (0.5 to 0.5)"]
    assert ax.get_title() == "5 studies in 2 groups: best so far (max)"
    named = nbtune.compare({"ASHA": a, "first": a[0]}, by="time").axes[0]
    assert [t.get_text().split(":")[0] for t in named.get_legend().get_texts()] == [
        "ASHA", "first"]
    lone = next(line for line in named.get_lines() if line.get_gid() == "compare-1")
    assert lone.get_ydata()[-1] == 0.9  # a lone study: its own line, as before
    with pytest.raises(ValueError, match=r"^compare got an empty group 'B': give each group"):
        nbtune.compare({"A": a, "B": []})


def test_a_groups_median_best_so_far_starts_where_every_member_has_one():
    """By time, a seed whose first trial ended first drew the median alone (0.8), and the line
    fell as the next came in (0.55) under "best so far" (first-day test, round 61)."""
    early, late = ended("s0", [0.8, 0.85], mode="max"), ended("s1", [0.3, 0.9], mode="max")
    for trial in late.trials:
        trial.finished += 0.5
    ax = nbtune.compare([early, late], by="time").axes[0]
    line = next(x for x in ax.get_lines() if x.get_gid() == "compare-0")
    xs, ys = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
    drawn = ~np.isnan(ys)
    assert xs[drawn][0] == 1.5 and np.isnan(ys[xs < 1.5]).all()
    assert np.all(np.diff(ys[drawn]) >= 0) and np.isclose(ys[drawn][0], 0.55)


def test_compare_zooms_to_a_groups_median_and_keeps_its_best_seed_in_view():
    """The band's worse edge (a seed's first low steps) turned the zoom off; its better edge
    must stay in view (notebook 06)."""
    rising = [[0.1] * (1 + 8 * (k == 0)) + [0.70 + 0.001 * i + 0.01 * k for i in range(40)]
              for k in range(3)]  # the first seed stays low for its first 9 trials
    ax = nbtune.compare([ended(f"r{k}", v, mode="max") for k, v in enumerate(rising)]).axes[0]
    low, high = ax.get_ylim()
    assert 0.5 < low < 0.72 and high >= 0.70 + 0.039 + 0.02  # the best seed's end: in view
    # what left the view is said, at the axis's edge (check round 43: no note by trial)
    assert f"not in view: first bests so far below {low:.3g} (down to 0.1)" in \
        ax.get_title().replace("\n", " "), ax.get_title()


def test_a_trial_no_worker_started_reads_queued_in_the_frame_and_its_repr():
    """A background study's to_dataframe() and its trials' repr said "running" for trials
    still waiting for a worker, where the panel and study.counts() said "queued"."""
    study = ended("bg", [1.0], mode="max")
    study.trials += [T.Trial(5, {"x": 0.5}, state=T.RUNNING),
                     T.Trial(6, {"x": 0.6}, state=T.RUNNING, started=103.0)]
    frame = study.to_dataframe()
    assert list(frame["state"]) == ["completed", "failed", "queued", "running"]
    assert repr(study.trials[2]).startswith("Trial(id=5, state='queued'")
    assert study.counts() == {"completed": 1, "failed": 1, "queued": 1, "running": 1}


def blown_up(mode: str = "min", first: bool = False) -> Study:
    """An SGDRegressor study of rmse (negated where ``mode="max"``): 5 trials completed, two of
    them blown up by a large eta0 (rmse 5e12, finite; trials 0 and 11 where ``first``, else 5
    and 11: ASHA let them pass a rung with few values), 19 stopped at epochs 1 to 3, the
    others near 35 to 42 (first-day test, round 42)."""
    sign = 1.0 if mode == "min" else -1.0
    trials = []
    for i in range(24):
        done = i in (0, 4, 5, 8, 11)
        level = 5e12 * (1 + i / 100) if i in ((0, 11) if first else (5, 11)) else 35.0 + i / 6
        reports = [{"epoch": e, "rmse": sign * (level + 3.0 / e)}
                   for e in range(1, (27 if done else 1 + i % 3) + 1)]
        trials.append(T.Trial(i, {"eta0": 10 ** (-4 + i / 5)}, reports=reports,
                              state=T.COMPLETED if done else T.STOPPED,
                              value=reports[-1]["rmse"], started=100.0 + i, finished=101.0 + i))
    return Study("sgd", Space({"eta0": nbtune.loguniform(1e-4, 3.0)}), "rmse", mode,
                 trials=trials, settings={"resource": "epoch"})


def in_range(ax, mode: str, best: float) -> None:
    """``ax``'s y-range holds ``best`` and the values near 35 to 42, not the blown-up ones."""
    low, high = ax.get_ylim()
    near, far = sorted([low, high], key=abs)  # 35 to 42, or -35 to -42
    assert low <= best <= high and abs(near) > 30 and abs(far) < 50, (low, high, best)


LEFT_OUT = {"min": r"not in view: 2 trials above [34]\d\.\d+ \(up to 5\.55e\+12\)",
            "max": r"not in view: 2 trials below -[34]\d\.\d+ \(down to -5\.55e\+12\)"}


@pytest.mark.parametrize("mode", ["min", "max"])
def test_learning_curves_keep_the_best_in_view_past_completed_blown_up_trials(mode):
    # two completed trials at rmse 5e12 fell within "the best quarter" of the ranked trials
    # (completed first, whatever their value): the y-axis ran 0 to 5e12, and the best three
    # curves were one flat line at 0 (first-day test, round 42)
    study = blown_up(mode)
    best = study.best
    assert best.id == 0
    for fig in (study.plot.learning_curves(), study.plot.learning_curves(top=12)):
        ax = fig.axes[0]
        in_range(ax, mode, best.value)
        for r in best.reports[1:]:  # the best curve, but for its first epoch's value
            in_range(ax, mode, r["rmse"])
        for i in (4, 8):  # where the other completed near 35 ended
            in_range(ax, mode, study.trials[i].value)


@pytest.mark.parametrize("mode", ["min", "max"])
def test_history_keeps_the_best_in_view_and_says_what_it_left_out(mode):
    study = blown_up(mode)
    ax = study.plot.history().axes[0]
    in_range(ax, mode, study.best.value)
    assert re.search(LEFT_OUT[mode], ax.get_title().replace("\n", " ")), ax.get_title()
    plain = ended("plain", [3.0, 2.5, 2.0, 1.9, 1.8, 40.0])  # 40 is worse, not blown up
    assert "not in view" not in plain.plot.history().axes[0].get_title()
    assert plain.plot.history().axes[0].get_ylim()[1] > 40


@pytest.mark.parametrize("mode", ["min", "max"])
def test_slice_keeps_the_best_in_view_and_says_what_it_left_out(mode):
    study = blown_up(mode)
    fig = study.plot.slice()
    in_range(fig.axes[0], mode, study.best.value)
    title = fig._suptitle.get_text()  # Figure.get_suptitle() is matplotlib 3.8's
    assert re.search(LEFT_OUT[mode], title.replace("\n", " ")), title
    from matplotlib.figure import Figure as Plain

    ax = Plain().add_subplot()
    study.plot.slice("eta0", ax=ax)
    in_range(ax, mode, study.best.value)
    assert re.search(LEFT_OUT[mode], ax.get_title().replace("\n", " ")), ax.get_title()
    # where they were tried stays in sight: a triangle at the worse edge at each one's eta0
    # (the slice is where a large eta0 shows to diverge: check round 43)
    (far,) = [line for line in ax.get_lines() if line.get_gid() == "eta0-beyond"]
    assert sorted(far.get_xdata()) == [10 ** (-4 + i / 5) for i in (5, 11)]
    assert list(far.get_ydata()) == ([0.97] * 2 if mode == "min" else [0.03] * 2)
    assert far.get_marker() == ("^" if mode == "min" else "v")


@pytest.mark.parametrize("mode", ["min", "max"])
def test_parallel_coordinates_colour_and_place_the_values_in_view(mode):
    study = blown_up(mode)
    fig = study.plot.parallel_coordinates()
    ax, bar = fig.axes
    assert re.search(LEFT_OUT[mode], ax.get_title().replace("\n", " ")), ax.get_title()
    in_range(bar, mode, study.best.value)  # the colour scale: the values near 35 to 42
    metric = [float(t.get_text()) for t in ax.texts
              if t.get_gid() == "tick" and round(t.get_position()[0]) == 1]
    assert len(metric) == 3 and all(30 < abs(v) < 50 for v in metric), metric
    lines = lines_by_gid(ax)
    best, worse = lines["trial-0"].get_ydata()[-1], lines["trial-8"].get_ydata()[-1]
    assert abs(best - worse) > 0.1  # 35.1 against 36.4: apart, not both at one end
    assert lines["trial-0"].get_color() != lines["trial-8"].get_color()


@pytest.mark.parametrize("mode", ["min", "max"])
def test_compare_keeps_the_bests_in_view_past_a_blown_up_first_trial(mode):
    # the first trial's rmse of 5e12 was the first step of the best so far: the axis ran to
    # 5e12, and both studies' lines were flat at 0 (first-day test, round 42)
    study, other = blown_up(mode, first=True), blown_up(mode)
    ax = nbtune.compare({"first blown up": study, "later": other}).axes[0]
    low, high = ax.get_ylim()
    assert low <= study.best.value <= high and low <= other.best.value <= high
    in_range(ax, mode, study.best.value)
    side = "above" if mode == "min" else "below"
    title = ax.get_title().replace("\n", " ")
    edge = re.search(rf"not in view: first bests so far {side} (-?[\d.]+) ", title)
    # the edge named is the axis's own (it named 101 where the axis ended at 21: check
    # round 43)
    assert edge and float(edge.group(1)) == pytest.approx(high if mode == "min" else low,
                                                          rel=1e-2), title


def test_a_tail_that_grows_step_by_step_stays_in_view():
    from nbtune.drawing import in_view

    assert in_view([1, 2, 3, 4, 5, 10, 20, 40, 80, 160], "min") is None  # the study's spread
    assert in_view([0.9, 0.8, 0.5, 0.1, 0.0], "max") is None
    assert in_view([1.0, 1.0, 1.0, 1.0, 2.0], "min") is None  # most at the best: nothing apart
    view = in_view([35.0, 36.0, 35.5, 37.0, 5e12, float("nan"), 4e10], "min")
    assert (view.lo, view.hi, view.left, view.worst) == (35.0, 37.0, 2, 5e12)


def test_a_models_tight_cluster_near_the_best_leaves_the_rest_in_view():
    """A model-based study puts most trials within a hair of the best: the others, 0.2 to 0.4
    below, are the study's spread, not blown-up runs, and stay in view."""
    from nbtune.drawing import in_view

    values = [0.9 - 0.0001 * i for i in range(12)] + [0.5, 0.6, 0.65, 0.7, 0.55]
    assert in_view(values, "max") is None
    blown = [35.0 + 0.1 * i for i in range(12)] + [5e12, 8e11]
    view = in_view(blown, "min")
    assert view is not None and view.left == 2 and view.hi < 40


def test_compare_groups_of_unnamed_studies_a_failed_seed_and_the_last_steps_range():
    """Check round 43: two lists of default-named studies had one label; one failed seed
    stopped the figure ("study 'x': the study has ..."); a best reached on a group's last
    trial showed in no band."""
    a = [ended(f"study-20261206-12104{k}-a{k}", [3.0, 2.0, 1.0 - 0.1 * k], mode="min")
         for k in range(2)]  # default names
    b = [ended(f"study-20261206-12105{k}-b{k}", [2.5, 2.0, 1.5], mode="min") for k in range(2)]
    failed = ended("dead", [], mode="min")
    with pytest.warns(nbtune.NbtuneWarning, match=r"^compare leaves 'dead' out of 'group 2': "
                                                  r"study 'dead' has no completed trials yet"):
        ax = nbtune.compare(a, b + [failed]).axes[0]
    labels = [t.get_text().split(":")[0] for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["group 1", "group 2"], labels  # a default name's time is no name
    end = next(line for line in ax.get_lines() if line.get_gid() == "compare-0-end")
    assert sorted(end.get_ydata()) == pytest.approx([0.9, 1.0])  # the last trial's range
    with pytest.raises(ValueError, match=r"^study 'dead' has no completed trials yet"):
        nbtune.compare(failed)


def test_a_scipy_distributions_edge_is_judged_by_its_own_law():
    """SearchCV's space takes scipy.stats laws, sampled through their inverse CDF and held as a
    range of their far tails: expon(scale=2)'s median, 1.38, read as the bottom of a range up to
    27.6, and the summary said to widen it (first-day test, round 57)."""
    from scipy import stats

    from nbtune.findings import edge_notes
    from nbtune.sklearn.space import from_scipy

    space = Space({"C": from_scipy("C", stats.expon(scale=2.0))})

    def study(values):
        return Study("law", space, "acc", "max", trials=[
            T.Trial(i, {"C": c}, state=T.COMPLETED, value=1 - i / 100)
            for i, c in enumerate(values)])

    assert edge_notes(study([1.381, 1.468, 2.026, 4.41, 0.5, 3.0, 0.9, 6.0])) == []
    assert edge_notes(study([0.001, 0.002, 0.003, 0.004, 0.5, 3.0, 0.9, 6.0])) == [
        "C: the best trials crowd the bottom of its distribution (the best at 0.001, in its "
        "lowest 0.05% of draws): better values may lie beyond it (move or widen the "
        "distribution)"]


def boosted(depths: list, every: int = 20) -> Study:
    """A study without a scheduler whose trials report n_trees=20, 40, ... (boosting stages,
    not epochs), rmse and fit_time, over ``max_depth = choice(None, 3, 5)``."""
    study = Study("boosted", Space({"max_depth": nbtune.choice(None, 3, 5)}), "rmse", "min",
                  settings={"resource": "epoch", "scheduler": "fifo"})
    for i, depth in enumerate(depths):
        reports = [{"n_trees": n, "rmse": 3 - n / 100 - i / 10, "fit_time": 0.013 * n}
                   for n in range(every, 101, every)]
        study.trials.append(T.Trial(i, {"max_depth": depth}, state=T.COMPLETED,
                                    reports=reports, value=reports[-1]["rmse"]))
    return study


def test_a_study_without_a_scheduler_counting_n_trees_has_its_curves_along_them():
    """Boosting reported every 20 trees, no scheduler: "no trial reported 'epoch'", a summary
    plot by trial, and a frame with an empty epoch column (first-day test, round 65)."""
    study = boosted([None, 3, 5])
    ax = study.plot.learning_curves().axes[0]
    assert ax.get_xlabel() == "n_trees"
    assert lines_by_gid(ax)["trial-2"].get_xdata().tolist() == [20, 40, 60, 80, 100]
    frame = study.to_dataframe()
    assert "epoch" not in frame and frame["n_trees"].tolist() == [100, 100, 100]
    assert "metrics.n_trees" not in frame and "metrics.fit_time" in frame
    # the values as the cell wrote them: None beside ints, not NaN beside 3.0 (round 65)
    assert frame["config.max_depth"].tolist() == [None, 3, 5]
    assert [type(v) for v in frame["config.max_depth"]] == [type(None), int, int]


def test_no_key_is_taken_for_the_resource_where_it_is_not_one_or_not_alone():
    from nbtune.ranking import counted_key, resource_of

    study = boosted([3, 5])
    assert resource_of(study) == "n_trees"
    study.settings["scheduler"] = "asha"  # a scheduler judges by what it was given
    assert resource_of(study) == "epoch"
    for t in study.trials:  # a second key counting up: which one is not said
        for n, r in enumerate(t.reports):
            r["step"] = n
    assert counted_key(study.trials, "rmse") is None
    once = boosted([3], every=100)  # one report each: nothing counts up
    assert counted_key(once.trials, "rmse") is None
    folds = boosted([3])
    for t in folds.trials:
        for r in t.reports:
            r["fold"] = r.pop("n_trees") // 20
    assert counted_key(folds.trials, "rmse") is None  # folds are not training
    with pytest.raises(ValueError, match=r"no trial reported 'epoch' with 'rmse': .*; they "
                       r"report fit_time, fold: learning_curves\(resource='NAME'\)"):
        folds.plot.learning_curves()


def test_parallel_coordinates_tick_log_axes_at_decades_and_integer_axes_at_integers():
    """A learning rate's log axis read 0.01, 0.05477, 0.3 and a lograndint(1, 50)'s 1, 7.071, 50:
    its geometric middle (first-day test, round 65)."""
    space = Space({"lr": nbtune.loguniform(0.01, 0.3), "leaf": nbtune.lograndint(1, 50),
                   "alpha": nbtune.loguniform(1e-6, 1.0), "depth": nbtune.randint(2, 9)})
    study = Study("ticks", space, "rmse", "min", settings={})
    for i in range(6):
        config = {"lr": 0.01 + 0.05 * i, "leaf": 1 + 9 * i, "alpha": 10.0 ** -i, "depth": 2 + i}
        study.trials.append(T.Trial(i, config, state=T.COMPLETED, value=1.0 + i / 10))
    ax = study.plot.parallel_coordinates().axes[0]
    ticks: dict[int, list[str]] = {}
    for t in ax.texts:
        if t.get_gid() == "tick":
            ticks.setdefault(round(t.get_position()[0]), []).append(t.get_text())
    assert ticks[0] == ["0.01", "0.1", "0.3"]
    assert ticks[1] == ["1", "10", "50"]
    assert ticks[2] == ["1e-06", "1e-05", "0.001", "0.1", "1"]  # every other decade, three
    assert ticks[3] == ["2", "6", "9"]
