"""Live progress of a running study: a widget panel in a notebook, a text line elsewhere.

This module picks the view (`make_progress`) and shows the notice while a cluster starts; the
views are in ``tracker.py`` (what they share, and the text line) and ``panel.py`` (the widgets).
"""
from __future__ import annotations

import html
import multiprocessing
import sys
from typing import Any

from .displayed import Shown
from .panel import LivePanel
from .text_view import LOG_EVERY, TextProgress
from .tracker import _IN_OUTPUT_WIDGET, Tracker, in_notebook


def _view_class(progress: Any, show_output: bool = False) -> type[Tracker] | None:
    """The class of view ``progress`` asks for here (see :func:`make_progress`), or None. A
    script whose output is no terminal (a log file, a pipe: ``nohup``, a job queue, CI) gets the
    text view, which logs a line now and then and the summary at the end: it printed nothing at
    all (first-day test, round 20). Where the program replaced ``sys.stderr`` (a test runner's
    capture, a notebook's widget) nothing is written there unless asked for."""
    if progress is False or progress is None or progress == "none":  # --progress none's word
        return None
    if isinstance(progress, type) and issubclass(progress, Tracker):  # a view chosen by name
        return progress
    check_progress(progress)
    if progress == "text":  # asked for: a log's lines, a notebook's too (papermill's log)
        return TextProgress
    if in_notebook():
        return LivePanel
    if progress is True or show_output:
        return TextProgress
    if multiprocessing.parent_process() is not None:  # a joblib or Dask worker's process (a
        # nested search: cross_val_score(SearchCV(...), n_jobs=2)), whose stderr the notebook
        # shows: each inner search's summary filled the cell (first-day test, round 23)
        return None
    if getattr(sys.stderr, "isatty", lambda: False)():
        return TextProgress
    if sys.stderr is sys.__stderr__ and sys.stderr is not None:  # the process's own: its log
        return TextProgress
    return None


def check_progress(progress: Any) -> None:
    """Refuse a ``progress`` that is none of its values, in one line."""
    if progress not in ("auto", "text", "none", True, False, None) and not (
            isinstance(progress, type) and issubclass(progress, Tracker)):
        raise ValueError(f"progress must be 'auto', True, False (or 'none') or 'text' (a "
                         f"progress line every {LOG_EVERY:g} s and a text summary, for a log: "
                         f"a notebook run by papermill or nbconvert), got {progress!r}")


def shows_progress(progress: Any) -> bool:
    """Whether a study run with ``progress`` shows a view here (and so may say more)."""
    return _view_class(progress) is not None


class StartingNotice:
    """One line shown while a study waits for its cluster to start or sends its data to the
    workers, in the view's own place: the panel later takes over its display (``panel=True``),
    a text view writes below it."""

    def __init__(self, text: str, panel: bool, stream=None):
        self.text, self.panel = text, panel
        self.stream = stream if stream is not None else sys.stderr
        self.handle = None

    def show(self) -> None:
        """Display the line (a notebook output under a display id, or a line on the stream)."""
        if not self.panel:
            self.stream.write(f"nbtune: {self.text}\n")
            self.stream.flush()
            return
        from IPython.display import display

        shown = self._html()
        if _IN_OUTPUT_WIDGET.get():  # an Output widget ignores display-id updates
            display(shown)
        else:
            self.handle = display(shown, display_id=True)

    def say(self, text: str) -> None:
        """Show ``text`` in the line's place from now on (the cluster started; the data is on
        its way to the workers)."""
        self.text = text
        if not self.panel:
            self.show()
            return
        if self.handle is not None:
            self.handle.update(self._html())
        else:
            self.show()

    def _html(self) -> Any:
        return Shown(f'<span class="nbtune-live-starting">nbtune: {html.escape(self.text)}</span>',
                     f"nbtune: {self.text}")

    def clear(self) -> None:
        """Take the line away (the study did not start: its error says why)."""
        if self.handle is not None:  # nothing, in a log too (it read "<IPython.core.display.
            self.handle.update(Shown("", ""))  # HTML object>" there: first-day test, round 67)
            self.handle = None


def starting_notice(progress: Any, text: str) -> StartingNotice | None:
    """Show ``text`` where the view ``progress`` asks for will be (None where it asks for none)."""
    cls = _view_class(progress)
    if cls is not None and issubclass(cls, LivePanel) and in_notebook():
        notice = StartingNotice(text, panel=True)
    elif cls is not None and issubclass(cls, TextProgress):
        notice = StartingNotice(text, panel=False)
    else:
        return None
    notice.show()
    return notice


def make_progress(progress: Any, study, notice: StartingNotice | None = None,
                  **kwargs: Any) -> Tracker | None:
    """The view ``progress`` asks for: "auto" (the panel in a notebook, a text line on a
    terminal, nothing otherwise), True (panel or text), False or None (nothing), or a view class
    (:class:`LivePanel`, :class:`TextProgress`). A panel takes the place of ``notice``."""
    cls = _view_class(progress, kwargs.get("show_output", False))
    if cls is None:
        return None
    view = cls(study, **kwargs)
    if isinstance(view, LivePanel) and in_notebook():
        view.show(notice)
    return view
