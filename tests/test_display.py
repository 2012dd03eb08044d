"""What a person reads while a study runs and after: tables, plots, frames, tracebacks, times,
and a panel that leaves a static summary, never a dead widget, in the saved notebook."""
from __future__ import annotations

import ast
import io
import re

import nbformat
import numpy as np
import pandas as pd
import pytest

import nbtune
from nbtune import trial as T
from nbtune.live import LivePanel, TextProgress
from nbtune.drawing import FADED, LABELLED
from nbtune.formatting import duration_text, one_line
from nbtune.ranking import pace_text, rank_trials

from html_tables import trials_table, written_alike
from kernels import kernel_environ


def converging(config):
    """score = q * (1 - 0.5 / epoch): early epochs are far below the end, for every trial."""
    for epoch in range(1, 10):
        nbtune.report(epoch=epoch, score=config["q"] * (1 - 0.5 / epoch))


@pytest.fixture(scope="module")
def asha(client, tmp_path_factory):
    """ASHA over nine trials: q=9 and 8 reach epoch 9, most stop at the first rung."""
    path = str(tmp_path_factory.mktemp("display") / "studies.db")
    study = nbtune.tune(converging, {"q": nbtune.grid(9, 8, 7, 6, 5, 4, 3, 2, 1),
                                     "lr": nbtune.loguniform(1e-6, 1e-2)},
                        searcher="grid", metric="score", mode="max", scheduler="asha", max_t=9,
                        concurrency=1, seed=0, cluster=client, storage=path, study="asha",
                        progress=LivePanel)
    return study, path


def test_parallel_coordinates_draws_the_stopped_trials_faded(asha):
    study, path = asha
    for s in (study, nbtune.load_study("asha", storage=path)):
        fig = s.plot.parallel_coordinates()
        ax = fig.axes[0]
        lines = {line.get_gid(): line for line in ax.get_lines()}
        stopped = [t for t in s.trials if t.state == T.STOPPED]
        assert len(stopped) >= 5
        assert set(lines) == {f"trial-{t.id}" for t in s.trials}  # every trial, not only 2
        for t in s.trials:
            faded = lines[f"trial-{t.id}"].get_alpha() == FADED
            assert faded == (t.state == T.STOPPED)
        # on the metric's axis, a stopped trial sits at its last reported value
        values = [t.value if t.state == T.COMPLETED else t.last("score") for t in s.trials]
        lo, hi = min(values), max(values)
        for t, v in zip(s.trials, values):
            assert lines[f"trial-{t.id}"].get_ydata()[-1] == pytest.approx((v - lo) / (hi - lo))
        # each tick label ends left of its axis line, not on it
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        renderer = canvas.get_renderer()
        labels = [t for t in ax.texts if t.get_gid() == "tick"]
        assert labels
        for text in labels:
            axis_x = ax.transData.transform((round(text.get_position()[0]), 0))[0]
            assert text.get_window_extent(renderer).x1 < axis_x - 2


def test_learning_curves_range_follows_the_best_trials(asha):
    study, _ = asha
    ax = study.plot.learning_curves().axes[0]
    bottom, top = ax.get_ylim()
    ranked = rank_trials(study)
    best_curve = [r["score"] for r in study.best.reports]
    assert top >= max(best_curve) and bottom <= sorted(best_curve)[1]
    # the worst stopped trials' first-epoch scores leave the range; all of them are drawn
    worst = [t.last("score") for t in ranked[-3:]]
    assert all(v < bottom for v in worst), (worst, bottom)
    assert len(ax.get_lines()) == len(study.trials)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    unseen = {t.id: ", out of view" * all(not bottom <= r["score"] <= top for r in t.reports)
              for t in ranked}  # said of a curve the range leaves out (round 50)
    assert legend[:LABELLED] == [f"best: trial {ranked[0].id}"] + [
        f"trial {t.id} ({t.state}{unseen[t.id]})" for t in ranked[1:LABELLED]]
    colours = {line.get_gid(): line.get_color() for line in ax.get_lines()}
    assert [colours[f"trial-{t.id}"] for t in ranked[:LABELLED]] == ["C3", "C1", "C2"]


def test_the_panels_last_frame_and_its_times(asha):
    study, _ = asha
    panel = study.live
    # the last frame holds every report of every trial
    assert {k: len(v) for k, v in panel.curve_data.items()} == {
        t.id: len(t.reports) for t in study.trials}
    table = trials_table(panel.table.value)
    header = table["rows"][0]
    assert header == ["#", "trial", "score", "epoch", "state", "q", "lr"]
    assert "furthest epoch first" in table["caption"]
    lr = header.index("lr")
    for row in table["rows"][1:]:  # small log-scale values: 4 significant digits each
        t = study.trials[int(row[1])]
        assert row[lr] == f"{t.config['lr']:.3e}"
    for column in range(len(header)):
        if header[column] != "state":
            assert written_alike([row[column] for row in table["rows"][1:]]), column
    # one clock: the label, the summary and the study say the same elapsed time
    elapsed = duration_text(study.elapsed)
    assert study.finished_at - study.started_at == pytest.approx(study.elapsed)
    label = re.sub(r"<[^>]+>", "", panel.label.value)  # its pieces, each kept on one line
    assert f" · {elapsed} · " in label and "ended: " in label
    assert dict(study.summary().facts())["time"].startswith(elapsed)
    assert "trials/min · median trial " in label
    assert panel.label.value.count('<span style="white-space:nowrap">') == label.count(" · ") + 1


def test_dataframe_has_one_resource_column_and_readable_small_floats(asha):
    study, path = asha
    for s in (study, nbtune.load_study("asha", storage=path)):
        frame = s.to_dataframe()
        assert "epoch" in frame.columns and "epoch_trained" not in frame.columns
        shown = frame.sort_values("score")[["config.lr", "score"]]  # derived frames alike
        for text in (repr(shown), shown._repr_html_(), shown.to_latex()):  # a paper's table
            for t in s.trials:
                assert f"{t.config['lr']:.6g}" in text  # 6 significant digits, 1e-05 readable
            assert not re.search(r"\b0\.0000\d", text)
        assert frame["config.lr"].tolist() == [t.config["lr"] for t in s.trials]  # not rounded
    # pickled, it is a plain DataFrame: a colleague without nbtune could not read it (round 26)
    import pickle

    blob = pickle.dumps(frame)
    assert b"nbtune" not in blob and type(pickle.loads(blob)) is pd.DataFrame
    assert pickle.loads(blob).equals(frame)


def test_a_choices_values_read_as_listed_in_every_table():
    """C of [0.01, 0.1, 1.0] read 1.000e-01 in one summary, 0.1000 in another and 0.100 in the
    panel, after which rows each showed (first-day test, round 59)."""
    from nbtune.space import Space
    from nbtune.study import Study
    from nbtune.summary import trials_table

    space = Space({"C": nbtune.choice(0.01, 0.1, 1.0), "lr": nbtune.uniform(0.0, 1.0)})
    trials = [T.Trial(i, {"C": c, "lr": 0.5 + i / 10}, state=T.COMPLETED, value=float(i),
                      started=1.0, finished=2.0) for i, c in enumerate([0.1, 1.0, 0.01])]
    study = Study("c", space, "loss", "min", trials=trials)
    for top in (1, 2, 3):
        headers, rows, _ = trials_table(study, top)
        assert [row[headers.index("C")] for row in rows] == ["0.1", "1.0", "0.01"][:top]


def test_short_durations_show_in_milliseconds():
    assert [duration_text(s) for s in (0.0, 0.012, 0.0994, 0.1, 8.24, 89)] == \
        ["0 ms", "12 ms", "99 ms", "0.1 s", "8.2 s", "1 min 29 s"]
    assert pace_text(None, (600.0, 0.012)) == "600 trials/min · median trial 12 ms"  # not 0.0 s


def test_one_line_keeps_the_end_of_a_long_message():
    error = ("Traceback (most recent call last):\n  ...\nValueError: "
             + "x" * 300 + " the useful end: lr=0.3 diverged")
    line = one_line(error, width=120)
    assert len(line) <= 120 and line.startswith("ValueError: ")
    assert line.endswith("the useful end: lr=0.3 diverged")
    assert one_line("KeyError: 'a'\n\n") == "KeyError: 'a'"
    # cut between words, not inside them: "the note … LER_ADDRESS)" (first-day test, round 67)
    hint = ("nbtune: the workers cannot import 'mymodel', the notebook's own: send it to them, "
            "distributed.Client('tcp://127.0.0.1:8799').upload_file('/work/scratch/long/"
            "folders/mymodel.py'), or put it where the workers' Python finds it")
    line = one_line(hint, width=120)
    assert len(line) <= 120 and " … " in line, line
    start, end = line.split(" … ")
    assert hint.startswith(start + " ") and hint.endswith(end), line
    assert hint[:len(hint) - len(end)].endswith(" ") or end[0] in "./(", line  # at a word
    # a module's path before the exception's name took a third of the line (first-day test,
    # round 8): the name is enough
    sklearn = ("sklearn.utils._param_validation.InvalidParameterError: The 'loss' parameter of "
               "SGDClassifier must be a str among {'log_loss', 'modified_huber', 'hinge', "
               "'squared_hinge', 'perceptron', 'squared_error', 'huber', 'epsilon_insensitive', "
               "'squared_epsilon_insensitive'}. Got 'log' instead.")
    assert one_line(sklearn).startswith("InvalidParameterError: The 'loss' parameter ")
    assert one_line(sklearn).endswith(" Got 'log' instead.")
    assert one_line("see a.b: a dotted word, not a class") == "see a.b: a dotted word, not a class"
    assert one_line("x.py: a file name before a colon") == "x.py: a file name before a colon"
    # an estimator's repr wraps the exception's message: the line began mid-repr (round 59)
    wrapped = ("Traceback (most recent call last):\n  File \"f.py\", line 3, in fit\n    g()\n"
               "ValueError: Invalid parameter 'max_iter' for estimator RandomForestClassifier("
               "max_depth=3,\n                       warm_start=True). Valid parameters are: "
               "['bootstrap'].\n")
    assert one_line(wrapped) == ("ValueError: Invalid parameter 'max_iter' for estimator "
                                 "RandomForestClassifier(max_depth=3, warm_start=True). Valid "
                                 "parameters are: ['bootstrap'].")
    assert one_line("Traceback (most recent call last):\n  File \"a\", line 1\n"
                    "KeyboardInterrupt\n") == "KeyboardInterrupt"


def test_a_failed_trials_traceback_names_the_cell_as_jupyterlab_does(shell):
    count = shell.execution_count
    res = shell.run_cell("%%tune -n 1 --metric loss\nx = uniform(0, 1)\n\ny = x * 2\n"
                         "raise RuntimeError('diverged')\nloss = y\n", store_history=True)
    assert isinstance(res.error_in_exec, nbtune.NoTrialCompleted)
    (trial,) = shell.user_ns["study"].trials
    assert f"Cell In[{count}], line 5\n    raise RuntimeError('diverged')" in trial.error
    assert "<tune cell" not in trial.error


def test_the_text_view_agrees_with_the_study_on_time(client, db):
    stream = io.StringIO()

    class Captured(TextProgress):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, stream=stream, **kwargs)

    study = nbtune.tune(converging, {"q": nbtune.grid(1, 2)}, searcher="grid", metric="score",
                        mode="max", cluster=client, storage=db, study="clock",
                        progress=Captured)
    assert re.search(rf"\n  time +{re.escape(duration_text(study.elapsed))} · ", stream.getvalue())


# -- a real kernel: the saved notebook holds the summary, not the widget -------------------------
def run_notebook(tmp_path, *sources: str):
    """A notebook of these cells, run in a real kernel (nbclient) in ``tmp_path``."""
    pytest.importorskip("nbclient")
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    run_notebook.last = nb  # what ran, should the kernel die on the way
    NotebookClient(nb, timeout=240, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute(env=kernel_environ())
    return nb


def test_the_saved_notebook_holds_the_summary_in_the_panels_place(tmp_path):
    nb = run_notebook(tmp_path, "%load_ext nbtune",
                      "%%tune --searcher grid --metric score --mode max --study saved\n"
                      "q = grid(1, 2, 3)\n"
                      "for epoch in range(1, 4):\n"
                      "    print('a line of trial output', q, epoch)\n"
                      "    report(epoch=epoch, score=q * epoch)\n",
                      "print('NEXT', study.stop_reason)")
    tune_cell = nb.cells[1]
    kinds = [set(o.get("data", {})) for o in tune_cell.outputs]
    assert not any("application/vnd.jupyter.widget-view+json" in k for k in kinds), kinds
    pages = [o["data"]["text/html"] for o in tune_cell.outputs if "text/html" in o.get("data", {})]
    assert len(pages) == 1 and 'class="nbtune-summary"' in pages[0]
    assert "data:image/png;base64," in pages[0] and "trial 2 wrote 3 lines" in pages[0]
    streams = "".join(o.get("text", "") for c in nb.cells for o in c.outputs)
    assert "a line of trial output" not in streams  # only in the summary's <details>
    nbformat.write(nb, str(tmp_path / "saved.ipynb"))
    reopened = nbformat.read(str(tmp_path / "saved.ipynb"), as_version=4)
    assert "widget-view" not in nbformat.writes(reopened)
    assert "NEXT exhausted" in "".join(o.get("text", "") for o in reopened.cells[2].outputs)


def test_a_study_replaced_or_deleted_later_says_so_in_its_earlier_outputs(tmp_path):
    """A second SearchCV.fit or a --replace replaced the stored study, and the earlier cell
    still showed the old summary, which the file no longer held (first-day test, round 22)."""
    cell = ("%%tune --searcher grid --metric score --mode max --study {name} {flags}\n"
            "q = grid(1, 2, 3)\nscore = q\n")
    nb = run_notebook(tmp_path, "%load_ext nbtune",
                      cell.format(name="a", flags=""), cell.format(name="b", flags=""),
                      cell.format(name="a", flags="--replace"),
                      "import nbtune\nnbtune.delete_study('b')")

    def pages(i):
        return [o["data"]["text/html"] for o in nb.cells[i].outputs
                if "text/html" in o.get("data", {})]

    (first,) = pages(1)
    assert re.match(r'<div class="nbtune-outdated"[^>]*>nbtune: study &#x27;a&#x27; was '
                    r"replaced in &#x27;.*nbtune\.db&#x27; at \d\d:\d\d:\d\d by a later run of "
                    r"that name: the file holds that run now, and this summary is of the run "
                    r"before it</div><div class=\"nbtune-summary\">", first), first[:400]
    (deleted,) = pages(2)
    assert re.match(r'<div class="nbtune-outdated"[^>]*>nbtune: study &#x27;b&#x27; was '
                    r"deleted from &#x27;.*&#x27; at [\d:]+: this summary is all that is left of "
                    r"it</div><div class=\"nbtune-summary\">", deleted), deleted[:400]
    (replacing,) = pages(3)  # the run that replaced it is the study now: as it was
    assert replacing.startswith('<div class="nbtune-summary">')


def test_the_outputs_kept_to_mark_are_the_latest_few(tmp_path, monkeypatch):
    """Each shown study's summary is kept (35-100 KB with its image) to mark it when replaced:
    a kernel's long day of studies held them all. Only the latest KEPT_OUTPUTS are."""
    from IPython.display import DisplayHandle

    from nbtune import shown

    monkeypatch.setattr(shown, "KEPT_OUTPUTS", 3)
    monkeypatch.setattr(shown, "_shown", {})
    path = str(tmp_path / "nbtune.db")
    handles = [DisplayHandle() for _ in range(5)]
    for i, handle in enumerate(handles):
        shown.shown(path, f"s{i % 4}", handle)  # s0 is shown twice: first and last
    kept = [entry[0] for entries in shown._shown.values() for entry in entries]
    assert sorted(map(id, kept)) == sorted(map(id, handles[2:]))
    assert [name for _, name in shown._shown] == ["s2", "s3", "s0"]


def test_the_magics_closing_line_says_the_studys_own_time(shell, capsys):
    res = shell.run_cell("%%tune -n 3 --metric loss --study timed\nx = uniform(0, 1)\nloss = x\n")
    assert res.success, res.error_in_exec
    study = shell.user_ns["study"]
    out = capsys.readouterr().out
    assert f": 3 completed in {duration_text(study.elapsed)} (n_trials)" in out, out


def test_a_summary_of_one_report_a_trial_draws_the_history_not_dots_at_epoch_1():
    """Its learning curves were a vertical line of dots at epoch 1 (first-day test, round 12)."""
    from nbtune.images import to_png
    from nbtune.plots import StudyPlots

    study = nbtune.Study("once", nbtune.Space({"q": nbtune.uniform(0, 1)}), "acc", "max",
                         trials=[])
    for i in range(6):
        study.trials.append(T.Trial(id=i, config={"q": i / 6}, state=T.COMPLETED, value=i / 6,
                                    reports=[{"epoch": 1, "acc": i / 6}], started=float(i),
                                    finished=i + 0.5))
    assert study.summary().png() == to_png(StudyPlots(study).history(), dpi=80)
    study.trials[0].reports.append({"epoch": 2, "acc": 0.9})  # a curve: the curves again
    assert study.summary().png() == to_png(StudyPlots(study).learning_curves(), dpi=80)


def test_failed_trials_are_grouped_by_their_error_with_the_latest_config():
    from nbtune.trial_messages import errors_html

    study = nbtune.Study("fails", nbtune.Space({"h": nbtune.randint(0, 9)}), "acc", "max",
                         trials=[])
    for i in range(9):  # one mistake fails trials 0-4 and 7; trial 5 and 8 fail otherwise
        error = ("ValueError: hidden_layer_sizes must be > 0, got [0]." if i in (0, 1, 2, 3, 4, 7)
                 else f"RuntimeError: diverged at step {i}")
        t = T.Trial(id=i, config={"h": i}, state=T.FAILED if i != 6 else T.COMPLETED,
                    error=f"Traceback (most recent call last):\n  line 3\n{error}"
                    if i != 6 else None)
        study.trials.append(t)
    shown = errors_html(study)
    summaries = re.findall(r"<summary>(.*?)</summary>", shown)
    # one kind whatever its numbers: 2,000 trials of one mistake were "430 more kinds of
    # failure" (first-day test, round 12); the latest trial's line is shown
    assert summaries == [
        "6 trials failed (0-4, 7): ValueError: hidden_layer_sizes must be &gt; 0, got [0].",
        "2 trials failed (5, 8): RuntimeError: diverged at step 8"]
    assert "<pre>trial 7: h=7\n\nTraceback (most recent call last)" in shown  # the latest one
    # the text summary (`nbtune show`, print) says them too: it said "8 failed" alone (round 26)
    text = str(study.summary()).splitlines()
    said = [line for line in text if "trials failed" in line]
    assert said == [
        "  6 trials failed (0-4, 7): ValueError: hidden_layer_sizes must be > 0, got [0].",
        "  2 trials failed (5, 8): RuntimeError: diverged at step 8"]


def test_a_background_studys_line_goes_when_the_study_ends(tmp_path):
    nb = run_notebook(tmp_path, "%load_ext nbtune",
                      "%%tune -n 4 --metric score --mode max --study bg --background\n"
                      "q = uniform(0, 1)\n"
                      "import time\n"
                      "time.sleep(0.3)\n"
                      "score = q\n",
                      "ended = study.wait()\nprint('NEXT', study.stop_reason)\nended")
    ended = nb.cells[2].outputs
    assert "NEXT n_trials" in "".join(o.get("text", "") for o in ended)
    # wait() says whether it ended; it returned the study, whose summary the cell showed a
    # second time, under the background cell's own (first-day test, round 22)
    assert [o["data"] for o in ended if o.output_type == "execute_result"] == [
        {"text/plain": "True"}]
    shown = str([c.outputs for c in nb.cells])  # what the cells show (not the widgets' state)
    # the summary took the panel's place; the line saying the study runs went with it
    assert 'class="nbtune-summary"' in shown and "widget-view" not in shown
    assert "runs in the background" not in shown


def test_a_study_cut_short_by_its_kernel_leaves_how_to_resume_it_in_the_notebook(tmp_path):
    from nbclient.exceptions import DeadKernelError

    with pytest.raises(DeadKernelError):  # the kernel dies mid-study, as a killed one does
        run_notebook(tmp_path, "%load_ext nbtune",
                     "%%tune -n 60 --metric score --mode max --study cut --background\n"
                     "q = uniform(0, 1)\nimport time\ntime.sleep(0.5)\nscore = q\n",
                     "import os, time\ntime.sleep(7)\nos._exit(1)")
    nb = run_notebook.last
    shown = [o["data"]["text/html"] for o in nb.cells[1].outputs
             if "text/html" in o.get("data", {})]
    # with what had ended by then: a notebook saved mid-study kept no record of the trials
    # that had run (first-day test, round 22)
    assert any(re.search(r"study 'cut' keeps each trial in 'nbtune.db' as it ends \(\d+ ended "
                         r"by \d\d:\d\d:\d\d; best score = [\d.]+ \(trial \d+: q=", h) and
               "%%tune --study cut --resume" in h for h in shown), shown
    ended = run_notebook(tmp_path, "%load_ext nbtune",
                         "%%tune -n 2 --metric score --mode max --study whole\n"
                         "q = uniform(0, 1)\nscore = q\n")
    outputs = ended.cells[1].outputs  # a study that ends takes the line away
    assert not any("keeps each trial" in str(o) for o in outputs), outputs


def test_a_log_range_column_keeps_its_form_as_trials_come_in():
    from nbtune.summary import trials_table

    study = nbtune.Study("lr", nbtune.Space({"lr": nbtune.loguniform(1e-4, 1e-1),
                                             "m": nbtune.uniform(0.5, 0.99)}), "acc", "max",
                         trials=[T.Trial(0, {"lr": 0.07011, "m": 0.9}, state=T.COMPLETED,
                                         value=0.9)])
    headers, rows, _ = trials_table(study, 5)
    assert rows[0][headers.index("lr")] == "7.011e-02"  # not 0.07011, then 7.011e-02 later
    assert rows[0][headers.index("m")] == "0.9000"  # a linear range keeps decimals


def test_a_running_study_shown_says_it_is_a_snapshot(client):
    def slow(config):
        import time

        time.sleep(0.3)
        return config["q"]

    study = nbtune.tune(slow, {"q": nbtune.uniform(0, 1)}, metric="score", mode="max",
                        n_trials=6, cluster=client, storage=None, progress=False,
                        background=True)
    try:
        shown = study._repr_html_()
        assert study.running and "below is how it stood after" in shown
    finally:
        study.wait(60)
    assert not study.running and "how it stood" not in study._repr_html_()


def test_the_summary_counts_queued_trials_as_the_panel_does():
    trials = [T.Trial(0, {"q": 0.1}, state=T.COMPLETED, value=0.1, started=1.0, finished=2.0),
              T.Trial(1, {"q": 0.2}, state=T.RUNNING, started=2.0),
              T.Trial(2, {"q": 0.3}, state=T.RUNNING)]  # no worker started it yet
    study = nbtune.Study("q", nbtune.Space({"q": nbtune.uniform(0, 1)}), "v", "max",
                         trials=trials)
    assert dict(study.summary().facts())["trials"] == "3: 1 running, 1 queued, 1 completed"


def test_a_study_cut_short_says_how_many_trials_it_was_to_run():
    """"16: 14 completed, 2 interrupted" did not say of how many (first-day test, round 26)."""
    trials = [T.Trial(i, {"q": i / 10}, state=T.COMPLETED if i < 3 else T.INTERRUPTED,
                      value=0.1 * i if i < 3 else None, started=100.0 + i) for i in range(4)]
    study = nbtune.Study("cut", nbtune.Space({"q": nbtune.uniform(0, 1)}), "v", "max",
                         trials=trials, settings={"n_trials": 30})
    study.stop_reason = "interrupted"
    assert dict(study.summary().facts())["trials"] == "4 of 30: 3 completed, 1 interrupted"
    study.stop_reason = "n_trials"  # ended as planned (a scheduler may end it sooner): no "of"
    assert dict(study.summary().facts())["trials"].startswith("4: ")


def test_a_grid_study_cut_short_says_the_grids_size_as_its_plan():
    """A grid search cut by max_time read "62: 62 completed": its n_trials is None, the grid
    being what ends it (first-day test). Loaded from its file, it has no searcher object."""
    trials = [T.Trial(i, {"q": i}, state=T.COMPLETED, value=i, started=100.0 + i)
              for i in range(3)]
    study = nbtune.Study("grid", nbtune.Space({"q": nbtune.grid(list(range(12)))}), "v",
                         "max", trials=trials, settings={"searcher": "grid", "n_trials": None})
    study.stop_reason = "max_time"
    assert dict(study.summary().facts())["trials"] == "3 of 12: 3 completed"
    study.settings["searcher"] = "random"  # no plan to say
    assert dict(study.summary().facts())["trials"] == "3: 3 completed"


def test_trials_interrupted_before_they_started_are_counted_apart():
    """A study whose kernel died on two workers with trials queued read "2 completed, 6
    interrupted" (first-day tests, rounds 39 and 41): those no worker started, and that
    reported nothing, read "not started"; a resume runs both kinds again."""
    started = [T.Trial(i, {"q": i / 10}, state=T.COMPLETED, value=0.1 * i, started=100.0 + i)
               for i in range(2)]
    cut = [T.Trial(2, {"q": 0.2}, state=T.INTERRUPTED, started=102.0),
           T.Trial(3, {"q": 0.3}, state=T.INTERRUPTED, reports=[{"v": 0.1}])]  # start unheard
    queued = [T.Trial(i, {"q": i / 10}, state=T.INTERRUPTED) for i in range(4, 8)]
    study = nbtune.Study("died", nbtune.Space({"q": nbtune.uniform(0, 1)}), "v", "max",
                         trials=started + cut + queued, settings={"n_trials": 30})
    study.stop_reason = "interrupted"
    assert study.counts() == {"completed": 2, "interrupted": 2, "not started": 4}
    assert dict(study.summary().facts())["trials"] == (
        "8 of 30: 2 completed, 2 interrupted, 4 not started")
    assert list(study.to_dataframe()["state"]) == ["completed"] * 2 + ["interrupted"] * 2 + [
        "not started"] * 4
    assert all(t.state == T.INTERRUPTED for t in cut + queued)  # what a resume takes up
    # the metric column of a cut trial that reported it: its last value, as the summary's
    frame = study.to_dataframe()  # (first-day test, round 46)
    assert frame.loc[3, "v"] == 0.1 and np.isnan(frame.loc[2, "v"]) and frame.loc[0, "v"] == 0.0


def test_a_resumed_studys_panel_paces_this_runs_trials_from_its_first_frame(tmp_path):
    """The panel's first frame, drawn before the run started, took the earlier run's trials into
    this run's pace for good: "3000/3100 trials (0 in this run) · 0.5 s elapsed · 389,055
    trials/min · median trial 89 ms", the earlier run's median (first-day test, round 27)."""
    cell = ("%%tune --searcher grid --metric score --mode max --study paced {flags}\n"
            "q = grid(1, 2, 3, 4, 5, 6)\n"
            "score = q\n")
    nb = run_notebook(tmp_path, "%load_ext nbtune", cell.format(flags="--trials 3"),
                      cell.format(flags="--resume --trials 6"),
                      "study.live.tally.update()  # every trial taken in, as a redraw does\n"
                      "print('PACED', sorted(study.live.tally.durations))")
    printed = "".join(o.get("text", "") for o in nb.cells[3].outputs)
    durations = ast.literal_eval(printed.split("PACED", 1)[1].strip())
    assert len(durations) == 3, printed  # this run's three, none of the earlier run's


def _ran(spans, **settings):
    """A study whose trials ran over ``spans`` (start, end), with ``settings``."""
    trials = [T.Trial(i, {"q": i / 10}, state=T.COMPLETED, value=i / 10, started=a, finished=b,
                      metrics={"epoch": 3, "loss": i / 10, "accuracy": 1 - i / 10})
              for i, (a, b) in enumerate(spans)]
    return nbtune.Study("s", nbtune.Space({"q": nbtune.uniform(0, 1)}), "loss", "min",
                        trials=trials, settings=settings)


def facts(study) -> dict[str, str]:
    return dict(study.summary().facts())


@pytest.mark.parametrize("settings, said", [
    ({"seed": 42, "scheduler": "asha"}, "42; the same configs again, but which trials the asha "
     "scheduler lets go on follows the order reports arrive in, so a rerun may end with another "
     "best; concurrency=1 repeats it exactly"),
    ({"seed": 42, "searcher": "tpe", "max_time": 60.0}, "42; the tpe searcher's suggestions "
     "follow the order results arrive in, so a rerun differs; concurrency=1 and a trial budget "
     "(not max_time) repeat it exactly"),
    ({"seed": 42, "scheduler": "hyperband"}, "42"),  # synchronous: it waits for every rung
    ({"seed": 7, "seed_drawn": True}, "7 (drawn: seed=7 draws these configs again)"),
    # a grid draws nothing: no seed to give (first-day test, round 57)
    ({"seed": 7, "seed_drawn": True, "searcher": "grid"}, "7"),
    # every trial one of the model's seeded random starts: they repeat (check round 40)
    ({"seed": 42, "searcher": "tpe", "searcher_options": {"n_startup": 10}}, "42"),
    # SearchCV has no concurrency= (first-day test, round 63)
    ({"seed": 42, "scheduler": "asha", "measured": "'accuracy'"}, "42; the same configs again, "
     "but which trials the asha scheduler lets go on follows the order reports arrive in, so a "
     "rerun may end with another best; a cluster of one single-threaded worker "
     "(cluster=LocalCluster(1, threads_per_worker=1)) repeats it exactly"),
], ids=["asha", "a model", "hyperband", "drawn", "drawn, a grid", "random starts", "SearchCV"])
def test_the_summary_says_the_seed_and_what_a_rerun_with_it_repeats(settings, said):
    """A seeded notebook's Restart & Run All ended with another best under ASHA, and nothing
    said why, nor what repeats a study exactly (first-day test, round 38)."""
    assert facts(_ran([(0, 2), (1, 3)], **settings))["seed"] == said
    # one trial at a time: nothing followed the order of their arrival
    assert facts(_ran([(0, 1), (1, 2)], **settings))["seed"] == said.split(";")[0]


def _trained_to(levels, **settings):
    """A study whose trials reported every epoch up to ``levels``, one each."""
    trials = [T.Trial(i, {"q": i / 10}, state=T.COMPLETED if top == 9 else T.STOPPED,
                      value=i / 10, started=0, finished=1,
                      reports=[{"epoch": e, "loss": i / 10} for e in range(1, top + 1)])
              for i, top in enumerate(levels)]
    return nbtune.Study("s", nbtune.Space({"q": nbtune.uniform(0, 1)}), "loss", "min",
                        trials=trials, settings=settings)


def test_the_summary_says_what_early_stopping_trained_against_full_training():
    """Nothing said what early stopping saved: a user weighing it against a plain search worked
    it out from cv_results_ (first-day test, round 63)."""
    asha = {"scheduler": "asha", "resource": "epoch", "rung_levels": [1, 3, 9]}
    assert facts(_trained_to([1, 3, 9, 1, 0], **asha))["trained"] == (
        "39% of training its 4 trials to epoch 9 each: 14 of 36")  # the one that never reported
    # max_t given to the scheduler, rungs not kept
    assert facts(_trained_to([1, 9], scheduler="median", resource="epoch",
                             scheduler_options={"max_t": 9}))["trained"] == (
        "56% of training its 2 trials to epoch 9 each: 10 of 18")
    assert "trained" not in facts(_trained_to([9, 9], **asha))  # nothing stopped
    assert "trained" not in facts(_trained_to([1, 9], resource="epoch"))  # no scheduler


def test_the_best_line_names_the_best_trials_other_values():
    """A study that minimised a loss and reported accuracy said the best trial's accuracy
    nowhere (first-day test, round 38)."""
    study = _ran([(0, 1), (1, 2)], seed=1)
    assert facts(study)["best"] == "loss = 0 (trial 0); accuracy 1"
    many = {f"m{i}": i for i in range(6)}
    study.trials[0].metrics.update(many)
    assert facts(study)["best"] == ("loss = 0 (trial 0); accuracy 1, m0 0, m1 1, m2 2 "
                                    "(+3 more in trial.metrics)")


def test_a_drawn_seed_is_kept_through_a_resume(client, db):
    space = {"x": nbtune.uniform(0, 1)}
    drawn = nbtune.tune(lambda c: c["x"], space, n_trials=2, cluster=client, storage=db,
                        study="drawn", progress=False)
    assert drawn.settings["seed_drawn"] is True
    seed = drawn.settings["seed"]
    assert facts(drawn)["seed"].startswith(f"{seed} (drawn: seed={seed} draws")
    again = nbtune.tune(lambda c: c["x"], space, n_trials=4, cluster=client, storage=db,
                        study="drawn", resume=True, progress=False)
    assert again.settings["seed_drawn"] is True and again.settings["seed"] == seed
    given = nbtune.tune(lambda c: c["x"], space, n_trials=2, cluster=client, storage=db,
                        study="given", seed=seed, progress=False)
    assert "seed_drawn" not in given.settings
    assert facts(given)["seed"].split(";")[0] == str(seed)


def test_a_headless_runs_log_reads_nbtunes_lines_not_object_reprs(tmp_path):
    """papermill's log prints each display's text/plain: it read "<IPython.core.display.HTML
    object>" for nbtune's lines and "VBox(children=(HTML(value='', ..." for the panel
    (first-day test, round 39). Every display a study makes carries its own line of text."""
    pytest.importorskip("nbclient")
    from nbclient import NotebookClient

    seen: list[str] = []

    class Recording(NotebookClient):
        def process_message(self, msg, cell, cell_index):
            if msg["msg_type"] in ("display_data", "update_display_data"):
                seen.append(msg["content"]["data"].get("text/plain", ""))
            return super().process_message(msg, cell, cell_index)

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (
        "%load_ext nbtune",
        "%%tune --trials 3 --metric score --mode max --study logged\n"
        "q = uniform(0, 1)\nscore = q\n")]
    Recording(nb, timeout=240, kernel_name="python3",
              resources={"metadata": {"path": str(tmp_path)}}).execute(env=kernel_environ())
    shown = [text for text in seen if text]
    assert any(re.match(r"nbtune: study 'logged' started at \d\d:\d\d:\d\d \(its live panel;",
                        text) for text in shown), shown
    assert any("keeps each trial in" in text for text in shown), shown
    assert not any("VBox(" in text or "IPython.core.display" in text for text in seen), seen


def test_trials_that_all_failed_at_once_give_the_study_no_pace():
    """A summary said "4,668 trials/min" of 3 trials that failed at once (check round 40)."""
    trials = [T.Trial(i, {"q": 0.1}, state=T.FAILED, error="boom", started=1.0 + i,
                      finished=1.001 + i) for i in range(3)]
    study = nbtune.Study("s", nbtune.Space({"q": nbtune.uniform(0, 1)}), "loss", "min",
                         trials=trials, settings={"run_seconds": 0.04})
    assert pace_text(study) == ""
    assert "trials/min" not in str(study.summary())
    study.trials.append(T.Trial(3, {"q": 0.2}, state=T.COMPLETED, value=0.2, started=5.0,
                                finished=6.0))
    assert "trials/min" in pace_text(study)


def test_a_choice_of_an_int_and_its_float_keeps_them_apart_in_tables_and_frames():
    """max_df = choice(1, 0.5, 1.0): scikit-learn reads 1 as one document and 1.0 as all, and
    the summary wrote both 1.000, to_dataframe() one float column (check round 47)."""
    from nbtune.formatting import column_texts

    trials = [T.Trial(i, {"max_df": v, "C": c}, state=T.COMPLETED, value=0.1 * i)
              for i, (v, c) in enumerate([(1.0, 0.5), (0.5, 1.0), (1, 2.0), (1.0, 1.5)])]
    study = nbtune.Study("df", nbtune.Space({"max_df": nbtune.choice(1, 0.5, 1.0),
                                             "C": nbtune.uniform(0, 2)}), "loss", "min",
                         trials=trials)
    frame = study.to_dataframe()
    assert [(v, type(v)) for v in frame["config.max_df"]] == [
        (1.0, float), (0.5, float), (1, int), (1.0, float)]
    assert frame["config.C"].dtype == float  # a column of floats stays one
    assert column_texts([1.0, 0.5, 1, 1.0]) == ["1.0", "0.5", "1", "1.0"]
    assert column_texts([1.0, 0.5, 2.0]) == ["1.000", "0.500", "2.000"]
    rows = [line.split() for line in str(study.summary()).splitlines()
            if line.split() and line.split()[0].isdigit()]  # rank, trial, loss, state, max_df, C
    assert [row[4] for row in rows] == ["1.0", "0.5", "1", "1.0"], rows
    # the best config's line (and the closing line's, a trial's): 1.0 is written 1.0, where it
    # read "max_df=1", the value that failed every time (check round 48)
    assert "best config  max_df=1.0, C=0.5" in str(study.summary())
    from nbtune.formatting import config_text
    assert config_text({"max_df": 1, "C": 2.0, "lr": 1e-05, "g": -3.0}) == (
        "max_df=1, C=2.0, lr=1e-05, g=-3.0")
    # a column of whole floats alone: max_df = choice(1.0, 2.0) read 1 and 2 in the table, the
    # ints a user then types (max_df=1: one document); the metric column writes whole values
    # as it did
    whole = [T.Trial(i, {"max_df": v, "C": 1.0}, state=T.COMPLETED, value=float(i))
             for i, v in enumerate([1.0, 2.0])]
    study = nbtune.Study("w", nbtune.Space({"max_df": nbtune.choice(1.0, 2.0),
                                            "C": nbtune.uniform(0, 2)}), "loss", "min",
                         trials=whole)
    rows = [line.split() for line in str(study.summary()).splitlines()
            if line.split() and line.split()[0].isdigit()]
    assert [row[2:] for row in rows] == [["0", "completed", "1.0", "1.0"],
                                         ["1", "completed", "2.0", "1.0"]], rows
    assert column_texts([1.0, 2.0]) == ["1", "2"]  # a metric's column


def test_the_median_trial_leaves_out_trials_that_failed_at_once():
    """Five trials out of memory in a few ms made a study of 5 s trials read "median trial 6
    ms", and the slow-trial note compared with it (first-day test, round 46); the trials per
    minute still count them."""
    from nbtune.tally import Tally

    failed = [T.Trial(i, {"q": 0.1}, state=T.FAILED, error="MemoryError", started=1.0 + i,
                      finished=1.005 + i) for i in range(5)]
    ran = [T.Trial(5 + i, {"q": 0.2}, state=T.COMPLETED, value=0.2, started=10.0 + i,
                   finished=15.0 + i) for i in range(3)]
    study = nbtune.Study("s", nbtune.Space({"q": nbtune.uniform(0, 1)}), "loss", "min",
                         trials=failed + ran, settings={"run_seconds": 60.0})
    assert pace_text(study).endswith(" trials/min · median trial 5.0 s"), pace_text(study)
    tally = Tally(study, top=5)
    tally.update()
    assert len(tally.durations) == 8 and tally.median_duration() == 5.0


def test_a_few_blown_up_values_keep_the_rest_of_their_column_in_decimals():
    """Two rmse values of 5e12 among 35s wrote every cell as 3.51e+01 (check round 43): they
    keep the exponent form, the rest decimals; a log-scale column stays in exponents."""
    from nbtune.formatting import column_texts

    assert column_texts([35.1, 35.7, 36.2, 5e12, 37.0, 36.1, 35.9, 7e12]) == [
        "35.10", "35.70", "36.20", "5.000e+12", "37.00", "36.10", "35.90", "7.000e+12"]
    assert column_texts([1e-5, 2e-4, 0.1, 3e-3, 0.05]) == [
        "1.000e-05", "2.000e-04", "1.000e-01", "3.000e-03", "5.000e-02"]
    # a few values, one blown up beyond doubt: the same (a top three of 2.69, 2.70 and 1.1e71
    # read 2.68981e+00: round 65); one a thousand times the rest is not beyond doubt
    assert column_texts([35.1, 5e12, 36.0]) == ["35.10", "5.000e+12", "36.00"]
    assert column_texts([35.1, 5e4, 36.0]) == ["3.510e+01", "5.000e+04", "3.600e+01"]
