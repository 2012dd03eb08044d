"""In a real browser: JupyterLab on 127.0.0.1, Debian's chromium driven by Playwright.

A person opens a notebook, runs all cells, and watches the study's panel: it renders, its progress
moves while the study runs, and at the end it gives its place to the static summary, which shows
the best value that the kernel's study reports; the notebook saved and reopened shows no widget
error. The space editor's Apply is checked both ways: with nbtune's JupyterLab extension disabled
(run the cell again) and loaded (one click writes the cell). A screenshot of each test's page is
kept under ``test-artifacts/``.
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


@pytest.fixture(scope="module")
def lab_with_apply(tmp_path_factory):
    """JupyterLab with nbtune's extension (``lab`` has it disabled)."""
    root = tmp_path_factory.mktemp("lab-apply") / "notebooks"
    root.mkdir()
    server = JupyterLab(root, extension=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dark_lab(tmp_path_factory):
    """JupyterLab on its dark theme, as Settings > Theme > JupyterLab Dark leaves it."""
    root = tmp_path_factory.mktemp("lab-dark") / "notebooks"
    root.mkdir()
    server = JupyterLab(root, theme="JupyterLab Dark").start()
    yield server
    server.stop()


def _page(browser, lab: JupyterLab, name: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    screenshot(pg, f"{name}.png")
    context.close()
    lab.shutdown_kernels()  # each test's notebook ran its own cluster


@pytest.fixture
def page(browser, lab, request):
    yield from _page(browser, lab, request.node.name)


@pytest.fixture
def apply_page(browser, lab_with_apply, request):
    yield from _page(browser, lab_with_apply, request.node.name)


@pytest.fixture
def dark_page(browser, dark_lab, request):
    yield from _page(browser, dark_lab, request.node.name)


# WCAG's contrast ratio of an element's text against the first background behind it that is not
# transparent (the text's own alpha blended over it)
CONTRAST = """el => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = c => { const f = v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  let node = el, back = null;
  while (node) { const c = getComputedStyle(node).backgroundColor;
    if (c && c !== 'transparent' && !c.startsWith('rgba(0, 0, 0, 0)')) { back = rgb(c); break; }
    node = node.parentElement; }
  back = back || [255, 255, 255];
  const fore = rgb(getComputedStyle(el).color), a = fore.length > 3 ? fore[3] : 1;
  const seen = [0, 1, 2].map(i => fore[i] * a + back[i] * (1 - a));
  const [hi, lo] = [lum(seen), lum(back)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05); }"""


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


def _facts(page) -> dict[str, str]:
    """The summary's facts table: label -> text."""
    rows = page.locator(".nbtune-summary-facts tr")
    return {rows.nth(i).locator("th").inner_text().strip():
            rows.nth(i).locator("td").inner_text().strip() for i in range(rows.count())}


def _texts(locator) -> list[str]:
    """The inner texts of what ``locator`` finds, or [] when it went away meanwhile."""
    try:
        return [t.strip() for t in locator.all_inner_texts()]
    except Exception:  # the live panel is replaced by the summary when the study ends
        return []


def _save_and_reopen(lab: JupyterLab, page, name: str) -> None:
    """Save the notebook as a person would (Ctrl+S), shut its kernel down, open it again."""
    path = lab.root / f"{name}.ipynb"
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while "nbtune-summary" not in path.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "nbtune-summary" in path.read_text(), "the notebook was not saved"
    assert "application/vnd.jupyter.widget-view+json" not in path.read_text()
    lab.shutdown_kernels()  # no kernel left to restore a widget from
    page.on("dialog", lambda dialog: dialog.accept())  # "leave the page?" if JupyterLab asks
    open_notebook(page, lab, f"{name}.ipynb")


def _table_style(table) -> dict | None:
    """How ``table`` (a locator) lays out its cells and caption, as the browser computed it;
    None when it is not (or no longer) on the page."""
    try:
        return table.first.evaluate(
            "t => { const td = getComputedStyle(t.querySelector('tbody td')),"
            " cap = getComputedStyle(t.querySelector('caption'));"
            " return {padding: td.padding, cell_line: td.lineHeight,"
            " caption_line: cap.lineHeight}; }", timeout=1000)
    except Exception:  # the live panel is replaced by the summary when the study ends
        return None


def _no_widget_error(page) -> None:
    assert page.get_by_text("Error displaying widget").count() == 0
    assert page.get_by_text("model not found").count() == 0


def test_live_panel_renders_moves_and_leaves_the_summary(lab, page):
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
    seen, live_headers, live_style, live_box = set(), [], None, None
    deadline = time.monotonic() + 180
    while not final.count() and time.monotonic() < deadline:  # watch it while the study runs
        match = re.match(r"(\d+)/(\d+) trials", " ".join(_texts(label)))
        if match:
            seen.add(int(match.group(1)))
        if not live_headers:
            live_headers = _texts(page.locator(".nbtune-live-table th"))
        if live_style is None and page.locator(".nbtune-live-top").count():
            live_style = _table_style(page.locator(".nbtune-live-top"))
            try:  # the box its table scrolls in spans the table (a widget's HTML, not an output)
                live_box = page.locator(".nbtune-live-top").first.evaluate(
                    "t => [t.parentElement.clientWidth, t.getBoundingClientRect().width]",
                    timeout=1000)
            except Exception:  # the live panel is replaced by the summary when the study ends
                live_style = None
            if live_box == [0, 0]:  # not laid out yet, or on its way out: measured again
                live_style = None
        time.sleep(0.05)
    final.wait_for(timeout=5_000)

    # the panel moved while the study ran, not only at its end
    assert any(0 < done < N_TRIALS for done in seen), seen
    # its top-trials table: a column per fact and per hyperparameter
    assert live_headers in (["#", "trial", "loss", "state", "x"],
                            ["#", "trial", "loss", "epoch", "state", "x"]), live_headers
    # at its end the panel gave its place to the static summary
    summary = page.locator(".nbtune-summary")
    summary.wait_for(timeout=10_000)
    assert panel.count() == 0
    best, completed, failed = re.search(r"BEST=(\S+) COMPLETED=(\d+) FAILED=(\d+)",
                                        final.inner_text()).groups()
    assert int(failed) > 0 and int(completed) + int(failed) == N_TRIALS
    facts = _facts(page)
    assert facts["ended"] == "n_trials"
    assert f"{completed} completed" in facts["trials"] and f"{failed} failed" in facts["trials"]
    assert facts["best"].startswith(f"loss = {best} "), (facts, best)
    assert "trials/min" in facts["time"] and "median trial" in facts["time"]

    # a failed trial shows one line; its traceback, naming the cell, opens on a click
    error = page.locator(".nbtune-summary-errors details").first
    assert "ValueError: diverged at x=" in error.locator("summary").inner_text()
    traceback = error.locator("pre")
    assert not traceback.is_visible()
    error.locator("summary").click()
    assert traceback.is_visible() and "Traceback" in traceback.inner_text()
    assert re.search(r"Cell In\[\d+\], line 7", traceback.inner_text())

    # the top-trials table: its columns, the best first, numbers right-aligned, the rule said
    table = page.locator(".nbtune-summary-table")
    assert _texts(table.locator("th")) == ["#", "trial", "loss", "epoch", "state", "x"]
    first_row = table.locator("tbody tr").first.locator("td")
    cells = _texts(first_row)
    assert abs(float(cells[2]) - float(best)) <= 1e-4 * abs(float(best)) + 1e-9, (cells, best)
    assert cells[4] == "completed"
    for column in (0, 1, 2, 3, 5):
        align = first_row.nth(column).evaluate("el => getComputedStyle(el).textAlign")
        assert align == "right", (column, align)
    assert "ranked: completed trials first, lowest loss first" in \
        table.locator("caption").inner_text()
    # wider than the output (SearchCV's long step__param columns), it scrolls, not cut off
    assert table.evaluate("el => getComputedStyle(el.parentElement).overflowX") == "auto"
    # the live panel's table was laid out as the summary's: cells padded, lines spaced alike
    assert live_style is not None and live_style == _table_style(table), \
        (live_style, _table_style(table))
    assert live_box[0] >= live_box[1] > 100, live_box
    curves = page.locator(".nbtune-summary-curves")
    assert curves.is_visible() and curves.get_attribute("src").startswith("data:image/png")
    _no_widget_error(page)

    # the saved notebook, reopened without its kernel, shows the summary and no widget error
    _save_and_reopen(lab, page, "live")
    page.locator(".nbtune-summary").wait_for(timeout=30_000)
    _no_widget_error(page)


def test_background_study_panel_keeps_updating_after_its_cell_returns(lab, page):
    _run_notebook(lab, page, "background", [
        "%%tune --trials 12 --metric loss --seed 1 --concurrency 2 --background -o study\n"
        "x = uniform(-2.0, 2.0)\n"
        "import time\n"
        "for epoch in range(1, 4):\n"
        "    print('TRIAL PRINTS', epoch)\n"
        "    time.sleep(0.3)\n"
        "    report(epoch=epoch, loss=(x - 0.5) ** 2 + 1 / epoch)",
        "import time\n"
        "time.sleep(1)\n"
        "print('OTHER CELL RAN', len(study.trials))",
    ])
    other = page.locator(".jp-OutputArea-output", has_text="OTHER CELL RAN")
    other.wait_for(timeout=120_000)
    label = page.locator(".nbtune-live-label")
    at_other_cell = " ".join(_texts(label))
    assert at_other_cell and "ended" not in at_other_cell, at_other_cell  # still running
    # the kernel is idle now; the panel goes on drawing the study to its end, then the summary
    page.locator(".nbtune-summary", has_text="n_trials").wait_for(timeout=120_000)
    facts = _facts(page)
    assert facts["trials"] == "12: 12 completed" and facts["best"].startswith("loss = ")
    # what the trials printed went to no cell: it is in the summary, one trial at a time
    assert "TRIAL PRINTS" not in other.inner_text()
    assert "12 trials wrote output" in facts["output"]
    _no_widget_error(page)


def test_asha_curves_follow_the_best_trials(lab, page):
    _run_notebook(lab, page, "asha", [
        "%%tune --trials 12 --scheduler asha --max-t 9 --metric score --mode max --seed 0 "
        "--concurrency 2 -o study\n"
        "q = uniform(0.5, 1.0)\n"
        "lr = loguniform(1e-6, 1e-2)\n"
        "import time\n"
        "for epoch in range(1, 10):\n"
        "    time.sleep(0.05)\n"
        "    report(epoch=epoch, score=q * (1 - 0.5 / epoch))",
        "ax = study.plot.learning_curves().axes[0]\n"
        "low, high = ax.get_ylim()\n"
        "firsts = [t.reports[0]['score'] for t in study.trials if t.state == 'stopped']\n"
        "print(f'STOPPED={len(firsts)} BELOW={sum(v < low for v in firsts)} '\n"
        "      f'BEST_IN={low <= study.best.value <= high}')",
    ])
    final = page.locator(".jp-OutputArea-output", has_text="STOPPED=")
    final.wait_for(timeout=180_000)
    stopped, below, best_in = re.search(r"STOPPED=(\d+) BELOW=(\d+) BEST_IN=(\w+)",
                                        final.inner_text()).groups()
    # the range follows the best trials: stopped trials' first scores may fall below it
    assert int(stopped) > 0 and int(below) > 0 and best_in == "True", final.inner_text()
    table = page.locator(".nbtune-summary-table")
    assert _texts(table.locator("th")) == ["#", "trial", "score", "epoch", "state", "q", "lr"]
    assert "the furthest epoch first" in table.locator("caption").inner_text()
    assert page.locator(".nbtune-summary-curves").is_visible()
    # in a narrow window the table scrolls sideways, each cell on one line ("1.855e-" over "02"
    # was read as another number), and its caption wraps within the visible box, where it was
    # cut mid-word with the table (first-day test, round 24)
    page.set_viewport_size({"width": 560, "height": 1000})
    page.wait_for_timeout(500)
    narrow = table.evaluate(
        "t => { const box = t.parentElement, cap = t.querySelector('caption'),"
        " one = c => { const r = document.createRange(); r.selectNodeContents(c);"
        " return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size <= 1; };"
        " return {scrolls: box.scrollWidth > box.clientWidth,"
        " one_line: [...t.querySelectorAll('td, th')].every(one),"
        " caption_in_box: cap.getBoundingClientRect().right"
        " <= box.getBoundingClientRect().right + 1,"
        " caption_lines: cap.getClientRects().length}; }")
    assert narrow["scrolls"] and narrow["one_line"] and narrow["caption_in_box"], narrow
    screenshot(page, "asha-narrow.png")
    page.set_viewport_size({"width": 1400, "height": 1000})
    _save_and_reopen(lab, page, "asha")
    page.locator(".nbtune-summary").wait_for(timeout=30_000)
    _no_widget_error(page)


def _finished_prompt(cell, timeout: float = 30.0) -> str:
    """The cell's input prompt once its run has ended ("[2]:", not "[*]:"): the editor can be on
    the page a moment before the kernel's reply marks the cell done."""
    deadline = time.monotonic() + timeout
    prompt = cell.locator(".jp-InputPrompt").inner_text()
    while "*" in prompt and time.monotonic() < deadline:
        time.sleep(0.1)
        prompt = cell.locator(".jp-InputPrompt").inner_text()
    assert "*" not in prompt, f"the cell still runs after {timeout:.0f} s: {prompt}"
    return prompt


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
    # the buttons' state is a trait of its own: it may reach the page a moment after the row's
    for button in (".nbtune-space-apply", ".nbtune-space-run"):
        editor.locator(f"{button}:disabled").wait_for(timeout=10_000)

    # a valid edit: the code below the rows follows it
    lo.fill("0.001")
    lo.press("Enter")
    # as a person would, wait for the code to follow one field before typing the next: on a
    # loaded machine the kernel's answer to the first edit can land while the second is typed
    page.locator(".nbtune-space-code", has_text="loguniform(0.001, 0.1)").wait_for(timeout=30_000)
    hi = rows.nth(0).locator(".nbtune-space-hi input")
    hi.fill("0.5")
    hi.press("Enter")
    page.locator(".nbtune-space-code", has_text="loguniform(0.001, 0.5)").wait_for(timeout=30_000)
    assert page.locator(".nbtune-space-row.nbtune-space-invalid").count() == 0
    editor.locator(".nbtune-space-apply:enabled").wait_for(timeout=10_000)

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


def test_with_the_extension_apply_writes_the_cell_in_one_click(lab_with_apply, apply_page):
    page = apply_page
    _run_notebook(lab_with_apply, page, "apply", [
        "%%tune --edit --trials 4 --metric loss --seed 0 -o study\n"
        "lr     = loguniform(0.0001, 0.1)  # learning rate\n"
        "layers = choice(1, 2, 3)\n"
        "loss = lr * layers",
    ])
    editor = page.locator(".nbtune-space-editor")
    editor.wait_for(timeout=120_000)
    cell = page.locator(".jp-Notebook .jp-Cell").nth(1)
    prompt = _finished_prompt(cell)
    hi = editor.locator(".nbtune-space-row").nth(0).locator(".nbtune-space-hi input")
    hi.fill("0.5")
    hi.press("Enter")
    page.locator(".nbtune-space-code", has_text="loguniform(0.0001, 0.5)").wait_for(timeout=10_000)

    # one click: the cell's own text changes, with nothing run again
    editor.locator(".nbtune-space-apply").click()
    page.locator(".nbtune-space-status", has_text="written into the cell").wait_for(timeout=10_000)
    source = _code(page, 1)
    assert "lr     = loguniform(0.0001, 0.5)  # learning rate" in source, source
    assert "layers = choice(1, 2, 3)" in source and source.rstrip().endswith("loss = lr * layers")
    assert cell.locator(".jp-InputPrompt").inner_text() == prompt  # the cell did not run
    assert page.locator(".nbtune-space-editor").count() == 1  # the editor stays as it was
    screenshot(page, "apply-written-into-the-cell.png")

    # Run: the study starts in the edited space, which the cell already holds
    editor.locator(".nbtune-space-run").click()
    page.locator(".nbtune-space-output", has_text="4 completed").wait_for(timeout=120_000)
    assert "already has these lines" in editor.locator(".nbtune-space-status").inner_text()

    # the person typed into the cell since: Apply leaves their text, the lines shown to copy
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("  # mine")
    hi.fill("0.25")
    hi.press("Enter")
    editor.locator(".nbtune-space-apply").click()
    page.locator(".nbtune-space-status", has_text="changed since it ran").wait_for(timeout=10_000)
    assert "copy the lines below" in editor.locator(".nbtune-space-status").inner_text()
    assert "loguniform(0.0001, 0.25)" in editor.locator(".nbtune-space-code").inner_text()
    source = _code(page, 1)
    assert "loss = lr * layers  # mine" in source and "loguniform(0.0001, 0.5)" in source, source

    # a second view of the notebook, opened and closed: Apply still writes in one click (the
    # closed view's handler had replaced the first's, and Apply fell back to "run this cell
    # again" until the page was reloaded: first-day test, round 66)
    page.get_by_role("menuitem", name="File", exact=True).click()
    page.get_by_role("menuitem", name="New View for Notebook").click()
    page.locator(".jp-Notebook").nth(1).wait_for(timeout=30_000)
    page.keyboard.press("Alt+w")  # closes the new view, the current tab
    page.wait_for_function("document.querySelectorAll('.jp-Notebook').length === 1",
                           timeout=30_000)
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")  # the editor again, on the cell as it reads now
    page.locator(".nbtune-space-editor .nbtune-space-code",
                 has_text="loguniform(0.0001, 0.5)").wait_for(timeout=60_000)
    _finished_prompt(cell)
    editor = page.locator(".nbtune-space-editor")
    hi = editor.locator(".nbtune-space-row").nth(0).locator(".nbtune-space-hi input")
    hi.fill("0.3")
    hi.press("Enter")
    editor.locator(".nbtune-space-apply").click()
    page.locator(".nbtune-space-status", has_text="written into the cell").wait_for(timeout=10_000)
    assert "loguniform(0.0001, 0.3)" in _code(page, 1)


def test_on_the_dark_theme_nbtunes_coloured_lines_read(dark_lab, dark_page):
    """The space editor's lines were dark green and dark red on JupyterLab Dark (2.6:1 and 3.2:1
    against its #111; WCAG asks 4.5:1), and a replaced study's note dark orange (first-day test,
    round 24): they follow the theme now."""
    page = dark_page
    _run_notebook(dark_lab, page, "dark", [
        "%%tune --study first --trials 2 --metric loss --seed 0\nx = uniform(0, 1)\nloss = x",
        "%%tune --study first --trials 2 --metric loss --seed 1 --replace\n"
        "x = uniform(0, 1)\nloss = x",
        "import nbtune\nbad = nbtune.SpaceEditor({'lr': nbtune.loguniform(1e-4, 1e-1)})\n"
        "bad.say('DARK-ERROR a row is wrong', error=True)\nbad",
        "good = nbtune.SpaceEditor({'lr': nbtune.loguniform(1e-4, 1e-1)})\n"
        "good.say('DARK-OK the cell already has these lines')\ngood",
    ])
    said = page.locator(".jp-OutputArea-output span")  # not the cell's code, which says it too
    lines = {"error": said.filter(has_text="DARK-ERROR a row is wrong"),
             "success": said.filter(has_text="DARK-OK the cell already has these lines"),
             "replaced": page.locator(".nbtune-outdated")}
    for line in lines.values():
        line.first.wait_for(timeout=120_000)
    assert page.evaluate("document.body.dataset.jpThemeLight") == "false"  # dark indeed
    ratios = {name: line.first.evaluate(CONTRAST) for name, line in lines.items()}
    assert all(r >= 4.5 for r in ratios.values()), ratios
    table = page.locator(".nbtune-summary-table td").first
    assert table.evaluate(CONTRAST) >= 4.5
