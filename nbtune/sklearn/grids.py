"""A list of spaces (``GridSearchCV``'s list of dicts, a grid per model) as one nbtune Space.

A study's space is one mapping, so a list of them becomes the union of their keys plus a key
that says which space a candidate comes from (``grid``: its index in the list). A candidate
holds :data:`ABSENT` for a key its own space lacks, and its estimator keeps that parameter as
given, as scikit-learn's searches leave it. The candidates are listed in advance (each space's product in
``ParameterGrid``'s order, or a sample of them without replacement, as ``RandomizedSearchCV``
samples a list of lists), so a list of spaces holds lists of values only, and is searched by the
random or the grid searcher: a model-based one would suggest values of one space's keys for
another's candidate.
"""
from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from typing import Any, Iterator

import numpy as np

from ..domains import choice
from ..space import Space, randint
from .space import Converted, convert

SELECTOR = "grid"  # the key of the space a candidate comes from (another if a space has it)
# a key a candidate's space lacks, in the study (None read as max_depth=None, which is a value
# of its own: first-day test, round 59); the candidate's estimator keeps its parameter as given
ABSENT = "(not in grid)"
LISTED = 100_000  # finite spaces up to this size are enumerated, beyond it drawn by index


def listed(domain: Any) -> list | None:
    """A domain's candidates when it has few enough to list: a list's values, or every integer
    of a ``randint`` range (``scipy.stats.randint(1, 4)``: 1, 2, 3; each as likely as a draw
    makes it); None for a range of reals or a log-scaled one."""
    if domain.values is not None:
        return list(domain.values)
    if isinstance(domain, randint) and domain.hi - domain.lo < LISTED:
        return list(range(domain.lo, domain.hi + 1))
    return None


class Union(Converted):
    """The Space of a list of spaces (see the module) and, for each candidate, its own space's
    estimator parameters only."""

    def __init__(self, parts: list[Converted], selector: str):
        self.parts, self.selector = parts, selector
        names = list(dict.fromkeys(k for part in parts for k in part.space))
        domains: dict[str, Any] = {}
        for name in names:
            values: dict[str, Any] = {}
            for part in parts:
                held = listed(part.space[name]) if name in part.space else [ABSENT]
                values.update({_identity(v): v for v in held if _identity(v) not in values})
            domains[name] = choice(list(values.values()))
        domains[selector] = choice(list(range(len(parts))))
        objects: dict[str, dict[str, Any]] = {}
        for part in parts:  # a label stands for equal-looking objects in every space: the first
            for name, table in part.objects.items():
                objects.setdefault(name, {}).update(
                    {k: v for k, v in table.items() if k not in objects.get(name, {})})
        super().__init__(Space(domains), objects)
        # each space's keys in the order its candidates are counted (the last one varying
        # fastest), with their values, and how many candidates each space holds
        self._lists = [{name: listed(part.space[name]) for name in sorted(part.space,
                                                                         reverse=True)}
                       for part in parts]
        self._sizes = [math.prod(len(v) for v in lists.values()) for lists in self._lists]

    def params(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Its own space's keys only, sorted as ``ParameterGrid`` sorts them."""
        own = self.parts[config[self.selector]].space
        return super().params({k: config[k] for k in sorted(config) if k in own})

    @property
    def size(self) -> int:
        """How many candidates the spaces hold together."""
        return sum(self._sizes)

    def candidate(self, index: int) -> dict[str, Any]:
        """The ``index``-th candidate of ``ParameterGrid``'s order: each space's product in
        turn, its keys sorted, the last one varying fastest."""
        for i, (lists, size) in enumerate(zip(self._lists, self._sizes)):
            if index < size:
                point: dict[str, Any] = {}
                for name, values in lists.items():
                    index, r = divmod(index, len(values))
                    point[name] = values[r]
                return {**{k: point.get(k, ABSENT) for k in self.space if k != self.selector},
                        self.selector: i}
            index -= size
        raise IndexError("candidate index out of range")

    def candidates(self) -> Iterator[dict[str, Any]]:
        """Every candidate, in ``ParameterGrid``'s order."""
        return (self.candidate(i) for i in range(self.size))

    def sample(self, n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
        """``n`` candidates drawn without replacement."""
        size = self.size
        picks = rng.permutation(size)[:n] if size <= LISTED else \
            rng.choice(size, n, replace=False)
        return [self.candidate(int(i)) for i in picks]


def _identity(value: Any) -> str:
    """Equal for the same value of the same type (1, 1.0 and True are three candidates, as
    scikit-learn's searches keep them)."""
    return type(value).__name__ + json.dumps(value, sort_keys=True)


def convert_spaces(space: Any, searcher: Any = "random") -> Converted:
    """:func:`~nbtune.sklearn.space.convert` of one space, or the :class:`Union` of a list of
    them (one space alone is that space)."""
    if not isinstance(space, (list, tuple)):
        return convert(space, searcher)
    if not space:
        raise ValueError("space is an empty list: give a mapping of parameter names to values, "
                         "or a list of them (one per model, as GridSearchCV's list of dicts)")
    parts = []
    for i, entry in enumerate(space):
        if not isinstance(entry, Mapping):
            raise ValueError(f"space[{i}] is not a mapping ({type(entry).__name__}): a list of "
                             f"spaces holds mappings of parameter names to values, as "
                             f"GridSearchCV's list of dicts")
        try:
            part = convert(entry, searcher)
        except ValueError as exc:
            raise ValueError(f"space[{i}]: {exc}") from None
        drawn = [k for k, d in part.space.items() if listed(d) is None]
        if drawn and len(space) > 1:
            raise ValueError(f"space[{i}] draws {drawn[0]!r} from a range: a list of spaces takes "
                             f"lists of values only; list the values, or give one space and run "
                             f"one SearchCV for each")
        parts.append(part)
    if len(parts) == 1:
        return parts[0]
    if searcher not in ("random", "grid"):
        raise ValueError(f"a list of spaces is searched with searcher='random' or 'grid'; "
                         f"searcher={searcher!r} models one space: give one, and run one "
                         f"SearchCV for each")
    taken = set(itertools.chain.from_iterable(part.space for part in parts))
    selector = SELECTOR
    while selector in taken:
        selector = "_" + selector
    return Union(parts, selector)
