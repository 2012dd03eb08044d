"""A scikit-learn search space as an nbtune :class:`~nbtune.space.Space`, and back.

``SearchCV`` takes what ``RandomizedSearchCV`` and ``GridSearchCV`` take (lists, scipy.stats
distributions) besides nbtune's own domains. nbtune's spaces hold JSON values only (a study file
never runs code), so a list entry that is not plain JSON (an estimator for a pipeline step, a
tuple) is stored under a text label and turned back into the object for each fit.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..domains import Domain, canonical, choice, fixed, grid, loguniform, randint, uniform
from ..space import Space

TAIL = 1e-6  # the quantiles that bound a distribution of infinite support in the stored study


def _plain(value: Any) -> bool:
    """True when ``value`` survives a JSON round trip as the same value and type."""
    try:
        back = canonical("a value", value)
    except ValueError:
        return False
    return type(back) is type(value) and back == value


def _label(value: Any, taken: set) -> str:
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    label, n = text, 2
    while label in taken:
        label, n = f"{text} #{n}", n + 1
    return label


class _ScipyDomain:
    """Mixin: sample a frozen scipy.stats distribution by its own law (its inverse CDF)."""

    dist: Any
    spread = "distribution"  # what the summary calls it: its edges are its law's tails

    def position(self, value: Any) -> float:
        """Where ``value`` lies by the distribution's own law (its CDF): the summary's edge note
        read expon(scale=2)'s median, 1.38, as the bottom of a range up to 27.6 (first-day test,
        round 57)."""
        return float(self.dist.cdf(value))

    def sample(self, rng):  # type: ignore[override]
        return self.from_unit(float(rng.uniform()))

    def from_unit(self, u):  # type: ignore[override]
        u = min(max(float(u), TAIL), 1 - TAIL)
        return self._finish_value(float(self.dist.ppf(u)))

    def to_unit(self, value):  # type: ignore[override]
        self.validate(value)
        return min(max(float(self.dist.cdf(value)), 0.0), 1.0)


class distribution(_ScipyDomain, uniform):
    """A continuous scipy.stats distribution; stored in the study as a uniform over its range."""

    def __init__(self, dist: Any):
        self.dist = dist
        lo, hi = (float(x) for x in dist.ppf([TAIL, 1 - TAIL]))
        super().__init__(lo, hi)

    def _finish_value(self, x: float) -> float:
        return float(min(max(x, self.lo), self.hi))


class discrete_distribution(_ScipyDomain, randint):
    """A discrete scipy.stats distribution; stored in the study as a randint over its range."""

    def __init__(self, dist: Any):
        self.dist = dist
        lo, hi = (float(x) for x in dist.ppf([TAIL, 1 - TAIL]))
        super().__init__(int(lo), max(int(hi), int(lo) + 1))

    def _finish_value(self, x: float) -> int:
        return int(min(max(round(x), self.lo), self.hi))


def from_scipy(name: str, dist: Any) -> Domain:
    """The nbtune domain of a frozen scipy.stats distribution (uniform, loguniform and randint
    map exactly; any other is sampled through its inverse CDF)."""
    if not (hasattr(dist, "ppf") and hasattr(dist, "dist")):
        raise ValueError(f"space entry {name!r} is a {type(dist).__name__}: give a list, a frozen "
                         "scipy.stats distribution (scipy.stats.uniform(0, 1)) or an nbtune domain")
    kind = getattr(dist.dist, "name", "")
    lo, hi = (float(x) for x in dist.support())
    discrete = hasattr(dist.dist, "pmf")
    if kind == "uniform":
        return uniform(lo, hi)
    if kind in ("loguniform", "reciprocal"):
        return loguniform(lo, hi)
    if kind == "randint" and math.isfinite(lo) and math.isfinite(hi) and hi > lo:
        return randint(int(lo), int(hi))
    return discrete_distribution(dist) if discrete else distribution(dist)


class Converted:
    """An nbtune Space made from a scikit-learn space, and the way back to estimator params."""

    def __init__(self, space: Space, objects: dict[str, dict[str, Any]]):
        self.space = space
        self.objects = objects  # name -> {label: the object it stands for}

    def params(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Estimator parameters of a trial's config: labels turned back into their objects."""
        out = {}
        for key, value in config.items():
            table = self.objects.get(key)
            out[key] = table[value] if table and isinstance(value, str) and value in table \
                else value
        return out


def _values(name: str, values: Any, taken_by: dict[str, dict[str, Any]]) -> list:
    """JSON-able stand-ins for a list of values (labels for the others, remembered)."""
    if isinstance(values, np.ndarray):
        values = values.tolist()
    values = [v.item() if isinstance(v, np.generic) else v for v in values]
    if not values:
        raise ValueError(f"space entry {name!r} is an empty list: give at least one value")
    out, table = [], {}
    plain = [v for v in values if _plain(v)]
    for v in values:
        if _plain(v):
            out.append(v)
        else:
            label = _label(v, set(table) | {p for p in plain if isinstance(p, str)})
            table[label] = v
            out.append(label)
    if table:
        taken_by[name] = table
    return out


def convert(space: Any, searcher: str = "random") -> Converted:
    """An nbtune :class:`Space` of ``space``: a mapping of parameter names to nbtune domains,
    lists (``choice``; ``grid`` for the grid searcher) or scipy.stats distributions (a list of
    them: :func:`nbtune.sklearn.grids.convert_spaces`)."""
    if isinstance(space, Space):
        return Converted(space, {})
    if not isinstance(space, Mapping):
        raise ValueError(f"space must be a mapping of parameter names to lists, distributions "
                         f"or nbtune domains, got {type(space).__name__}")
    domains: dict[str, Any] = {}
    objects: dict[str, dict[str, Any]] = {}
    # a grid runs in ParameterGrid's order (keys sorted, the last varying fastest), so that its
    # best_index_ and ties pick as GridSearchCV's do
    items = sorted(space.items(), key=lambda item: item[0]) if searcher == "grid" \
        else space.items()
    for name, entry in items:
        try:
            domains[name] = _domain(name, entry, searcher, objects)
        except ValueError as exc:  # "choice has duplicate value 1.0" named no entry (round 45)
            if repr(name) in str(exc):
                raise
            raise ValueError(f"space entry {name!r}: {exc}") from None
    return Converted(Space(domains), objects)


def _domain(name: str, entry: Any, searcher: str, objects: dict[str, dict[str, Any]]) -> Any:
    """The nbtune domain of the space's ``entry`` for ``name`` (see :func:`convert`); a label
    stands for each value that is not plain JSON in ``objects``."""
    if isinstance(entry, Domain):
        return entry
    if hasattr(entry, "rvs"):
        if searcher == "grid":
            raise ValueError(f"space entry {name!r} is a distribution, which a grid search "
                             "cannot enumerate: give a list of values, or searcher='random'")
        return from_scipy(name, entry)
    if isinstance(entry, (list, tuple, np.ndarray, range)):
        values = _values(name, entry, objects)
        return grid(values) if searcher == "grid" else choice(values)
    if callable(entry) and (isinstance(entry, type) or not hasattr(entry, "get_params")):
        raise ValueError(_callable_entry(name, entry))
    if isinstance(entry, str) or not hasattr(entry, "__iter__"):
        (value,) = _values(name, [entry], objects)
        return fixed(value)
    raise ValueError(f"space entry {name!r} is a {type(entry).__name__}: give a list, "
                     "a scipy.stats distribution or an nbtune domain")


def _callable_entry(name: str, entry: Any) -> str:
    """Why a function or a class cannot be a space entry, and what to give: scikit-learn's
    searches reject one ("not iterable or a distribution"), where a plain value here is fixed.
    A lambda meant to draw a value was taken as the value, and every fit failed after the search
    started, each with the function's own address (first-day test, round 32)."""
    if isinstance(entry, type):
        return (f"space entry {name!r} is the class {entry.__name__}, not a value: give an "
                f"instance, in a list to search over several ([{entry.__name__}()])")
    what = getattr(entry, "__name__", type(entry).__name__)
    listed = "" if what == "<lambda>" else \
        f"; a function meant as the value itself goes in a list ([{what}])"
    return (f"space entry {name!r} is a function ({what}), not a range of values: give a list "
            f"of values, a scipy.stats distribution (stats.loguniform(1e-3, 10)) or an nbtune "
            f"domain (nbtune.loguniform(1e-3, 10)){listed}")
