"""A trial's own output: captured per trial and per thread, bounded, stored, and never written
into a notebook cell."""
from __future__ import annotations

import io
import re
import sqlite3
import sys
import threading
import warnings

import pytest

import nbtune
from nbtune import trial as T
from nbtune.live import LivePanel, TextProgress
from nbtune.run.output import (HEAD, TAIL, BoundedText, Capture, ThreadRouter, cut_note,
                               install)
from nbtune.storage import Storage


# -- the bounded buffer ------------------------------------------------------------------------
def test_a_short_text_is_kept_whole():
    buffer = BoundedText(head=10, tail=20)
    for part in ("abc", "def\n", "ghi"):
        buffer.write(part)
    assert buffer.text() == "abcdef\nghi" and buffer.cut == 0


def test_a_long_text_keeps_its_start_and_end_and_says_how_much_was_cut():
    text = "".join(f"line {i}\n" for i in range(20_000))
    buffer = BoundedText()
    for start in range(0, len(text), 37):  # written in pieces, as a program writes
        buffer.write(text[start:start + 37])
    kept = buffer.text()
    cut = len(text) - HEAD - TAIL
    assert buffer.cut == cut
    assert kept == text[:HEAD] + cut_note(cut) + text[-TAIL:]
    assert f"[... {cut:,} characters cut ...]" in kept


def test_pending_lines_travel_whole_and_the_rest_with_the_result():
    sent = []
    capture = Capture(send=sent.append)
    capture.write("first li")
    assert capture.take() == {}  # no whole line yet
    capture.write("ne\nsecond")
    assert capture.take() == {"output": "first line\n"}
    result = capture.result()
    assert result["output"] == "first line\nsecond"
    assert result["output_rest"] == {"output": "second\n", "warnings": []}
    assert sent == []  # not streaming: lines go with reports and the result only


def test_progress_bars_are_kept_as_a_terminal_shows_them_once_they_settle():
    """Keras's bar steps back over its line, tqdm's returns to its start, rich's (Lightning's)
    erases lines and moves up to redraw them, in colours: a trial's output was those frames,
    956 escape codes and 4,602 backspaces in one summary, and most epochs' lines were cut
    (first-day test, round 30)."""
    capture = Capture()
    capture.write("Epoch 1/2\n")
    for step in range(1, 23):  # Keras 3, verbose=1
        capture.write("\b" * 60 + f"\x1b[1m{step}/22\x1b[0m \x1b[32m━━━━\x1b[0m loss: {step}")
    capture.write("\n")
    for i in range(5):  # tqdm
        capture.write(f"\r{i * 25:3d}%|{'#' * i:<4}| {i}/4")
    capture.write("\n")
    capture.write("Epoch 0/1 ━ 1/9\nv_num: 0")  # rich's live display: two lines redrawn
    for step in range(2, 10):
        capture.write(f"\r\x1b[2K\x1b[1A\x1b[2KEpoch 0/1 ━ {step}/9\nv_num: {step}")
    capture.write("\n\x1b[31mdone\x1b[0m   ")
    assert capture.take() == {"output": "Epoch 1/2\n22/22 ━━━━ loss: 22\n100%|####| 4/4\n"
                                         "Epoch 0/1 ━ 9/9\nv_num: 9\n"}
    assert capture.result()["output"] == ("Epoch 1/2\n22/22 ━━━━ loss: 22\n100%|####| 4/4\n"
                                          "Epoch 0/1 ━ 9/9\nv_num: 9\ndone")


def test_a_line_written_over_keeps_what_the_new_text_does_not_cover():
    from nbtune.run.terminal import Terminal

    screen = Terminal()
    assert screen.write("loss: 0.25 (best)\rloss: 0.5") == ""
    assert screen.lines(partial=True) == "loss: 0.55 (best)"  # as a terminal shows it
    assert screen.write("a\x1b[Kb\x1b[2Kc\r\x1b[1Gd\n") == ""
    assert screen.lines() == "d c\n"  # erased, written on at its column, then from its start
    assert screen.write("".join(f"line {i}\n" for i in range(12))) == "line 0\nline 1\nline 2\n" \
        "line 3\n"  # out of a redraw's reach


def test_a_resumed_trial_keeps_what_it_wrote_before_its_pause():
    capture = Capture(before={"output": "before the pause\n",
                              "warnings": [{"category": "UserWarning", "message": "m",
                                            "where": "x:1", "count": 1}]})
    capture.write("after\n")
    assert capture.result()["output"] == "before the pause\nafter\n"
    assert capture.result()["warnings"][0]["message"] == "m"


# -- routing by thread -------------------------------------------------------------------------
def test_two_threads_printing_at_once_get_their_own_lines(capsys):
    install()
    assert isinstance(sys.stdout, ThreadRouter) and isinstance(sys.stderr, ThreadRouter)
    captures = {name: Capture() for name in ("a", "b")}
    barrier = threading.Barrier(2)

    def trial(name: str) -> None:
        token = captures[name].activate()
        try:
            barrier.wait()
            for i in range(2000):
                print(f"{name} says {i}")
                if i % 100 == 0:
                    print(f"{name} err {i}", file=sys.stderr)
                    warnings.warn(f"{name} warns", UserWarning)
        finally:
            Capture.deactivate(token)

    threads = [threading.Thread(target=trial, args=(n,)) for n in captures]
    for t in threads:
        t.start()
    print("the main thread's own line")
    for t in threads:
        t.join()
    for name, capture in captures.items():
        other = "b" if name == "a" else "a"
        text = BoundedText(head=10**7, tail=10**7)  # the same lines, unbounded, to compare
        for i in range(2000):
            text.write(f"{name} says {i}\n")
            if i % 100 == 0:
                text.write(f"{name} err {i}\n")
        out = capture.result()
        assert out["output"] == BoundedText(text=text.text()).text()  # its lines, in order
        assert f"{other} says" not in out["output"] and f"{other} err" not in out["output"]
        assert [(w["category"], w["message"]) for w in out["warnings"]] == [
            ("UserWarning", f"{name} warns")]
    seen = capsys.readouterr()
    assert "the main thread's own line" in seen.out  # not a trial's: to the real stream
    assert "says" not in seen.out + seen.err and "warns" not in seen.err


# -- a real study ------------------------------------------------------------------------------
def chatty(config):
    """Prints to stdout and stderr, warns the same warning in every trial, reports."""
    q = config["q"]
    for epoch in range(1, 4):
        print(f"q={q} epoch {epoch}")
        print(f"q={q} progress {epoch}/3", file=sys.stderr)
        warnings.warn("the optimizer did not converge", RuntimeWarning)
        nbtune.report(epoch=epoch, score=q * epoch)
    sys.stdout.write(f"q={q} done without a newline")
    if q == 4:
        print("x" * 30_000)  # a long output: bounded
    return q * 3


def expected(q):
    lines = "".join(f"q={q} epoch {e}\nq={q} progress {e}/3\n" for e in range(1, 4))
    return lines + f"q={q} done without a newline"


def test_each_trial_keeps_its_own_output_stored_and_loaded(client, db):
    stream = io.StringIO()

    class Captured(TextProgress):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, stream=stream, **kwargs)

    study = nbtune.tune(chatty, {"q": nbtune.grid(1, 2, 3, 4)}, searcher="grid",
                        metric="score", mode="max", cluster=client, storage=db, study="out",
                        progress=Captured, show_output=True)
    loaded = nbtune.load_study("out", storage=db)
    for s in (study, loaded):
        by_q = {t.config["q"]: t for t in s.trials}
        for q in (1, 2, 3):
            assert by_q[q].output == expected(q)
        long = by_q[4].output
        assert long.startswith(expected(4)) and "characters cut ...]" in long
        assert len(long) < HEAD + TAIL + 100 and long.rstrip().endswith("x" * 100)
        for t in s.trials:
            assert [(w["category"], w["message"]) for w in t.warnings] == [
                ("RuntimeWarning", "the optimizer did not converge")]
        text = str(s.summary())
        assert "4 trials wrote output" in text
        assert "RuntimeWarning: the optimizer did not converge (4 trials)" in text
        page = s.summary()._repr_html_()
        assert page.count("the optimizer did not converge") == 1  # once per study
        assert "raised by 4 of 4 trials" in page and "trial 3 wrote" in page
        assert s.to_dataframe()["output_lines"].tolist()[:3] == [7, 7, 7]
    # the stream: each line prefixed with its trial, whole lines, the warning only once
    shown = stream.getvalue().splitlines()
    for t in study.trials:
        mine = [ln for ln in shown if ln.startswith(f"[trial {t.id}] q=")]
        lines = [f"[trial {t.id}] {ln}" for ln in expected(t.config["q"]).splitlines()]
        if t.config["q"] == 4:  # its last line goes on for 30,000 characters: its end is shown
            lines = lines[:6]
        assert mine[:len(lines)] == lines
    assert sum("did not converge" in ln for ln in shown if ln.startswith("[trial")) == 1


def warns_twice(config):
    warnings.warn("the optimizer did not converge", RuntimeWarning)
    warnings.warn(f"value {config['q']} is odd", UserWarning)
    return config["q"]


def test_warnings_the_notebook_ignores_are_not_kept_from_its_trials(client, db):
    """A ConvergenceWarning ignored in the notebook (warnings.filterwarnings) still filled the
    panel and the summary, "raised by 15 of 20 trials": the trials ran on workers, whose filters
    are their own (first-day test, round 24)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message="value 2")
        study = nbtune.tune(warns_twice, {"q": nbtune.grid(1, 2)}, searcher="grid",
                            cluster=client, storage=db, study="ignored", progress=LivePanel,
                            show_output=True)
    for s in (study, nbtune.load_study("ignored", storage=db)):
        kept = {t.config["q"]: [(w["category"], w["message"]) for w in t.warnings]
                for t in s.trials}
        assert kept == {1: [("UserWarning", "value 1 is odd")], 2: []}
        assert "did not converge" not in s.summary()._repr_html_()
    panel = study.live
    assert "value 1 is odd" in panel.warnings_html.value
    assert "did not converge" not in panel.warnings_html.value + panel.stream.value
    after = nbtune.tune(warns_twice, {"q": nbtune.grid(2)}, searcher="grid", cluster=client,
                        storage=None, progress=False)  # the filters are the notebook's now
    assert {w["category"] for w in after.trials[0].warnings} == {"RuntimeWarning",
                                                                   "UserWarning"}


def test_the_first_filter_that_matches_decides_as_python_does():
    from nbtune.run.ignored import ignored

    def record(category, message, where, module="builtins"):
        return {"category": category, "message": message, "where": where, "count": 1,
                "module": module}

    lib = f"{sys.path[-1]}/somelib/fit.py:12"
    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("default", module=r"somelib\.fit")  # before the ignore
        warnings.filterwarnings("ignore", category=FutureWarning, module="__main__")
        warnings.filterwarnings("ignore", message="old", lineno=7)
        assert not ignored(record("UserWarning", "m", lib))  # the module's filter comes first
        assert ignored(record("UserWarning", "m", "/elsewhere/x.py:3"))
        assert ignored(record("FutureWarning", "m", "<tune cell [4]>:2"))  # a cell: __main__
        assert not ignored(record("FutureWarning", "m", "/elsewhere/x.py:3"))
        assert ignored(record("RuntimeWarning", "old news", "/x.py:7"))
        assert not ignored(record("RuntimeWarning", "old news", "/x.py:8"))
        # a category whose module this process never loaded: matched by name, or by Warning
        assert not ignored(record("OddWarning", "m", "/x.py:1", module="nowhere.loaded"))
        warnings.filterwarnings("ignore", category=Warning)
        assert ignored(record("OddWarning", "m", "/x.py:1", module="nowhere.loaded"))


def test_the_panel_shows_each_trials_output_on_demand_and_streams_it(client, db):
    study = nbtune.tune(chatty, {"q": nbtune.grid(1, 2)}, searcher="grid", metric="score",
                        mode="max", cluster=client, storage=db, study="panel-out",
                        progress=LivePanel, show_output=True)
    panel = study.live
    for t in study.trials:  # one <details> per trial that wrote something
        assert f"<details><summary>trial {t.id} wrote 7 lines</summary><pre>" \
               f"{expected(t.config['q']).splitlines()[0]}" in panel.outputs.value
    # each trial's lines in its order (two trials that run at once interleave theirs)
    streamed = re.sub("<[^>]+>", "", panel.stream.value).splitlines()
    for t in study.trials:
        own = [line for line in streamed if line.startswith(f"[trial {t.id}] ")]
        assert own[:2] == [f"[trial {t.id}] q={t.config['q']} epoch 1",
                           f"[trial {t.id}] q={t.config['q']} progress 1/3"]
    assert panel.stream.layout.display is None  # shown, as asked
    assert len(panel.lines) == 15 and not panel.fresh  # 14 lines, 1 warning; nothing piles up
    assert "RuntimeWarning: the optimizer did not converge" in panel.warnings_html.value
    assert "raised by 2 of 2 trials" in panel.warnings_html.value
    quiet = nbtune.tune(chatty, {"q": nbtune.grid(1)}, searcher="grid", metric="score",
                        mode="max", cluster=client, storage=db, study="panel-quiet",
                        progress=LivePanel)
    assert quiet.live.stream.layout.display == "none" and not quiet.live.lines
    assert quiet.trials[0].output == expected(1)  # kept all the same


def test_a_study_file_from_before_trial_output_opens_and_takes_it(client, tmp_path):
    path = str(tmp_path / "old.db")
    con = sqlite3.connect(path)  # the schema files had before the output columns
    con.executescript("""
        CREATE TABLE studies (name TEXT PRIMARY KEY, space TEXT NOT NULL, metric TEXT NOT NULL,
            mode TEXT NOT NULL, settings TEXT NOT NULL, created REAL NOT NULL,
            updated REAL NOT NULL, status TEXT NOT NULL);
        CREATE TABLE trials (study TEXT NOT NULL, id INTEGER NOT NULL, config TEXT NOT NULL,
            state TEXT NOT NULL, value REAL, metrics TEXT, error TEXT, worker TEXT,
            attempts INTEGER NOT NULL DEFAULT 0, created REAL, started REAL, finished REAL,
            PRIMARY KEY (study, id));
        CREATE TABLE reports (study TEXT NOT NULL, trial INTEGER NOT NULL,
            attempt INTEGER NOT NULL, seq INTEGER NOT NULL, time REAL NOT NULL,
            data TEXT NOT NULL, PRIMARY KEY (study, trial, attempt, seq));
    """)
    space = nbtune.Space({"q": nbtune.grid(1, 2)})
    con.execute("INSERT INTO studies VALUES ('old', ?, 'score', 'max', '{}', 0, 0, "
                "'finished: exhausted')", (space.to_json(),))
    con.execute("INSERT INTO trials VALUES ('old', 0, '{\"q\": 1}', 'completed', 3.0, NULL, "
                "NULL, NULL, 1, 0, 0, 1)")
    con.commit()
    con.close()
    old = nbtune.load_study("old", storage=path)
    assert old.trials[0].output == "" and old.trials[0].warnings == []
    study = nbtune.tune(chatty, space, searcher="grid", metric="score", mode="max",
                        cluster=client, storage=path, study="old", resume=True, progress=False)
    assert len(study.trials) == 2
    assert nbtune.load_study("old", storage=path).trials[1].output == expected(2)
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(trials)")}
    assert {"output", "warnings"} <= columns
    Storage(path).close()  # opening it again adds nothing twice


# -- in a real kernel: nothing a trial prints lands in a cell ------------------------------------
BACKGROUND = """%%tune --searcher grid --concurrency 2 --metric score --mode max --study bg --background
q = grid(1, 2, 3, 4)
import time, sys
for epoch in range(1, 6):
    print(f"TRIALLINE q={q} epoch {epoch}")
    print(f"TRIALERR q={q} epoch {epoch}", file=sys.stderr)
    time.sleep(0.3)
    report(epoch=epoch, score=q * epoch)
"""


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    pytest.importorskip("jupyter_client")
    pytest.importorskip("ipykernel")
    from test_interrupt import Kernel

    folder = tmp_path_factory.mktemp("output")
    k = Kernel(folder, str(folder / "studies.db"))
    yield k
    k.close()


def test_a_background_studys_lines_stay_out_of_the_next_cell(kernel):
    first = kernel.run(BACKGROUND, timeout=120)
    assert first.status == "ok" and "runs in the background" not in first.stdout, first
    # the line is the panel's own: it goes with the panel when the study ends
    assert "runs in the background" in kernel.value("study.live.note_html.value")
    # the next cell runs while the trials print
    other = kernel.run("import time\nfor i in range(8):\n    time.sleep(0.5)\n"
                       "    print('OTHER', i, len(study.trials))\n", timeout=60)
    assert other.status == "ok" and "OTHER 7" in other.stdout, other
    kernel.ok("study.wait()", timeout=120)
    outputs = kernel.value("{t.config['q']: t.output for t in study.trials}")
    for reply in (first, other):
        assert "TRIAL" not in reply.stdout + reply.stderr, reply
    for q, text in outputs.items():
        assert text == "".join(f"TRIALLINE q={q} epoch {e}\nTRIALERR q={q} epoch {e}\n"
                               for e in range(1, 6))
    loaded = nbtune.load_study("bg", storage=kernel.db)  # another process reads the same
    assert {t.config["q"]: t.output for t in loaded.trials} == outputs
    done = kernel.run("print('LAST', study.stop_reason)", timeout=60)
    assert "TRIAL" not in done.stdout + done.stderr and "LAST exhausted" in done.stdout


def printing_resumable(config):
    """Prints each epoch; resumes after the epoch of its checkpoint."""
    checkpoint = nbtune.get_checkpoint()
    first = checkpoint + 1 if checkpoint is not None else 1
    print("resumed" if checkpoint is not None else "fresh")
    for epoch in range(first, 5):
        print(f"epoch {epoch}")
        nbtune.report(epoch=epoch, score=config["q"] * epoch, checkpoint=epoch)


def test_a_paused_trial_keeps_what_it_wrote_before_the_pause(client, db):
    from test_pause import PauseOnceAt

    study = nbtune.tune(printing_resumable, {"q": nbtune.grid(1, 2)}, searcher="grid",
                        metric="score", mode="max", scheduler=PauseOnceAt(2), concurrency=1,
                        cluster=client, storage=db, study="paused", progress=False)
    for s in (study, nbtune.load_study("paused", storage=db)):
        for t in s.trials:
            assert t.state == T.COMPLETED
            assert t.output == "fresh\nepoch 1\nepoch 2\nresumed\nepoch 3\nepoch 4\n"


def interleaved(config):
    """Prints a line, sleeps, prints again: two of these in one process interleave in time."""
    import time

    for i in range(20):
        print(f"trial q={config['q']} line {i}")
        time.sleep(0.01)
    return config["q"]


def test_trials_in_threads_of_one_worker_keep_their_own_lines(db):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                      dashboard_address=":0") as cluster, \
            Client(cluster, set_as_default=False) as client:
        study = nbtune.tune(interleaved, {"q": nbtune.grid(1, 2, 3, 4)}, searcher="grid",
                            metric="value", cluster=client, storage=db, study="threads",
                            progress=False)
        assert len({t.worker for t in study.trials}) == 1
        spans = sorted((t.started, t.finished) for t in study.trials)
        assert any(a[1] > b[0] for a, b in zip(spans, spans[1:]))  # they ran side by side
        for t in study.trials:
            assert t.output == "".join(f"trial q={t.config['q']} line {i}\n" for i in range(20))


def test_show_output_without_a_terminal_writes_the_trials_lines(monkeypatch):
    """A script logging to a file (stderr no terminal) asked for show_output=True and printed
    nothing at all: the text view was chosen only for a terminal."""
    from nbtune.live import _view_class

    class Piped(io.StringIO):
        def isatty(self):
            return False

    monkeypatch.setattr(sys, "stderr", Piped())
    assert _view_class("auto") is None  # a log stays quiet unless asked
    assert _view_class("auto", show_output=True) is TextProgress
    assert _view_class(False, show_output=True) is None


def test_a_script_logging_to_a_file_gets_progress_lines_and_the_summary(tmp_path):
    """`python train.py > run.log 2>&1`, as nohup, a job queue or CI run it: nbtune wrote
    nothing at all, no progress and no summary (first-day test, round 20)."""
    import subprocess

    script = tmp_path / "train.py"
    script.write_text(
        "import time\n"
        "import nbtune\n"
        "import nbtune.text_view\n"
        "nbtune.text_view.LOG_EVERY = 0.5  # a line each redraw, where it is 30 s\n"
        "\n"
        "def train(config):\n"
        "    time.sleep(0.8)\n"
        "    return config['x']\n"
        "\n"
        "if __name__ == '__main__':\n"
        "    nbtune.tune(train, {'x': nbtune.uniform(0, 1)}, n_trials=4, seed=0, study='logged',\n"
        "                storage=None, cluster=nbtune.run.cluster.local_cluster(1))\n")
    with open(tmp_path / "run.log", "w") as log:
        done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, stdout=log,
                              stderr=subprocess.STDOUT, timeout=240)
    text = (tmp_path / "run.log").read_text()
    assert done.returncode == 0, text
    assert "\x1b[" not in text and "\r" not in text  # a log: whole lines, nothing redrawn
    lines = [ln for ln in text.splitlines() if ln.startswith("nbtune logged: ")]
    assert lines and all(" trials" in ln and " | " in ln for ln in lines), text
    assert "nbtune study 'logged'\n  metric  " in text and "4: 4 completed" in text, text


def test_a_warning_of_several_lines_is_said_by_its_first_in_the_text_summary():
    """joblib's warning read "UserWarning: before creating your Dask cluster." in the text
    summary: its last line (first-day test, round 23)."""
    message = ("Inside a Dask worker with daemon=True, setting n_jobs=1.\nPossible work-arounds:"
               "\n- dask.config.set({'distributed.worker.daemon': False})\nbefore creating your "
               "Dask cluster.")
    trials = [T.Trial(i, {"q": i}, state=T.COMPLETED, value=float(i),
                      warnings=[{"category": "UserWarning", "message": message,
                                 "where": "joblib/parallel.py:1", "count": 1}])
              for i in range(2)]
    study = nbtune.Study("rf", nbtune.Space({"q": nbtune.grid(0, 1)}), "score", "max",
                         trials=trials)
    assert dict(study.summary().facts())["warnings"] == (
        "UserWarning: Inside a Dask worker with daemon=True, setting n_jobs=1. (2 trials)")


TAKES_STDERR = """\
import logging
import sys

log = logging.getLogger("takes_stderr")
log.addHandler(logging.StreamHandler(sys.stderr))  # the stream as it is when imported
log.setLevel(logging.INFO)
"""


def test_what_a_worker_writes_outside_its_trials_streams_stays_out_of_the_cells(tmp_path):
    """A worker inherits the kernel's streams, which ipykernel shows in whatever cell runs:
    Lightning's log handler, made as the workers imported it after a cell, put each trial's
    lines and its progress bar in the cell, 104 KB of it, and Dask's "Compute Failed" log came
    the same way (first-day test, round 30)."""
    from test_display import run_notebook

    (tmp_path / "takes_stderr.py").write_text(TAKES_STDERR)
    nb = run_notebook(
        tmp_path, "%load_ext nbtune",
        "import os, sys\n"
        "sys.path.insert(0, os.getcwd())\n"
        "import takes_stderr\n"
        "from nbtune.run.embedded import embedded_client\n"
        "def early():  # as the workers import the notebook's modules after a cell\n"
        "    sys.path.insert(0, os.getcwd())\n"
        "    import takes_stderr\n"
        "embedded_client().run(early);",
        "%%tune --trials 2 --metric loss --study streams -o streams\n"
        "x = uniform(0, 1)\n"
        "os.write(1, b'C-LEVEL LINE\\n')\n"
        "takes_stderr.log.info('HANDLER LINE')\n"
        "loss = x\n",
        "from nbtune.run.worker_setup import log_path\n"
        "def lines(name):\n"
        "    try:\n"
        "        return open(log_path(os.getpid(), name)).read().count('C-LEVEL LINE')\n"
        "    except OSError:\n"
        "        return 0\n"
        "names = embedded_client().run(lambda dask_worker: dask_worker.name).values()\n"
        "print('LOGS', sum(lines(n) for n in names))\n"
        "print('OUTPUTS', [t.output for t in streams.trials])")
    cells = ["".join(o.get("text", "") for o in c.outputs) for c in nb.cells]
    # the cells' own streams: ipykernel forwards the kernel's file descriptors, which the worker
    # processes inherit, to the cell (run_notebook starts the kernel as Jupyter does)
    shown = "".join(cells[:3]) + cells[3].split("OUTPUTS")[0]
    assert "C-LEVEL LINE" not in shown and "HANDLER LINE" not in shown, cells
    assert "LOGS 2\n" in cells[3], cells[3]  # the workers' own log has them
    assert "OUTPUTS ['HANDLER LINE\\n', 'HANDLER LINE\\n']" in cells[3], cells[3]
