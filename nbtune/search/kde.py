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

Which level: the highest one that holds enough observations for ``min_points`` good ones and as
many bad ones (2 * ``min_points``; default ``min_points``: one per hyperparameter that varies,
plus one), so early in a study with early stopping the model learns from the low rungs, where
most trials report, and moves up as the top rungs fill (BOHB's rule). The good set is the best
``max(min_points, gamma * n)`` of the level's ``n`` observations.
With ``ranking="depth"`` the model instead ranks every trial that reported, as Optuna's TPE
ranks its pruned trials: by the highest rung it reached (the base-3 bin of its highest level: 1,
3, 9, 27, ... start the bins, which are ASHA's default rungs), then by its value at the first
level it reported in that bin; failed trials rank last. The good set is the best
``max(min_points, gamma * n)`` of those ``n`` trials, so a trial that an early rung stopped still
counts among the bad, and the model needs no level to fill first (2 * ``min_points`` trials do).
Each report of a running trial (``on_report``) is an observation at its level; a trial that
reports no level (no scheduler, no resource) gives its final value at one level of its own
("final"). A failed trial counts at the model's level as the worst value there. A fraction
``random_fraction`` of suggestions, and every one before a level has enough points, are random.
Pending trials (started, not ended) and every config tried are never suggested again.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..space import Space
from ..typos import one_of
from .base import Searcher, _check_int, check_number, config_key, untried_sample
from .encoding import Encoding
from .reports import bin_of

FINAL = "final"  # the level of final values of trials that report no resource level
ALL = "all"  # the model_level of a model over every trial (ranking="depth")
FAILED, COMPLETED, PAUSED = "failed", "completed", "paused"
Level = Any  # a resource level (a number) or FINAL
BELOW_EVERY_RUNG = (-10**9 - 1, 0.0)  # ranking="depth": where a final value without a level sits
RANKINGS = ("level", "depth")  # the good and bad configs: at one level, or over every trial


class KDESearcher(Searcher):
    """BOHB's model-based searcher: configs that maximise good density over bad density at the
    highest resource level with 2 * ``min_points`` observations; see the module's docstring."""

    name = "kde"
    added_options = {"ranking": "level"}

    def __init__(self, space: Space | dict, seed: int | None = None,
                 points_to_evaluate: list[dict] | None = None, mode: str = "min",
                 gamma: float = 0.15, min_points: int | None = None,
                 random_fraction: float = 1 / 3, bandwidth_factor: float = 3.0,
                 min_bandwidth: float = 1e-3, n_candidates: int = 64,
                 ranking: str = "level") -> None:
        super().__init__(space, seed, points_to_evaluate, mode)
        if not self.space.unit_names:
            raise ValueError("kde has nothing to model: every hyperparameter of the space is "
                             "fixed; give at least one a range or choices")
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
        self.sizes = Encoding(self.space).sizes  # options of each choice dim, 0 for ordered
        self.reset()

    def reset(self) -> None:
        """Forget every observation and pending trial."""
        self._levels: dict[Level, dict[int, tuple[np.ndarray, float]]] = {}
        self._failed: dict[int, np.ndarray] = {}
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
        self._levels.setdefault(float(level), {})[trial_id] = (self._unit_of(trial_id, config)[1],
                                                                float(value))

    def on_trial_end(self, trial_id: int, config: dict, state: str,
                     value: float | None) -> None:
        """A failed trial becomes a worst value; a completed one that reported no level, an
        observation at the "final" level; the trial is no longer pending."""
        self._pending.discard(trial_id)
        key, units = self._unit_of(trial_id, config)
        self._tried.add(key)
        if state == PAUSED:
            return
        self._failed.pop(trial_id, None)
        if state == FAILED:
            self._failed[trial_id] = units
        elif state == COMPLETED and trial_id not in self._reported and value is not None \
                and math.isfinite(value):
            self._levels.setdefault(FINAL, {})[trial_id] = (units, float(value))

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

    @property
    def pending(self) -> list[int]:
        """The trials running or queued (started, not ended), by trial number."""
        return sorted(self._pending)

    @property
    def observations(self) -> int:
        """Reports the model holds (a trial's value at each level it reached) and failed trials."""
        return sum(len(obs) for obs in self._levels.values()) + len(self._failed)

    # -- the model ------------------------------------------------------------------------
    def _level_data(self) -> tuple[Level, np.ndarray, np.ndarray] | None:
        """(level, units, losses) at the highest level with 2 * ``min_points`` observations,
        failed trials included at the worst loss there; None when no level has enough."""
        sign = 1.0 if self.mode == "min" else -1.0
        order = ([FINAL] if FINAL in self._levels else []) + \
            sorted((lv for lv in self._levels if lv != FINAL), reverse=True)
        for level in order:
            obs = self._levels[level]
            failed = [u for t, u in self._failed.items() if t not in obs]
            if len(obs) + len(failed) < 2 * self.min_points or not obs:
                continue
            units = [u for u, _ in obs.values()] + failed
            losses = [sign * v for _, v in obs.values()]
            losses += [max(losses)] * len(failed)
            return level, np.vstack(units), np.array(losses)
        return None

    def _depth_data(self) -> tuple[Level, np.ndarray, np.ndarray] | None:
        """(ALL, units, ranks) of every trial that reported or failed, once 2 * ``min_points``
        have: ranked by the highest rung it reached (the base-3 bin of its highest level; a
        trial that reported no level stands below every rung), then by its value at the first
        level it reported in that bin; failed trials last."""
        sign = 1.0 if self.mode == "min" else -1.0
        best: dict[int, tuple[int, float, float]] = {}  # trial -> (bin, level, loss) to rank by
        for level, obs in self._levels.items():
            # (bin, -level): a higher bin first; in a bin, the first level the trial reported
            key = (bin_of(level), -level) if level != FINAL else BELOW_EVERY_RUNG
            for tid, (_, value) in obs.items():
                known = best.get(tid)
                if known is None or key > known[:2]:
                    best[tid] = (*key, sign * value)
        failed = [t for t in self._failed if t not in best]
        if len(best) + len(failed) < 2 * self.min_points or not best:
            return None
        tids = sorted(best, key=lambda t: (-best[t][0], best[t][2], t)) + sorted(failed)
        units = np.vstack([self._units[t][2] for t in tids])
        return ALL, units, np.arange(len(tids), dtype=float)

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

    @staticmethod
    def _index(u: np.ndarray, c: int) -> np.ndarray:
        return np.minimum((u * c).astype(int), c - 1)

    def _sample_good(self, good: np.ndarray, bw: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
        """``n_candidates`` points drawn around random good points: Gaussians widened by
        bandwidth_factor and truncated to [0, 1]; each choice kept or redrawn."""
        from scipy.special import ndtr, ndtri

        centres = good[rng.integers(len(good), size=self.n_candidates)]
        out = centres.copy()
        for j, c in enumerate(self.sizes):
            if c:
                redraw = rng.random(self.n_candidates) < bw[j]
                pick = (rng.integers(c, size=self.n_candidates) + 0.5) / c
                out[:, j] = np.where(redraw, pick, (self._index(centres[:, j], c) + 0.5) / c)
            else:
                s = self.bandwidth_factor * bw[j]
                lo, hi = ndtr(-centres[:, j] / s), ndtr((1.0 - centres[:, j]) / s)
                u = lo + rng.random(self.n_candidates) * (hi - lo)
                z = ndtri(np.clip(u, 1e-300, 1.0 - 1e-16))
                out[:, j] = np.clip(centres[:, j] + s * z, 0.0, 1.0)
        return out

    # -- suggesting -----------------------------------------------------------------------
    def _suggest(self, index: int) -> dict:
        rng = self.rng_for(index)
        if rng.random() < self.random_fraction:
            return untried_sample(self.space, rng, self._tried)
        data = self._level_data() if self.ranking == "level" else self._depth_data()
        if data is None:
            return untried_sample(self.space, rng, self._tried)
        level, units, losses = data
        order = np.argsort(losses, kind="stable")
        n_good = max(self.min_points, int(self.gamma * len(losses)))
        good, bad = units[order[:n_good]], units[order[n_good:]]
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
