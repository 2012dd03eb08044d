"""What a model-based searcher learns from: every trial's reports, by resource level.

A trial contributes one row per resource level it reached, thinned to the first level of each
geometric bin of base 3 (levels 1, 3, 9, 27, ... are ASHA's and Hyperband's default rungs) plus its
last level, so a trial that reports every epoch adds a handful of rows, not one per epoch. A trial
that ends with a value but never reported one with a level (a plain function returning its
metric) is one row at level None. A failed trial is one row at the last level it reached, valued
as the worst value the model holds (so the model steers away from where trials crash). The rows
depend only on what was reported, not on the order of the events: :meth:`Reports.table` gives
them by trial id, then level.

The rows live in arrays that grow in place: a report changes its trial's rows only (a row's level
and value updated, or a row added at the end), so reading every row costs no Python loop over
the trials, however many the study holds. A trial's rows are never removed: its last row, when
not the first of its bin, moves up with each report and becomes the first of the next bin.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

BIN = math.log(3.0)

LEVEL_SPAN = 81.0
"""The resource column is 1 at this many times the first level (0 at the first)."""

FAR_OUT = 100.0  # interquartile ranges above the upper quartile where a value is far out
WARPS = ("none", "copula")  # how the values are reshaped before the GP models them


@dataclass
class _Trial:
    config: dict
    x: np.ndarray  # the config's encoding
    levels: dict[float | None, float] = field(default_factory=dict)  # level -> last value there
    failed: bool = False
    rows: list[int] = field(default_factory=list)  # its rows' indices, by level


def bin_of(level: float) -> int:
    """The base-3 bin of a level: 0 for [1, 3), 1 for [3, 9), ..."""
    return math.floor(math.log(level) / BIN + 1e-9) if level > 0 else -10**9


def clip_far_out(y: np.ndarray) -> np.ndarray:
    """Values to minimise with the far-out bad ones (above the upper quartile by more than
    ``FAR_OUT`` interquartile ranges) set to the worst of the others. A run that diverged (a
    loss of 1e12 among losses near 0.06) would otherwise take the whole standardised scale, and
    every good config would look the same to the GP: it counts as the worst config seen, not as
    one a trillion times worse. The fence is far wider than Tukey's 3: the model's own
    suggestions crowd the good region and narrow the quartiles, and merely bad values must keep
    their size. Where nothing is far out the values are unchanged."""
    low, high = np.percentile(y, [25, 75])
    far = y > high + FAR_OUT * (high - low)
    if high <= low or not far.any():
        return y
    return np.where(far, y[~far].max(), y)


def warp(y: np.ndarray, how: str) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """The values reshaped for the GP by ``how``, and the function that takes values of the new
    scale back to the old. ``"none"``: standardised. ``"copula"``: each value's rank mapped to
    the normal quantile ``(rank - 0.5) / n`` (ties share their mean rank), the Gaussian copula
    transform of Salinas et al. (2020): only the order of the values is left, so a crowd of
    near-best values is spread as widely as the bad tail, and no value can take the whole scale;
    the way back interpolates between the values held."""
    if how == "copula":
        from scipy.stats import norm, rankdata

        w = norm.ppf((rankdata(y) - 0.5) / len(y))
        order = np.argsort(w, kind="stable")
        return w, lambda v: np.interp(v, w[order], y[order])
    mu, sd = float(y.mean()), float(y.std() or 1.0)
    return (y - mu) / sd, lambda v: np.asarray(v) * sd + mu


def kept_levels(trial: _Trial) -> list[float | None]:
    """The trial's levels that make rows: the first of each base-3 bin, and the last."""
    numeric = sorted(lv for lv in trial.levels if lv is not None)
    if not numeric:
        return [None] if (None in trial.levels or trial.failed) else []
    kept, seen = [], set()
    for lv in numeric:
        b = bin_of(lv)
        if b not in seen:
            seen.add(b)
            kept.append(lv)
    if kept[-1] != numeric[-1]:
        kept.append(numeric[-1])
    return kept


class Reports:
    """Rows (trial, level, value) of every trial's reports, in arrays; ``version`` changes
    whenever a row does."""

    def __init__(self) -> None:
        self.trials: dict[int, _Trial] = {}
        self.first_level: float | None = None  # the resource column is log(level / this)
        self.version = 0
        self._n = 0
        self._trial = np.zeros(0, dtype=np.int64)
        self._level = np.zeros(0)  # NaN: no level
        self._value = np.zeros(0)  # NaN: a failed trial's row (the worst value held)
        self._x: np.ndarray | None = None
        self._counts: dict[float, int] = {}  # rows at each numeric level

    def report(self, trial_id: int, config: dict, x: np.ndarray, level: float | None,
               value: float | None) -> bool:
        """A trial's value at a level; False (and nothing kept) when the value is missing."""
        if value is None or not math.isfinite(value):
            return False
        if level is not None and not (math.isfinite(level) and level > 0):
            level = None
        trial = self.trials.setdefault(trial_id, _Trial(config, x))
        trial.levels[level] = float(value)
        if level is not None and self.first_level is None:
            self.first_level = float(level)
        self._update(trial_id, trial)
        return True

    def fail(self, trial_id: int, config: dict, x: np.ndarray) -> None:
        """The trial failed: it counts as the worst value held, at its last level."""
        trial = self.trials.setdefault(trial_id, _Trial(config, x))
        trial.failed = True
        self._update(trial_id, trial)

    def _update(self, trial_id: int, trial: _Trial) -> None:
        """Bring the trial's rows to its kept levels: its rows in place, new ones at the end."""
        kept = kept_levels(trial)  # never fewer than before: a level adds a bin or moves the last
        for i, lv in enumerate(kept):
            if i == len(trial.rows):
                trial.rows.append(self._append(trial_id, trial.x))
            row = trial.rows[i]
            self._set_level(row, lv)
            value = trial.levels.get(lv)
            self._value[row] = np.nan if value is None else value
        if trial.failed and trial.rows:
            self._value[trial.rows[-1]] = np.nan
        self.version += 1

    def _append(self, trial_id: int, x: np.ndarray) -> int:
        if self._x is None:
            self._x = np.zeros((0, len(x)))
        if self._n == len(self._level):
            grow = max(64, 2 * self._n)
            self._trial = np.concatenate([self._trial, np.zeros(grow, dtype=np.int64)])
            self._level = np.concatenate([self._level, np.full(grow, np.nan)])
            self._value = np.concatenate([self._value, np.full(grow, np.nan)])
            self._x = np.vstack([self._x, np.zeros((grow, self._x.shape[1]))])
        row, self._n = self._n, self._n + 1
        self._trial[row], self._x[row] = trial_id, x
        return row

    def _set_level(self, row: int, level: float | None) -> None:
        old = self._level[row]
        new = np.nan if level is None else float(level)
        if old == new:
            return
        if not math.isnan(old):
            self._counts[old] -= 1
            if not self._counts[old]:
                del self._counts[old]
        if not math.isnan(new):
            self._counts[new] = self._counts.get(new, 0) + 1
        self._level[row] = new

    def table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(trial ids, levels, values, encodings) of every row, new arrays, ordered by trial id
        and then level, so that they depend on what was reported alone, not on the order the
        reports came in; a level is NaN where a trial reported none, a value NaN for a failed
        trial's row."""
        n = self._n
        trials, levels = self._trial[:n], self._level[:n]
        order = np.lexsort((np.nan_to_num(levels, nan=-np.inf), trials))
        x = self._x[:n][order] if self._x is not None else np.zeros((0, 0))
        return trials[order], levels[order], self._value[:n][order], x

    def training_arrays(self, sign: float, how: str = "none") -> tuple | None:
        """The rows as a GP trains on them: (X, y, levels, trial ids, back), the encodings with
        the resource column when the rows span two levels or more, the values times ``sign``
        (to minimise), a failed trial's the worst of them, far-out ones clipped
        (:func:`clip_far_out`), standardised and warped by ``how`` (:func:`warp`), ``back``
        taking modelled values back to signed ones; None with fewer than two values."""
        trials, levels, values, X = self.table()
        y = sign * values
        finite = ~np.isnan(y)
        if finite.sum() < 2:
            return None
        y[~finite] = y[finite].max()
        y, back = warp(clip_far_out(y), how)
        column = self.resource(levels)
        if column is not None:
            X = np.hstack([X, column[:, None]])
        return X, y, levels, trials, back

    def resource_at(self, levels: list[float | None]) -> np.ndarray | None:
        """The resource column at ``levels`` (None: the highest level held)."""
        return self.resource(np.array([np.nan if lv is None else lv for lv in levels]))

    def __len__(self) -> int:
        return self._n

    def held_levels(self) -> list[float]:
        """The distinct numeric levels of the rows, ascending."""
        return sorted(self._counts)

    def resource(self, levels: np.ndarray) -> np.ndarray | None:
        """The resource column of ``levels`` (NaN: the highest level held), or None when the
        rows hold fewer than two distinct levels (there is nothing to model along it)."""
        if len(self._counts) < 2 or self.first_level is None:
            return None
        levels = np.asarray(levels, dtype=float)
        column = np.where(np.isnan(levels), max(self._counts), levels)
        return np.log(column / self.first_level) / math.log(LEVEL_SPAN)

    def acquisition_level(self, at_least: int) -> float | None:
        """The highest level at which at least ``at_least`` rows sit (None: no levels, or none
        with that many). Rows sit at the first level of each bin, so under ASHA these are the
        rung levels; a running trial's last level, between rungs, rarely counts."""
        full = [lv for lv, n in self._counts.items() if n >= at_least]
        return max(full) if full else None

    def last_level(self, trial_id: int) -> float | None:
        """The highest resource level the trial reported a value at; None: no level yet."""
        trial = self.trials.get(trial_id)
        return max((lv for lv in trial.levels if lv is not None), default=None) if trial else None

    def next_level(self, trial_id: int) -> float | None:
        """The level a pending trial reports next: the smallest level held above its last one,
        the lowest level held when it reported none yet, its own last when none is above."""
        numeric = self.held_levels()
        if not numeric:
            return None
        mine = self.last_level(trial_id)
        if mine is None:
            return numeric[0]
        above = [lv for lv in numeric if lv > mine]
        return above[0] if above else mine
