"""What a config costs to train: seconds per unit of resource, learnt from the trials' run times.

``bayesopt(cost_aware=True)`` divides its acquisition by this, so that of two configs that promise
as much, the one that gets there in fewer seconds goes first (expected improvement per second,
Snoek et al. 2012). Under a wall-clock budget the configs that cost less give more reports, rungs
and trials in the same time; where a setting makes an epoch several times dearer without making
the model better (a small batch, a wide layer), the search leans away from it.

A run of a trial (:meth:`~nbtune.search.base.Searcher.on_trial_time`: from its start on a worker
to its end or pause) is one row: the log of its seconds per unit of resource it covered (the levels
it reported in that run; a trial that reports no level is one unit). The seconds include a trial's
start, so at the first rungs a config's cost is mostly what every trial pays and the ratios between
configs are smaller than those of their epochs. The model is a ridge regression of that log on the
config's unit-cube encoding: a cost is mostly a product of factors (the batch size, a width, a
number of trees), so its log is near linear in the encoded (log-scaled, one-hot) dimensions; it
costs a small least-squares solve per suggestion, on the latest ``MAX_ROWS`` runs (the only ones
kept), and depends on the events alone. Predictions are kept within the costs seen, so the model
never extrapolates to a config cheaper or dearer than any that ran.
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np

MIN_ROWS = 3  # runs timed before the cost weighs in
MAX_ROWS = 512  # the latest runs the regression is fitted on
RIDGE = 1e-2  # the regression's penalty on each encoded dimension (the intercept is free)


class Costs:
    """Runs' log seconds per unit of resource, and a model of them over the configs' encoding."""

    def __init__(self) -> None:
        self._x: deque[np.ndarray] = deque(maxlen=MAX_ROWS)  # the latest runs only
        self._y: deque[float] = deque(maxlen=MAX_ROWS)
        self._added = 0  # runs kept since the start, the older ones let go
        self._fit: tuple[int, np.ndarray, float, float] | None = None  # (added, weights, lo, hi)

    def __len__(self) -> int:
        return len(self._y)

    def add(self, x: np.ndarray, seconds: float, units: float) -> None:
        """A run of the config encoded ``x`` took ``seconds`` for ``units`` of resource; a run
        that covered none (it reported nothing new) or took no measurable time is not kept."""
        if not (units > 0 and seconds > 0 and math.isfinite(seconds)):
            return
        self._x.append(np.asarray(x, dtype=float))
        self._y.append(math.log(seconds / units))
        self._added += 1

    def predict(self, X: np.ndarray) -> np.ndarray | None:
        """The log seconds per unit of resource of each encoded row of ``X``, within the range
        of the runs held; None before ``MIN_ROWS`` runs."""
        if len(self._y) < MIN_ROWS:
            return None
        if self._fit is None or self._fit[0] != self._added:
            y = np.asarray(self._y)
            A = np.hstack([np.ones((len(y), 1)), np.vstack(self._x)])
            penalty = RIDGE * np.eye(A.shape[1])
            penalty[0, 0] = 0.0
            weights = np.linalg.solve(A.T @ A + penalty + 1e-9 * np.eye(A.shape[1]), A.T @ y)
            self._fit = (self._added, weights, float(y.min()), float(y.max()))
        _, weights, lo, hi = self._fit
        return np.clip(weights[0] + X @ weights[1:], lo, hi)
