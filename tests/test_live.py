"""The live views of a running study: widget state after a real study, throttled redraws."""
from __future__ import annotations

import io
import re
import time

import nbtune
from nbtune import trial as T
from nbtune.live import LivePanel, TextProgress

from html_tables import trials_table


def chatty(config):
    """Many quick reports: 150 epochs."""
    for epoch in range(1, 151):
        nbtune.report(epoch=epoch, score=config["q"] * epoch)
    if config["q"] > 0.9:
        raise ValueError("q is <too> high")
    return config["q"] * 150


def test_the_panel_shows_the_finished_study(client, db):
    study = nbtune.tune(chatty, {"q": nbtune.grid(0.2, 0.5, 0.8, 0.95)}, searcher="grid",
                        metric="score", mode="max", cluster=client, storage=db, study="live",
                        progress=LivePanel)
    panel = study.live
    assert isinstance(panel, LivePanel)
    assert panel.bar.value == 1.0 and "4/4 trials" in panel.label.value
    assert "3 completed" in panel.counts_html.value and "1 failed" in panel.counts_html.value
    assert "best score = 120" in panel.best_html.value and "trial 2" in panel.best_html.value
    table = trials_table(panel.table.value)
    # one column per fact and per hyperparameter, numbers right-aligned, the rule as caption
    assert table["rows"][0] == ["#", "trial", "score", "epoch", "state", "q"]
    assert table["rows"][1:] == [["1", "2", "120", "150", "completed", "0.8000"],
                                 ["2", "1", "75", "150", "completed", "0.5000"],
                                 ["3", "0", "30", "150", "completed", "0.2000"]]
    assert [a for a, h in zip(table["align"][1], table["rows"][0]) if h != "state"] == \
        ["right"] * 5
    assert table["caption"].startswith("top 3 trials, ranked: completed trials first, highest "
                                       "score first")
    # curves: one line per trial with every report, as reported
    assert sorted(panel.curve_data) == [0, 1, 2, 3]
    assert panel.curve_data[1] == [(e, 0.5 * e) for e in range(1, 151)]
    assert panel.curves.value[:4] == b"\x89PNG"
    # the failed trial's error is one line that expands, escaped
    assert "<details><summary>trial 3 failed: ValueError: q is &lt;too&gt; high" \
        in panel.errors.value
    # throttled: 600 reports, a redraw at most every 0.25 s (and a final one)
    assert panel.reports == 600
    elapsed = panel.finished_at - panel.started
    assert panel.redraws <= elapsed / panel.interval + 3
    assert panel.redraws < panel.reports / 10


def test_the_text_line_and_summary_outside_a_notebook(client, db):
    stream = io.StringIO()

    class Captured(TextProgress):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, stream=stream, **kwargs)

    study = nbtune.tune(chatty, {"q": nbtune.grid(0.2, 0.5)}, searcher="grid", metric="score",
                        mode="max", cluster=client, storage=db, study="text", progress=Captured)
    assert all(t.state == T.COMPLETED for t in study.trials)
    text = stream.getvalue()
    assert "text" in text and "75" in text  # the summary names the study and the best value
    assert re.search(r"\n  ended +exhausted\n", text), text  # known when the summary is written


def slow(config):
    for epoch in range(1, 4):
        time.sleep(0.1)
        nbtune.report(epoch=epoch, score=config["q"] * epoch)


def test_the_panel_updates_while_a_background_study_runs(client, db):
    study = nbtune.tune(slow, {"q": nbtune.uniform(0, 1)}, metric="score", mode="max",
                        n_trials=12, seed=0, concurrency=2, cluster=client, storage=db,
                        study="bg", background=True, progress=LivePanel)
    panel = study.live
    seen = set()
    while study.running:  # the panel redraws from its own thread while this one is free
        if panel.redraws:
            seen.add(round(panel.bar.value, 3))
        time.sleep(0.05)
    study.wait()
    assert panel.bar.value == 1.0 and "12/12 trials" in panel.label.value
    assert any(0 < v < 1 for v in seen), seen  # intermediate progress was drawn
    assert "12 completed" in panel.counts_html.value
