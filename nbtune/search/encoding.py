"""The unit-cube encoding a model sees: the space's own `to_unit` per dim, one-hot for choices."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..domains import choice
from ..space import Space


class Encoding:
    """Configs of ``space`` as points of [0, 1]^width: log ranges in log space, integers and
    ordered finite dims (grid, linspace, logspace) at their position, each choice one-hot (its
    options have no order); fixed dims are left out."""

    def __init__(self, space: Space) -> None:
        self.space = space
        self.names = space.unit_names
        self.sizes = [space[k].size if isinstance(space[k], choice) else 0 for k in self.names]
        self.width = sum(n or 1 for n in self.sizes)

    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """One config as a vector of length `width`."""
        units = self.space.to_unit(config)
        out = np.zeros(self.width)
        at = 0
        for u, n in zip(units, self.sizes):
            if n:  # `to_unit` puts option i at (i + 0.5) / n
                out[at + min(int(u * n), n - 1)] = 1.0
                at += n
            else:
                out[at] = u
                at += 1
        return out

    def encode_all(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Configs as the rows of an array (len(configs), width)."""
        if not configs:
            return np.zeros((0, self.width))
        return np.vstack([self.encode(c) for c in configs])

    def encode_units(self, units: np.ndarray) -> np.ndarray:
        """Rows of `Space.to_unit` values (shape (m, len(names))) encoded as the configs that
        `Space.from_unit` makes of them would be, without making them: (m, width)."""
        units = np.clip(np.asarray(units, dtype=float), 0.0, 1.0)
        cols = []
        for j, (name, n) in enumerate(zip(self.names, self.sizes)):
            d, u = self.space[name], units[:, j]
            if n:
                cols.append(np.eye(n)[np.minimum((u * n).astype(int), n - 1)])
            else:
                cols.append(d.snap_units(u)[:, None])
        return np.hstack(cols) if cols else np.zeros((len(units), 0))
