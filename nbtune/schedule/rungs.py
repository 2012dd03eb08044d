"""Rung levels of successive halving, max_t inference, and helpers shared by the rung schedulers."""
from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..domains import Domain

MAX_T_KEYS = ("epochs", "max_t", "max-t", "max_epochs", "max-epochs")


def as_int(x: Any) -> int | None:
    """``x`` as an int when it is a whole number (an int, or a float such as 27.0), else None."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        return None
    if isinstance(x, numbers.Integral):
        return int(x)
    f = float(x)
    return int(f) if math.isfinite(f) and f.is_integer() else None


def positive_int(name: str, x: Any, fix: str = "") -> int:
    """``x`` as a positive int, else a ValueError naming the option ``name``."""
    v = as_int(x)
    if v is None or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {name}={x!r}{fix}")
    return v


def check_reduction_factor(reduction_factor: Any) -> int:
    """The reduction factor as an int >= 2, else a ValueError that says so."""
    eta = as_int(reduction_factor)
    if eta is None or eta < 2:
        raise ValueError("reduction_factor must be an integer >= 2 (each rung keeps the best "
                         f"1/reduction_factor of the trials), got reduction_factor={reduction_factor!r}")
    return eta


def rung_levels(max_t: int | None, grace_period: int = 1, reduction_factor: int = 3,
                rung_levels: Sequence[int] | None = None) -> list[int]:
    """Rung levels ending with max_t: ``grace_period * reduction_factor**k`` below max_t, then max_t.

    ``rung_levels(81)`` is ``[1, 3, 9, 27, 81]`` and ``rung_levels(56)`` is ``[1, 3, 9, 27, 56]``.
    Explicit ``rung_levels`` (positive integers, strictly increasing) replace grace_period and
    reduction_factor; max_t then defaults to the last of them and is appended when it is larger.
    """
    check_reduction_factor(reduction_factor)
    if rung_levels is not None:
        given = list(rung_levels)
        levels = [as_int(x) for x in given]
        if not levels or any(x is None or x < 1 for x in levels):
            raise ValueError(f"rung_levels must be a non-empty list of positive integers, got {given!r}")
        if any(b <= a for a, b in itertools.pairwise(levels)):  # type: ignore[operator]
            raise ValueError(f"rung_levels must be strictly increasing, got {given!r}: sort them "
                             "and drop duplicates")
        out: list[int] = levels  # type: ignore[assignment]
        if max_t is None:
            return out
        top = positive_int("max_t", max_t)
        if top < out[-1]:
            raise ValueError(f"max_t={top} is below the last rung level {out[-1]}: give max_t >= "
                             f"{out[-1]} or drop the rung levels above {top}")
        return out + [top] if top > out[-1] else out
    if max_t is None:
        raise ValueError("max_t is needed to compute rung levels: give max_t=... (the largest value "
                         "of the resource a trial reports) or rung_levels=[...]")
    top = positive_int("max_t", max_t, " (the largest value of the resource a trial reports)")
    grace = positive_int("grace_period", grace_period, " (the first rung level, e.g. 1)")
    if grace > top:
        raise ValueError(f"grace_period={grace} is above max_t={top}: give grace_period <= max_t")
    eta = check_reduction_factor(reduction_factor)
    out, level = [], grace
    while level < top:
        out.append(level)
        level *= eta
    return out + [top]


def infer_max_t(space: Mapping[str, Any] | None) -> int | None:
    """max_t read from the space, as Syne Tune does; None when the space has none of its keys.

    The first of ``epochs``, ``max_t``, ``max-t``, ``max_epochs``, ``max-epochs`` present decides:
    a ``fixed(N)`` domain (or a plain value) gives N, which must be a positive integer. Any other
    domain there (``epochs = randint(5, 50)``) raises ValueError: the largest epoch a trial
    reports is then not one number, so max_t must be given.
    """
    for key in MAX_T_KEYS:
        if not space or key not in space:
            continue
        dom = space[key]
        if isinstance(dom, Domain):
            if dom.kind != "fixed":
                raise ValueError(f"cannot infer max_t from hyperparameter {key!r}: it is {dom!r}, "
                                 f"not fixed(N); give max_t=... or make {key!r} fixed")
            dom = dom.default()
        value = as_int(dom)
        if value is None or value < 1:
            raise ValueError(f"hyperparameter {key!r} is {dom!r}, which cannot be max_t: it must be "
                             "a positive integer")
        return value
    return None


def resolve_max_t(scheduler: str, max_t: Any, space: Mapping[str, Any] | None, resource: str,
                  given_levels: Sequence[int] | None = None) -> int:
    """max_t as given, else inferred from the space, else a ValueError that says how to give it.
    Rung levels given by hand are where trials are judged below max_t, as in Syne Tune: their
    last one is not taken for max_t (a trial is ended past max_t, and the loop may go on)."""
    if max_t is not None:
        return positive_int("max_t", max_t)
    inferred = infer_max_t(space)
    if inferred is None:
        levels = (f" (rung_levels={list(given_levels)!r} are the rungs where trials are judged, "
                  "below it)" if given_levels is not None else "")
        raise ValueError(f"scheduler {scheduler!r} needs max_t{levels}: give max_t=N (in %%tune: "
                         f"--max-t N), the largest value of the resource {resource!r} a trial "
                         "reports, or put epochs = fixed(N) in the space")
    return inferred


def report_level(report: Mapping[str, Any], resource: str) -> int | None:
    """The report's resource level as an int, or None when it is missing or not a whole number."""
    return as_int(report.get(resource))


def rung_value(report: Mapping[str, Any], metric: str) -> float | None:
    """The report's metric as a finite float, or None (the worst value) when missing or not finite."""
    v = report.get(metric)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        return None
    return float(v)


def ranked(values: Mapping[int, float | None], mode: str) -> list[int]:
    """Trial ids best first under ``mode``; ties by the earlier id; worst values (None) last."""
    sign = -1.0 if mode == "max" else 1.0
    return sorted(values, key=lambda t: (1, 0.0, t) if values[t] is None
                  else (0, sign * values[t], t))  # type: ignore[operator]


def quantile(values: Sequence[float], q: float) -> float:
    """``numpy.quantile(values, q)`` (linear), with infinite values treated as limits, not NaN."""
    v = sorted(values)
    return quantile_of(v.__getitem__, len(v), q)


def quantile_of(at: Callable[[int], float], n: int, q: float) -> float:
    """:func:`quantile` of ``n`` sorted values, ``at(i)`` the i-th smallest (read twice only)."""
    h = (n - 1) * q
    lo = math.floor(h)
    g = h - lo
    a, b = at(lo), at(min(lo + 1, n - 1))
    if g == 0 or a == b:
        return a
    if math.isinf(a):
        return a
    if math.isinf(b):
        return b
    d = b - a  # numpy's _lerp, for bit-identical cut-offs
    return a + d * g if g < 0.5 else b - d * (1 - g)
