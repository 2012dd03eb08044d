"""One row of the space editor: its widgets (name, kind, the fields of its kind, a preview,
remove), the values copied between them and its :class:`~nbtune.notebook.space_rows.Row`, and
its error. The editor (:mod:`nbtune.notebook.space_editor`) holds the rows and is told of each
change."""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..styles import ERROR, SUCCESS
from .space_preview import preview_png
from .space_rows import FIELDS, KINDS, LOG_KINDS, Row, entries, show_value, typed_value

if TYPE_CHECKING:
    from .space_editor import SpaceEditor

_LABELS = {"lo": "low", "hi": "high", "q": "step", "n": "points", "values": "values",
           "weights": "weights", "value": "value"}


def _field(name: str) -> W.Widget:
    """The input widget of one field of a row (`name` from `space_rows.FIELDS`)."""
    if name == "values":
        w: W.Widget = W.TagsInput(value=[], allow_duplicates=True, placeholder="a value, then Tab")
    elif name in ("weights", "value"):
        w = W.Text(placeholder="e.g. 1, 1, 2" if name == "weights" else "a value")
    elif name == "n":
        w = W.IntText(value=5)
    else:
        w = W.FloatText()
    w.description = _LABELS[name]
    w.style = {"description_width": "initial"}
    w.layout = W.Layout(width="auto" if name in ("values", "weights") else "130px")
    return w.add_class(f"nbtune-space-{name}")


class RowView:
    """The widgets of one row; they write into `row` and ask the editor to refresh."""

    def __init__(self, editor: SpaceEditor, row: Row) -> None:
        self.editor, self.row = editor, row
        self.name = W.Text(value=row.name, placeholder="name",
                           layout=W.Layout(width="120px")).add_class("nbtune-space-name")
        self.kind = W.Dropdown(options=list(KINDS.items()), value=row.kind,
                               layout=W.Layout(width="110px")).add_class("nbtune-space-kind")
        # the fields wrap inside their own box, so the preview and remove stay on the row
        self.fields = W.HBox(layout=W.Layout(flex_flow="row wrap", flex="1 1 auto",
                                             min_width="0")).add_class("nbtune-space-fields")
        self.preview = W.Image(format="png", layout=W.Layout(width="173px", height="50px", flex="0 0 auto"))
        self.preview.add_class("nbtune-space-preview")
        self.remove = W.Button(description="remove",
                               layout=W.Layout(width="70px", flex="0 0 auto"))
        self.remove.add_class("nbtune-space-remove")
        self.error = W.HTML().add_class("nbtune-space-error")
        line = W.HBox([self.name, self.kind, self.fields, self.preview, self.remove],
                      layout=W.Layout(flex_flow="row nowrap", align_items="center"))
        self.box = W.VBox([line, self.error]).add_class("nbtune-space-row")
        self.inputs: dict[str, W.Widget] = {}
        self.sliders: dict[str, W.FloatLogSlider] = {}
        self._previewed: str | None = None
        self._busy = False
        self._value_set = row.kind == "fixed"  # a fixed row's value, given: a switch keeps it
        self._show_fields()
        self.name.observe(self._on_name, names="value")
        self.kind.observe(self._on_kind, names="value")
        self.remove.on_click(lambda _: editor.remove_row(editor.views.index(self)))

    # -- widgets -> row ---------------------------------------------------------------------
    def _on_name(self, change: dict) -> None:
        self.row.name = change["new"].strip()
        self.editor.refresh()

    def _on_kind(self, change: dict) -> None:
        if change["new"] == "fixed" and not self._value_set:  # what the row held, not a 0
            self.row.value = self.row.values[0] if change["old"] in ("choice", "grid") and \
                self.row.values else self.row.lo  # whatever it held (first-day test, round 66)
        self.row.kind = change["new"]
        self._show_fields()
        self.editor.refresh()

    def _on_input(self, name: str, value: Any) -> None:
        if self._busy:
            return
        if name == "value":
            self._value_set = True
            value = typed_value(value)
        elif name == "values":
            split = [part for v in value for part in entries(v)]
            if split != list(value):  # one value a tag: the widget is set again, and says so
                self.inputs["values"].value = split
                return
            value = [typed_value(v) for v in value]
        elif isinstance(value, float) and value.is_integer() and \
                isinstance(getattr(self.row, name), int):
            value = int(value)  # FloatText gives floats; an integer bound stays an integer
        setattr(self.row, name, value)
        slider = self.sliders.get(name)
        if slider is not None and isinstance(value, float) and value > 0:
            self._quietly(slider, value)
        self.editor.refresh()

    def _on_slider(self, name: str, value: float) -> None:
        if not self._busy:  # the field's input writes the row, through _on_input
            integer = self.row.kind == "lograndint"
            self.inputs[name].value = float(max(1, round(value)) if integer else f"{value:.3g}")

    def _quietly(self, widget: W.Widget, value: Any) -> None:
        self._busy = True
        try:
            widget.value = value
        finally:
            self._busy = False

    # -- row -> widgets ---------------------------------------------------------------------
    def _show_fields(self) -> None:
        """Build the inputs of the row's kind, filled from the row."""
        self.inputs, self.sliders, children = {}, {}, []
        for name in FIELDS[self.row.kind]:
            w = _field(name)
            self._quietly(w, self._shown(name))
            w.observe(lambda c, n=name: self._on_input(n, c["new"]), names="value")
            self.inputs[name] = w
            children.append(w)
            if name in ("lo", "hi") and self.row.kind in LOG_KINDS:
                s = W.FloatLogSlider(base=10, min=-8, max=8, step=0.01, readout=False,
                                     continuous_update=False, layout=W.Layout(width="100px"))
                s.add_class("nbtune-space-slider")
                val = getattr(self.row, name)
                if isinstance(val, (int, float)) and val > 0:
                    self._quietly(s, float(val))
                s.observe(lambda c, n=name: self._on_slider(n, c["new"]), names="value")
                self.sliders[name] = s
                children.append(s)
        self.fields.children = children

    def _shown(self, name: str) -> Any:
        value = getattr(self.row, name)
        if name == "values":
            return [show_value(v) for v in value]
        if name == "value":
            return show_value(value)
        if name == "weights":
            return "" if value is None else value if isinstance(value, str) else \
                ", ".join(f"{w:g}" if float(f"{w:g}") == w else repr(w) for w in value)
        try:
            return float(value) if name != "n" else int(value)
        except (TypeError, ValueError, OverflowError):
            return 0

    def show(self, error: str | None) -> None:
        """Mark the row valid or not, and redraw its preview if its domain changed."""
        self.error.value = colored(error, error=True)
        (self.box.add_class if error else self.box.remove_class)("nbtune-space-invalid")
        if error is None:
            dom = self.row.domain()
            if repr(dom) != self._previewed:
                self.preview.value, self._previewed = preview_png(dom), repr(dom)


def colored(text: str | None, error: bool) -> str:
    """HTML of a message: red for a problem, green otherwise; empty for None."""
    color = ERROR if error else SUCCESS
    return "" if text is None else f"<span style='color:{color}'>{html.escape(text)}</span>"
