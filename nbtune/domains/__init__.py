"""Search-space primitives: one class per kind of domain (uniform, choice, grid, ...); numpy only.

:mod:`.values` holds what they share (number checks, JSON values), :mod:`.base` the
:class:`Domain` contract, :mod:`.ranges` the numeric ranges and :mod:`.finite` the lists of values.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Domain
from .finite import (CATEGORICAL_KINDS, LISTED_UP_TO, MAX_POINTS, Finite, choice, fixed, grid,
                     linspace, logspace)
from .ranges import Range, lograndint, loguniform, quniform, randint, uniform
from .values import Rng, about, canonical, untag_tuples

__all__ = ["Domain", "Range", "Finite", "domain_from_dict", "uniform", "loguniform", "quniform",
           "randint", "lograndint", "choice", "grid", "linspace", "logspace", "fixed",
           # what nbtune's space modules share with the domains
           "Rng", "about", "canonical", "LISTED_UP_TO", "MAX_POINTS", "CATEGORICAL_KINDS"]


_KINDS: dict[str, type[Domain]] = {c.kind: c for c in (  # type: ignore[misc]
    uniform, loguniform, quniform, randint, lograndint, choice, grid, linspace, logspace, fixed)}


def domain_from_dict(spec: Mapping[str, Any]) -> Domain:
    """Rebuild a Domain from `Domain.to_dict()` output."""
    kind = spec.get("type") if isinstance(spec, Mapping) else None
    if kind not in _KINDS:
        raise ValueError(f"unknown domain type {kind!r} (known: {', '.join(_KINDS)})")
    args = {k: v for k, v in spec.items() if k not in ("type", "written")}
    # the values as written, tuples kept (a file older than it holds lists alone)
    written = spec.get("written")
    written = [untag_tuples(w) for w in written] if isinstance(written, list) else None
    try:
        if kind in ("choice", "grid"):  # one list argument, so a list-valued option stays whole
            vals = args.pop("options" if kind == "choice" else "values")
            if written is not None and len(written) == len(vals):
                vals = written
            return _KINDS[kind]([*vals], **args)  # type: ignore[call-arg]
        if kind == "fixed" and written is not None and len(written) == 1:
            args["value"] = written[0]
        return _KINDS[kind](**args)  # type: ignore[call-arg]
    except (TypeError, KeyError) as e:
        raise ValueError(f"bad {kind} description {dict(spec)!r}: {e}") from None
