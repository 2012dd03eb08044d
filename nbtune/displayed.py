"""What nbtune displays in a notebook carries a plain text for where HTML and widgets do not
render: a headless run's log (papermill's read ``<IPython.core.display.HTML object>`` and
``VBox(children=(HTML(value='', ...`` for nbtune's lines and panel: first-day test, round 39)."""
from __future__ import annotations

from typing import Any


class Shown:
    """HTML for a notebook, with its text for a log."""

    def __init__(self, html_text: str, text: str):
        self.html_text, self.text = html_text, text

    def _repr_html_(self) -> str:
        return self.html_text

    def __repr__(self) -> str:
        return self.text


class Labelled:
    """A widget, displayed with ``text`` for its plain-text form."""

    def __init__(self, widget: Any, text: str):
        self.widget, self.text = widget, text

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = self.text
        return bundle
