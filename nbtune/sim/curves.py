"""Parametric learning curves: a blackbox from a formula, for fast tests and examples.

``PowerLawCurves`` gives every config of its space ``{x, y, width}`` the curve
``v(r) = final - gap * r ** -rate`` (mode max): ``final`` is best near ``x = 0.3``,
``y = 10 ** -1.5`` and the widest layer; a large ``y`` learns fast (``rate``) and starts high
(small ``gap``) but ends lower, so early rankings mislead as real ones do. Each level costs
``1 + 2 x`` seconds (x scales the model). ``diverge`` makes the configs with ``x`` above
``1 - diverge`` report NaN from level 3 on; ``noise`` adds a config's own Gaussian noise.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

import numpy as np

from ..domains import choice, loguniform, uniform
from .blackbox import Blackbox


def _power_law(x, y, width, r):
    final = (0.9 - 0.4 * (x - 0.3) ** 2 - 0.05 * np.abs(np.log10(y) + 1.5)
             + 0.01 * np.log2(width / 16))
    gap, rate = 0.5 * (1.2 - y), 0.3 + y
    return final - gap * r ** -rate


class PowerLawCurves(Blackbox):
    """Synthetic power-law learning curves over ``{x, y, width}``; accuracy (max) per epoch."""

    name = "power-law"

    def __init__(self, max_t: int = 27, noise: float = 0.0, diverge: float = 0.0, seed: int = 0):
        space = {"x": uniform(0.0, 1.0), "y": loguniform(1e-3, 1.0), "width": choice(16, 32, 64)}
        super().__init__(space, "accuracy", "max", "epoch", np.arange(1, max_t + 1))
        self.noise, self.diverge, self.seed = float(noise), float(diverge), int(seed)

    def curve(self, config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """The formula's value at every epoch, and ``1 + 2 x`` seconds for each."""
        x, y, w = float(config["x"]), float(config["y"]), float(config["width"])
        values = _power_law(x, y, w, self.levels.astype(float))
        if self.noise:
            key = json.dumps([self.seed, x, y, w]).encode()
            rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))
            values = values + rng.normal(0.0, self.noise, values.shape)
        if self.diverge and x > 1.0 - self.diverge:
            values[2:] = np.nan
        return values, np.full(len(self.levels), 1.0 + 2.0 * x)

    @property
    def best_value(self) -> float:
        """The formula's best at max_t (over a fine grid), plus five noise deviations."""
        x, y = np.meshgrid(np.linspace(0, 1, 201), np.logspace(-3, 0, 201))
        best = max(float(_power_law(x, y, w, float(self.max_t)).max()) for w in (16, 32, 64))
        return best + 5.0 * self.noise

    def __repr__(self) -> str:
        return (f"PowerLawCurves(max_t={self.max_t}, noise={self.noise}, "
                f"diverge={self.diverge}, seed={self.seed})")
