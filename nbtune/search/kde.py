"""BOHB's searcher (Falkner et al. 2018): a kernel density ratio over the best configs at a level.

The model: at one resource level, the observations split into the best ``gamma`` fraction (good)
and the rest (bad); a kernel density estimate on each, a product of one kernel per hyperparameter
over `Space.to_unit` coordinates: a Gaussian for ranges and ordered values (grid, linspace, ints,
quantized), Aitchison-Aitken for each ``choice`` (no order: its option's index, kept with
probability 1 - bandwidth, else any other). Bandwidths follow the normal reference rule
(``1.06 std n ** (-1 / (d + 4))``, as statsmodels' KDEMultivariate does for BOHB), floored at
``min_bandwidth``. A suggestion draws ``n_candidates`` points from the good density with its
Gaussian bandwidths widened by ``bandwidth_factor`` (truncated to the unit cube) and takes the one
that maximises l(x) / g(x), good density over bad, among those not tried yet.

What it learns from (:mod:`nbtune.search.ranked`): with ``ranking="level"`` (BOHB's), the
observations at the highest resource level that holds 2 * ``min_points`` of them (default
``min_points``: one per hyperparameter that varies, plus one), a failed trial as the worst value
there; with ``ranking="depth"``, every trial that reported, ranked by the rung it reached, once
2 * ``min_points`` trials have. The good set is the best ``max(min_points, gamma * n)`` of the
``n`` observations. A fraction ``random_fraction`` of suggestions, and every one before the
ranking holds enough, are random. Pending trials and every config tried are never suggested again.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..caller import user_facing
from ..space import Space
from ..typos import one_of
from .base import _check_int, check_number, config_key, untried_sample
from .ranked import RANKINGS, RankedObservations, truncated_normal


class KDESearcher(RankedObservations):
    """BOHB's model-based searcher: configs that maximise good density over bad density at the
    highest resource level with 2 * ``min_points`` observations; see the module's docstring."""

    name = "kde"
    added_options = {"ranking": "level"}

    @user_facing
    def __init__(self, space: Space | dict, seed: int | None = None,
                 points_to_evaluate: list[dict] | None = None, mode: str | None = None,
                 gamma: float = 0.15, min_points: int | None = None,
                 random_fraction: float = 1 / 3, bandwidth_factor: float = 3.0,
                 min_bandwidth: float = 1e-3, n_candidates: int = 64,
                 ranking: str = "level") -> None:
        super().__init__(space, seed, points_to_evaluate, mode, what="kde")
        self.gamma = check_number("gamma", gamma, 0.0, 1.0, (False, False),
                                   "a number in (0, 1)")
        self.random_fraction = check_number("random_fraction", random_fraction, 0.0, 1.0,
                                             (True, True), "a number in [0, 1]")
        self.bandwidth_factor = check_number("bandwidth_factor", bandwidth_factor, 0.0, None,
                                              (False, False), "a number > 0")
        self.min_bandwidth = check_number("min_bandwidth", min_bandwidth, 0.0, None,
                                           (False, False), "a number > 0")
        self.n_candidates = _check_int("n_candidates", n_candidates, 1)
        self.ranking = one_of("ranking", ranking, RANKINGS)
        d = len(self.space.unit_names)
        self.min_points = d + 1 if min_points is None else _check_int("min_points", min_points, 2)
        self._explicit_min_points = min_points is not None

    @property
    def options(self) -> dict[str, Any]:
        """gamma, min_points (when given), random_fraction, bandwidth_factor, min_bandwidth,
        n_candidates, ranking: stored with the study."""
        out: dict[str, Any] = {"gamma": self.gamma, "ranking": self.ranking,
                               "random_fraction": self.random_fraction,
                               "bandwidth_factor": self.bandwidth_factor,
                               "min_bandwidth": self.min_bandwidth,
                               "n_candidates": self.n_candidates}
        if self._explicit_min_points:
            out["min_points"] = self.min_points
        return out

    # -- the model ------------------------------------------------------------------------
    def _bandwidths(self, data: np.ndarray) -> np.ndarray:
        """Normal reference bandwidth per dim, floored at min_bandwidth; a choice's (its
        probability of another option) at most (c - 1) / c."""
        n, d = data.shape
        bw = 1.06 * data.std(axis=0) * n ** (-1.0 / (d + 4))
        bw = np.maximum(bw, self.min_bandwidth)
        for j, c in enumerate(self.sizes):
            if c:
                bw[j] = min(bw[j], (c - 1) / c) if c > 1 else 0.0
        return bw

    def _log_density(self, x: np.ndarray, data: np.ndarray, bw: np.ndarray) -> np.ndarray:
        """log of the product-kernel density of ``data`` at each row of ``x``: (m,)."""
        logk = np.zeros((len(x), len(data)))
        for j, c in enumerate(self.sizes):
            if c:
                same = self._index(x[:, j], c)[:, None] == self._index(data[:, j], c)[None, :]
                other = bw[j] / (c - 1) if c > 1 else 0.0
                with np.errstate(divide="ignore"):
                    logk += np.log(np.where(same, 1.0 - bw[j], other))
            else:
                z = (x[:, j][:, None] - data[:, j][None, :]) / bw[j]
                logk += -0.5 * z * z - math.log(bw[j] * math.sqrt(2 * math.pi))
        top = logk.max(axis=1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        with np.errstate(divide="ignore"):
            return (top[:, 0] + np.log(np.exp(logk - top).sum(axis=1))) - math.log(len(data))

    def _sample_good(self, good: np.ndarray, bw: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
        """``n_candidates`` points drawn around random good points: Gaussians widened by
        bandwidth_factor and truncated to [0, 1]; each choice kept or redrawn."""
        centres = good[rng.integers(len(good), size=self.n_candidates)]
        out = centres.copy()
        for j, c in enumerate(self.sizes):
            if c:
                redraw = rng.random(self.n_candidates) < bw[j]
                pick = (rng.integers(c, size=self.n_candidates) + 0.5) / c
                out[:, j] = np.where(redraw, pick, (self._index(centres[:, j], c) + 0.5) / c)
            else:
                out[:, j] = truncated_normal(centres[:, j], self.bandwidth_factor * bw[j], rng)
        return out

    # -- suggesting -----------------------------------------------------------------------
    def _suggest(self, index: int) -> dict:
        rng = self.rng_for(index)
        if rng.random() < self.random_fraction:
            return untried_sample(self.space, rng, self._tried)
        data = self.ranked(self.ranking, 2 * self.min_points)
        if data is None:
            return untried_sample(self.space, rng, self._tried)
        level, _, units, _ = data  # best first
        n_good = max(self.min_points, int(self.gamma * len(units)))
        good, bad = units[:n_good], units[n_good:]
        bw_good, bw_bad = self._bandwidths(good), self._bandwidths(bad)
        candidates = self._sample_good(good, bw_good, rng)
        score = (self._log_density(candidates, good, bw_good)
                 - self._log_density(candidates, bad, bw_bad))
        score = np.nan_to_num(score, nan=-np.inf)
        self.model_level = level
        for i in np.argsort(-score, kind="stable"):
            config = self.space.from_unit(candidates[i])
            if config_key(config) not in self._tried:
                return config
        return untried_sample(self.space, rng, self._tried)

    def __repr__(self) -> str:
        return (f"KDESearcher(seed={self.seed}, mode={self.mode!r}, gamma={self.gamma!r}, "
                f"min_points={self.min_points!r}, random_fraction={self.random_fraction!r})")
