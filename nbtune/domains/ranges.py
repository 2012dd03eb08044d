"""Numeric ranges: uniform, loguniform, randint, lograndint and quniform."""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np

from ..caller import user_facing
from .base import Domain
from .values import Rng, _integer, _is_int, _is_real, _num, _unit


class Range(Domain):
    """Numeric range: x uniform in [a, b] (linear or log space), value = `_finish(x)`."""

    log = False
    integer = False

    @user_facing
    def __init__(self, lo: float, hi: float, **optuna: Any) -> None:
        if optuna:  # suggest_float(log=True, step=...) habits: "Range.__init__() got ..." (r36)
            raise TypeError(_optuna_keywords(self.kind, lo, hi, optuna, self.integer))
        conv = _integer if self.integer else _num
        self.lo, self.hi = conv(self.kind, "lo", lo), conv(self.kind, "hi", hi)
        low_ok = not self.log or (self.lo >= 1 if self.integer else self.lo > 0)
        if not low_ok or self.lo >= self.hi:
            need = ("1 <= lo < hi" if self.integer else "0 < lo < hi") if self.log else "lo < hi"
            also = ""
            if not low_ok and self.lo < self.hi:  # the log scale's floor, not the order
                plain = "randint" if self.integer else "uniform"
                floor = ("a lower bound of 1" if self.integer else
                         "a small positive lower bound such as 1e-6")
                also = (f" (a log scale cannot reach {self.lo:g}: give {floor}, or use "
                        f"{plain}({lo!r}, {hi!r}))")
            raise ValueError(f"{self.kind} needs {need}, got lo={lo!r}, hi={hi!r}{also}")
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

    def position(self, value: Any) -> float:
        """Where ``value`` (in the range) lies: 0 at ``lo``, 1 at ``hi``, on the range's own
        scale (log for a log range)."""
        lo, hi = self._fwd(self.lo), self._fwd(self.hi)
        return (self._fwd(value) - lo) / (hi - lo)

    def snap_units(self, units: np.ndarray) -> np.ndarray:
        u = np.clip(np.asarray(units, dtype=float), 0.0, 1.0)
        if not self.integer:
            return u  # a real number sits where its unit value put it
        x = self._a + u * (self._b - self._a)  # as from_unit, then to_unit, for whole arrays
        v = np.clip(np.floor((np.exp(x) if self.log else x) + 0.5), self.lo, self.hi)
        return np.clip(((np.log(v) if self.log else v) - self._a) / (self._b - self._a), 0.0, 1.0)

    def default(self) -> Any:
        """The middle of the range on its scale; a float's last digits of rounding noise
        (``0.0010000000000000002``, the middle of 1e-4 and 1e-2 on a log scale) dropped."""
        value = self._finish((self._fwd(self.lo) + self._fwd(self.hi)) / 2)
        if isinstance(value, float):
            value = min(max(float(f"{value:.12g}"), self.lo), self.hi)
        return value

    def validate(self, value: Any) -> None:
        if self.integer and not _is_int(value):
            raise ValueError(f"{self!r} takes ints, got {value!r}")
        if not _is_real(value) or not self.lo <= value <= self.hi:
            raise ValueError(f"{value!r} is outside {self!r}")

    def to_dict(self) -> dict:
        return {"type": self.kind, "lo": self.lo, "hi": self.hi}


def _optuna_keywords(kind: str, lo: Any, hi: Any, given: dict[str, Any], integer: bool) -> str:
    """The line for Optuna's keywords given to a range: what nbtune writes instead."""
    key = next(iter(given))
    if key == "log" and not given[key]:
        return f"{kind}(..., log=False) is Optuna's default, and {kind} is nbtune's: leave log out"
    if key == "log":
        ours = "lograndint" if integer else "loguniform"
        return (f"{kind}({lo!r}, {hi!r}, log=True) is Optuna's suggest_"
                f"{'int' if integer else 'float'}(log=True): nbtune's is {ours}({lo!r}, {hi!r})")
    if key == "step":
        return (f"{kind}({lo!r}, {hi!r}, step=...) is Optuna's step: nbtune's is "
                f"quniform({lo!r}, {hi!r}, q)")
    return f"{kind}() got an unexpected keyword argument {key!r}"


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

    @user_facing
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
