"""`SpaceEditor`: a widget that shows a search space one row per hyperparameter and edits it.

What the rows mean (kinds, checks, code) lives in :mod:`nbtune.notebook.space_rows`, one row's
widgets in :mod:`nbtune.notebook.space_row_view`; this module holds the editor: its rows, the
code, Apply and Run. Every widget carries a
stable CSS class (``nbtune-space-*``) so a browser test can find it.
"""
from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as W

from nbtune import space as S

from ..caller import user_facing
from ..tracker import inside_output_widget
from .cell import replace_space_lines
from .space_row_view import RowView, colored
from .space_rows import Row, build_space, render_lines, row_errors, rows_from_cell, rows_from_space

__all__ = ["SpaceEditor"]

class SpaceEditor:
    """A search space shown as editable rows (``nbtune.SpaceEditor(space)``, ``%tune_space``).

    ``editor.space`` is the edited `Space` (a ValueError naming the invalid row otherwise);
    ``editor.lines()`` its cell lines. Given a cell's text (``source``, as ``%%tune --edit``
    does) the rows are its space lines and Apply sets ``editor.cell_text``, the cell with them
    rewritten; otherwise they are `space`'s. Apply then calls ``on_apply(editor)`` (its return
    value, if any, is the message shown) and Run calls ``on_run(editor)``, which checks that the
    study can start (raising with the reason if not) and returns the function that starts it:
    only then is the output of the previous run cleared.
    """

    def __init__(self, space: S.Space | dict | None = None, *, source: str | None = None,
                 on_apply: Callable[[SpaceEditor], Any] | None = None,
                 on_run: Callable[[SpaceEditor], Any] | None = None) -> None:
        self.source = source
        self.cell_text: str | None = None  # the cell with the edited lines, once applied
        self.on_apply, self.on_run = on_apply, on_run
        rows = rows_from_cell(source) if source is not None else rows_from_space(space)
        self.views: list[RowView] = []
        self.rows_box = W.VBox().add_class("nbtune-space-rows")
        self.add = W.Button(description="add row", icon="plus").add_class("nbtune-space-add")
        self.apply_button = W.Button(description="Apply", button_style="info",
                                     tooltip="write the space back").add_class("nbtune-space-apply")
        self.run_button = W.Button(description="Run", button_style="success",
                                   tooltip="start the study").add_class("nbtune-space-run")
        self.run_button.layout.display = None if on_run else "none"
        self.status = W.HTML().add_class("nbtune-space-status")
        self.said = ""  # the status line's text
        self.says, self._saying = 0, threading.Lock()  # lines said so far (see say)
        # set by on_apply while the notebook writes the new lines into the cell (see written):
        # a Run waits for that answer, and starts only where they were written
        self.write_pending = False
        self._run_waits, self._waiting = False, threading.Lock()
        self.code = W.HTML().add_class("nbtune-space-code")
        self.output = W.Output().add_class("nbtune-space-output")
        self.widget = W.VBox([self.rows_box,
                              W.HBox([self.add, self.apply_button, self.run_button, self.status]),
                              self.code, self.output]).add_class("nbtune-space-editor")
        self.add.on_click(lambda _: self.add_row())
        self.apply_button.on_click(lambda _: self.apply())
        self.run_button.on_click(lambda _: self.run())
        self._loading = True
        for row in rows:
            self.add_row(row=row)
        self._loading = False
        self.refresh()

    @classmethod
    def from_cell(cls, source: str, **kwargs: Any) -> SpaceEditor:
        """An editor of a %%tune cell's space lines (CellError if the cell does not parse)."""
        return cls(source=source, **kwargs)

    # -- rows ---------------------------------------------------------------------------------
    @property
    def rows(self) -> list[Row]:
        """The rows' models, in order."""
        return [v.row for v in self.views]

    def add_row(self, name: str | None = None, domain: S.Domain | None = None,
                row: Row | None = None) -> RowView:
        """Append a row (a fresh uniform(0, 1) under an unused name unless told otherwise)."""
        if row is None:
            taken = {r.name for r in self.rows}
            name = name or next(f"x{i}" for i in range(1, len(taken) + 2) if f"x{i}" not in taken)
            row = Row.from_domain(name, domain) if domain is not None else Row(name)
            row.original = None
        view = RowView(self, row)
        self.views.append(view)
        self.rows_box.children = [v.box for v in self.views]
        self.refresh()
        return view

    def remove_row(self, index: int) -> None:
        """Remove the row at `index`."""
        del self.views[index]
        self.rows_box.children = [v.box for v in self.views]
        self.refresh()

    # -- state --------------------------------------------------------------------------------
    @property
    def errors(self) -> list[str | None]:
        """Per row, why it is invalid, or None."""
        return row_errors(self.rows)

    @property
    @user_facing
    def space(self) -> S.Space:
        """The edited Space; ValueError naming the first invalid row (or an empty editor)."""
        if not self.views:
            raise ValueError("the space is empty: add a row for each hyperparameter")
        return build_space(self.rows)

    @user_facing
    def lines(self) -> list[str]:
        """The space as cell lines: untouched rows as written, edited ones canonical."""
        self.space  # noqa: B018  raises when invalid
        return render_lines(self.rows)

    @user_facing
    def new_cell_text(self) -> str:
        """The bound cell with its space lines rewritten (the rest byte-identical)."""
        if self.source is None:
            raise ValueError("this editor is not bound to a cell (open it with %%tune --edit)")
        return replace_space_lines(self.source, self.space, self.lines())

    def refresh(self) -> None:
        """Re-check every row, mark the invalid ones, update the code and the buttons."""
        if self._loading:
            return
        errors = self.errors
        for view, error in zip(self.views, errors):
            view.show(error)
        try:
            problem, code = None, "\n".join(self.lines())
        except ValueError as exc:
            problem, code = str(exc), ""
        self.code.value = f"<pre>{html.escape(code)}</pre>" if code else ""
        self.run_button.disabled = self.apply_button.disabled = problem is not None
        self.run_button.tooltip = problem or "start the study"
        self.apply_button.tooltip = problem or "write the space back"
        self.say(problem or "", error=True)

    def say(self, text: str, error: bool = False, unless_said_since: int | None = None) -> None:
        """Show `text` on the editor's status line (red when `error`); with
        `unless_said_since` (a count of :attr:`says`), only where nothing was said since: the
        notebook's answer to Apply may come on a thread of its own, before Apply's "writing"
        line, which then stood over "written" for good (a full test run, 2026-12-05)."""
        with self._saying:
            if unless_said_since is not None and self.says != unless_said_since:
                return
            self.says += 1
            self.said = text
            self.status.value = colored(text, error)

    # -- buttons ------------------------------------------------------------------------------
    def apply(self) -> S.Space | None:
        """Apply: write the space back (to the cell, or through `on_apply`); None if invalid."""
        try:
            space = self.space
            if self.source is not None:
                self.cell_text = self.new_cell_text()
            says = self.says
            message = self.on_apply(self) if self.on_apply else None
        except ValueError as exc:
            self.say(str(exc), error=True)
            return None
        self.say(message or "applied", unless_said_since=says)
        return space

    def run(self) -> Any:
        """Run: apply (when bound to a cell), then start the study through `on_run`; None if the
        space is invalid or the study cannot start (the reason is shown on the editor)."""
        if self.on_run is None:
            self.say("this editor has no study to run: open it with %%tune --edit", error=True)
            return None
        try:
            self.space  # noqa: B018
        except ValueError as exc:
            self.say(f"cannot run: {exc}", error=True)
            return None
        if self.source is not None and self.apply() is None:
            return None
        with self._waiting:  # the body to run is the cell's once the lines are in it: a Run
            # that did not wait ran the body as the editor opened on it, over a cell typed into
            # since, and said "applied" (first-day test, round 66)
            waits = self._run_waits = self.write_pending
        if waits:
            self.say(f"{self.said}; the study starts once they are written")
            return None
        return self._start(self.said)

    def written(self, ok: bool, reason: str = "") -> None:
        """The notebook's answer to the write that Apply asked for (``on_apply`` set
        :attr:`write_pending`): a Run waiting for it starts where the lines were written, and
        is refused, with ``reason``, where they were not."""
        with self._waiting:
            self.write_pending = False
            waits, self._run_waits = self._run_waits, False
        if not waits:
            return
        if ok:
            self._start(self.said)
        else:
            self.say(f"not run: {reason or 'the notebook did not answer'}; run the cell "
                     "(Shift+Enter) to open the editor on it as it reads now", error=True)

    def _start(self, applied: str) -> Any:
        """Check that the study can start, clear the last run's output, and run it here."""
        try:
            start = self.on_run(self)
        except Exception as exc:  # the reason is shown on the editor; the last run's output stays
            self.say(f"cannot run: {_first_line(exc)}", error=True)
            return None
        if not callable(start):
            return start
        self.output.outputs = ()  # the study starts: the last run's output goes
        self.output.clear_output()
        with self.output, inside_output_widget():  # its panel, then the summary in its place
            try:
                result = start()
            except Exception as exc:  # the reason is shown on the editor, not in a log
                self.say(f"cannot run: {_first_line(exc)}", error=True)
                return None
        name = getattr(result, "name", None)  # a background study goes on: it has no summary yet
        ran = (f"ran study {name!r}" + ("" if getattr(result, "running", False) else
                                        ": its summary is below")) if name else ""
        self.say("; ".join(x for x in (applied, ran) if x))
        return result

    # -- display ------------------------------------------------------------------------------
    def __repr__(self) -> str:
        names = ", ".join(r.name or "?" for r in self.rows)
        rows = f"{len(self.views)} row{'s' if len(self.views) != 1 else ''}"
        return f"SpaceEditor({rows}: {names})" if names else "SpaceEditor(empty)"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        """The widget, and as text its rows' lines as it is shown: what a saved notebook, its
        HTML export or a reader without the kernel shows of it (the header alone said
        "SpaceEditor(2 rows: lr, hidden)": first-day test, round 24)."""
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        try:
            lines = self.lines()
        except Exception:  # an invalid row: the header alone
            lines = []
        bundle["text/plain"] = "\n".join([repr(self), *(f"  {line}" for line in lines)])
        return bundle


def _first_line(exc: Exception) -> str:
    """An exception's message as one line (its repr when it has none)."""
    return str(exc).splitlines()[0] if str(exc) else repr(exc)
