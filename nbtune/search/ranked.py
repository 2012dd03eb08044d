"""What the density-ratio searchers (``kde``, ``tpe``) learn from: each trial's reports, ranked.

Each report of a running trial (``on_report``) is an observation at its resource level (its
latest value there); a trial that reports no level (no scheduler, no resource) gives its final
value at one level of its own ("final"); a failed trial counts as the worst. Two rankings of
those observations (:meth:`RankedObservations.ranked`):

- ``"level"`` (BOHB's): the observations at one level, the highest that holds enough of them, so
  early in a study with early stopping the model learns from the low rungs, where most trials
  report, and moves up as the top rungs fill. A failed trial counts there at the level's worst;
- ``"depth"`` (as Optuna's TPE ranks its pruned trials): every trial that reported, by the
  highest rung it reached (the base-3 bin of its highest level: 1, 3, 9, 27, ... start the bins,
  which are ASHA's default rungs), then by its value at the first level it reported in that bin;
  failed trials rank last. A trial that an early rung stopped still counts, among the worse, and
  no level needs to fill first.

Pending trials (started, not ended) and every config tried are kept, so that neither is
suggested again.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..caller import user_facing
from ..space import Space
from .base import Searcher, config_key
from .encoding import Encoding
from .reports import bin_of

FINAL = "final"  # the level of final values of trials that report no resource level
ALL = "all"  # the level of a ranking over every trial ("depth")
FAILED, COMPLETED, PAUSED = "failed", "completed", "paused"
Level = Any  # a resource level (a number) or FINAL
BELOW_EVERY_RUNG = (-10**9 - 1, 0.0)  # "depth": where a final value without a level sits
RANKINGS = ("level", "depth")


class RankedObservations(Searcher):
    """A searcher that learns from its trials' reports, ranked (see the module's docstring);
    subclasses model the ranking and implement ``_suggest``."""

    costly_suggest = True
    draws_while_thinking = True

    @user_facing
    def __init__(self, space: Space | dict, seed: int | None = None,
                 points_to_evaluate: list[dict] | None = None, mode: str | None = None,
                 what: str = "this searcher") -> None:
        super().__init__(space, seed, points_to_evaluate, mode)
        if not self.space.unit_names:
            raise ValueError(f"{what} has nothing to model: every hyperparameter of the space "
                             "is fixed; give at least one a range or choices")
        self.sizes = Encoding(self.space).sizes  # options of each choice dim, 0 for ordered
        self.reset()

    def reset(self) -> None:
        """Forget every observation and pending trial."""
        self._levels: dict[Level, dict[int, float]] = {}  # level -> trial -> value there
        self._failed: set[int] = set()
        self._reported: set[int] = set()  # trials that reported at a numeric level
        self._units: dict[int, tuple[dict, str, np.ndarray]] = {}  # trial -> config, key, units
        self._pending: set[int] = set()
        self._tried: set[str] = set()
        self.model_level: Level | None = None  # the level the last model-based suggestion used

    # -- events ---------------------------------------------------------------------------
    def on_trial_start(self, trial_id: int, config: dict) -> None:
        """The trial is pending: never suggested again."""
        self._pending.add(trial_id)
        self._tried.add(self._unit_of(trial_id, config)[0])

    def _unit_of(self, trial_id: int, config: dict) -> tuple[str, np.ndarray]:
        """The config's key and `Space.to_unit`, computed once per trial and config."""
        known = self._units.get(trial_id)
        if known is None or (known[0] is not config and known[1] != config_key(config)):
            known = self._units[trial_id] = (config, config_key(config),
                                             self.space.to_unit(config))
        return known[1], known[2]

    def on_report(self, trial_id: int, config: dict, level: float | None,
                  value: float | None) -> None:
        """A value at a resource level is an observation at that level (its latest one there)."""
        if level is None or value is None or not math.isfinite(value):
            return
        self._reported.add(trial_id)
        self._unit_of(trial_id, config)
        self._levels.setdefault(float(level), {})[trial_id] = float(value)

    def on_trial_end(self, trial_id: int, config: dict, state: str,
                     value: float | None) -> None:
        """A failed trial becomes a worst value; a completed one that reported no level, an
        observation at the "final" level; the trial is no longer pending."""
        self._pending.discard(trial_id)
        self._tried.add(self._unit_of(trial_id, config)[0])
        if state == PAUSED:
            return
        self._failed.discard(trial_id)
        if state == FAILED:
            self._failed.add(trial_id)
        elif state == COMPLETED and trial_id not in self._reported and value is not None \
                and math.isfinite(value):
            self._levels.setdefault(FINAL, {})[trial_id] = float(value)

    @property
    def pending(self) -> list[int]:
        """The trials running or queued (started, not ended), by trial number."""
        return sorted(self._pending)

    @property
    def observations(self) -> int:
        """Reports the model holds (a trial's value at each level it reached) and failed trials."""
        return sum(len(obs) for obs in self._levels.values()) + len(self._failed)

    @property
    def modelled_trials(self) -> int:
        """The trials those reports come from."""
        return len(set().union(*self._levels.values(), self._failed))

    # -- the ranking ----------------------------------------------------------------------
    def ranked(self, ranking: str, need: int
               ) -> tuple[Level, np.ndarray, np.ndarray, np.ndarray] | None:
        """(level, trial ids, units, losses), best first (ties by trial), by ``ranking``
        ("level" or "depth"), once ``need`` observations hold it; else None. Under "depth" the
        losses are the ranks (0, 1, ...), and the level is ``ALL``."""
        data = self._level_data(need) if ranking == "level" else self._depth_data(need)
        if data is None:
            return None
        level, ids, losses = data
        order = np.lexsort((ids, losses))
        ids, losses = ids[order], losses[order]
        units = np.vstack([self._units[t][2] for t in ids])
        return level, ids, units, losses

    def _level_data(self, need: int) -> tuple[Level, np.ndarray, np.ndarray] | None:
        """(level, ids, losses) at the highest level with ``need`` observations, failed trials
        included at the worst loss there."""
        sign = 1.0 if self.mode == "min" else -1.0
        order = ([FINAL] if FINAL in self._levels else []) + \
            sorted((lv for lv in self._levels if lv != FINAL), reverse=True)
        for level in order:
            obs = self._levels[level]
            failed = [t for t in self._failed if t not in obs]
            if len(obs) + len(failed) < need or not obs:
                continue
            losses = [sign * v for v in obs.values()]
            losses += [max(losses)] * len(failed)
            return level, np.array([*obs, *failed]), np.array(losses)
        return None

    def _depth_data(self, need: int) -> tuple[Level, np.ndarray, np.ndarray] | None:
        """(ALL, ids, ranks) of every trial that reported or failed, once ``need`` have."""
        sign = 1.0 if self.mode == "min" else -1.0
        best: dict[int, tuple[int, float, float]] = {}  # trial -> (bin, level, loss) to rank by
        for level, obs in self._levels.items():
            # (bin, -level): a higher bin first; in a bin, the first level the trial reported
            key = (bin_of(level), -level) if level != FINAL else BELOW_EVERY_RUNG
            for tid, value in obs.items():
                known = best.get(tid)
                if known is None or key > known[:2]:
                    best[tid] = (*key, sign * value)
        failed = [t for t in self._failed if t not in best]
        if len(best) + len(failed) < need or not best:
            return None
        tids = sorted(best, key=lambda t: (-best[t][0], best[t][2], t)) + sorted(failed)
        return ALL, np.array(tids), np.arange(len(tids), dtype=float)

    @staticmethod
    def _index(u: np.ndarray, c: int) -> np.ndarray:
        """The option of a choice with ``c`` options at unit coordinates ``u``."""
        return np.minimum((u * c).astype(int), c - 1)


def truncated_normal(centres: np.ndarray, widths: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """One draw from each Gaussian (``centres``, ``widths``) truncated to [0, 1]."""
    from scipy.special import ndtr, ndtri

    lo, hi = ndtr(-centres / widths), ndtr((1.0 - centres) / widths)
    u = lo + rng.random(len(centres)) * (hi - lo)
    return np.clip(centres + widths * ndtri(np.clip(u, 1e-300, 1.0 - 1e-16)), 0.0, 1.0)
