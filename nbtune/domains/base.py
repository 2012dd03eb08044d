"""The Domain base class: the set of values one hyperparameter may take."""
from __future__ import annotations

from typing import Any

import numpy as np

from .values import Rng, _same, canonical


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

    def given(self, value: Any) -> Any:
        """``value`` as a trial gets it: as JSON gives it back (a stored config's form), and for
        a finite domain the value as the space wrote it (its tuples tuples again)."""
        return canonical("a value", value)

    holds_tuples = False
    """Whether a value of the domain is or holds a tuple: only there does :meth:`given` make a
    stored (JSON) value other than it is."""

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
        # "written" keeps a finite domain's tuples for its file; a tuple equals its list here
        return type(self) is type(other) and _same(_plain(self.to_dict()),
                                                   _plain(other.to_dict()))  # type: ignore

    __hash__ = None  # type: ignore[assignment]


def _plain(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k != "written"}
