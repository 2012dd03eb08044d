"""The live views of a running study: widget state after a real study, throttled redraws."""
from __future__ import annotations

import html
import io
import re
import time
from collections import deque

import pytest

import nbtune
from nbtune import trial as T
from nbtune.live import LivePanel, TextProgress
from nbtune.pacing import PLOT_BUDGET
from nbtune.notebook.closing import closing_line

from html_tables import trials_table


@pytest.fixture(autouse=True)
def fresh_process_images(monkeypatch):
    """Each test starts as a fresh kernel does: no image drawn yet, no image cost measured (the
    panel keeps both for the whole process, across studies)."""
    import nbtune.pacing as pacing

    monkeypatch.setattr(pacing, "_warmed", [False])
    monkeypatch.setattr(pacing, "_costs", deque(maxlen=pacing.PLOT_COSTS))


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
    # the grid's values as listed: whichever rows show (round 59)
    assert table["rows"][1:] == [["1", "2", "120", "150", "completed", "0.8"],
                                 ["2", "1", "75", "150", "completed", "0.5"],
                                 ["3", "0", "30", "150", "completed", "0.2"]]
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


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_text_line_is_redrawn_in_place_on_a_terminal(client, db):
    """On a terminal the line is redrawn in place as the study runs (the view's own flag for
    that shadowed the method the line is drawn from, so no line was ever drawn)."""
    stream = Terminal()

    class OnATerminal(TextProgress):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, stream=stream, **kwargs)

    study = nbtune.tune(slow, {"q": nbtune.uniform(0, 1)}, metric="score", mode="max",
                        n_trials=6, seed=0, concurrency=2, cluster=client, storage=db,
                        study="tty", progress=OnATerminal)
    assert study.live.redraws >= 1 and study.live.draw_error is None
    lines = re.findall(r"\r\x1b\[2K(nbtune tty: [^\r\n]*)", stream.getvalue())
    assert lines and lines[-1].startswith("nbtune tty: 6/6 trials"), stream.getvalue()
    assert "6 completed" in lines[-1] and "best score" in lines[-1], lines[-1]


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
    assert panel.draw_error is None
    assert any(0 < v < 1 for v in seen), seen  # intermediate progress was drawn
    assert "12 completed" in panel.counts_html.value


def feed(panel: LivePanel, study: nbtune.Study, n: int) -> None:
    """The events of ``n`` trials in every state the loop gives them, fed to ``panel`` as the
    loop feeds them (trial 0 is withdrawn; a few are left running, one of them queued)."""
    for i in range(n):
        t = T.Trial(i, {"q": (i * 37 % n) / n}, state=T.RUNNING, attempts=1)
        study.trials.append(t)
        panel.trial_created(t)
        if i == 0:
            study.trials.remove(t)
            panel.trial_withdrawn(t)
            continue
        if i == n - 1:
            continue  # queued: no worker started it
        t.started = 1000.0 + i
        panel.trial_started(t)
        for epoch in range(1, 1 + i % 5):
            t.reports.append({"epoch": epoch, "score": t.config["q"] * epoch})
            panel.trial_reported(t, t.reports[-1])
        if i % 7 == 0:
            t.output = f"trial {i} says hello\n"
            t.warnings = [{"category": "UserWarning", "message": f"w{i % 2}", "where": "x",
                           "count": 1}]
            panel.trial_output(t, t.output, t.warnings)
        if i >= n - 4:
            continue  # still running
        state = (T.FAILED, T.STOPPED, T.COMPLETED, T.COMPLETED)[i % 4]
        if state == T.FAILED:
            name = "".join(chr(ord("a") + int(d)) for d in str(i))  # numbers aside: one kind
            t.error = f"Traceback\nValueError: trial {name}"
        elif state == T.COMPLETED:
            t.value = t.config["q"] * 10
        t.state, t.finished = state, t.started + 0.5 + i % 3
        panel.trial_finished(t)


def next_at(panel: LivePanel) -> float:
    """The seconds elapsed that the curves' note gives for the next image, read as
    ``duration_text`` writes them (``8.2 s``, ``1 min 03 s``)."""
    text = re.search(r"the next at about (.+?) elapsed", panel.curves_note.value).group(1)
    minutes = re.fullmatch(r"([0-9]+) min ([0-9]+) s", text)
    if minutes:
        return int(minutes.group(1)) * 60 + int(minutes.group(2))
    return float(re.fullmatch(r"([0-9.]+) s", text).group(1))


def test_the_curves_say_when_they_were_drawn_while_the_study_runs():
    """The image is redrawn less often than the table: its legend named another best, and a
    stopped trial as running, beside the table (first-day test, round 5)."""
    study = nbtune.Study("when", nbtune.Space({"q": nbtune.uniform(0, 1)}), "score", "max",
                         trials=[], settings={"resource": "epoch"})
    study.started_at = time.time() - 12.3
    panel = LivePanel(study, n_trials=60, top=5)
    feed(panel, study, 20)
    panel._draw_curves(force=True)
    assert panel.curves.layout.display is None
    drawn = re.fullmatch(r'<span style="color:var\(--jp-content-font-color2, #777\);'
                         r'font-size:90%">curves as of ([0-9.]+) s '
                         r'elapsed, the next at about ([0-9.]+) s elapsed</span>',
                         panel.curves_note.value)
    assert drawn, panel.curves_note.value
    parts = list(panel.widget.children)  # the note above the image, in view (round 63)
    assert parts.index(panel.curves_note) == parts.index(panel.curves) - 1
    assert 12.3 - 0.05 <= float(drawn.group(1)) <= panel.elapsed() + 0.05  # 13.0 s when loaded
    # when the next comes: after the pace's wait, and once the images' share allows one
    later = next_at(panel)
    assert later >= 12.3 + panel.pace.wait() - 0.1
    assert later >= (panel.pace.seconds + panel.pace.expected_cost()) / PLOT_BUDGET - 0.1
    panel.pace.seconds = 2.0  # images took their share of a short run: the next waits for it
    panel._draw_curves(force=True)
    later = next_at(panel)  # 50 s and more: "about 1 min 03 s" where an image costs 0.5 s
    assert later >= 2.0 / PLOT_BUDGET
    assert panel.curves_note.layout.display is None
    panel.finished_reason = "n_trials"  # the last image holds every report: no note
    panel._draw_curves(force=True)
    assert panel.curves_note.layout.display == "none"


def test_a_running_panel_draws_from_the_changed_trials_what_all_of_them_say():
    study = nbtune.Study("tally", nbtune.Space({"q": nbtune.uniform(0, 1)}), "score", "max",
                         trials=[], settings={"resource": "epoch"})
    study.started_at = time.time() - 60
    panel = LivePanel(study, n_trials=60, top=5)
    feed(panel, study, 60)
    live = (panel.counts(), panel.progress(), panel.best_line(),
            panel.table_html(panel.live()), panel.errors_html(panel.live()))
    assert live[0]["queued"] == 1 and live[0]["running"] == 3 and sum(live[0].values()) == 59
    panel.finished_reason = "n_trials"  # the last frame: computed from all the trials
    exact = (panel.counts(), panel.progress(), panel.best_line(), panel.table_html(),
             panel.errors_html())
    assert live[0] == exact[0] and live[2] == exact[2] and live[3] == exact[3] \
        and live[4] == exact[4]
    live_label, exact_label = live[1][1].split(" · "), exact[1][1].split(" · ")
    assert live_label[0] == exact_label[0] == "55/60 trials"  # the same done, and the same pace
    assert live_label[-2:] == exact_label[-3:-1] and "median trial" in live_label[-1]
    assert "unfinished" not in live[3] and "then running" in live[3]  # running trials rank too
    assert "trial 52 failed" in live[4] and "8 more kinds of failure (8 trials)" in live[4]
    # a widget's HTML has no table styles of JupyterLab's: the table carries its padding
    cells = re.findall(r"<t[dh]( style=\"[^\"]*\")?>", live[3])
    assert len(cells) == 6 * 6 and all("padding:0.5em" in c for c in cells)
    assert re.search(r"<caption style=\"[^\"]*line-height:normal", live[3])


def test_the_starting_line_goes_where_the_view_goes():
    from nbtune.live import StartingNotice, starting_notice

    stream = io.StringIO()
    notice = StartingNotice("starting a local Dask cluster: 2 workers ...", panel=False,
                            stream=stream)
    notice.show()
    assert stream.getvalue() == "nbtune: starting a local Dask cluster: 2 workers ...\n"
    assert starting_notice(False, "anything") is None  # no view, no line


def test_a_starting_line_taken_away_leaves_no_text_in_a_log(ip, capsys):
    """A study interrupted while its cluster started left "<IPython.core.display.HTML
    object>" in a text front end's output (first-day test, round 67)."""
    from nbtune.live import StartingNotice

    notice = StartingNotice("starting a local Dask cluster: 2 workers ...", panel=True)
    notice.show()  # IPython's shell outside a kernel prints each display's text
    assert notice.handle is not None
    notice.clear()
    out = capsys.readouterr().out
    assert out.startswith("nbtune: starting a local Dask cluster: 2 workers ...")
    assert "object>" not in out, out


def resumed_study(n_trials: int = 30) -> tuple[nbtune.Study, LivePanel]:
    """A study resumed after six trials (3 s each, with a warning), this run 2.0 s old with one
    trial finished (1.5 s, the same warning) and one running, and its panel."""
    study = nbtune.Study("again", nbtune.Space({"q": nbtune.uniform(0, 1)}), "score", "max",
                         trials=[], settings={"resource": "epoch"})
    warning = [{"category": "UserWarning", "message": "slow", "where": "x", "count": 1}]
    for i in range(8):
        start = 100.0 + 3 * i if i < 6 else 1000.0
        t = T.Trial(i, {"q": i / 10}, state=T.COMPLETED, value=i / 10, attempts=1,
                    started=start, finished=start + (3.0 if i < 6 else 1.5),
                    warnings=warning if i in (0, 1, 2, 3, 6) else [])
        if i == 7:
            t.state, t.value, t.finished, t.warnings = T.RUNNING, None, None, []
        study.trials.append(t)
    study.earlier = frozenset(range(6))  # as a resume sets it when this run starts
    study.started_at, study.finished_at = 1000.0, 1002.0  # elapsed: 2.0 s, this run's
    panel = LivePanel(study, n_trials=n_trials, top=5)
    for t in study.trials:
        panel.trial_created(t)
    return study, panel


def test_a_resumed_study_paces_this_runs_trials_against_this_runs_time():
    study, panel = resumed_study()
    # one trial in 2.0 s: 30 a minute, 23 left take ~46 s (not 7 in 2.0 s: 210 a minute, ~6.6 s)
    expected = ("7/30 trials (1 in this run) · 2.0 s elapsed · ~46.0 s left · "
                "30.0 trials/min · median trial 1.5 s")
    assert panel.progress()[1] == expected
    panel.finished_reason = "interrupted"  # the last frame, from all the trials: the same pace
    assert panel.progress()[1] == ("7/30 trials (1 in this run) · 2.0 s · 30.0 trials/min · "
                                   "median trial 1.5 s · ended: interrupted")
    # the running trial ended interrupted: named beside the count, which it is not in (the
    # bar said "1/30" where the summary said "16 of 30: 1 completed, 15 interrupted", round 33)
    study.trials[7].state, study.trials[7].finished = T.INTERRUPTED, 1002.0
    panel.trial_finished(study.trials[7])
    assert panel.progress()[1].startswith("7/30 trials (1 in this run; 1 interrupted) · 2.0 s")
    study.trials[7].state, study.trials[7].finished = T.RUNNING, None
    panel = LivePanel(study, n_trials=30, top=5)
    for t in study.trials:
        panel.trial_created(t)
    facts = dict(study.summary().facts())
    assert facts["time"] == "2.0 s for this run's 2 trials · 30.0 trials/min · median trial 1.5 s"
    study.earlier = frozenset(t.id for t in study.trials if t.id != 7)  # not "1 trials"
    assert dict(study.summary().facts())["time"].startswith("2.0 s for this run's 1 trial")
    assert "1 trials" not in dict(study.summary().facts())["time"]
    # a rerun with nothing left to run: "11 ms for this run's 0 trials" (round 62)
    study.earlier = frozenset(t.id for t in study.trials)
    assert dict(study.summary().facts())["time"] == ("no trial ran in this run: its trials "
                                                     "ran before")
    study.earlier = frozenset(range(6))
    panel.finished_reason = None
    panel.draw()  # the warning: by 5 of the 7 trials that ran, 1 of them of this run's 1
    assert "(raised by 5 of 7 trials, 1 of 1 in this run)" in panel.warnings_html.value
    study.stop_reason = "interrupted"  # the magic's closing line says which trials took the time
    assert closing_line(study, 99.0, "study").startswith(
        "nbtune: study 'again': 1 running, 7 completed; 2 of them in this run, in 2.0 s "
        "(interrupted)")


def test_the_curves_keep_the_pace_of_their_cost_not_of_matplotlibs_first_image():
    study = nbtune.Study("pace", nbtune.Space({"q": nbtune.uniform(0, 1)}), "score", "max",
                         trials=[], settings={"resource": "epoch"})
    study.started_at = time.time() - 60.0  # long enough for all the images below
    panel = LivePanel(study, n_trials=10, plot_interval=2.0)
    for i in range(3):
        t = T.Trial(i, {"q": i / 10}, state=T.RUNNING, attempts=1, started=1000.0,
                    reports=[{"epoch": e, "score": i * e} for e in (1, 2)])
        study.trials.append(t)
        panel.trial_reported(t, t.reports[-1])
    panel._draw_curves()  # the first image, whatever it cost (it imports and warms matplotlib)
    panel.pace.drew(0.0)  # and others of given costs
    assert panel.pace.wait() == 2.0  # the first image's cost is not counted (30 x it was)
    for cost in (0.05, 0.3, 0.3, 0.3):
        panel.pace.drew(cost)
    # the median of the latest: at most ~3% of the time on images; ~10% for a new best
    assert panel.pace.wait() == 9.0 and panel.pace.wait(new_best=True) == 3.0
    first = panel.curves.value
    panel._last_plot -= 4.0  # as if the image were 4 s old
    study.trials[0].reports.append({"epoch": 3, "score": 0.5})
    panel.trial_reported(study.trials[0], study.trials[0].reports[-1])
    panel._draw_curves()
    assert panel.curves.value == first  # a report: the image waits its 9 s
    best = study.trials[2]
    best.state, best.value, best.finished = T.COMPLETED, 4.0, 1001.0
    panel.trial_finished(best)
    panel._draw_curves()  # a new best the legend does not name yet: drawn after 3 s
    assert panel.curves.value != first and panel._plotted_best == 2


def test_the_curves_of_a_short_study_take_at_most_their_share_of_its_time():
    """The first images came one after another at plot_interval, each paid in full: three of
    0.2-0.4 s took 15% of a 5 s study of trivial trials (benchmarks/live_overhead.py)."""
    study = nbtune.Study("budget", nbtune.Space({"q": nbtune.uniform(0, 1)}), "score", "max",
                         trials=[], settings={"resource": "epoch"})
    study.started_at = time.time() - 1.0
    panel = LivePanel(study, n_trials=60, plot_interval=2.0)
    feed(panel, study, 20)
    panel._draw_curves()  # 1 s in: an image (guessed at 0.1 s) would take 10% of it
    assert panel.curves.value == b"" and panel.curves.layout.display == "none"
    study.started_at = time.time() - 3.0  # 0.1 s of 3 s: within the 4%
    panel._draw_curves()
    assert panel.curves.value[:4] == b"\x89PNG" and panel.pace.images == 1
    panel.pace.seconds = 0.2  # as if it had cost 0.2 s: the next waits for 0.4 s in 10 s
    study.started_at = time.time() - 9.0
    running = study.trials[-2]  # a new report, past the pace of pace.wait
    running.reports.append({"epoch": 9, "score": 0.5})
    panel.trial_reported(running, running.reports[-1])
    panel._last_plot -= 60.0
    assert not panel.pace.affordable(panel.elapsed())
    panel._draw_curves()
    assert panel.pace.images == 1
    study.started_at = time.time() - 10.5
    assert panel.pace.affordable(panel.elapsed())
    panel._draw_curves()
    assert panel.pace.images == 2
    # the end of a panel shown nowhere draws the last image whatever its cost: it holds
    # every report
    panel._draw_curves(force=True)
    assert panel.pace.images == 3


def test_the_first_image_in_a_fresh_kernel_does_not_hold_the_next_back():
    """Its cost (matplotlib warming up: fonts, caches) counted in full held the curves at their
    first frame for tens of seconds in a fresh kernel (first-day test, round 7)."""
    import nbtune.pacing as pacing

    study = nbtune.Study("fresh", nbtune.Space({"q": nbtune.uniform(0, 1)}), "score", "max",
                         trials=[], settings={"resource": "epoch"})
    study.started_at = time.time() - 10.0
    panel = LivePanel(study, n_trials=60)
    panel.pace.drew(1.5)  # the process's first image: 1.5 s
    assert panel.pace.seconds == pacing.PLOT_GUESS
    assert panel.pace.affordable(panel.elapsed())  # 0.2 s of 10 s: the next one may come
    other = LivePanel(study, n_trials=60)
    other.pace.drew(1.5)  # a later image of the process costs what it cost
    assert other.pace.seconds == 1.5 and not other.pace.affordable(other.elapsed())


def test_a_new_panel_expects_its_first_image_to_cost_what_the_last_ones_did():
    """A new panel guessed its first image at 0.1 s: in a kernel on 2 busy cores an image cost
    0.26 s, and the first image of a 5 s study took 5% of it alone (live_overhead.py)."""
    import nbtune.pacing as pacing

    study = nbtune.Study("costly", nbtune.Space({"q": nbtune.uniform(0, 1)}), "score", "max",
                         trials=[], settings={"resource": "epoch"})
    earlier = LivePanel(study, n_trials=60)
    for cost in (1.0, 0.25, 0.25, 0.3):  # an earlier study's images: the first warmed up
        earlier.pace.drew(cost)
    assert list(pacing._costs) == [0.25, 0.25, 0.3]
    panel = LivePanel(study, n_trials=60)  # the next study's panel, no image of its own yet
    assert panel.pace.expected_cost() == 0.25
    study.started_at = time.time() - 3.0
    assert not panel.pace.affordable(panel.elapsed())  # 0.25 s of 3 s: over the 4% (a guess said yes)
    study.started_at = time.time() - 6.5
    assert panel.pace.affordable(panel.elapsed())
    assert panel.pace.wait() == 30 * 0.25  # the pace too follows the process's images


def test_busy_slots_count_the_trials_a_free_worker_starts_before_their_start_message():
    study = nbtune.Study("busy", nbtune.Space({"q": nbtune.uniform(0, 1)}), "score", "max",
                         trials=[], settings={"resource": "epoch"})
    panel = LivePanel(study, n_trials=24, concurrency=lambda: 2)
    panel.info = {"data": ["X", "y"]}  # as the study's start tells it: sent with the trials
    for i in range(4):  # two for the workers, one more queued behind each
        study.trials.append(T.Trial(i, {"q": i / 4}, state=T.RUNNING, attempts=1))
        panel.trial_created(study.trials[-1])
    panel.draw()  # no start heard yet: the first trials wait for what the workers load
    assert panel.counts_html.value == (
        "2 starting · 2 queued · 2/2 slots busy · the first trials are starting: the workers "
        "load the trial function and what it imports, and receive its data (X, y)")
    first = study.trials[0]
    first.started, first.state, first.finished, first.value = 1000.0, T.COMPLETED, 1000.5, 0.1
    panel.trial_finished(first)  # it ended silent (0.5 s): its start was never announced
    study.trials[1].started = 1000.1
    panel.trial_started(study.trials[1])
    panel.draw()  # the next one took trial 0's worker: starting, not idle (was "1/2 busy")
    assert panel.counts_html.value == "1 running · 1 starting · 1 queued · 1 completed · " \
                                      "2/2 slots busy"


def test_a_study_that_asks_for_a_gpu_says_so_and_what_its_first_trials_may_wait_for():
    """A GPU study whose trials waited for the GPU another notebook's study held said "the
    workers load the trial function", and nothing of the GPU it asks for (first-day test,
    round 33)."""
    study = nbtune.Study("gpu", nbtune.Space({"q": nbtune.uniform(0, 1)}), "score", "max",
                         trials=[], settings={"resources": {"GPU": 1.0}, "searcher": "random"})
    panel = LivePanel(study, n_trials=4, concurrency=lambda: 1)
    study.trials.append(T.Trial(0, {"q": 0.5}, state=T.RUNNING, attempts=1))
    panel.trial_created(study.trials[-1])
    panel.draw()
    assert "each trial asks GPU=1" in panel.header.value
    assert html.unescape(panel.counts_html.value) == (
        "1 starting · 1/1 slots busy · the first trials are starting: the workers load the "
        "trial function and what it imports; on a shared cluster they may wait while the "
        "workers that offer GPU=1 run another study's work")
    study.trials[0].state, study.trials[0].value = T.COMPLETED, 0.5
    study.trials[0].started, study.trials[0].finished = 1000.0, 1001.0
    assert "random searcher; fifo scheduler; each trial asks GPU=1" in repr(study.summary())


def test_resumed_trials_waiting_for_their_start_are_not_the_first_trials_starting():
    """A promotion study's panel said "the first trials are starting: the workers load the
    trial function" at 16 s, its trials at epoch 9: all paused but two resumed ones not yet
    heard to start (first-day test, round 15)."""
    study = nbtune.Study("promo", nbtune.Space({"q": nbtune.uniform(0, 1)}), "score", "max",
                         trials=[], settings={"resource": "epoch"})
    panel = LivePanel(study, n_trials=24, concurrency=lambda: 2)
    for i in range(4):
        study.trials.append(T.Trial(i, {"q": i / 4}, state=T.RUNNING, attempts=1))
        panel.trial_created(study.trials[-1])
    for trial in study.trials:
        trial.started, trial.finished, trial.state = 1000.0, 1001.0, T.PAUSED
        trial.reports = [{"epoch": 1, "score": 0.5}]
        panel.trial_finished(trial)
    for trial in study.trials[:2]:  # promoted: sent again, no start message yet
        trial.resuming()
        trial.state, trial.started = T.RUNNING, None
        panel.trial_created(trial)
    panel.draw()
    assert "starting" in panel.counts_html.value
    assert "the first trials are starting" not in panel.counts_html.value, panel.counts_html.value


def test_the_panel_says_when_no_worker_can_run_a_trial_and_counts_no_slot():
    """The only GPU worker gone, the panel read "1 running · 1 queued · 1/1 slots busy" while
    the study waited for ever (first-day test, round 10)."""
    from nbtune.run.resources import Capacity

    study = nbtune.Study("gpu", nbtune.Space({"q": nbtune.uniform(0, 1)}), "score", "max",
                         trials=[], settings={"resource": "epoch"})
    capacity = Capacity(None, {"GPU": 1.0}, every=1e9)  # looked up by the test, not by time
    cpu = {"tcp://10.0.0.1:1": {"nthreads": 2, "resources": {}}}
    capacity.set({**cpu, "tcp://10.0.0.2:1": {"nthreads": 1, "resources": {"GPU": 1.0}}})
    panel = LivePanel(study, n_trials=8, concurrency=capacity, starved=capacity.starved)
    for i in range(2):
        study.trials.append(T.Trial(i, {"q": i / 4}, state=T.RUNNING, attempts=1,
                                    started=1000.0 + i))
        panel.trial_started(study.trials[-1])
    panel.draw()
    assert panel.counts_html.value == "2 running · 1/1 slots busy"  # not 2/1: one slot
    capacity.set(cpu)  # the GPU worker left
    panel.draw()
    assert panel.counts_html.value == (
        "2 running · no worker offers GPU=1 now: the study waits for one (`dask worker "
        "SCHEDULER_ADDRESS --resources GPU=1`), or stop it")
    panel.finished_reason = "interrupted"
    assert panel.stalled() == ""


def test_the_panel_says_which_workers_dask_paused_for_their_memory():
    """Dask's "Pausing worker" logs in the cell were the only sign of a worker near its memory
    limit (first-day test, round 21); a paused worker starts no trial, and is no slot."""
    from nbtune.run.resources import Capacity

    study = nbtune.Study("mem", nbtune.Space({"q": nbtune.uniform(0, 1)}), "score", "max",
                         trials=[], settings={})
    capacity = Capacity(None, None, every=1e9)
    gib = 2**30
    one = {"nthreads": 1, "resources": {}, "status": "running", "memory": gib // 2,
           "memory_limit": 4 * gib}
    full = {**one, "status": "paused", "memory": int(3.4 * gib)}
    capacity.set({"tcp://10.0.0.1:1": one, "tcp://10.0.0.2:1": full})
    panel = LivePanel(study, n_trials=8, concurrency=capacity, starved=capacity.starved,
                      paused=capacity.paused)
    study.trials.append(T.Trial(0, {"q": 0.5}, state=T.RUNNING, attempts=1, started=1000.0))
    panel.trial_started(study.trials[-1])
    panel.draw()
    said = ("worker tcp://10.0.0.2:1 is paused: its process uses 3.40 GiB of its 4.00 GiB memory "
            "limit, past the share (80% by default) at which Dask pauses a worker, and it starts "
            "no trial until it frees memory (its nanny restarts it at 95%): give the workers "
            "more memory, or hold less in each trial")
    assert panel.counts_html.value == "1 running · 1/1 slots busy · " + said
    capacity.set({"tcp://10.0.0.1:1": full, "tcp://10.0.0.2:1": full})  # no slot left
    panel.draw()
    assert panel.counts_html.value == ("1 running · 2 workers are paused (tcp://10.0.0.1:1 the "
                                       "fullest): " + said.split(": ", 1)[1])
    capacity.set({"tcp://10.0.0.1:1": one})
    panel.draw()
    assert panel.counts_html.value == "1 running · 1/1 slots busy"


def test_a_panel_shown_in_a_widget_gives_its_place_to_the_summary_and_closes():
    # the space editor's Run shows the study in its Output widget: the panel must not stay
    # above the summary (it read as the results twice)
    from ipywidgets.widgets.widget import _instances

    from nbtune.tracker import _IN_OUTPUT_WIDGET

    study = nbtune.Study("edited", nbtune.Space({"q": nbtune.uniform(0, 1)}), "score", "max",
                         trials=[T.Trial(0, {"q": 0.5}, state=T.COMPLETED, value=0.5)])
    study.trials[0].reports = [{"epoch": 1, "score": 0.5}]
    models = set(_instances)
    panel = LivePanel(study, n_trials=1, top=5)
    assert len(set(_instances) - models) > 20  # its widgets, their layouts and styles
    token = _IN_OUTPUT_WIDGET.set(True)
    try:
        panel.show()
        assert panel.in_widget and panel.widget.comm is not None
        drawn = panel.pace.images
        panel.finished_reason = "n_trials"
        panel.finish()
    finally:
        _IN_OUTPUT_WIDGET.reset(token)
    assert panel.widget.comm is None  # closed: its model leaves the widget's output
    # and so do its parts' layout and style models: 29 stayed open for each panel (round 22)
    assert set(_instances) - models == set()
    # and no last image of its curves was drawn for it: the summary's own took the place
    assert panel.pace.images == drawn


def test_the_panel_and_the_summary_say_what_the_scheduler_judges_trials_by(client):
    """Which resource the rungs count, and where they stand: SearchCV(resource="auto") chooses
    the resource, and its user learnt which only from a column's header (first-day test, round 9)."""
    asha = nbtune.tune(chatty, {"q": nbtune.grid(0.2, 0.5)}, searcher="grid", metric="score",
                       mode="max", scheduler="asha", max_t=27, resource="epoch", cluster=client,
                       storage=None, progress=LivePanel)
    said = "grid searcher; asha scheduler on epoch, rungs 1, 3, 9"
    assert said in str(asha.summary())
    assert "asha scheduler on epoch, rungs 1, 3, 9" in asha.live.header.value
    promotion = nbtune.tune(chatty, {"q": nbtune.grid(0.2)}, searcher="grid", metric="score",
                            mode="max", scheduler="asha", type="promotion", max_t=27,
                            cluster=client, storage=None, progress=LivePanel)
    assert "asha (promotion) scheduler on epoch" in promotion.live.header.value  # round 13
    pasha = nbtune.tune(chatty, {"q": nbtune.grid(0.2, 0.5)}, searcher="grid", metric="score",
                        mode="max", scheduler="asha", type="pasha", max_t=27, cluster=client,
                        storage=None, progress=LivePanel)
    top = pasha.scheduler.top_level()  # the level it trains trials up to, in the panel too
    assert f"asha (pasha) scheduler on epoch, rungs 1, 3, 9, 27, trials trained up to {top} " \
           f"(its top level)" in pasha.live.header.value
    fifo = nbtune.tune(chatty, {"q": nbtune.grid(0.2)}, searcher="grid", metric="score",
                       mode="max", cluster=client, storage=None, progress=LivePanel)
    assert "grid searcher; fifo scheduler\n" in str(fifo.summary())  # judges by no resource
    assert "grid searcher · fifo scheduler · <a" in fifo.live.header.value


def test_trials_paused_at_a_rung_count_in_the_pace_as_the_summary_counts_them():
    """Promotion ASHA's trials mostly pause at a rung and end, stopped, with the study: the
    panel counted only finished trials (92 trials/min, median trial 0.4 s) where the summary
    counted them all (1,923 trials/min, 22 ms: first-day test, round 16)."""
    from nbtune.ranking import pace_text

    study = nbtune.Study("promo", nbtune.Space({"q": nbtune.uniform(0, 1)}), "score", "max",
                         trials=[], settings={"resource": "epoch"})
    for i, (state, took) in enumerate([(T.PAUSED, 0.02), (T.PAUSED, 0.03),
                                       (T.PAUSED, 0.02), (T.COMPLETED, 0.4)]):
        study.trials.append(T.Trial(i, {"q": i / 10}, state=state, attempts=1, started=100.0,
                                    finished=100.0 + took, value=0.5 if state == T.COMPLETED
                                    else None, reports=[{"epoch": 1, "score": 0.1}]))
    study.started_at, study.finished_at = 100.0, 101.0  # one second: four trials judged
    panel = LivePanel(study, n_trials=None, top=5)
    for t in study.trials:
        panel.trial_created(t)
    said = "240 trials/min · median trial 25 ms"
    assert panel.progress()[1].endswith(said) and pace_text(study) == said
    resumed = study.trials[1]
    resumed.resuming()
    resumed.state, resumed.started = T.RUNNING, 100.5  # promoted: it counts once it ends
    panel.trial_started(resumed)
    assert panel.progress()[1].endswith("180 trials/min · median trial 20 ms")
    resumed.state, resumed.finished = T.PAUSED, 100.6  # paused at the next rung: 0.13 s in all
    panel.trial_reported(resumed, {"epoch": 3, "score": 0.2})
    assert panel.progress()[1].endswith("240 trials/min · median trial 75 ms")
    for t in study.trials[:3]:  # the study's end stops them where they paused
        t.state = T.STOPPED
        panel.trial_finished(t)
    assert panel.progress()[1].endswith("240 trials/min · median trial 75 ms")
    assert pace_text(study) == "240 trials/min · median trial 75 ms"

    # an interrupt cuts them instead (first-day test, round 17: 1,679 trials/min in the panel,
    # 84 in the summary); a trial restored paused from an earlier run ran none of this run
    cut = nbtune.Study("cut", study.space, "score", "max", trials=[],
                       settings={"resource": "epoch"})
    for i, (state, took, start) in enumerate([(T.PAUSED, 0.02, 100.0), (T.PAUSED, 0.04, 100.0),
                                              (T.PAUSED, 0.5, 50.0)]):
        cut.trials.append(T.Trial(i, {"q": i / 10}, state=state, attempts=1, started=start,
                                  finished=start + took, reports=[{"epoch": 1, "score": 0.1}]))
    cut.started_at, cut.finished_at = 100.0, 101.0
    panel = LivePanel(cut, n_trials=None, top=5)
    for t in cut.trials:
        panel.trial_created(t)
    said = "120 trials/min · median trial 30 ms"  # trial 2 paused in an earlier run
    assert panel.progress()[1].endswith(said) and pace_text(cut) == said
    for t in cut.trials:
        t.state = T.INTERRUPTED
        panel.trial_finished(t)
    assert panel.progress()[1].endswith(said) and pace_text(cut) == said


def test_the_line_under_a_searchcvs_panel_offers_load_study_not_a_resume(tmp_path):
    """During SearchCV.fit the line under the panel offered `%%tune --study NAME --resume` (or
    resume=True), neither of which continues a search: fit() starts anew (first-day test, round
    20)."""
    from nbtune.panel import continued_by

    path = str(tmp_path / "runs.db")
    study = nbtune.Study("pipe", nbtune.Space({"x": nbtune.uniform(0, 1)}), "score", "max",
                         storage=path)
    assert "<code>%%tune --study pipe --resume</code>" in LivePanel(study).fallback_html()
    with continued_by("cell"):  # under a cell that has --resume: it offered that same flag
        assert "running this cell again continues it (it has --resume)" in \
            LivePanel(study).fallback_html()
    with continued_by("read"):
        panel = LivePanel(study)
        line = panel.fallback_html()
    assert "--resume" not in line and "tune(" not in line  # tune's resume is not SearchCV's
    assert f"<code>nbtune.load_study('pipe', storage={path!r})</code> reads what it ran" in line
    assert "<code>SearchCV(..., resume=True)</code> continues it" in line
    # the line is redrawn every few seconds on the panel's own thread, outside fit()'s context:
    # it offered --resume again there
    import threading

    later: list[str] = []
    redraw = threading.Thread(target=lambda: later.append(panel.fallback_html()))
    redraw.start()
    redraw.join()
    assert later == [line]


def test_trials_paused_at_a_rung_count_as_judged_in_the_progress():
    """A promotion-ASHA panel read "0/18 trials · 113 trials/min", its bar empty until the
    study's end stopped the paused trials (first-day test, round 18)."""
    study = nbtune.Study("promo", nbtune.Space({"x": nbtune.uniform(0, 1)}), "acc", "max")
    study.trials = [T.Trial(i, {"x": i / 10}, state=T.PAUSED if i < 3 else T.COMPLETED,
                            value=None if i < 3 else 0.5, started=100.0 + i,
                            finished=101.0 + i) for i in range(4)]
    study.trials.append(T.Trial(4, {"x": 0.9}, state=T.RUNNING, started=104.0))
    view = TextProgress(study, n_trials=10, stream=io.StringIO())
    fraction, label = view.progress()
    assert label.startswith("4/10 trials (3 paused at a rung) · ") and fraction == 0.4


def test_a_frames_parts_are_drawn_from_one_tally():
    """The panel read "3/16 trials" above "4 completed": each part took in the trials that
    ended while the frame was drawn (first-day test, round 20)."""
    study = nbtune.Study("frame", nbtune.Space({"x": nbtune.uniform(0, 1)}), "acc", "max")
    study.trials = [T.Trial(0, {"x": 0.5}, state=T.RUNNING, started=100.0)]

    class Frame(TextProgress):
        def draw(self):
            self.label = self.progress()[1]
            trial = self.study.trials[0]  # it ends while the frame is drawn
            trial.state, trial.value, trial.finished = T.COMPLETED, 0.5, 101.0
            self.tally.touch(trial)
            self.shown = self.counts()

    view = Frame(study, n_trials=4, stream=io.StringIO())
    view._redraw()
    assert view.label.startswith("0/4 trials") and view.shown == {T.RUNNING: 1}
    view._redraw()  # the next frame has it
    assert view.label.startswith("1/4 trials") and view.shown == {T.COMPLETED: 1}


def test_with_show_output_a_running_panel_shows_each_line_once():
    """--show-output showed every line twice: in the stream, and in each trial's "wrote N
    lines" (first-day test, round 11)."""
    shown = {}
    for show_output in (False, True):
        study = nbtune.Study("out", nbtune.Space({"q": nbtune.uniform(0, 1)}), "score", "max")
        panel = LivePanel(study, n_trials=30, show_output=show_output)
        feed(panel, study, 30)
        panel.draw()
        shown[show_output] = panel
    assert "trial 7 wrote 1 line" in shown[False].outputs.value
    assert "says hello" not in shown[False].stream.value
    assert shown[True].outputs.value == ""
    assert "[trial 7] trial 7 says hello" in shown[True].stream.value


def test_trials_halted_at_the_end_are_named_by_its_reason_from_the_first_frame():
    """Trials halted by max_time read "interrupted" for a frame, then "cut by max_time"
    (first-day test, round 11): the loop says why it ends before it halts them."""
    study = nbtune.Study("cut", nbtune.Space({"q": nbtune.uniform(0, 1)}), "score", "max")
    panel = LivePanel(study, n_trials=8)
    feed(panel, study, 8)
    panel.study_ending("max_time")
    for t in study.trials:
        if t.state == T.RUNNING:
            t.state = T.INTERRUPTED
            panel.trial_finished(t)
    panel.draw()  # before study_finished: the study has no stop_reason yet
    assert study.stop_reason is None
    assert "cut by max_time" in panel.counts_html.value
    assert "interrupted" not in panel.counts_html.value, panel.counts_html.value


def test_counts_and_the_listing_call_a_trial_no_worker_started_queued_as_the_panel_does(tmp_path):
    """study.counts() and %tune_studies said "4 running" where the panel said "2 running,
    2 queued" (first-day test, round 27)."""
    from nbtune.listing import studies_frame
    from nbtune.storage import Storage

    study = nbtune.Study("q", nbtune.Space({"x": nbtune.uniform(0, 1)}), "v", "min",
                         trials=[], settings={})
    for i, started in enumerate((100.0, 101.0, None, None)):
        study.trials.append(T.Trial(i, {"x": i / 4}, state=T.RUNNING, started=started))
    study.trials.append(T.Trial(4, {"x": 0.9}, state=T.COMPLETED, value=0.9, started=99.0,
                                finished=100.0))
    assert study.counts() == {T.RUNNING: 2, T.QUEUED: 2, T.COMPLETED: 1}
    db = Storage(str(tmp_path / "q.db"))
    try:
        db.create_study("q", study.space.to_json(), "v", "min", {})
        for t in study.trials:
            db.save_trial("q", t)
        assert studies_frame(db)["trials"].tolist() == ["2 running, 2 queued, 1 completed"]
    finally:
        db.close()


def one_slow(config):
    time.sleep(3.0 if config["q"] > 0.8 else 0.02)
    nbtune.report(score=config["q"])


def test_a_trial_far_slower_than_the_rest_is_named_and_no_time_left_is_guessed(client, db,
                                                                                monkeypatch):
    """A config 1,000 times slower than the others held both workers while the panel listed
    only completed trials and said "~5.5 s left" (first-day test, round 41)."""
    import nbtune.tracker

    monkeypatch.setattr(nbtune.tracker, "LONG_SECONDS", 0.5)
    points = [{"q": 0.9}] + [{"q": 0.1 + 0.01 * i} for i in range(11)]
    study = nbtune.tune(one_slow, {"q": nbtune.uniform(0, 1)}, metric="score", mode="max",
                        n_trials=12, concurrency=2, cluster=client, storage=db, study="slow",
                        points_to_evaluate=points, background=True, progress=TextProgress)
    view, said = study.live, ""
    while study.running and not said:
        said = view.long_running()
        time.sleep(0.05)
    label = view.progress()[1]
    study.wait()
    assert re.fullmatch(r"trial 0 has run [\d.]+ s \(q=0\.9\); the median trial \d+ ms", said), said
    assert "left" not in label, label
    assert view.long_running() == ""  # the study ended: nothing runs
