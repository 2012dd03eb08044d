"""A tree-structured Parzen estimator (Bergstra et al. 2011), with the choices that make Optuna's
``TPESampler`` strong under its Hyperband pruner (Watanabe 2023, "Tree-structured Parzen
estimator: understanding its algorithm components"), over every trial of the study.

The trials that reported (or failed) are ranked, by default as Optuna ranks pruned trials: by the
highest rung each reached, then by its value there (``ranking="depth"``, see
:class:`nbtune.search.ranked.RankedObservations`); the best ``min(ceil(gamma * n), max_good)`` of
the ``n`` are good, the rest bad. Each hyperparameter then has two one-dimensional densities, a
mixture over the good trials' values and one over the bad ones', each with a prior component
(weight ``prior_weight``) that keeps every value possible:

- for a range or an ordered set (over `Space.to_unit`, so log scales are log): a Gaussian per
  value, truncated to the unit interval, its width the larger gap to its neighbours among the
  values and the prior's centre (the interval's ends bound the gaps; the outermost values take
  their inner gap), clipped to ``[1 / min(100, k + 1), 1]`` for ``k`` components; the prior a
  Gaussian at the centre of width 1;
- for a ``choice``: a distribution over its options per value, its own option weighted 1 and
  every option ``prior_weight / k``; the prior uniform.

Old trials count less: of a set of ``m`` > 25 trials, the newest 25 weigh 1 and the others from
``1 / m`` (the oldest) up to 1, in trial order. A suggestion draws ``n_candidates`` values of each
hyperparameter from its good density and keeps, for each on its own, the one with the highest
ratio of good density to bad: the hyperparameters are chosen independently, as Optuna's default
(univariate) TPE does. Until ``n_startup`` trials ranked, suggestions are random; pending trials
and every config tried are never suggested again. With ``constant_liar=True`` (the default; Optuna's
option of that name) the pending trials that have not reported yet count among the bad ones, so
that two workers asking one after the other are not sent to the same place.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..caller import user_facing
from ..space import Space
from .base import _check_int, check_bool, check_number, config_key, untried_sample
from ..typos import one_of
from .ranked import RANKINGS, RankedObservations, truncated_normal

RECENT = 25  # the newest trials of a set that count in full


class TPESearcher(RankedObservations):
    """Optuna-style univariate TPE over every trial of the study, ranked by the rung each reached;
    see the module's docstring."""

    name = "tpe"
    added_options = {"constant_liar": False}

    @user_facing
    def __init__(self, space: Space | dict, seed: int | None = None,
                 points_to_evaluate: list[dict] | None = None, mode: str | None = None,
                 gamma: float = 0.1, max_good: int = 25, n_startup: int = 10,
                 n_candidates: int = 24, prior_weight: float = 1.0,
                 ranking: str = "depth", constant_liar: bool = True) -> None:
        super().__init__(space, seed, points_to_evaluate, mode, what="tpe")
        self.gamma = check_number("gamma", gamma, 0.0, 1.0, (False, True), "a number in (0, 1]")
        self.max_good = _check_int("max_good", max_good, 1)
        self.n_startup = _check_int("n_startup", n_startup, 2)
        self.n_candidates = _check_int("n_candidates", n_candidates, 1)
        self.prior_weight = check_number("prior_weight", prior_weight, 0.0, None,
                                         (False, False), "a number > 0")
        self.ranking = one_of("ranking", ranking, RANKINGS)
        self.constant_liar = check_bool("constant_liar", constant_liar)

    @property
    def options(self) -> dict[str, Any]:
        """gamma, max_good, n_startup, n_candidates, prior_weight, ranking, constant_liar:
        stored with the study."""
        return {"gamma": self.gamma, "max_good": self.max_good, "n_startup": self.n_startup,
                "n_candidates": self.n_candidates, "prior_weight": self.prior_weight,
                "ranking": self.ranking, "constant_liar": self.constant_liar}

    # -- the model ------------------------------------------------------------------------
    def _suggest(self, index: int) -> dict:
        rng = self.rng_for(index)
        data = self.ranked(self.ranking, self.n_startup)
        if data is None:
            return untried_sample(self.space, rng, self._tried)
        level, ids, units, _ = data  # best first
        n = len(ids)
        n_good = min(max(1, math.ceil(self.gamma * n)), self.max_good, n - 1)
        good, bad = np.arange(n_good), np.arange(n_good, n)
        w_good, w_bad = self._age_weights(ids[good]), self._age_weights(ids[bad])
        ranked = set(ids.tolist())
        lies = [t for t in self.pending if t not in ranked] if self.constant_liar else []
        if lies:  # pending, no report yet: as if they came out worst (warm-started twins:
            # two workers got the same place one after the other, first-day test, round 64)
            units = np.vstack([units, [self._units[t][2] for t in lies]])
            bad = np.concatenate([bad, np.arange(n, n + len(lies))])
            w_bad = np.concatenate([w_bad, np.ones(len(lies))])
        x = np.empty(units.shape[1])
        for j, c in enumerate(self.sizes):
            col = units[:, j]
            if c:
                x[j] = self._best_option(col[good], w_good, col[bad], w_bad, c, rng)
            else:
                x[j] = self._best_value(col[good], w_good, col[bad], w_bad, rng)
        self.model_level = level
        config = self.space.from_unit(x)
        if config_key(config) in self._tried:  # a small space: mostly spent
            return untried_sample(self.space, rng, self._tried)
        return config

    @staticmethod
    def _age_weights(ids: np.ndarray) -> np.ndarray:
        """Each trial's weight in its set: 1 for the newest ``RECENT``, from ``1 / m`` (the
        oldest) rising to 1 for the others."""
        m = len(ids)
        w = np.ones(m)
        if m > RECENT:
            ramp = np.linspace(1.0 / m, 1.0, m - RECENT)
            w[np.argsort(ids, kind="stable")[:m - RECENT]] = ramp
        return w

    def _mixture(self, values: np.ndarray, weights: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(centres, widths, weights) of one ordered hyperparameter's density over ``values``
        in [0, 1], the prior last."""
        mus = np.append(values, 0.5)
        order = np.argsort(mus, kind="stable")
        ends = np.concatenate([[0.0], mus[order], [1.0]])
        gaps = np.maximum(ends[1:-1] - ends[:-2], ends[2:] - ends[1:-1])
        if len(ends) >= 4:  # the outermost values: their inner gap, not the one to the end
            gaps[0], gaps[-1] = ends[2] - ends[1], ends[-2] - ends[-3]
        sigmas = np.empty_like(gaps)
        sigmas[order] = gaps
        k = len(mus)
        sigmas = np.clip(sigmas, 1.0 / min(100.0, k + 1.0), 1.0)
        sigmas[-1] = 1.0  # the prior
        w = np.append(weights, self.prior_weight)
        return mus, sigmas, w / w.sum()

    @staticmethod
    def _log_pdf(x: np.ndarray, mus: np.ndarray, sigmas: np.ndarray,
                 w: np.ndarray) -> np.ndarray:
        """log of the mixture of Gaussians truncated to [0, 1] at each ``x``: (m,)."""
        from scipy.special import logsumexp, ndtr

        mass = ndtr((1.0 - mus) / sigmas) - ndtr(-mus / sigmas)
        z = (x[:, None] - mus[None, :]) / sigmas[None, :]
        logk = -0.5 * z * z - np.log(sigmas * math.sqrt(2 * math.pi) * mass)[None, :]
        return logsumexp(logk + np.log(w)[None, :], axis=1)

    def _best_value(self, good: np.ndarray, w_good: np.ndarray, bad: np.ndarray,
                    w_bad: np.ndarray, rng: np.random.Generator) -> float:
        """The candidate drawn from the good density with the highest good-to-bad ratio."""
        mus, sigmas, w = self._mixture(good, w_good)
        pick = rng.choice(len(mus), size=self.n_candidates, p=w)
        x = truncated_normal(mus[pick], sigmas[pick], rng)
        score = self._log_pdf(x, mus, sigmas, w) - self._log_pdf(x, *self._mixture(bad, w_bad))
        return float(x[int(np.argmax(np.nan_to_num(score, nan=-np.inf)))])

    def _pmf(self, values: np.ndarray, weights: np.ndarray, c: int) -> np.ndarray:
        """One choice's distribution over its ``c`` options given the options of ``values``."""
        k = len(values) + 1
        kernels = np.full((k, c), self.prior_weight / k)
        kernels[np.arange(k - 1), self._index(values, c)] += 1.0
        kernels /= kernels.sum(axis=1, keepdims=True)
        w = np.append(weights, self.prior_weight)
        return (w / w.sum()) @ kernels

    def _best_option(self, good: np.ndarray, w_good: np.ndarray, bad: np.ndarray,
                     w_bad: np.ndarray, c: int, rng: np.random.Generator) -> float:
        """The option drawn from the good distribution with the highest good-to-bad ratio, as
        its unit coordinate."""
        l, g = self._pmf(good, w_good, c), self._pmf(bad, w_bad, c)
        drawn = rng.choice(c, size=self.n_candidates, p=l)
        best = drawn[int(np.argmax(np.log(l[drawn]) - np.log(g[drawn])))]
        return (best + 0.5) / c

    def __repr__(self) -> str:
        return (f"TPESearcher(seed={self.seed}, mode={self.mode!r}, gamma={self.gamma!r}, "
                f"n_startup={self.n_startup!r}, ranking={self.ranking!r})")
