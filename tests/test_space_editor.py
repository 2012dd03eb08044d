"""The space editor: rows, checks, the round trip with a cell's lines, and the magics that open it.

Widgets are driven as a person would (values set, buttons clicked) through a real InteractiveShell.
"""
from __future__ import annotations

import html
import io
import re

import pytest

import nbtune
from nbtune import space as S
from nbtune.notebook.cell import parse_cell, space_to_lines
from nbtune.notebook.space_editor import SpaceEditor
from nbtune.notebook.space_rows import Row, parse_value, row_errors, show_value

from kernels import kernel_environ
CODES = [  # every primitive, the Polyaxon forms, and a qualified name
    "uniform(-1, 3)", "uniform(-2.5e-3, 1e20)", "loguniform(1e-4, 1e-1)", "quniform(0, 100, 5)",
    "quniform(0.0, 1.0, 0.1)", "randint(-5, 6)", "lograndint(1, 1000)",
    "choice('relu', 'tanh')", "choice(1, 2, 3, weights=[1, 1, 2])", "choice([64], [64, 64])",
    "choice([[1, 2]])", "choice(None, True, False)", "choice('32', 32)", "grid(0.1, 0.2, 0.5)",
    "grid([[0.5, 1]])", "linspace('0:1:5')", "linspace(-1, 1, 3)", "logspace('0.01:0.1:5')",
    "logspace(1e-5, 1e-1, 5)", "fixed('adam')", "fixed({'a': [1, 2]})", "fixed(None)",
    "fixed(True)", "nbtune.uniform(0, 1)",
]


def text(widget) -> str:
    """What an HTML widget reads as, tags left out."""
    return html.unescape(re.sub(r"<[^>]+>", "", widget.value))


def cell(code: str) -> str:
    return f"%%tune -n 3\nx = {code}  # kept\n\nloss = x\n"


def retype(view) -> None:
    """Type every field of a row again: a different value, then the one shown."""
    for w in view.inputs.values():
        shown = w.value
        w.value = shown + (["zz"] if isinstance(shown, list) else " " if isinstance(shown, str)
                           else 1)
        w.value = shown


@pytest.mark.parametrize("code", CODES)
def test_an_untouched_row_gives_back_its_code_exactly(code):
    ed = SpaceEditor.from_cell(cell(code))
    assert ed.lines() == [f"x = {code}"]
    assert ed.apply() is not None and ed.cell_text == cell(code)
    retype(ed.views[0])  # through the widgets and back: still the same domain, still as written
    ed.views[0].kind.value = "fixed" if "fixed" not in code else "choice"
    ed.views[0].kind.value = ed.rows[0].original[1].kind
    assert ed.lines() == [f"x = {code}"] and not ed.rows[0].edited


@pytest.mark.parametrize("code", CODES)
def test_an_edited_row_is_written_canonically(code):
    ed = SpaceEditor.from_cell(cell(code))
    dom = ed.space["x"]
    ed.views[0].name.value = "y"
    assert ed.lines() == space_to_lines(S.Space({"y": dom}))
    ed.apply()
    back = parse_cell(ed.cell_text)
    assert back.space == S.Space({"y": dom}) and back.space["y"].values == dom.values
    assert ed.cell_text.endswith("\n\nloss = x\n")  # a new name rewrites the block: no comment


def test_edits_through_the_widgets_give_the_space_and_its_code():
    ed = SpaceEditor(S.Space({"lr": S.loguniform(1e-4, 1e-1), "act": S.choice("relu", "tanh")}))
    lr, act = ed.views
    assert lr.sliders["lo"].value == pytest.approx(1e-4)  # log ranges have log sliders
    lr.sliders["hi"].value = 0.5
    assert ed.rows[0].hi == 0.5 and lr.inputs["hi"].value == 0.5
    lr.inputs["lo"].value = 1e-5
    assert lr.sliders["lo"].value == pytest.approx(1e-5)
    act.inputs["values"].value = ["relu", "tanh", "gelu", "'7'", "7"]
    act.inputs["weights"].value = "1, 1, 2, 0, 1"
    lr.kind.value = "lograndint"
    lr.inputs["lo"].value, lr.inputs["hi"].value = 1.0, 64.0
    lr.sliders["hi"].value = 50.3  # an integer kind's slider gives integers
    assert lr.inputs["hi"].value == 50.0
    lr.inputs["hi"].value = 64.0
    view = ed.add_row("depth")
    view.kind.value = "grid"
    view.inputs["values"].value = ["2", "4"]
    fixed = ed.add_row()
    fixed.kind.value = "fixed"
    fixed.inputs["value"].value = "{'optimizer': 'adam'}"
    assert ed.space == S.Space({"lr": S.lograndint(1, 64),
                                "act": S.choice("relu", "tanh", "gelu", "7", 7,
                                                weights=[1, 1, 2, 0, 1]),
                                "depth": S.grid(2, 4), "x1": S.fixed({"optimizer": "adam"})})
    assert ed.lines() == space_to_lines(ed.space)
    assert text(ed.code).startswith("lr    = lograndint(1, 64)\n")
    assert all(v.preview.value[:4] == b"\x89PNG" for v in ed.views)
    ed.views[2].remove.click()
    assert list(ed.space) == ["lr", "act", "x1"]


def test_an_integer_range_stays_integer_when_edited():
    ed = SpaceEditor({"q": S.quniform(0, 100, 5), "w": S.choice(1, 2, weights=[0.123456789, 1])})
    ed.views[0].inputs["hi"].value = 50.0
    retype(ed.views[1])  # weights are shown exactly: typing them again changes nothing
    assert ed.lines() == ["q = quniform(0, 50, 5)", "w = choice(1, 2, weights=[0.123456789, 1.0])"]
    assert isinstance(ed.space["q"].default(), int)


def test_a_preview_is_drawn_again_only_when_its_domain_changes():
    ed = SpaceEditor({"x": S.uniform(0, 1)})
    view = ed.views[0]
    first = view.preview.value
    view.name.value = "y"  # not the domain: same preview object
    assert view.preview.value is first
    view.inputs["hi"].value = 5.0
    assert view.preview.value != first


INVALID = [  # (field to set, value, the reason shown on the row)
    ("hi", -1.0, "uniform needs lo < hi, got lo=0.0, hi=-1.0"),
    ("kind", "loguniform", "loguniform needs 0 < lo < hi, got lo=0.0, hi=1.0"),
    ("kind", "choice", "choice needs at least one value"),
    ("name", "lr", "'lr' is already the name of row 1: names must be unique"),
    ("name", "2x", "'2x' is not a Python name"),
    ("name", "my-rate", "'my-rate' is not a Python name"),
    ("name", "class", "'class' is a Python keyword"),
    ("name", "", "give the hyperparameter a name"),
]


@pytest.mark.parametrize("what, value, reason", INVALID, ids=[i[2][:30] for i in INVALID])
def test_an_invalid_edit_is_marked_on_its_row_and_nothing_runs(what, value, reason):
    ran = []
    ed = SpaceEditor({"lr": S.loguniform(1e-3, 1.0), "m": S.uniform(0, 1)},
                     on_run=lambda e: ran.append(e.space))
    view = ed.views[1]
    widget = {"kind": view.kind, "name": view.name}.get(what) or view.inputs[what]
    widget.value = value
    assert reason in text(view.error) and "nbtune-space-invalid" in view.box._dom_classes
    assert ed.views[0].error.value == ""
    assert ed.run_button.disabled and ed.apply_button.disabled and reason in ed.run_button.tooltip
    with pytest.raises(ValueError, match="the space is invalid: row 2") as info:
        ed.space  # noqa: B018
    assert reason in str(info.value)
    ed.run_button.click()
    assert ed.run() is None and ran == [] and "cannot run" in text(ed.status)
    if what == "kind" and value == "choice":
        view.inputs["values"].value = ["a"]
    else:
        widget.value = {"hi": 2.0, "kind": "uniform", "name": "m"}.get(what, "m")
    assert view.error.value == "" and "nbtune-space-invalid" not in view.box._dom_classes
    assert not ed.run_button.disabled and ed.run() is None and len(ran) == 1


def test_other_wrong_inputs_each_have_one_reason():
    rows = [Row("w", "choice", values=[1, 2], weights="1, x"),
            Row("v", "choice", values=[1, 2], weights=[1]),
            Row("i", "randint", lo=0.5, hi=3), Row("n", "linspace", lo=0, hi=1, n=1),
            Row("d", "grid", values=[1, 1]), Row("c", "fixed", value=1j)]
    assert row_errors(rows) == [
        "choice weights must be numbers separated by commas, got '1, x'",
        "choice has 2 options but 1 weights", "randint needs an integer for lo, got lo=0.5",
        "linspace needs n >= 2, got n=1 (use fixed() for one value)",
        "grid has duplicate value 1",
        "fixed values must be JSON-serialisable and finite (str, int, float, bool, None, lists, "
        "dicts), got 1j"]
    with pytest.raises(ValueError, match="the space is empty"):
        SpaceEditor().space  # noqa: B018


@pytest.mark.parametrize("value", ["relu", "32", "True", "", " a b", [1, "x"], {"k": None},
                                   3.5, None, "it's"])
def test_a_value_and_its_tag_round_trip(value):
    assert parse_value(show_value(value)) == value


def test_widgets_carry_stable_css_classes():
    ed = SpaceEditor({"lr": S.loguniform(1e-3, 1.0), "act": S.choice("a", "b", weights=[1, 2])},
                     source=None, on_run=lambda e: None)
    classes = {c for w in walk(ed.widget) for c in w._dom_classes}
    assert {"nbtune-space-editor", "nbtune-space-rows", "nbtune-space-row", "nbtune-space-name",
            "nbtune-space-kind", "nbtune-space-fields", "nbtune-space-lo", "nbtune-space-hi",
            "nbtune-space-slider", "nbtune-space-values", "nbtune-space-weights",
            "nbtune-space-preview", "nbtune-space-remove", "nbtune-space-error",
            "nbtune-space-add", "nbtune-space-apply", "nbtune-space-run", "nbtune-space-status",
            "nbtune-space-code", "nbtune-space-output"} <= classes
    bundle = ed._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    # what a saved notebook or its HTML export shows without the kernel: the lines too (round 24)
    assert bundle["text/plain"] == ("SpaceEditor(2 rows: lr, act)\n"
                                    "  lr  = loguniform(0.001, 1.0)\n"
                                    "  act = choice('a', 'b', weights=[1, 2])")


def walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


# -- the magics ---------------------------------------------------------------------------------


EDIT = """\
lr    = loguniform(1e-4, 1e-1)  # learning rate
units = choice(8, 16)

import math
loss = (math.log10(lr) + 2) ** 2 + units / 100   # the body
"""


def test_edit_then_apply_rewrites_the_space_lines_and_leaves_the_body(shell):
    res = shell.run_cell("%%tune --edit -n 3 --metric loss\n" + EDIT)
    assert res.success, res.error_in_exec
    ed = res.result
    assert isinstance(ed, SpaceEditor)
    assert ed.lines() == ["lr    = loguniform(1e-4, 1e-1)", "units = choice(8, 16)"]
    ed.views[1].inputs["values"].value = ["8", "16", "32"]
    ed.views[0].inputs["hi"].value = 0.01
    ed.apply_button.click()
    head, body = "%%tune --edit -n 3 --metric loss\n", EDIT.split("\n", 2)[2]
    assert ed.cell_text == (head + "lr    = loguniform(0.0001, 0.01)  # learning rate\n"
                            "units = choice(8, 16, 32)\n" + body)
    assert shell.rl_next_input == ed.cell_text  # a plain shell rewrites at once
    assert "rewritten" in text(ed.status)
    assert "study" not in shell.user_ns  # --edit runs nothing


def test_edit_a_cell_without_space_lines_adds_them_on_top(shell):
    ed = shell.run_cell("%%tune --edit --metric v\n# the body\nv = x\n").result
    assert ed.rows == []
    ed.add.click()
    ed.views[0].name.value = "x"
    ed.apply_button.click()
    assert ed.cell_text == "%%tune --edit --metric v\nx = uniform(0.0, 1.0)\n# the body\nv = x\n"


def test_edit_names_a_misspelt_primitive_as_the_run_does(shell, capsys):
    """``x = unifrom(0, 1)`` under --edit opened an empty editor ("the space is empty: add a
    row"): the line was taken for the body's. It is the run's one line."""
    res = shell.run_cell("%%tune --edit --metric acc\nx = unifrom(0, 1)\nacc = x\n")
    assert not res.success
    assert capsys.readouterr().err.strip().splitlines() == [
        "UsageError: %%tune: line 2: unknown space primitive 'unifrom' (did you mean "
        "'uniform'?)"]


def test_run_starts_the_study_in_the_edited_space(shell, db):
    ed = shell.run_cell("%%tune --edit -n 3 --metric loss --seed 2 --study edited\n" + EDIT).result
    ed.views[0].kind.value = "uniform"
    ed.views[0].inputs["lo"].value, ed.views[0].inputs["hi"].value = 0.001, 0.002
    ed.views[1].inputs["values"].value = ["4"]
    ed.run_button.click()
    study = shell.user_ns["study"]
    assert study.name == "edited" and len(study.completed) == 3
    assert all(0.001 <= t.config["lr"] <= 0.002 and t.config["units"] == 4 for t in study.trials)
    assert nbtune.load_study("edited", storage=db).space == ed.space
    assert "units = choice(4)" in ed.cell_text and "lr    = uniform(0.001, 0.002)" in ed.cell_text
    # the status says the study ran (it said only that the cell already had the lines)
    assert text(ed.status).endswith("ran study 'edited': its summary is below"), text(ed.status)


def test_run_shows_why_a_study_cannot_start(shell, db):
    ed = shell.run_cell("%%tune --edit -n 3 --metric accuracy\n" + EDIT).result
    assert ed.run() is None
    assert "never sets 'accuracy'" in text(ed.status)
    assert nbtune.list_studies(db) == []


def test_run_names_a_removed_row_that_the_body_still_reads(shell, db):
    """It said "the cell uses 'units', which is not defined in the notebook: run the cell that
    defines or imports it" (first-day test, round 66)."""
    ed = shell.run_cell("%%tune --edit -n 3 --metric loss\n" + EDIT).result
    ed.views[1].remove.click()
    assert ed.run() is None
    assert text(ed.status) == ("cannot run: %%tune: the body reads 'units', whose row was "
                               "removed from the space: add it back, or take it out of the body")
    assert nbtune.list_studies(db) == []


@pytest.mark.parametrize("kind", ["space", "dict", "editor"])
def test_space_from_the_notebook(shell, kind):
    space = {"x": S.grid(1, 2, 3)}
    shell.user_ns["sp"] = {"space": S.Space(space), "dict": space,
                           "editor": SpaceEditor(space)}[kind]
    res = shell.run_cell("%%tune --space sp -n 3 --searcher grid --metric v\n"
                         "k = choice(10)\nv = x * k\n")
    assert res.success, res.error_in_exec
    trials = shell.user_ns["study"].trials
    assert sorted(t.value for t in trials) == [10, 20, 30]
    assert list(trials[0].config) == ["x", "k"]


def test_tune_space_edits_a_notebook_space_and_binds_it(shell, capsys):
    res = shell.run_cell("import nbtune\nsp = {'lr': nbtune.loguniform(1e-3, 1.0)}\n"
                         "ed = %tune_space sp")
    assert res.success, res.error_in_exec
    ed = shell.user_ns["ed"]
    ed.views[0].inputs["lo"].value = 1e-5
    ed.apply_button.click()
    assert shell.user_ns["sp"] == {"lr": S.loguniform(1e-5, 1.0)}  # a dict stays a dict
    assert "%%tune --space sp" in text(ed.status)
    assert shell.run_line_magic("tune_space", "ed") is ed
    empty = shell.run_line_magic("tune_space", "")
    assert empty.rows == []
    empty.add.click()
    empty.apply_button.click()
    assert shell.user_ns["space"] == S.Space({"x1": S.uniform(0, 1)})
    # again: `space` is the notebook's now, and is kept (Apply replaced it without a word:
    # first-day test, round 66); the editor says which name it binds before Apply
    again = shell.run_line_magic("tune_space", "")
    assert text(again.status) == ("Apply binds `space_2`: `space` is the notebook's already "
                                  "(%tune_space space edits it)")
    again.add.click()
    again.views[0].name.value = "y"
    again.apply_button.click()
    assert shell.user_ns["space"] == S.Space({"x1": S.uniform(0, 1)})
    assert shell.user_ns["space_2"] == S.Space({"y": S.uniform(0, 1)})


@pytest.mark.parametrize("source, message", [
    ("%tune_space nope", "%tune_space: 'nope' is not defined in the notebook"),
    ("x = 3\n%tune_space x", "'x' holds a value of type int, not a space"),
    ("%tune_space a b", "give one name at most"),
    ("%%tune --space nope\nv = 1", "%%tune --space: 'nope' is not defined in the notebook"),
    ("x = [1]\n%%tune --space x\nv = 1", "'x' holds a value of type list, not a space"),
    ("sp = {'a b': 1}\n%%tune --space sp\nv = 1",
     "'sp' does not hold a valid space: hyperparameter names must be non-empty strings"),
    ("ed = nbtune.SpaceEditor({'x': uniform(0, 1)})\ned.views[0].name.value = '1x'\n"
     "%%tune --space ed --metric v\nv = x", "'ed' does not hold a valid space: the space is "
     "invalid: row 1 (1x): '1x' is not a Python name"),
    ("sp = {'x': uniform(0, 1)}\n%%tune --space sp\nx = uniform(0, 2)\nv = x",
     "hyperparameter 'x' is declared both in the cell and in --space sp"),
    ("sp = {'x': uniform(0, 1)}\n%%tune --space sp --edit\nv = x", "run %tune_space sp"),
    ("%%tune --edit\nx = uniform(0, 1); v = x",
     "put the trial code on a line of its own"),
])
def test_wrong_input_is_one_clear_line(shell, capsys, source, message):
    shell.user_ns.update(uniform=S.uniform, nbtune=nbtune)
    cells = source.split("\n%", 1)
    if len(cells) == 2:
        assert shell.run_cell(cells[0]).success
        source = "%" + cells[1]
    res = shell.run_cell(source)
    assert not res.success
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1, err


def test_unload_removes_tune_space(ip):
    ip.run_line_magic("unload_ext", "nbtune")
    assert "tune_space" not in ip.magics_manager.magics["line"]
    ip.run_line_magic("load_ext", "nbtune")
    assert "tune_space" in ip.magics_manager.magics["line"]


def test_an_answer_to_apply_that_comes_first_is_not_covered_by_its_writing_line():
    """The notebook's answer ("written") may come on a thread of its own before Apply's own
    "writing the new lines" line is shown, which then stood over it for good (a full test run:
    the cell written, the editor still "writing")."""
    def apply(editor):
        editor.say("applied: the new lines are written into the cell")  # the answer, first
        return "applied: writing the new lines into the cell..."

    ed = SpaceEditor({"lr": S.loguniform(1e-3, 1.0)}, source=None, on_apply=apply)
    ed.apply()
    assert ed.said == "applied: the new lines are written into the cell"
    ed.on_apply = lambda editor: "applied: writing the new lines into the cell..."
    ed.apply()  # no answer yet: its own line
    assert ed.said == "applied: writing the new lines into the cell..."


def test_in_a_kernel_apply_writes_the_cell_when_it_runs_next(tmp_path):
    """ipykernel sends set_next_input with the reply to the cell being executed, and a button
    click is no cell: Apply keeps the text until the edited cell runs again, and then its own
    reply rewrites it (JupyterLab replaces that cell's text)."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path),
                              env=kernel_environ())
    shown: list[dict] = []
    try:
        def execute(code: str) -> dict:
            reply = kc.execute_interactive(code, timeout=60, output_hook=lambda msg: shown.append(
                msg["content"].get("data", {})))
            assert reply["content"]["status"] == "ok", reply["content"]
            return reply["content"]

        source = "%%tune --edit -n 3\n" + EDIT
        execute("%load_ext nbtune")
        assert execute(source)["payload"] == []
        assert any("application/vnd.jupyter.widget-view+json" in d for d in shown)  # a widget
        clicked = execute("ed = _\ned.views[1].inputs['values'].value = ['8', '16', '32']\n"
                          "ed.apply_button.click()\nassert 'run this cell again' in "
                          "ed.status.value, ed.status.value")
        assert clicked["payload"] == []  # nothing for the cell that clicked
        (payload,) = execute(source)["payload"]
        assert payload["source"] == "set_next_input" and payload["replace"] is True
        assert payload["text"] == source.replace("choice(8, 16)", "choice(8, 16, 32)")
        rewritten = payload["text"]  # what the cell now reads; a second Apply works on it
        execute("ed = _\ned.views[1].inputs['values'].value = ['8']\ned.apply_button.click()")
        (payload,) = execute(rewritten)["payload"]
        assert payload["text"] == source.replace("choice(8, 16)", "choice(8)")
        assert execute(payload["text"])["payload"] == []  # written once
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_a_rows_remove_button_stays_on_its_line_and_previews_carry_no_tiny_labels():
    from nbtune.notebook.space_preview import preview_figure

    ed = SpaceEditor({"lr": S.loguniform(1e-3, 1.0), "act": S.choice("relu", "tanh", "gelu"),
                      "x": S.uniform(0, 1)}, source=None, on_run=lambda e: None)
    for view in ed.views:
        line = view.box.children[0]
        assert line.children[-1] is view.remove and line.layout.flex_flow == "row nowrap"
        assert view.fields.layout.flex_flow == "row wrap"  # long inputs wrap in their own box
        assert view.remove.layout.flex == view.preview.layout.flex == "0 0 auto"
    for dom in (S.loguniform(1e-3, 1.0), S.choice("relu", "tanh", "gelu"), S.uniform(0, 1)):
        fig = preview_figure(dom)
        fig.savefig(io.BytesIO(), format="png")  # drawn, so that tick labels get their text
        ax = fig.axes[0]
        shown = [t for t in ax.get_xticklabels() + ax.get_yticklabels()
                 if t.get_visible() and t.get_text()]
        assert not shown
        assert ax.patches  # the histogram or the bars are there
        ends = [t.get_text() for t in fig.texts]
        assert ends == ([] if dom.values is not None else [f"{dom.lo:.3g}", f"{dom.hi:.3g}"])
        assert all(t.get_fontsize() >= 9 for t in fig.texts)


def test_typed_values_are_one_value_a_tag_and_code_is_not_taken_for_text():
    """`32, 64, 128` typed as one entry gave one option, a tuple; `np.float32(1)` became its
    text, which the trials got (first-day test, round 66)."""
    ed = SpaceEditor({"units": S.choice(8)})
    view = ed.views[0]
    view.inputs["values"].value = ["8", "32, 64, 128"]
    assert view.inputs["values"].value == ["8", "32", "64", "128"]  # the tags, one a value
    assert ed.space == S.Space({"units": S.choice(8, 32, 64, 128)})
    view.inputs["values"].value = ["(32, 64)", "'a, b'", "relu"]  # one value each, as written
    assert ed.space == S.Space({"units": S.choice((32, 64), "a, b", "relu")})
    for code in ("np.float32(1)", "64-64"):
        view.inputs["values"].value = ["relu", code]
        assert text(view.error).endswith(
            f"{code!r} is code, not a value: write the value it stands for (1.0, 'relu', "
            f"[1, 2]), or '{code}' in quotes for the text"), text(view.error)
        assert ed.apply_button.disabled
    view.inputs["values"].value = ["relu", "'64-64'"]
    assert ed.space == S.Space({"units": S.choice("relu", "64-64")})


def test_the_preview_of_an_integer_range_draws_each_value_alike_and_writes_its_ends():
    """randint(20, 60): 20 bins over 41 values drew its last bin half again as tall, as if 60
    were likelier; lograndint(1, 1000)'s end read 1e+03 (first-day test, round 66)."""
    from nbtune.notebook.space_preview import preview_figure

    fig = preview_figure(S.randint(20, 60), samples=40_000)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert max(heights) < 1.15 * min(heights), heights  # within 40,000 draws' noise
    assert [t.get_text() for t in fig.texts] == ["20", "60"]
    assert [t.get_text() for t in preview_figure(S.lograndint(1, 1000)).texts] == ["1", "1000"]
    assert [t.get_text() for t in preview_figure(S.linspace(0, 0.5, 6)).texts] == ["0", "0.5"]


def test_a_row_switched_to_fixed_keeps_what_it_held():
    """Switching a row to fixed gave fixed(0), whatever it held (first-day test, round 66)."""
    ed = SpaceEditor({"units": S.choice(64, 128), "lr": S.loguniform(1e-3, 1.0)})
    ed.views[0].kind.value = "fixed"
    ed.views[1].kind.value = "fixed"
    assert ed.space == S.Space({"units": S.fixed(64), "lr": S.fixed(1e-3)})
    ed.views[1].inputs["value"].value = "0.01"  # given: a switch away and back keeps it
    ed.views[1].kind.value = "uniform"
    ed.views[1].kind.value = "fixed"
    assert ed.space["lr"] == S.fixed(0.01)
