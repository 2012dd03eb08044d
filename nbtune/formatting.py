"""How nbtune writes numbers, configs, durations and messages for people, the same in every
view: a value, a config as call arguments, a table column's cells, an error in one line."""
from __future__ import annotations

import math
import re
from typing import Any

from . import trial as T


def fmt(value: Any, digits: int = 4) -> str:
    """A config value or metric as a short string (floats with ``digits`` significant digits,
    small and large ones in exponent form: ``4e-06``, never ``0.000004``)."""
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def amount_text(x: float) -> str:
    """An amount of a resource or a count: a whole one with thousands separators (``1,620``),
    others as :func:`fmt` writes them."""
    return f"{x:,.0f}" if float(x).is_integer() else fmt(float(x))


def config_text(config: dict[str, Any]) -> str:
    """A config as ``name=value`` pairs: floats as :func:`fmt` writes them (a whole one with its
    ``.0``: ``max_df=1.0``, all of a vectorizer's documents, read ``max_df=1``, one document:
    check round 48), other values as Python writes them (``act='relu'``), so the text reads,
    and pastes, as the call's arguments. The live views, the closing line and the summary all
    write a config this way."""
    return ", ".join(f"{k}={_float_text(v)}" if isinstance(v, float) else f"{k}={v!r}"
                     for k, v in config.items())


def _float_text(value: float) -> str:
    """A config's float as :func:`fmt` writes it, a whole one ending in ``.0``."""
    text = fmt(value)
    return f"{text}.0" if text.lstrip("-").isdigit() else text


def choice_text(value: Any) -> str:
    """A choice's label on a figure's axis: :func:`fmt`'s, a whole float's with its ``.0``
    (``choice(1, 0.5, 1.0)``'s slice read 1, 0.5 and 1)."""
    return _float_text(value) if isinstance(value, float) else fmt(value)


# an exception's line, at a line's start: "ValueError: ...", or a bare "KeyboardInterrupt"
_RAISED = re.compile(r"[A-Za-z_][\w.]*(?::\s|(?:Error|Exception|Interrupt|Exit):?$)")
_MODULE_PATH = re.compile(r"^(?:[A-Za-z_]\w*\.)+(?=[A-Z]\w*: )")  # before a class's name


def one_line(text: str, width: int = 160, first: bool = False) -> str:
    """The last non-blank line of ``text`` (an error's message; with ``first``, the first: a
    warning's, which says what happened, where joblib's last line read "before creating your
    Dask cluster.": first-day test, round 23), at most ``width`` characters: the exception's
    name without its module (``sklearn.utils._param_validation.`` took a third of the line),
    and a longer line keeps its start (the exception's name) and its end, where the useful
    part of a message usually is, with `` … `` between them."""
    lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
    if not first:  # an exception's message over several lines (an estimator's repr wraps):
        # from its name on, where the line began mid-repr (first-day test, round 59)
        raw = (text or "").rstrip().splitlines()
        starts = [i for i, ln in enumerate(raw) if _RAISED.match(ln)]
        if starts:
            lines = [" ".join(ln.strip() for ln in raw[starts[-1]:] if ln.strip())]
    last = _MODULE_PATH.sub("", lines[0 if first else -1]) if lines else ""
    if len(last) <= width:
        return last
    head = max(20, width // 3)
    tail = len(last) - (width - head - 3)
    # both cuts fall between words (or at a path's or a call's dot, slash or bracket), the
    # head shorter by what the tail takes back: "the note … LER_ADDRESS)" (round 67)
    bound = max(last.rfind(c, 0, tail + 1) for c in " ./(")
    if bound >= 0 and tail - bound <= 2 * WORD_CUT:
        head -= tail - bound - (last[bound] == " ")
        tail = bound + (last[bound] == " ")
    space = last.rfind(" ", head - WORD_CUT, head + 1)
    return last[:space if space > 0 else head] + " … " + last[tail:]


WORD_CUT = 16  # how far a long line's cut moves back (or on) to fall between two words


def duration_text(seconds: float | None) -> str:
    """A duration as people read it, the same everywhere: ``12 ms``, ``8.2 s``, ``1 min 29 s``,
    ``2 h 05 min`` (under a tenth of a second in milliseconds, never ``0.0 s``)."""
    if seconds is None or not T.is_finite_number(seconds):
        return "unknown"
    seconds = max(0.0, float(seconds))
    if seconds < 0.0995:  # what would round to 0.1 s is 0.1 s
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole // 60 % 60:02d} min"


FAR = 1000.0  # a column's value this many times its median size is written apart (blown up)


def int_beside_float(values: list[Any]) -> bool:
    """Whether ``values`` hold an int and a float equal to it (``1`` and ``1.0``)."""
    ints = {v for v in values if isinstance(v, int) and not isinstance(v, bool)}
    return bool(ints) and any(isinstance(v, float) and v in ints for v in values)


def column_texts(values: list[Any], digits: int = 4, exponent: bool = False,
                 config: bool = False) -> list[str]:
    """One table column's cells, its numbers written alike: whole numbers as integers; others
    with ``digits`` significant digits, all with the same decimals (``0.9533``, ``-0.006``), or
    all in exponent form where they are tiny, huge, or positive over two decades as log-scale
    values are (``2.074e-04``, ``1.000e-06``), or wherever ``exponent`` (a log-scale range's
    column: its form then does not change as trials come in); a column of both signs keeps
    decimals. None is an empty cell; a column with text in it writes each value with
    :func:`fmt`. A ``config`` column of whole floats keeps their ``.0``: ``max_df`` read ``1``
    for 1.0, and 1 is another value to the estimator (one document, not all)."""
    numbers = [v for v in values if v is not None]
    if not numbers or not all(T.is_finite_number(v) for v in numbers):
        return ["" if v is None else fmt(v) for v in values]
    if int_beside_float(numbers):  # a choice of 1 and 1.0, two values (max_df: one document,
        return ["" if v is None else str(v) for v in values]  # all): both read 1.000 (round 47)
    if all(float(v).is_integer() and abs(v) < 1e15 for v in numbers):
        tail = ".0" if config and any(isinstance(v, float) for v in numbers) else ""
        return ["" if v is None else f"{int(v)}{tail}" for v in values]
    sizes = [abs(float(v)) for v in numbers if v != 0]
    if len(sizes) >= 3 and not exponent:  # a few blown-up values (rmse 5e12 among 35s) wrote
        # every cell as 3.49595e+01: they keep the exponent form, the rest their own (round 43;
        # one of a top three too: 1.1e+71 beside 2.69 and 2.70, round 65)
        middle = sorted(sizes)[len(sizes) // 2]
        apart = FAR if len(sizes) >= 5 else FAR ** 2  # few values: blown up beyond doubt
        far = {i for i, v in enumerate(values) if v is not None and abs(float(v)) >= apart * middle}
        if far and len(far) <= max(1, len(sizes) // 4):
            rest = column_texts([None if i in far else v for i, v in enumerate(values)], digits)
            return [f"{float(v):.{digits - 1}e}" if i in far else rest[i]
                    for i, v in enumerate(values)]
    top, low = max(sizes), min(sizes)
    signed = any(float(v) < 0 for v in numbers)  # values around zero: decimals, not exponents
    if top >= 1e5 or top < 1e-3 or (not signed and (exponent or low < 1e-3
                                                    or top / low >= 100)):
        return ["" if v is None else f"{float(v):.{digits - 1}e}" for v in values]
    decimals = max(0, digits - 1 - math.floor(math.log10(top)))
    return ["" if v is None else f"{float(v):.{decimals}f}" for v in values]
