"""Search-space primitives: one class per kind of domain (uniform, choice, grid, ...); numpy only."""
from __future__ import annotations

import contextlib
import copy
import functools
import json
import math
import numbers
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import numpy as np

__all__ = ["Domain", "domain_from_dict", "uniform", "loguniform", "quniform",
           "randint", "lograndint", "choice", "grid", "linspace", "logspace", "fixed"]

Rng = np.random.Generator


def _is_real(x: Any) -> bool:
    return isinstance(x, (numbers.Real, np.number)) and not isinstance(x, (bool, np.bool_))


def _is_int(x: Any) -> bool:
    return isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, (bool, np.bool_))


def _num(fn: str, label: str, x: Any) -> float:
    if not _is_real(x) or not math.isfinite(float(x)):
        raise ValueError(f"{fn} needs a finite number for {label}, got {label}={x!r}")
    return float(x)


def _integer(fn: str, label: str, x: Any) -> int:
    if _is_int(x) or (_is_real(x) and float(x).is_integer()):
        return int(x)
    raise ValueError(f"{fn} needs an integer for {label}, got {label}={x!r}")


def _np(o: Any) -> Any:
    if isinstance(o, (np.generic, np.ndarray)):
        return o.tolist()
    raise TypeError(type(o).__name__)


def canonical(what: str, v: Any) -> Any:
    """v as JSON gives it back (numpy -> Python, tuples -> lists); ValueError if not JSON-able."""
    try:
        return json.loads(json.dumps(v, allow_nan=False, default=_np))
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be JSON-serialisable and finite (str, int, float, bool, "
                         f"None, lists, dicts), got {v!r}") from None


@contextlib.contextmanager
def about(name: str) -> Iterator[None]:
    """Re-raise a ValueError naming the hyperparameter."""
    try:
        yield
    except ValueError as e:
        raise ValueError(f"hyperparameter {name!r}: {e}") from None


def _same(a: Any, b: Any) -> bool:
    """Equality where True != 1 and a tuple equals the list JSON turns it into."""
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return isinstance(a, (bool, np.bool_)) and isinstance(b, (bool, np.bool_)) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:
        return False


def _unit(u: Any) -> float:
    if not _is_real(u) or math.isnan(float(u)):
        raise ValueError(f"unit value must be a number in [0, 1], got {u!r}")
    return min(max(float(u), 0.0), 1.0)


class Domain:
    """The set of values one hyperparameter may take (build one with uniform(), choice(), ...)."""

    kind = "domain"
    is_grid = False  # True for grid / linspace / logspace

    def sample(self, rng: Rng) -> Any:
        """Draw one value."""
        raise NotImplementedError

    def to_unit(self, value: Any) -> float:
        """Map a valid value into [0, 1] (log space for log domains, bins for finite ones)."""
        raise NotImplementedError

    def from_unit(self, u: float) -> Any:
        """Inverse of `to_unit`; u is clipped into [0, 1]."""
        raise NotImplementedError

    def default(self) -> Any:
        """Syne Tune's default: mid-point of a range (linear or log), else the first value."""
        raise NotImplementedError

    def validate(self, value: Any) -> None:
        """Raise ValueError if value is not in the domain."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        """JSON-able description with a "type" key (see `domain_from_dict`)."""
        raise NotImplementedError

    @property
    def values(self) -> list | None:
        """All values of a finite domain (choice, grid, linspace, logspace, fixed), else None."""
        return None

    def _args(self) -> list[str]:
        return [repr(v) for k, v in self.to_dict().items() if k != "type"]

    def __repr__(self) -> str:
        return f"{self.kind}({', '.join(self._args())})"

    def snap_units(self, units: np.ndarray) -> np.ndarray:
        """Where each unit value lands once made a value and placed back, ``to_unit(from_unit(u))``
        for an array of ``u``: what a model of the unit cube sees of the value ``u`` stands for."""
        return np.array([self.to_unit(self.from_unit(float(u))) for u in np.ravel(units)])

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and _same(self.to_dict(), other.to_dict())  # type: ignore

    __hash__ = None  # type: ignore[assignment]


class Range(Domain):
    """Numeric range: x uniform in [a, b] (linear or log space), value = `_finish(x)`."""

    log = False
    integer = False

    def __init__(self, lo: float, hi: float) -> None:
        conv = _integer if self.integer else _num
        self.lo, self.hi = conv(self.kind, "lo", lo), conv(self.kind, "hi", hi)
        low_ok = not self.log or (self.lo >= 1 if self.integer else self.lo > 0)
        if not low_ok or self.lo >= self.hi:
            need = ("1 <= lo < hi" if self.integer else "0 < lo < hi") if self.log else "lo < hi"
            raise ValueError(f"{self.kind} needs {need}, got lo={lo!r}, hi={hi!r}")
        pad = 0.5 if self.integer else 0.0  # ints own the interval [v - 0.5, v + 0.5]
        self._a, self._b = self._fwd(self.lo - pad), self._fwd(self.hi + pad)

    def _fwd(self, v: float) -> float:
        return math.log(v) if self.log else float(v)

    def _finish(self, x: float) -> Any:
        v = math.exp(x) if self.log else x
        if self.integer:
            return int(min(max(math.floor(v + 0.5), self.lo), self.hi))
        return float(min(max(v, self.lo), self.hi))

    def sample(self, rng: Rng) -> Any:
        return self._finish(float(rng.uniform(self._a, self._b)))

    def from_unit(self, u: float) -> Any:
        return self._finish(self._a + _unit(u) * (self._b - self._a))

    def to_unit(self, value: Any) -> float:
        self.validate(value)
        return min(max((self._fwd(value) - self._a) / (self._b - self._a), 0.0), 1.0)

    def snap_units(self, units: np.ndarray) -> np.ndarray:
        u = np.clip(np.asarray(units, dtype=float), 0.0, 1.0)
        if not self.integer:
            return u  # a real number sits where its unit value put it
        x = self._a + u * (self._b - self._a)  # as from_unit, then to_unit, for whole arrays
        v = np.clip(np.floor((np.exp(x) if self.log else x) + 0.5), self.lo, self.hi)
        return np.clip(((np.log(v) if self.log else v) - self._a) / (self._b - self._a), 0.0, 1.0)

    def default(self) -> Any:
        return self._finish((self._fwd(self.lo) + self._fwd(self.hi)) / 2)

    def validate(self, value: Any) -> None:
        if self.integer and not _is_int(value):
            raise ValueError(f"{self!r} takes ints, got {value!r}")
        if not _is_real(value) or not self.lo <= value <= self.hi:
            raise ValueError(f"{value!r} is outside {self!r}")

    def to_dict(self) -> dict:
        return {"type": self.kind, "lo": self.lo, "hi": self.hi}


class uniform(Range):
    """Real uniform in [lo, hi]."""
    kind = "uniform"


class loguniform(Range):
    """Real log-uniform in [lo, hi]: exp(x), x uniform in [log lo, log hi]; 0 < lo."""
    kind, log = "loguniform", True


class randint(Range):
    """Integer uniform in lo..hi, both ends included."""
    kind, integer = "randint", True


class lograndint(Range):
    """Integer log-uniform: int(round(exp(x))), x uniform in [log(lo-0.5), log(hi+0.5)]; 1 <= lo."""
    kind, integer, log = "lograndint", True, True


class quniform(Range):
    """Uniform in [lo, hi] rounded to a multiple of q inside [lo, hi]; ints if lo, hi, q are."""

    kind = "quniform"

    def __init__(self, lo: float, hi: float, q: float) -> None:
        self.integer = all(_is_int(x) for x in (lo, hi, q))
        super().__init__(lo, hi)
        self.q = _integer(self.kind, "q", q) if self.integer else _num(self.kind, "q", q)
        if self.q <= 0:
            raise ValueError(f"quniform needs q > 0, got q={q!r}")
        self._a, self._b = float(self.lo), float(self.hi)
        self._kmin = math.ceil(self.lo / self.q - 1e-9)
        self._kmax = math.floor(self.hi / self.q + 1e-9)
        if self._kmin > self._kmax:
            raise ValueError(f"quniform has no multiple of q={q!r} in [{lo!r}, {hi!r}]")
        # decimals of q, so that 3 * 0.1 comes out as 0.3
        self._digits = max(0, -int(Decimal(repr(float(self.q))).as_tuple().exponent))

    snap_units = Domain.snap_units  # steps: each value's own position

    def _finish(self, x: float) -> Any:
        k = min(max(round(x / self.q), self._kmin), self._kmax)
        return int(k * self.q) if self.integer else float(round(k * self.q, self._digits))

    def validate(self, value: Any) -> None:
        super().validate(value)
        k = value / self.q
        if abs(k - round(k)) > 1e-9 * max(1.0, abs(k)):
            raise ValueError(f"{value!r} is not a multiple of q in {self!r}")

    def to_dict(self) -> dict:
        return {**super().to_dict(), "q": self.q}


# types whose values JSON gives back unchanged (and finite floats: see _index)
_PLAIN = (str, int, bool, type(None))


def _key(v: Any) -> Any:
    """A hashable stand-in for a JSON value, equal where :func:`_same` says so (``1 == 1.0``,
    ``True != 1``), so that finite domains check and find values in linear time."""
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, (int, float)):
        return ("n", v)
    if isinstance(v, str):
        return ("s", v)
    if isinstance(v, list):
        return ("l", tuple(_key(x) for x in v))
    if isinstance(v, dict):
        return ("d", tuple(sorted((k, _key(x)) for k, x in v.items())))
    return ("z",)  # None


class Finite(Domain):
    """A list of JSON-able values; unit space splits [0, 1] into equal bins."""

    def _set_values(self, values: Any) -> None:
        if len(values) == 1 and isinstance(values[0], (list, range, np.ndarray)):
            values = values[0]  # f([a, b]) means f(a, b)
        vals = [canonical(f"{self.kind} values", v) for v in values]
        if not vals:
            raise ValueError(f"{self.kind} needs at least one value")
        positions: dict[Any, int] = {}
        for i, v in enumerate(vals):
            if positions.setdefault(_key(v), i) != i:
                raise ValueError(f"{self.kind} has duplicate value {v!r}")
        self._values, self._positions = vals, positions

    @property
    def size(self) -> int:
        """How many values the domain holds."""
        return len(self._values)

    def value_at(self, i: int) -> Any:
        """Value number ``i`` (a copy: a list value stays the domain's own)."""
        return copy.deepcopy(self._values[i])

    @property
    def values(self) -> list:
        return [self.value_at(i) for i in range(self.size)]

    def _index(self, value: Any) -> int:
        if type(value) in _PLAIN or (type(value) is float and math.isfinite(value)):
            # already what JSON gives back: no round trip
            i = self._positions.get(_key(value))
        else:
            try:
                i = self._positions.get(_key(canonical("a value", value)))
            except ValueError:  # not JSON: no value of the domain
                i = None
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

    def _args(self) -> list[str]:
        return [repr(v) for v in self._values]


class choice(Finite):
    """One of the options (or of one list argument); weights are relative (Polyaxon pvalues)."""

    kind = "choice"

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
        return super()._args() + ([] if self._weights is None else [f"weights={self._weights!r}"])

    def to_dict(self) -> dict:
        return {"type": "choice", "options": self.values, "weights": self._weights}


class grid(Finite):
    """Values enumerated by grid search (or one list argument); random search samples them."""

    kind, is_grid = "grid", True

    def __init__(self, *values: Any) -> None:
        self._set_values(values)

    def to_dict(self) -> dict:
        return {"type": "grid", "values": self.values}


MAX_POINTS = 10**8  # the most values a linspace or logspace may describe (stored files included)
LISTED_UP_TO = 100_000  # up to this many, numpy lists them once (its exact values); beyond, a formula


class linspace(Finite):
    """Grid of n >= 2 evenly spaced values lo..hi (numpy.linspace); also linspace("lo:hi:n").

    Described by (lo, hi, n): numpy lists the values on first use where there are at most
    :data:`LISTED_UP_TO`; beyond, value ``i`` is computed on its own, so a large ``n`` (a stored
    file may ask for up to :data:`MAX_POINTS`) costs nothing until its values are drawn.
    """

    kind, is_grid = "linspace", True

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

    def __init__(self, value: Any) -> None:
        self._set_values([[value]])

    def to_dict(self) -> dict:
        return {"type": "fixed", "value": self.default()}


_KINDS: dict[str, type[Domain]] = {c.kind: c for c in (  # type: ignore[misc]
    uniform, loguniform, quniform, randint, lograndint, choice, grid, linspace, logspace, fixed)}


def domain_from_dict(spec: Mapping[str, Any]) -> Domain:
    """Rebuild a Domain from `Domain.to_dict()` output."""
    kind = spec.get("type") if isinstance(spec, Mapping) else None
    if kind not in _KINDS:
        raise ValueError(f"unknown domain type {kind!r} (known: {', '.join(_KINDS)})")
    args = {k: v for k, v in spec.items() if k != "type"}
    try:
        if kind in ("choice", "grid"):  # one list argument, so a list-valued option stays whole
            vals = args.pop("options" if kind == "choice" else "values")
            return _KINDS[kind]([*vals], **args)  # type: ignore[call-arg]
        return _KINDS[kind](**args)  # type: ignore[call-arg]
    except (TypeError, KeyError) as e:
        raise ValueError(f"bad {kind} description {dict(spec)!r}: {e}") from None
