"""The space editor's model, without widgets: one `Row` per hyperparameter, its checks, its code.

Pure (``ast`` and :mod:`nbtune.space`): the widgets in :mod:`nbtune.notebook.space_editor` only
copy values in and out of these rows, so everything an edit means is tested here and there alike.
"""
from __future__ import annotations

import ast
import keyword
from dataclasses import dataclass, field
from typing import Any

from nbtune import space as S

from .cell import parse_cell, space_to_lines

__all__ = ["KINDS", "FIELDS", "LOG_KINDS", "Row", "rows_from_space", "rows_from_cell",
           "row_errors", "build_space", "render_lines", "parse_value", "show_value", "Unread",
           "typed_value", "entries"]

# label shown in the editor -> nbtune primitive
KINDS = {"uniform": "uniform", "log uniform": "loguniform", "quantized": "quniform",
         "int": "randint", "log int": "lograndint", "choice": "choice", "grid": "grid",
         "linspace": "linspace", "logspace": "logspace", "fixed": "fixed"}
# primitive -> the fields of a row of that kind, in the order they are shown
FIELDS = {"uniform": ("lo", "hi"), "loguniform": ("lo", "hi"), "quniform": ("lo", "hi", "q"),
          "randint": ("lo", "hi"), "lograndint": ("lo", "hi"), "choice": ("values", "weights"),
          "grid": ("values",), "linspace": ("lo", "hi", "n"), "logspace": ("lo", "hi", "n"),
          "fixed": ("value",)}
LOG_KINDS = frozenset({"loguniform", "lograndint", "logspace"})


def parse_value(text: str) -> Any:
    """A typed value or tag: a Python literal (``32``, ``'a'``, ``[1, 2]``), else the bare text."""
    stripped = text.strip()
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return stripped


class Unread:
    """A typed value that is code, not a literal (``np.float32(1)``, ``64-64``): it was taken as
    its text, and a trial got the string (first-day test, round 66); its row says so."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unread) and other.text == self.text

    __hash__ = None  # type: ignore[assignment]

    def reason(self) -> str:
        return (f"{self.text!r} is code, not a value: write the value it stands for (1.0, "
                f"'relu', [1, 2]), or '{self.text}' in quotes for the text")


def typed_value(text: str) -> Any:
    """A value typed into the editor: :func:`parse_value`'s, except that an expression other
    than a bare word is :class:`Unread`."""
    stripped = text.strip()
    value = parse_value(stripped)
    if isinstance(value, str) and value == stripped:
        try:
            node = ast.parse(stripped, mode="eval").body
        except SyntaxError:  # words and signs: the text
            return value
        if not isinstance(node, ast.Name):
            return Unread(stripped)
    return value


def entries(tag: str) -> list[str]:
    """The values one typed entry holds: ``32, 64, 128`` is three (one entry gave the tuple
    ``(32, 64, 128)``: first-day test, round 66); a bracketed or quoted entry is one."""
    stripped = tag.strip()
    if not stripped or stripped[0] in "([{'\"" or "," not in stripped:
        return [tag]
    return [part.strip() for part in stripped.split(",") if part.strip()]


def show_value(value: Any) -> str:
    """The text `parse_value` reads back as `value` (a word stays bare, ``'32'`` keeps quotes)."""
    if isinstance(value, str) and value == value.strip() and value and parse_value(value) == value:
        return value
    return repr(value)


def _weights(weights: Any) -> list[float] | None:
    """Weights from a list, None, or text such as ``1, 1, 2`` (empty text: no weights)."""
    if not isinstance(weights, str):
        return weights
    if not weights.strip():
        return None
    parts = [parse_value(w) for w in weights.strip().strip("[]").split(",")]
    if all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in parts):
        return parts
    raise ValueError(f"choice weights must be numbers separated by commas, got {weights!r}")


@dataclass
class Row:
    """One hyperparameter being edited: its name, its primitive (`kind`) and that kind's fields.

    Every field is kept when the kind changes, so switching back and forth loses nothing. A row
    read from a cell remembers its code as written (`original`); while its name and domain are
    unchanged, `render_lines` gives that code back untouched.
    """

    name: str
    kind: str = "uniform"
    lo: Any = 0.0
    hi: Any = 1.0
    q: Any = 0.1
    n: Any = 5
    values: list = field(default_factory=list)
    weights: Any = None  # list of numbers, None, or text "1, 1, 2"
    value: Any = 0
    original: tuple[str, S.Domain, str | None] | None = None  # (name, domain, code)

    @classmethod
    def from_domain(cls, name: str, dom: S.Domain, code: str | None = None) -> Row:
        """The row of an existing domain; `code` is the cell line it was read from, if any."""
        spec = dom.to_dict()
        kind = spec.pop("type")
        spec.pop("written", None)  # the values as written: the fields hold them
        if kind == "choice":
            spec = {"values": spec["options"], "weights": spec["weights"]}
        elif kind == "grid":
            spec = {"values": spec["values"]}
        row = cls(name, kind, **spec)
        row.original = (name, dom, code)
        return row

    def domain(self) -> S.Domain:
        """The domain the fields describe; ValueError with nbtune's own reason if they do not."""
        if self.kind not in FIELDS:
            raise ValueError(f"unknown kind {self.kind!r} (known: {', '.join(FIELDS)})")
        cls = getattr(S, self.kind)
        typed = [*self.values] if self.kind in ("choice", "grid") else \
            [self.value] if self.kind == "fixed" else []
        unread = [v for v in typed if isinstance(v, Unread)]
        if unread:
            raise ValueError(unread[0].reason())
        if self.kind == "choice":
            return cls([*self.values], weights=_weights(self.weights))
        if self.kind == "grid":
            return cls([*self.values])
        if self.kind == "fixed":
            return cls(self.value)
        return cls(*(getattr(self, f) for f in FIELDS[self.kind]))

    def name_error(self) -> str | None:
        """Why the name cannot be a hyperparameter of a cell, or None."""
        if not self.name:
            return "give the hyperparameter a name"
        if keyword.iskeyword(self.name):
            return f"{self.name!r} is a Python keyword: choose another name"
        if not self.name.isidentifier():
            return (f"{self.name!r} is not a Python name: use letters, digits and '_', "
                    "not starting with a digit")
        return None

    @property
    def edited(self) -> bool:
        """False while the row still holds what it was read with (name and domain)."""
        if self.original is None:
            return True
        try:
            return self.name != self.original[0] or self.domain() != self.original[1]
        except ValueError:
            return True


def rows_from_space(space: S.Space | dict | None) -> list[Row]:
    """One row per hyperparameter of a Space (or a dict name -> domain)."""
    return [Row.from_domain(k, d) for k, d in S.as_space(space or {}).items()]


def rows_from_cell(source: str) -> list[Row]:
    """One row per space line of a %%tune cell (none yet is fine), each remembering its code."""
    parsed = parse_cell(source, need_space=False)
    return [Row.from_domain(k, parsed.space[k], code)
            for k, code in zip(parsed.names, parsed.statements)]


def row_errors(rows: list[Row]) -> list[str | None]:
    """Per row: the reason it is invalid (name, duplicate name, or its domain's own), or None."""
    errors: list[str | None] = []
    for i, row in enumerate(rows):
        error = row.name_error()
        first = next((j for j in range(i) if rows[j].name == row.name), None)
        if error is None and first is not None:
            error = f"{row.name!r} is already the name of row {first + 1}: names must be unique"
        if error is None:
            try:
                row.domain()
            except ValueError as exc:
                error = str(exc)
        errors.append(error)
    return errors


def build_space(rows: list[Row]) -> S.Space:
    """The Space the rows describe; one ValueError naming the first invalid row otherwise."""
    for i, error in enumerate(row_errors(rows)):
        if error is not None:
            label = f" ({rows[i].name})" if rows[i].name else ""
            raise ValueError(f"the space is invalid: row {i + 1}{label}: {error}")
    return S.Space({row.name: row.domain() for row in rows})


def render_lines(rows: list[Row]) -> list[str]:
    """Cell lines for the rows: untouched rows as written, edited ones by `space_to_lines`."""
    canonical = space_to_lines(build_space(rows))
    return [row.original[2] if not row.edited and row.original and row.original[2] else line
            for row, line in zip(rows, canonical)]
