"""Read the HTML tables nbtune writes (the summary's, the live panel's) back into cells."""
from __future__ import annotations

from html.parser import HTMLParser


class _Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self._cell: list[str] | None = None
        self._align = ""

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"class": dict(attrs).get("class", ""), "caption": "",
                                "rows": [], "align": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
            self.tables[-1]["align"].append([])
        elif tag in ("td", "th"):
            self._cell = []
            style = dict(attrs).get("style") or ""
            self._align = "right" if "text-align:right" in style else "left"
        elif tag == "caption":
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1]["rows"][-1].append("".join(self._cell).strip())
            self.tables[-1]["align"][-1].append(self._align)
            self._cell = None
        elif tag == "caption" and self._cell is not None:
            self.tables[-1]["caption"] = "".join(self._cell).strip()
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(page: str) -> list[dict]:
    """Every table of ``page``: its ``class``, ``caption``, ``rows`` (header row first, each a
    list of cell texts) and ``align`` (each cell's "right" or "left")."""
    parser = _Tables()
    parser.feed(page)
    return parser.tables


def trials_table(page: str) -> dict:
    """The table of ranked trials in ``page`` (the one whose header starts with "#")."""
    return next(t for t in tables(page) if t["rows"] and t["rows"][0][:2] == ["#", "trial"])


def written_alike(cells: list[str]) -> bool:
    """True when a column's numbers are written alike: all integers, all with the same number
    of decimals, or all in exponent form with the same number of digits."""
    import re

    shapes = set()
    for cell in cells:
        exp = re.fullmatch(r"-?\d\.(\d+)e[+-]\d+", cell)
        fixed = re.fullmatch(r"-?\d+(?:\.(\d+))?", cell)
        if exp:
            shapes.add(("e", len(exp.group(1))))
        elif fixed:
            shapes.add(("f", len(fixed.group(1) or "")))
        else:
            return False
    return len(shapes) == 1
