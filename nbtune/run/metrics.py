"""What a report may carry: the values a trial reports (or its function returns), made plain
copies that Dask's channel, JSON and SQLite all carry, or refused inside the trial in one line.
"""
from __future__ import annotations

import numbers
from typing import Any

INT_RANGE = (-2**63, 2**63 - 1)  # what the channel (msgpack) and SQLite carry as integers


def clean_metrics(metrics: dict[str, Any], what: str = "report") -> dict[str, Any]:
    """Plain copies of reported values that Dask's channel, JSON and SQLite all carry.

    numpy scalars become Python numbers; an integer outside 64 bits becomes the float equal to it,
    where there is one. Anything else that cannot travel (a list, a string that is not valid
    UTF-8, a key that is not a string, an integer no float equals) raises one clear error inside
    the trial, which then fails: sent on, it would break the worker's link to the scheduler.
    """
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if not isinstance(key, str):
            raise TypeError(f"{what} has the key {key!r}, a {type(key).__name__}; metric names "
                            "must be strings")
        if isinstance(value, bool) or value is None:
            out[key] = value
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(f"{what}: {key}= is a string that is not valid UTF-8 ({exc.reason} "
                                 f"at position {exc.start})") from None
            out[key] = value
        elif isinstance(value, numbers.Integral):
            out[key] = _clean_int(key, int(value), what)
        elif isinstance(value, numbers.Real):
            out[key] = float(value)
        elif hasattr(value, "item") and getattr(value, "size", None) == 1:
            out.update(clean_metrics({key: value.item()}, what))
        else:
            raise TypeError(f"{what}: {key}= is a {type(value).__name__}; report numbers, "
                            "strings or booleans (use float(x) for a one-element tensor)"
                            + _kept(value))
    return out


def _kept(value: Any) -> str:
    """Where a value of many numbers (out-of-fold predictions, a curve) can go instead: it
    read only "report numbers" (first-day test, round 46)."""
    size = getattr(value, "size", None)
    size = len(value) if size is None and isinstance(value, (list, tuple)) else size
    if not isinstance(size, int) or size <= 1:
        return ""
    return ("; an array goes with the report as its checkpoint, report(..., checkpoint=array), "
            "and study.best_checkpoint gives the best trial's back")


def _clean_int(key: str, value: int, what: str) -> int | float:
    if INT_RANGE[0] <= value <= INT_RANGE[1]:
        return value
    try:
        as_float = float(value)
    except OverflowError:
        as_float = None
    if as_float is not None and int(as_float) == value:
        return as_float  # e.g. int(1e20): exactly a float
    raise ValueError(f"{what}: {key}= is an integer of {value.bit_length()} bits, beyond the 64 "
                     f"that nbtune stores, and no float equals it; pass float({key}) or a "
                     "smaller number")
