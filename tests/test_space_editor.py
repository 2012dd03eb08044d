"""The space editor: rows, checks, and the round trip with a cell's lines.

Widgets are driven as a person would: values set, buttons clicked.
"""
from __future__ import annotations

import html
import re

import pytest

from nbtune import space as S
from nbtune.notebook.cell import parse_cell, space_to_lines
from nbtune.notebook.space_editor import SpaceEditor
from nbtune.notebook.space_rows import Row, parse_value, row_errors, show_value

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
    assert bundle["text/plain"] == "SpaceEditor(2 rows: lr, act)"


def walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)
