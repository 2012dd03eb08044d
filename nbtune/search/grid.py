"""Grid search: the cartesian product of the grid dims, optionally an even subsample of it."""
from __future__ import annotations

import numpy as np

from ..caller import user_facing
from ..space import Space
from .base import Searcher, _check_int


class GridSearcher(Searcher):
    """Enumerates grid / linspace / logspace dims (last varying fastest); other dims are sampled.

    `n_experiments` (Polyaxon) caps the total number of trials, points_to_evaluate included;
    the grid points run are then spread evenly over the whole grid, not its first ones.
    `points_only=True` runs the points_to_evaluate alone, in their order, over a space that may
    have no grid dims (``SearchCV``'s list of grids, listed in advance).
    """

    name = "grid"

    @user_facing
    def __init__(self, space: Space | dict, seed: int | None = None,
                 points_to_evaluate: list[dict] | None = None, mode: str | None = None,
                 n_experiments: int | None = None, points_only: bool = False) -> None:
        super().__init__(space, seed, points_to_evaluate, mode)
        if points_only and not self.points_to_evaluate:
            raise ValueError("points_only=True needs points_to_evaluate")
        if not self.space.grid_names and not points_only:
            raise ValueError("grid search needs at least one grid(...), linspace(...) or "
                             "logspace(...) hyperparameter")
        full, k = self.space.grid_size, len(self.points_to_evaluate)
        self.n_experiments, self.points_only = n_experiments, points_only
        self._order: list[int] | None = None  # grid indices to run, None: all in order
        self._n_grid = 0 if points_only else full
        if n_experiments is not None:
            cap = _check_int("n_experiments", n_experiments, 1)
            if cap < k:
                raise ValueError(f"n_experiments={cap} is smaller than the {k} points_to_evaluate")
            self._n_grid = min(cap - k, self._n_grid)
            if self._n_grid < full:
                # evenly spread indices, rounded half up; spacing >= 1 so they stay distinct
                picks = np.floor(np.linspace(0, full - 1, self._n_grid) + 0.5).astype(np.int64)
                self._order = sorted(set(picks.tolist()))
                self._n_grid = len(self._order)

    @property
    def max_trials(self) -> int:
        """points_to_evaluate plus the grid points to run."""
        return len(self.points_to_evaluate) + self._n_grid

    def _suggest(self, index: int) -> dict:
        j = index - len(self.points_to_evaluate)
        config = self.space.sample(self.rng_for(index))
        config.update(self.space.grid_point(self._order[j] if self._order is not None else j))
        return config

    def __repr__(self) -> str:
        return (f"GridSearcher(seed={self.seed}, mode={self.mode!r}, "
                f"n_experiments={self.n_experiments!r}"
                f"{', points_only=True' if self.points_only else ''})")
