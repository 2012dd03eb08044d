"""What a model-based searcher learns from: every trial's reports, by resource level.

A trial contributes one row per resource level it reached, thinned to the first level of each
geometric bin of base 3 (levels 1, 3, 9, 27, ... are ASHA's and Hyperband's default rungs) plus its
last level, so a trial that reports every epoch adds a handful of rows, not one per epoch. A trial
that ends with a value but never reported one with a level (a plain function returning its
metric) is one row at level None. A failed trial is one row at the last level it reached, valued
as the worst value the model holds (so the model steers away from where trials crash). The rows
depend only on what was reported, not on the order of the events, and the order of the trials is
the order in which each first produced a row.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

BIN = math.log(3.0)

LEVEL_SPAN = 81.0
"""The resource column is 1 at this many times the first level (0 at the first)."""


@dataclass
class _Trial:
    config: dict
    x: np.ndarray  # the config's encoding
    levels: dict[float | None, float] = field(default_factory=dict)  # level -> last value there
    failed: bool = False
    kept: list | None = None  # Reports.levels_of(this trial) as of its last change


def bin_of(level: float) -> int:
    """The base-3 bin of a level: 0 for [1, 3), 1 for [3, 9), ..."""
    return math.floor(math.log(level) / BIN + 1e-9) if level > 0 else -10**9


class Reports:
    """Rows (trial, level, value) of every trial's reports."""

    def __init__(self) -> None:
        self.trials: dict[int, _Trial] = {}
        self.first_level: float | None = None  # the resource column is log(level / this)
        self._rows: tuple | None = None  # rows() as of the last change

    def report(self, trial_id: int, config: dict, x: np.ndarray, level: float | None,
               value: float | None) -> bool:
        """A trial's value at a level; False (and nothing kept) when the value is missing."""
        if value is None or not math.isfinite(value):
            return False
        if level is not None and not (math.isfinite(level) and level > 0):
            level = None
        trial = self.trials.setdefault(trial_id, _Trial(config, x))
        trial.levels[level] = float(value)
        trial.kept = self._rows = None
        if level is not None and self.first_level is None:
            self.first_level = float(level)
        return True

    def fail(self, trial_id: int, config: dict, x: np.ndarray) -> None:
        """The trial failed: it counts as the worst value held, at its last level."""
        trial = self.trials.setdefault(trial_id, _Trial(config, x))
        trial.failed, trial.kept, self._rows = True, None, None

    def levels_of(self, trial: _Trial) -> list[float | None]:
        """The trial's levels that make rows: the first of each base-3 bin, and the last
        (kept with the trial until it changes, so rows() after one report costs one trial)."""
        if trial.kept is None:
            trial.kept = self._levels_of(trial)
        return trial.kept

    @staticmethod
    def _levels_of(trial: _Trial) -> list[float | None]:
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

    def rows(self) -> tuple[list[int], list[float | None], list[float | None]]:
        """(trials, levels, values) of every row; a failed trial's last row has value None."""
        if self._rows is not None:
            return self._rows
        trials, levels, values = [], [], []
        for tid, trial in self.trials.items():
            kept = self.levels_of(trial)
            for lv in kept:
                trials.append(tid)
                levels.append(lv)
                values.append(trial.levels.get(lv))
            if trial.failed:
                if kept:
                    values[-1] = None
                else:
                    trials.append(tid)
                    levels.append(None)
                    values.append(None)
        self._rows = (trials, levels, values)
        return self._rows

    def __len__(self) -> int:
        return len(self.rows()[0])

    def resource(self, levels: list[float | None]) -> np.ndarray | None:
        """The resource column of ``levels`` (None: the highest level seen), or None when the
        rows hold fewer than two distinct levels (there is nothing to model along it)."""
        numeric = {lv for lv in levels if lv is not None}
        if len(numeric) < 2 or self.first_level is None:
            return None
        top = max(numeric)
        column = np.array([top if lv is None else lv for lv in levels], dtype=float)
        return np.log(column / self.first_level) / math.log(LEVEL_SPAN)

    def acquisition_level(self, levels: list[float | None], at_least: int) -> float | None:
        """The highest level at which at least ``at_least`` rows sit (None: no levels, or none
        with that many). Rows sit at the first level of each bin, so under ASHA these are the
        rung levels; a running trial's last level, between rungs, rarely counts."""
        counts: dict[float, int] = {}
        for lv in levels:
            if lv is not None:
                counts[lv] = counts.get(lv, 0) + 1
        full = [lv for lv, n in counts.items() if n >= at_least]
        return max(full) if full else None

    def next_level(self, trial_id: int, levels: list[float | None]) -> float | None:
        """The level a pending trial reports next: the smallest level held above its last one,
        the lowest level held when it reported none yet, its own last when none is above."""
        numeric = sorted({lv for lv in levels if lv is not None})
        if not numeric:
            return None
        trial = self.trials.get(trial_id)
        mine = [lv for lv in (trial.levels if trial else ()) if lv is not None]
        if not mine:
            return numeric[0]
        above = [lv for lv in numeric if lv > max(mine)]
        return above[0] if above else max(mine)
