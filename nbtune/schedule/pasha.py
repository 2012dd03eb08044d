"""PASHA's test for raising the most a trial trains (Bohdal et al., ICLR 2023; Syne Tune's
``HyperbandScheduler(type="pasha")``).

Progressive ASHA is promotion ASHA whose top level starts at the second rung and goes up a rung
only while the trials there are ranked differently from the rung below: once the two top rungs
agree, training further would not change which configs are best. Rankings are compared softly:
values within ``epsilon`` of each other count as a tie, and ``epsilon`` is measured from the
trials' own curves, as the 90th percentile of the gaps between pairs of trials whose order
flipped and flipped back between the two rungs (their noise, not their difference).

Pure functions of the values; :class:`nbtune.schedule.asha.ASHAScheduler` keeps the state.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

NOISE_PERCENTILE = 90  # epsilon: this percentile of the gaps of pairs whose order flipped back


def ranks_agree(top: Mapping[int, float], below: Mapping[int, float], mode: str,
                epsilon: float) -> bool:
    """Whether the trials at the top rung (``top``: trial -> value) are ranked there as at the
    rung below (``below``, the same trials' values there), softly: the trial at each place of
    the top rung's ranking is, at the rung below, within ``epsilon`` of the trial that holds that
    place there (with fewer than two trials to compare, ``epsilon`` is 0)."""
    ids = [i for i in top if i in below]
    if len(ids) < 2:
        return True
    sign = -1.0 if mode == "max" else 1.0  # best first
    at_top = sorted(ids, key=lambda i: (sign * top[i], i))
    at_below = sorted(ids, key=lambda i: (sign * below[i], i))
    for place, trial in enumerate(at_top):
        if abs(below[trial] - below[at_below[place]]) > epsilon:
            return False
    return True


def pair_gap(a: Mapping[int, float], b: Mapping[int, float], above: int,
             upto: int) -> float | None:
    """The gap between two trials' values (level -> value) at the highest level in
    ``(above, upto]`` both reported, where their order there had flipped at an earlier level
    and then come back (noise, not a difference); None otherwise."""
    level = next((x for x in range(upto, above, -1) if x in a and x in b), None)
    if level is None:
        return None
    order, flipped = a[level] > b[level], False
    for earlier in range(level - 1, 0, -1):
        if earlier not in a or earlier not in b:
            continue
        if (a[earlier] > b[earlier]) != order:
            flipped = True
        elif flipped:
            return abs(a[level] - b[level])
    return None


class Noise:
    """The trials' values at every level they reported, and the gap of each pair of trials
    that reached the window ``(above, upto]`` (the two top rungs) whose order flipped and came
    back (:func:`pair_gap`): a report updates its trial's pairs only, so a study of thousands
    of trials pays per report for the trials in the window, not for every pair again."""

    def __init__(self) -> None:
        self.curves: dict[int, dict[int, float]] = {}
        self.window = (0, 0)
        self.gaps: dict[tuple[int, int], float] = {}
        self._inside: set[int] = set()  # the trials with a value in the window

    def add(self, trial: int, level: int, value: float) -> None:
        """The trial reported ``value`` at ``level``."""
        self.curves.setdefault(trial, {})[level] = value
        above, upto = self.window
        if above < level <= upto:
            self._inside.add(trial)
            for other in self._inside - {trial}:
                self._pair(trial, other)

    def forget(self, trial: int) -> None:
        """A trial run again from its start: its values so far are gone."""
        self.curves.pop(trial, None)
        self._inside.discard(trial)
        self.gaps = {k: v for k, v in self.gaps.items() if trial not in k}

    def set_window(self, above: int, upto: int) -> None:
        """The two top rungs moved: every pair in the new window, again."""
        self.window, self.gaps = (above, upto), {}
        self._inside = {i for i, c in self.curves.items() if any(above < x <= upto for x in c)}
        ids = sorted(self._inside)
        for k, a in enumerate(ids):
            for b in ids[k + 1:]:
                self._pair(a, b)

    def _pair(self, a: int, b: int) -> None:
        key = (min(a, b), max(a, b))
        gap = pair_gap(self.curves[key[0]], self.curves[key[1]], *self.window)
        if gap is None:
            self.gaps.pop(key, None)
        else:
            self.gaps[key] = gap

    def epsilon(self) -> float | None:
        """The :data:`NOISE_PERCENTILE`-th percentile of the gaps; None where no pair flipped
        back."""
        return float(np.percentile(list(self.gaps.values()), NOISE_PERCENTILE)) \
            if self.gaps else None


def start_index(levels: Sequence[int]) -> int:
    """The index in ``levels`` (the rungs, max_t last) of PASHA's first top level: the second
    rung, or max_t where there are fewer than two rungs below it (plain promotion ASHA)."""
    return 1 if len(levels) >= 3 else len(levels) - 1
