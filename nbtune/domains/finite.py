"""Finite domains, lists of JSON values: choice, grid, linspace, logspace and fixed."""
from __future__ import annotations

import copy
import functools
import math
from typing import Any

import numpy as np

from ..caller import user_facing
from .base import Domain
from .values import (_PLAIN, Rng, _integer, _is_real, _key, _num, _unit, as_written, canonical,
                     holds_tuple, tag_tuples)

CATEGORICAL_KINDS = frozenset({"choice", "grid"})  # listed values, drawn as categories


class Finite(Domain):
    """A list of JSON-able values; unit space splits [0, 1] into equal bins."""

    def _set_values(self, values: Any) -> None:
        if len(values) == 1 and isinstance(values[0], (list, range, np.ndarray)):
            values = values[0]  # f([a, b]) means f(a, b)
        vals = [canonical(f"{self.kind} values", v) for v in values]
        self._written = [as_written(copy.deepcopy(g), v) for g, v in zip(values, vals)]
        if not vals:
            raise ValueError(f"{self.kind} needs at least one value")
        positions: dict[Any, int] = {}  # by the exact value: 1 and 1.0 are two
        loose: dict[Any, int] = {}  # by the number: a 2.0 given for choice(1, 2) finds 2
        for i, v in enumerate(vals):
            if positions.setdefault(_key(v, exact=True), i) != i:
                raise ValueError(f"{self.kind} has duplicate value {v!r}")
            loose.setdefault(_key(v), i)
        self._values, self._positions, self._loose = vals, positions, loose

    @property
    def size(self) -> int:
        """How many values the domain holds."""
        return len(self._values)

    def value_at(self, i: int) -> Any:
        """Value number ``i`` as the space wrote it (a copy: a list value stays the domain's
        own)."""
        return copy.deepcopy(self._written[i])

    @property
    def values(self) -> list:
        return [self.value_at(i) for i in range(self.size)]

    @functools.cached_property
    def holds_tuples(self) -> bool:  # type: ignore[override]
        return any(map(holds_tuple, self._written))

    def _with_written(self, spec: dict) -> dict:
        """``spec`` (:meth:`to_dict`), with the values as written under "written" where a tuple
        is among them: JSON keeps lists, and a study loaded from its file gave its trials'
        configs lists where the space wrote tuples (first-day test, round 65)."""
        if self.holds_tuples:
            spec["written"] = [tag_tuples(v) for v in self._written]
        return spec

    def _index(self, value: Any) -> int:
        if not (type(value) in _PLAIN or (type(value) is float and math.isfinite(value))):
            try:  # what JSON gives back of it
                value = canonical("a value", value)
            except ValueError:  # not JSON: no value of the domain
                raise ValueError(f"{value!r} is not one of {self!r}") from None
        i = self._positions.get(_key(value, exact=True))
        if i is None:
            i = self._loose.get(_key(value))
        if i is None:
            raise ValueError(f"{value!r} is not one of {self!r}")
        return i

    def sample(self, rng: Rng) -> Any:
        return self.value_at(int(rng.integers(self.size)))

    def to_unit(self, value: Any) -> float:
        return (self._index(value) + 0.5) / self.size

    def from_unit(self, u: float) -> Any:
        n = self.size
        return self.value_at(min(int(_unit(u) * n), n - 1))

    def snap_units(self, units: np.ndarray) -> np.ndarray:
        n, u = self.size, np.clip(np.asarray(units, dtype=float), 0.0, 1.0)
        return (np.minimum((u * n).astype(int), n - 1) + 0.5) / n  # the middle of its bin

    def default(self) -> Any:
        return self.value_at(0)

    def validate(self, value: Any) -> None:
        self._index(value)

    def given(self, value: Any) -> Any:
        try:
            return self.value_at(self._index(value))
        except ValueError:  # not a value of the domain: validation says so
            return super().given(value)

    def _args(self) -> list[str]:
        return [repr(v) for v in self._written]


class choice(Finite):
    """One of the options (or of one list argument); weights are relative (Polyaxon pvalues)."""

    kind = "choice"

    @user_facing
    def __init__(self, *options: Any, weights: list[float] | None = None) -> None:
        self._set_values(options)
        self._weights = None
        if weights is not None:
            w = [_num("choice", "weights", x) for x in weights]
            if len(w) != len(self._values):
                raise ValueError(f"choice has {len(self._values)} options but {len(w)} weights")
            if min(w) < 0 or sum(w) <= 0:
                raise ValueError(f"choice weights must be >= 0 with a positive sum, got {w}")
            self._weights = w

    @property
    def weights(self) -> list[float] | None:
        """Normalised probabilities, or None for uniform."""
        if self._weights is None:
            return None
        total = sum(self._weights)
        return [x / total for x in self._weights]

    def sample(self, rng: Rng) -> Any:
        if self._weights is None:
            return super().sample(rng)
        return self.value_at(int(rng.choice(self.size, p=self.weights)))

    def _args(self) -> list[str]:
        if self._weights is None:
            return super()._args()
        # as typed: weights 1, 2, 1 were written back weights=[1.0, 2.0, 1.0] (round 66)
        whole = all(w.is_integer() and abs(w) < 1e15 for w in self._weights)
        shown = [int(w) for w in self._weights] if whole else self._weights
        return super()._args() + [f"weights={shown!r}"]

    def to_dict(self) -> dict:
        return self._with_written({"type": "choice", "options": self.values,
                                   "weights": self._weights})


class grid(Finite):
    """Values enumerated by grid search (or one list argument); random search samples them."""

    kind, is_grid = "grid", True

    @user_facing
    def __init__(self, *values: Any) -> None:
        self._set_values(values)

    def to_dict(self) -> dict:
        return self._with_written({"type": "grid", "values": self.values})


MAX_POINTS = 10**8  # the most values a linspace or logspace may describe (stored files included)
LISTED_UP_TO = 100_000  # up to this many, numpy lists them once (its exact values); beyond, a formula


class linspace(Finite):
    """Grid of n >= 2 evenly spaced values lo..hi (numpy.linspace); also linspace("lo:hi:n").

    Described by (lo, hi, n): numpy lists the values on first use where there are at most
    :data:`LISTED_UP_TO`; beyond, value ``i`` is computed on its own, so a large ``n`` (a stored
    file may ask for up to :data:`MAX_POINTS`) costs nothing until its values are drawn.
    """

    kind, is_grid = "linspace", True
    holds_tuples = False  # numbers alone (and no list of them to look through)

    @user_facing
    def __init__(self, lo: float | str, hi: float | None = None, n: int | None = None) -> None:
        if isinstance(lo, str) and hi is None and n is None:
            text = lo
            try:
                lo, hi, n = text.split(":")  # ValueError unless exactly three parts
                lo, hi, n = float(lo), float(hi), int(n)
            except ValueError:
                raise ValueError(f"{self.kind} string must read 'lo:hi:n', got {text!r}") from None
        elif hi is None or n is None:
            raise ValueError(f"{self.kind} needs lo, hi and n (or one 'lo:hi:n' string)")
        self.lo, self.hi = _num(self.kind, "lo", lo), _num(self.kind, "hi", hi)
        self.n = _integer(self.kind, "n", n)
        log = self.kind == "logspace"
        if self.lo >= self.hi or (log and self.lo <= 0):
            need = "0 < lo < hi" if log else "lo < hi"
            raise ValueError(f"{self.kind} needs {need}, got lo={lo!r}, hi={hi!r}")
        if self.n < 2:
            raise ValueError(f"{self.kind} needs n >= 2, got n={n!r} (use fixed() for one value)")
        if self.n > MAX_POINTS:
            ranged = "loguniform" if log else "uniform"
            raise ValueError(f"{self.kind} needs n <= {MAX_POINTS:,}, got n={n!r}: use "
                             f"{ranged}({self.lo!r}, {self.hi!r}) for a continuous range")
        self._a, self._b = (math.log10(self.lo), math.log10(self.hi)) if log else (self.lo,
                                                                                   self.hi)
        self._step = (self._b - self._a) / (self.n - 1)

    @property
    def size(self) -> int:
        return self.n

    @functools.cached_property
    def _listed(self) -> tuple[list[float], dict[float, int]] | None:
        if self.n > LISTED_UP_TO:
            return None
        fn = np.geomspace if self.kind == "logspace" else np.linspace
        values = fn(self.lo, self.hi, self.n).tolist()
        return values, {v: i for i, v in enumerate(values)}

    def value_at(self, i: int) -> float:
        if not 0 <= i < self.n:
            raise IndexError(f"{self!r} has no value number {i}")
        if self._listed is not None:
            return self._listed[0][i]
        if i in (0, self.n - 1):
            return self.lo if i == 0 else self.hi  # numpy sets both ends exactly
        x = i * self._step + self._a
        return float(np.power(10.0, x)) if self.kind == "logspace" else x

    def _index(self, value: Any) -> int:
        if _is_real(value) and math.isfinite(float(value)):
            x = float(value)
            if self._listed is not None:
                i = self._listed[1].get(x)
                if i is not None:
                    return i
            elif self.kind == "linspace" or x > 0:
                near = ((math.log10(x) if self.kind == "logspace" else x) - self._a) / self._step
                for i in (math.floor(near), math.ceil(near)):
                    if 0 <= i < self.n and self.value_at(i) == x:
                        return i
        raise ValueError(f"{value!r} is not one of {self!r}")

    def _args(self) -> list[str]:
        return [repr(self.lo), repr(self.hi), repr(self.n)]

    def to_dict(self) -> dict:
        return {"type": self.kind, "lo": self.lo, "hi": self.hi, "n": self.n}


class logspace(linspace):
    """Grid of n >= 2 geometrically spaced VALUES lo..hi (numpy.geomspace, not exponents)."""

    kind = "logspace"


class fixed(Finite):
    """A constant (JSON-able) value passed through to every config."""

    kind = "fixed"

    @user_facing
    def __init__(self, value: Any) -> None:
        self._set_values([[value]])

    def to_dict(self) -> dict:
        return self._with_written({"type": "fixed", "value": self.default()})
