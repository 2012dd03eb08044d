"""In a real browser: JupyterLab on 127.0.0.1, Debian's chromium driven by Playwright.

A person opens a notebook, runs all cells, and watches the study's panel: it renders, its progress
moves while the study runs and reaches the end, and it shows the best value that the kernel's
study reports. A screenshot of each test's page is kept under ``test-artifacts/``.
"""
from __future__ import annotations

import os
import re
import time

import nbformat
import pytest

from lab import KERNEL, JupyterLab, chromium_missing, launch_browser, open_notebook, \
    run_all_cells, screenshot

_missing = chromium_missing()
if _missing and os.environ.get("NBTUNE_REQUIRE_BROWSER"):
    raise RuntimeError(f"the browser tests cannot run: {_missing}")
pytestmark = [pytest.mark.skipif(bool(_missing), reason=_missing or ""),
              pytest.mark.timeout(240)]

N_TRIALS = 16


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab") / "notebooks"
    root.mkdir()
    server = JupyterLab(root).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_browser(p)
        yield b
        b.close()


@pytest.fixture
def page(browser, lab, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    screenshot(pg, f"{request.node.name}.png")
    context.close()
    lab.shutdown_kernels()  # each test's notebook ran its own cluster


def _run_notebook(lab: JupyterLab, page, name: str, cells: list[str]) -> None:
    """Write a notebook (nbtune loaded, its own storage file, then ``cells``), open it in the
    browser and run all its cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNEL
    setup = f"%load_ext nbtune\n%config Tune.storage = '{name}.db'"
    nb.cells = [nbformat.v4.new_code_cell(src) for src in [setup, *cells]]
    nbformat.write(nb, str(lab.root / f"{name}.ipynb"))
    open_notebook(page, lab, f"{name}.ipynb")
    run_all_cells(page)


def test_live_panel_renders_moves_and_shows_the_best(lab, page):
    _run_notebook(lab, page, "live", [
        f"%%tune --trials {N_TRIALS} --metric loss --seed 0 --concurrency 2 -o study\n"
        "x = uniform(-2.0, 2.0)\n"
        "import time\n"
        "for epoch in range(1, 4):\n"
        "    time.sleep(0.25)\n"
        "    if x < -1.0 and epoch == 2:\n"
        "        raise ValueError(f'diverged at x={x:.3f}')\n"
        "    report(epoch=epoch, loss=(x - 0.5) ** 2 + 1 / epoch)",
        "print(f'BEST={study.best.value:.6g} COMPLETED={len(study.completed)} '\n"
        "      f'FAILED={study.counts().get(\"failed\", 0)}')",
    ])

    panel = page.locator(".nbtune-live-panel")
    panel.wait_for(timeout=120_000)
    label = page.locator(".nbtune-live-label")
    final = page.locator(".jp-OutputArea-output", has_text="BEST=")
    seen = set()
    deadline = time.monotonic() + 180
    while not final.count() and time.monotonic() < deadline:  # watch it while the study runs
        text = label.inner_text() if label.count() else ""
        match = re.match(r"(\d+)/(\d+) trials", text)
        if match:
            seen.add(int(match.group(1)))
        time.sleep(0.05)
    final.wait_for(timeout=5_000)

    # the panel moved while the study ran, not only at its end
    assert any(0 < done < N_TRIALS for done in seen), seen
    # ... and reached the end
    assert label.inner_text().startswith(f"{N_TRIALS}/{N_TRIALS} trials"), label.inner_text()
    assert "ended: n_trials" in label.inner_text()
    bar = page.locator(".nbtune-live-bar .progress-bar")
    assert bar.evaluate("el => el.style.width") == "100%"
    best, completed, failed = re.search(r"BEST=(\S+) COMPLETED=(\d+) FAILED=(\d+)",
                                        final.inner_text()).groups()
    assert int(failed) > 0 and int(completed) + int(failed) == N_TRIALS
    counts = page.locator(".nbtune-live-counts").inner_text()
    assert f"{completed} completed" in counts and f"{failed} failed" in counts

    # a failed trial shows one line; its traceback opens on a click
    error = page.locator(".nbtune-live-errors details").first
    assert "ValueError: diverged at x=" in error.locator("summary").inner_text()
    traceback = error.locator("pre")
    assert not traceback.is_visible()
    error.locator("summary").click()
    assert traceback.is_visible() and "Traceback" in traceback.inner_text()

    # the best value the panel shows is the one the kernel's study has
    shown = page.locator(".nbtune-live-best").inner_text()
    assert shown.startswith(f"best loss = {best} "), (shown, best)
    # the top-trials table lists the best trial first, and a learning-curves image was drawn
    first_row = page.locator(".nbtune-live-table tr").nth(1).inner_text()
    assert best in first_row and "completed" in first_row
    curves = page.locator(".nbtune-live-curves")
    assert curves.is_visible() and curves.get_attribute("src").startswith("blob:")
    # the static summary was added below the panel, for where widgets do not render
    assert page.locator(".jp-OutputArea-output", has_text="best loss").count() >= 2


def test_background_study_panel_keeps_updating_after_its_cell_returns(lab, page):
    _run_notebook(lab, page, "background", [
        "%%tune --trials 12 --metric loss --seed 1 --concurrency 2 --background -o study\n"
        "x = uniform(-2.0, 2.0)\n"
        "import time\n"
        "for epoch in range(1, 4):\n"
        "    time.sleep(0.3)\n"
        "    report(epoch=epoch, loss=(x - 0.5) ** 2 + 1 / epoch)",
        "print('OTHER CELL RAN', len(study.trials))",
    ])
    page.locator(".jp-OutputArea-output", has_text="OTHER CELL RAN").wait_for(timeout=120_000)
    label = page.locator(".nbtune-live-label")
    at_other_cell = label.inner_text()
    assert "ended" not in at_other_cell, at_other_cell  # the study was still running then
    # the kernel is idle now; the panel goes on drawing the study to its end
    page.locator(".nbtune-live-label", has_text="ended: n_trials").wait_for(timeout=120_000)
    assert label.inner_text().startswith("12/12 trials")
    assert page.locator(".nbtune-live-best").inner_text().startswith("best loss = ")


def _code(page, cell: int) -> str:
    """The source of a notebook cell as its editor shows it."""
    return page.locator(".jp-Notebook .jp-Cell").nth(cell).locator(".cm-content").inner_text()


def test_space_editor_edits_by_clicking_rewrite_the_cell_and_run(lab, page):
    _run_notebook(lab, page, "editor", [
        "%%tune --edit --trials 4 --metric loss --seed 0 -o study\n"
        "lr     = loguniform(0.0001, 0.1)\n"
        "layers = choice(1, 2, 3)\n"
        "loss = lr * layers",
    ])
    editor = page.locator(".nbtune-space-editor")
    editor.wait_for(timeout=120_000)
    rows = editor.locator(".nbtune-space-row")
    assert rows.count() == 2
    assert rows.nth(0).locator(".nbtune-space-name input").input_value() == "lr"
    code = editor.locator(".nbtune-space-code")
    assert "loguniform(0.0001, 0.1)" in code.inner_text()

    # an invalid edit is marked on its row at once, and the space cannot be applied or run
    lo = rows.nth(0).locator(".nbtune-space-lo input")
    lo.fill("1")
    lo.press("Enter")
    error = rows.nth(0).locator(".nbtune-space-error")
    page.locator(".nbtune-space-row.nbtune-space-invalid").wait_for(timeout=10_000)
    assert error.inner_text().strip(), "the row shows no reason"
    assert editor.locator(".nbtune-space-apply").is_disabled()
    assert editor.locator(".nbtune-space-run").is_disabled()

    # a valid edit: the code below the rows follows it
    lo.fill("0.001")
    lo.press("Enter")
    hi = rows.nth(0).locator(".nbtune-space-hi input")
    hi.fill("0.5")
    hi.press("Enter")
    page.locator(".nbtune-space-code", has_text="loguniform(0.001, 0.5)").wait_for(timeout=10_000)
    assert page.locator(".nbtune-space-row.nbtune-space-invalid").count() == 0
    assert not editor.locator(".nbtune-space-apply").is_disabled()

    # Apply, then run the cell again: its space lines are rewritten, the body is untouched
    editor.locator(".nbtune-space-apply").click()
    page.locator(".nbtune-space-status", has_text="run this cell again").wait_for(timeout=10_000)
    page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    deadline = time.monotonic() + 30
    while "loguniform(0.001, 0.5)" not in _code(page, 1) and time.monotonic() < deadline:
        time.sleep(0.1)
    source = _code(page, 1)
    assert "lr     = loguniform(0.001, 0.5)" in source, source
    assert "layers = choice(1, 2, 3)" in source and source.rstrip().endswith("loss = lr * layers")

    # Run starts the study with the edited space; its summary shows inside the editor
    editor = page.locator(".nbtune-space-editor")
    editor.wait_for(timeout=60_000)
    assert "loguniform(0.001, 0.5)" in editor.locator(".nbtune-space-code").inner_text()
    editor.locator(".nbtune-space-run").click()
    page.locator(".nbtune-space-output", has_text="4 completed").wait_for(timeout=120_000)
    assert "already has these lines" in editor.locator(".nbtune-space-status").inner_text()
    assert page.locator(".nbtune-live-curves").is_hidden()  # no curves: the trials never report
