"""The shipped notebooks run top to bottom in a real kernel, and Binder installs what nbtune needs."""
from __future__ import annotations

import ast
import concurrent.futures
import pathlib
import re
import shutil
import tomllib

import nbformat
import pytest

import nbtune
from IPython.core.inputtransformer2 import TransformerManager
from nbclient import NotebookClient

from kernels import kernel_environ


ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
QUICKSTART = "01-quickstart.ipynb"  # run, and checked more closely, below
EARLY_STOPPING = "03-early-stopping.ipynb"  # likewise
MODEL_BASED = "06-model-based-search.ipynb"  # likewise
OTHERS = [p for p in NOTEBOOKS if p.name not in (QUICKSTART, EARLY_STOPPING, MODEL_BASED)]


def execute(path: pathlib.Path, folder: pathlib.Path, **options) -> nbformat.NotebookNode:
    """The notebook copied into ``folder`` and run there, top to bottom, in a real kernel."""
    shutil.copy(path, folder / path.name)
    nb = nbformat.read(folder / path.name, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}, **options).execute(
        env=kernel_environ())
    return nb


# The notebooks run two at a time, each in its own kernel, folder and local cluster: a kernel's
# start, its imports and its cluster's start leave the machine's cores idle much of a run, and
# one at a time they took three minutes of the suite's twenty. Every run a selected test needs is
# begun at the first such test: the first runs in the order the tests read them, then the runs
# again in the same folder, each once its first run is done.
RUNNERS = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="notebook")
# the fixed tests below and the notebook each reads (parametrized ones name theirs by path)
READS = {"test_quickstart_runs_the_magic_and_leaves_a_good_study": QUICKSTART,
         "test_early_stopping_notebook_shows_the_live_panel_and_a_static_summary": EARLY_STOPPING,
         "test_model_based_notebook_compares_searchers_then_warm_starts_bayesopt": MODEL_BASED,
         "test_python_notebook_draws_the_other_reported_value": "02-tune-in-python.ipynb"}
# name -> its first run: (the executed notebook, its folder, the studies nbtune.db held after it)
FIRST_RUNS: dict[str, concurrent.futures.Future] = {}
AGAIN_RUNS: dict[str, concurrent.futures.Future] = {}  # name -> the notebook run again there


def _first(path: pathlib.Path, folder: pathlib.Path):
    nb = execute(path, folder)
    return nb, folder, nbtune.list_studies(folder / "nbtune.db")


def _again(path: pathlib.Path):
    folder = FIRST_RUNS[path.name].result()[1]  # begun earlier on the other thread, or done
    return execute(path, folder, allow_errors=True)


@pytest.fixture(scope="module")
def runners():
    yield RUNNERS
    RUNNERS.shutdown(cancel_futures=True)  # an interrupted session waits for no run not begun


@pytest.fixture
def runs(request, runners, tmp_path_factory):
    """Begins, at its first use, every notebook run the selected tests of this file need."""
    if not FIRST_RUNS:
        here = [item for item in request.session.items if item.path == request.path]
        first, again = [], []
        for item in here:
            spec = getattr(item, "callspec", None)
            name = spec.params["path"].name if spec else READS.get(item.originalname)
            if name and name not in first:
                first.append(name)
            if item.originalname == "test_notebook_runs_again_in_the_same_folder":
                again.append(name)
        for name in first:
            folder = tmp_path_factory.mktemp(pathlib.Path(name).stem)
            FIRST_RUNS[name] = runners.submit(_first, ROOT / "notebooks" / name, folder)
        for name in again:
            AGAIN_RUNS[name] = runners.submit(_again, ROOT / "notebooks" / name)
    return request


@pytest.fixture
def first_run(runs):
    def run(name: str) -> tuple[nbformat.NotebookNode, pathlib.Path]:
        return FIRST_RUNS[name].result()[:2]
    return run


def error_outputs(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(the cell's first line, the error) for each error a cell shows: a traceback, or IPython's
    one-line UsageError (a stderr stream, not an error output), which a %%tune cell that cannot
    start shows."""
    errors = []
    for c in nb.cells:
        for o in c.get("outputs", []) if c.cell_type == "code" else []:
            if o.output_type == "error":
                errors.append((c.source.split("\n", 1)[0], f"{o.ename}: {o.evalue}"))
            elif o.get("name") == "stderr" and "UsageError:" in o.text:
                errors.append((c.source.split("\n", 1)[0], o.text.strip()))
    return errors


@pytest.mark.parametrize("path", OTHERS, ids=[p.name for p in OTHERS])
def test_notebook_runs_in_a_real_kernel(path, first_run):
    nb, folder = first_run(path.name)
    assert not error_outputs(nb)
    assert (folder / "nbtune.db").exists()


def test_notebooks_exist():
    assert QUICKSTART in [p.name for p in NOTEBOOKS]


def test_quickstart_runs_the_magic_and_leaves_a_good_study(first_run):
    nb, folder = first_run(QUICKSTART)
    study = nbtune.load_study("quickstart", storage=folder / "nbtune.db")
    assert len(study.completed) == 16 and 0.9 < study.best_value <= 1.0
    outputs = ["".join(o.get("text", "") for o in c.outputs) for c in nb.cells
               if c.cell_type == "code"]
    assert any("nbtune: accuracy = " in o for o in outputs)  # the --local run
    assert any("best accuracy = " in o and "applied" in o for o in outputs)
    assert any("validation accuracy" in o for o in outputs)  # the final model used --apply
    # and is scored once on rows no trial saw (a student reported the tuned validation score as
    # the result: first-day test, round 41)
    assert any(re.search(r"test accuracy 0\.9\d+", o) for o in outputs), outputs[-1]


def test_early_stopping_notebook_shows_the_live_panel_and_a_static_summary(first_run):
    nb, folder = first_run(EARLY_STOPPING)
    tune_cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("%%tune")]
    assert len(tune_cells) == 2
    for cell in tune_cells:
        kinds = [set(o.get("data", {})) for o in cell.outputs]
        # the live panel (a widget view while the study runs) gave its place to the summary
        # when the study ended: a saved notebook reopened shows it, never a widget whose model
        # is gone ("Error displaying widget: model not found")
        assert not any("application/vnd.jupyter.widget-view+json" in k for k in kinds), kinds
        html = [o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {})]
        assert html and "data:image/png;base64," in html[-1] and "best" in html[-1]
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    for name in ("asha", "promotion"):
        study = nbtune.load_study(name, storage=folder / "nbtune.db")
        counts = study.counts()
        assert counts.get("stopped", 0) > 10 and counts.get("completed", 0) >= 1, counts
        assert sum(t.trained("epoch") for t in study.trials) < 40 * 27 / 2  # early stopping
        assert study.best_value > 0.5
    # the best trial's model, kept after the study, scores what the trial reported
    kept = next(c for c in nb.cells if c.source.startswith("kept = promoted.best_checkpoint"))
    text = "".join(o.get("text", "") for o in kept.outputs)
    scored = re.search(r"validation accuracy ([\d.]+) \(its value: ([\d.]+)\)", text)
    assert scored and scored.group(1) == scored.group(2), text


def test_model_based_notebook_compares_searchers_then_warm_starts_bayesopt(first_run):
    nb, folder = first_run(MODEL_BASED)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    warned = [o["text"] for c in nb.cells for o in c.get("outputs", [])
              if o.get("name") == "stderr" and re.search(r"\w+Warning: ", o["text"])]
    assert not warned, warned  # Python warnings (Dask's log lines under load are not its own)
    text = "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    for searcher in ("random", "kde", "bayesopt"):  # the simulator's comparison printed
        assert re.search(rf"{searcher} +best at 40 s per seed: \[0\.\d+, 0\.\d+, 0\.\d+\]",
                         text), text
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    first = nbtune.load_study("bo", storage=folder / "nbtune.db")
    again = nbtune.load_study("bo-new", storage=folder / "nbtune.db")
    assert first.settings["searcher"] == again.settings["searcher"] == "bayesopt"
    assert len(first.trials) == 30 and first.counts().get("stopped", 0) > 0  # ASHA stopped some
    assert again.settings["warm_start"] == "bo" and len(again.trials) == 15
    assert "nbtune: warm start from 'bo': 30 of 30 ended trials" in text
    assert "model of" in text and "warm-started from 'bo'" in text  # the summaries say so


def test_python_notebook_draws_the_other_reported_value(first_run):
    """Notebook 02 reports the loss beside the accuracy it optimises, and draws the loss."""
    nb, folder = first_run("02-tune-in-python.ipynb")
    cells = {c.source: c for c in nb.cells if c.cell_type == "code"}
    metrics = "".join(o.get("data", {}).get("text/plain", "")
                      for o in cells["study.best.metrics"].outputs)
    assert "'loss':" in metrics and "'accuracy':" in metrics
    drawn = cells['study.plot.history(metric="loss")'].outputs
    assert any("image/png" in o.get("data", {}) for o in drawn), drawn
    study = nbtune.load_study("digits-mlp", storage=folder / "nbtune.db")
    assert all("loss" in t.metrics for t in study.completed)


def study_keeping(source: str) -> list[tuple[str, bool]]:
    """Each study a cell starts, and whether a second run of the cell keeps its study in the
    file as the first left it: a %%tune cell's, named and resumed or replaced (or run --local,
    which stores none); nbtune.tune's likewise, or with storage=None; a SearchCV's, named (each
    fit replaces its study), or stored nowhere (its default)."""
    if source.startswith("%%tune"):
        line = source.splitlines()[0]
        return [(line, "--local" in line or bool(
            re.search(r"--study \S+", line) and re.search(r"--(resume|replace)\b", line)))]
    found = []
    for node in ast.walk(ast.parse(TransformerManager().transform_cell(source))):
        called = ast.unparse(node.func) if isinstance(node, ast.Call) else ""
        given = {k.arg: ast.unparse(k.value) for k in getattr(node, "keywords", ())}
        if called == "nbtune.tune":
            found.append((ast.unparse(node), given.get("storage") == "None" or (
                "study" in given and "True" in (given.get("resume"), given.get("replace")))))
        elif called == "nbtune.SearchCV":
            found.append((ast.unparse(node), "study" in given or "storage" not in given))
    return found


def test_every_notebook_keeps_its_studies_when_run_again():
    """What a second run of each notebook leaves in its folder's nbtune.db, read from its cells:
    a `--study NAME` with neither --resume nor --replace stopped there, and every later cell
    failed on the name it should have bound; an unnamed study added a new `study-YYYYMMDD-...`
    on every run. The next test runs some of them again, for real."""
    for path in NOTEBOOKS:
        cells = [c.source for c in nbformat.read(path, as_version=4).cells
                 if c.cell_type == "code"]
        started = [found for source in cells for found in study_keeping(source)]
        assert started, path.name  # each starts a study (the reading found them)
        assert all(kept for _, kept in started), (path.name, started)
    assert [p.name[:2] for p in AGAIN] == ["01", "04", "05", "06"]  # none renamed away
    assert study_keeping("%%tune --trials 4 --study x\nq = 1") == [
        ("%%tune --trials 4 --study x", False)]
    assert study_keeping("s = nbtune.tune(f, space,\n    storage='a.db')") == [
        ("nbtune.tune(f, space, storage='a.db')", False)]
    assert study_keeping("%load_ext nbtune\nnbtune.tune(f, s, study='a', resume=True)") == [
        ("nbtune.tune(f, s, study='a', resume=True)", True)]


# run again below, one of each way a study is kept: resumed once done (01: --resume), replaced
# (04: --replace), a SearchCV's (05), warm-started from one replaced (06); 02 (resume=True) and
# 03 (--replace) keep theirs as 01 and 04 do (the test above reads it from their cells)
AGAIN = [p for p in NOTEBOOKS if p.name[:2] in ("01", "04", "05", "06")]


@pytest.mark.parametrize("path", AGAIN, ids=[p.name for p in AGAIN])
def test_notebook_runs_again_in_the_same_folder(path, first_run):
    """People run a notebook again all the time ("Restart and run all", the next day): it runs
    a second time beside the nbtune.db of its first run, without an error, and leaves the same
    studies there, each named. This test costs one more run of each (the first is its own
    test's)."""
    _, folder, before = FIRST_RUNS[path.name].result()
    assert before and not [n for n in before if n.startswith("study-")], before
    nb = AGAIN_RUNS[path.name].result()
    assert not error_outputs(nb)
    assert nbtune.list_studies(folder / "nbtune.db") == before


def test_binder_installs_every_runtime_dependency():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~ ]", d)[0].lower() for d in deps}
    binder = (ROOT / "binder" / "requirements.txt").read_text().lower()
    listed = {re.split(r"[<>=!~ ]", ln.strip())[0] for ln in binder.splitlines()
              if ln.strip() and not ln.startswith("#")}
    assert names <= listed, names - listed
    post = (ROOT / "binder" / "postBuild").read_text()
    # nbtune itself, from a wheel: an editable install leaves its JupyterLab extension out
    assert "pip install --no-deps ." in post and " -e " not in post
