"""The `Space`: an ordered mapping of hyperparameter names to domains; numpy only.

The primitives themselves (uniform, choice, grid, ...) live in :mod:`nbtune.domains` and are
re-exported here, so ``from nbtune.space import loguniform`` keeps working.
"""
from __future__ import annotations

import functools

import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from .caller import user_facing, warn_note
from .ported import space_note
from .domains import (Domain, Rng, about, choice, domain_from_dict, fixed, grid,
                      linspace, logspace, loguniform, lograndint, quniform, randint, uniform)

__all__ = ["Domain", "Space", "as_space", "domain_from_dict", "uniform", "loguniform", "quniform",
           "randint", "lograndint", "choice", "grid", "linspace", "logspace", "fixed"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")


def _mapping(what: str, obj: Any) -> Mapping:
    if not isinstance(obj, Mapping):
        raise ValueError(f"{what} must be a mapping, got {type(obj).__name__}")
    return obj


def _plain_sequence_note(name: str, values: list | tuple) -> str:
    """The note for a plain list or tuple given as a domain: every trial gets it whole (as Ray
    Tune takes one), where a user of scikit-learn's searches or of other tuners may mean a
    choice among its items, or a range between two numbers."""
    shown = ", ".join(map(repr, values))
    search = f"choice({shown})"
    if len(values) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                for v in values):
        search = f"uniform({shown}) (or loguniform, randint) for a range, {search} for the two"
    return (f"hyperparameter {name!r} is the {type(values).__name__} {values!r}: every trial "
            f"gets it as one fixed value. To search, write {search}; fixed({values!r}) keeps it "
            "whole without this note")


class Space(Mapping[str, Domain]):
    """Ordered mapping name -> Domain; plain values become `fixed(value)` (a plain list or tuple
    with a note that names the primitive that searches it: ``[16, 32, 64]`` is one value, not
    ``choice(16, 32, 64)``)."""

    @user_facing
    def __init__(self, domains: Mapping[str, Any] | None = None) -> None:
        self._domains: dict[str, Domain] = {}
        for name, dom in _mapping("a Space", domains or {}).items():
            if not isinstance(name, str) or not _NAME.match(name):
                raise ValueError("hyperparameter names must be non-empty strings of letters, digits, "
                                 f"'_', '.' or '-', not starting with a digit; got {name!r}")
            if isinstance(dom, (list, tuple)):
                warn_note(_plain_sequence_note(name, dom))
            ported = space_note(name, dom, lambda d: isinstance(d, Domain))
            if ported is not None:
                raise ValueError(ported)
            with about(name):
                self._domains[name] = dom if isinstance(dom, Domain) else fixed(dom)

    def __getitem__(self, name: str) -> Domain:
        return self._domains[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._domains)

    def __len__(self) -> int:
        return len(self._domains)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and list(self.items()) == list(other.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Space({" + ", ".join(f"{k!r}: {d!r}" for k, d in self.items()) + "})"

    def changes_from(self, stored: "Space") -> list[str]:
        """How this space differs from ``stored``, one phrase per hyperparameter ("lr was
        loguniform(0.001, 0.5), here loguniform(0.0001, 0.5)", "momentum is new", "dropout is
        left out"), or the order where only the order differs; [] where they are equal."""
        out = []
        for name, domain in stored.items():
            if name not in self:
                out.append(f"{name} is left out")
            elif self[name] != domain:
                out.append(f"{name} was {domain!r}, here {self[name]!r}")
        out += [f"{name} is new" for name in self if name not in stored]
        if not out and list(self) != list(stored):
            out.append(f"the order differs (it was {', '.join(stored)})")
        return out

    @property
    def unit_names(self) -> list[str]:
        """Names of the non-fixed dims: the order of `to_unit` arrays."""
        return [k for k, d in self.items() if not isinstance(d, fixed)]

    def count(self) -> int | None:
        """How many distinct configs the space holds: the product of its finite domains' sizes
        and its integer ranges' lengths; None where a domain is a range of reals."""
        total = 1
        for domain in self.values():
            values = domain.values
            if values is not None:
                total *= len(values)
            elif getattr(domain, "integer", False):
                total *= int(domain.hi) - int(domain.lo) + 1
            else:
                return None
        return total

    @property
    def grid_names(self) -> list[str]:
        """Names of the grid / linspace / logspace dims, in declared order."""
        return [k for k, d in self.items() if d.is_grid]

    @property
    def grid_size(self) -> int:
        """Number of grid points (1 when there are no grid dims)."""
        return math.prod(self._domains[k].size for k in self.grid_names)

    def grid_points(self) -> list[dict]:
        """Cartesian product of the grid dims only, last name varying fastest."""
        names = self.grid_names
        combos = itertools.product(*(self._domains[k].values or () for k in names))
        return [dict(zip(names, c)) for c in combos]

    def grid_point(self, i: int) -> dict:
        """`grid_points()[i]` without building the list."""
        if not 0 <= i < self.grid_size:
            raise IndexError(f"grid point {i} is outside 0..{self.grid_size - 1}")
        point = {}
        for k in reversed(self.grid_names):
            i, r = divmod(i, self._domains[k].size)
            point[k] = self._domains[k].value_at(r)
        return {k: point[k] for k in self.grid_names}

    def sample(self, rng: Rng | int | None) -> dict:
        """One random config (every name); rng is a numpy Generator or a seed."""
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return {k: d.sample(rng) for k, d in self.items()}

    def default(self) -> dict:
        """Every domain's default."""
        return {k: d.default() for k, d in self.items()}

    def _known(self, config: Any) -> Mapping:
        unknown = [k for k in _mapping("a config", config) if k not in self._domains]
        if unknown:
            raise ValueError(f"unknown hyperparameter {unknown[0]!r} (known: {', '.join(self)})")
        return config

    def _value(self, config: Mapping, name: str) -> Any:
        if name not in config:
            raise ValueError(f"hyperparameter {name!r} is missing from the config")
        return config[name]

    def validate(self, config: Mapping[str, Any]) -> None:
        """Raise ValueError naming the hyperparameter that is unknown, missing or out of domain."""
        for k, d in self.items():
            with about(k):
                d.validate(self._value(self._known(config), k))

    def complete(self, partial: Mapping[str, Any]) -> dict:
        """Fill names missing from partial with their defaults; unknown names raise (no validation)."""
        self._known(partial)
        out = {}
        for k, d in self.items():
            with about(k):
                out[k] = d.given(partial[k]) if k in partial else d.default()
        return out

    def given(self, config: Mapping[str, Any]) -> dict:
        """A stored config (JSON's lists where the space wrote tuples) as the space's trials get
        it: see :meth:`Domain.given`. Only the values of domains that hold tuples change (the
        rest are as JSON gives them already: a loaded study of 10,000 trials paid 0.17 s to
        convert them all); names the space lacks stay as they are."""
        tupled = self._tupled
        if not tupled:
            return dict(config)
        return {k: tupled[k].given(v) if k in tupled else v for k, v in config.items()}

    @functools.cached_property
    def _tupled(self) -> dict[str, Domain]:
        """The domains that hold tuples, by name (a space's domains are set as it is made)."""
        return {k: d for k, d in self._domains.items() if d.holds_tuples}

    def to_unit(self, config: Mapping[str, Any]) -> np.ndarray:
        """One float in [0, 1] per non-fixed dim, in `unit_names` order."""
        out = []
        for k in self.unit_names:
            with about(k):
                out.append(self._domains[k].to_unit(self._value(config, k)))
        return np.array(out, dtype=float)

    def from_unit(self, array: Any) -> dict:
        """Config from a `to_unit` array, fixed values included."""
        u, names = np.asarray(array, dtype=float).ravel(), self.unit_names
        if u.size != len(names):
            raise ValueError(f"expected {len(names)} unit values ({', '.join(names)}), got {u.size}")
        units = dict(zip(names, u.tolist()))
        return {k: d.from_unit(units[k]) if k in units else d.default() for k, d in self.items()}

    def to_dict(self) -> dict:
        """{name: domain.to_dict()} in declared order."""
        return {k: d.to_dict() for k, d in self.items()}

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Space:
        """Inverse of `to_dict`."""
        domains = {}
        for k, d in _mapping("a Space description", spec).items():
            with about(k):
                domains[k] = domain_from_dict(d)
        return cls(domains)

    def to_json(self) -> str:
        """JSON text of `to_dict()`."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Space:
        """Inverse of `to_json`."""
        return cls.from_dict(json.loads(text))


def as_space(obj: Space | Mapping[str, Any]) -> Space:
    """A Space as is; a mapping name -> domain (or plain value) wrapped in a Space."""
    return obj if isinstance(obj, Space) else Space(obj)
