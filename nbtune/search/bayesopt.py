"""Bayesian optimisation: a Gaussian process over the unit-cube encoding picks each next config.

What the model holds: the final value of each completed trial, and each failed trial at the worst
value seen (so it steers away from where trials crash). Stopped and interrupted trials are left
out: a value reached before the full budget is not comparable with a final one. Trials still
pending (running or queued) enter each suggestion as fantasies at the worst value seen (a
constant liar), and an exact config already tried or pending is never suggested again, so two
free workers never get the same point. Fantasies live only inside one suggestion.

Cost stays bounded whatever the number of observations: the kernel's hyperparameters are fitted
(marginal likelihood, scikit-learn's L-BFGS-B) on at most 128 of them (the best half and a seeded
draw of the rest), after every observation up to 20 and then every ``refit_every``; the posterior
uses at most ``max_points``, drawn the same way. A suggestion scores random points of the unit cube
and perturbations of the best configs, and takes the best one not tried yet. Each fit depends only
on the observations and the seed, not on earlier fits, so a resumed study fits what an
uninterrupted one did. A suggestion runs on the driver's thread, fit included: fitting on another
thread would make the suggestions depend on timing.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..space import Space
from .acquisition import acquire, check_acquisition
from .base import Searcher, _check_int, untried_sample
from .base import config_key as _key
from .encoding import Encoding

COMPLETED, FAILED = "completed", "failed"
N_CANDIDATES = 1000  # random points of the unit cube scored per suggestion
N_LOCAL = 5, 60, 0.05  # best observations perturbed, perturbations of each, their scale
MAX_FIT_POINTS = 128  # observations the hyperparameters are fitted on, at most
FIT_EVERY_UNTIL = 20  # observations up to which the hyperparameters are fitted after each one


class BayesOptSearcher(Searcher):
    """Gaussian-process search: Matern 5/2 with a length scale per encoded dim and a noise
    level, fitted by marginal likelihood; ``n_initial`` random trials first, then the config
    that maximises the acquisition ``"ei"`` (expected improvement, margin ``xi``), ``"ucb"``
    (confidence bound, ``kappa`` deviations) or ``"poi"`` (probability of improvement, ``xi``)."""

    name = "bayesopt"

    def __init__(self, space: Space | dict, seed: int | None = None,
                 points_to_evaluate: list[dict] | None = None, mode: str = "min",
                 acquisition: str = "ei", kappa: float = 2.0, xi: float = 0.01,
                 n_initial: int = 5, max_points: int = 300, refit_every: int = 10) -> None:
        super().__init__(space, seed, points_to_evaluate, mode)
        if not self.space.unit_names:
            raise ValueError("bayesopt has nothing to model: every hyperparameter of the space "
                             "is fixed; give at least one a range or choices")
        self.acquisition, self.kappa, self.xi = check_acquisition(acquisition, kappa, xi)
        self.n_initial = _check_int("n_initial", n_initial, 1)
        self.max_points = _check_int("max_points", max_points, 10)
        self.refit_every = _check_int("refit_every", refit_every, 1)
        self.max_fit_points = min(self.max_points, MAX_FIT_POINTS)
        self.encoding = Encoding(self.space)
        self.reset()

    def reset(self) -> None:
        """Forget every observation, pending trial and fitted kernel."""
        self._ended: dict[int, tuple[dict, np.ndarray, float | None]] = {}  # in end order
        self._pending: dict[int, tuple[dict, float | None]] = {}  # trial -> (config, last level)
        self._tried: set[str] = set()
        self._fit: tuple[tuple, Any] | None = None  # (what it was fitted on, kernel)

    # -- events ---------------------------------------------------------------------------
    def on_trial_start(self, trial_id: int, config: dict) -> None:
        """The trial is pending: later suggestions keep away from it."""
        self._pending[trial_id] = (config, None)
        self._tried.add(_key(config))

    def on_report(self, trial_id: int, config: dict, level: float | None,
                  value: float | None) -> None:
        """Keeps the pending trial's last level (a final value is what this model uses)."""
        if trial_id in self._pending:
            self._pending[trial_id] = (config, level)

    def on_trial_end(self, trial_id: int, config: dict, state: str,
                     value: float | None) -> None:
        """A completed or failed trial becomes an observation; the trial is no longer pending."""
        self._pending.pop(trial_id, None)
        self._tried.add(_key(config))
        self._ended.pop(trial_id, None)  # a trial that ends again counts where it ended last
        finite = value is not None and math.isfinite(value)
        if state == FAILED or (state == COMPLETED and finite):
            self._ended[trial_id] = (config, self.encoding.encode(config),
                                     float(value) if finite else None)

    @property
    def options(self) -> dict[str, Any]:
        """acquisition, kappa, xi, n_initial, max_points, refit_every: stored with the study."""
        return {"acquisition": self.acquisition, "kappa": self.kappa, "xi": self.xi,
                "n_initial": self.n_initial, "max_points": self.max_points,
                "refit_every": self.refit_every}

    @property
    def observations(self) -> int:
        """Completed and failed trials the model holds."""
        return len(self._ended)

    @property
    def pending(self) -> list[tuple[int, dict, float | None]]:
        """(trial, config, last level reported) of the trials running or queued."""
        return [(t, c, lv) for t, (c, lv) in self._pending.items()]

    # -- suggesting -----------------------------------------------------------------------
    def _suggest(self, index: int) -> dict:
        rng = self.rng_for(index)
        data = self._data()
        if index < len(self.points_to_evaluate) + self.n_initial or data is None:
            return self._random(rng)
        X, y = data
        kernel = self._kernel(X, y)
        keep = _subsample(y, self.max_points, np.random.default_rng([self.seed, len(y), 1]))
        X, y, best = X[keep], y[keep], float(y.min())
        if self._pending:  # constant liar: each pending trial as if it came out worst
            fantasies = self.encoding.encode_all([c for c, _ in self._pending.values()])
            X = np.vstack([X, fantasies])
            y = np.concatenate([y, np.full(len(fantasies), y.max())])
        gp = _regressor(kernel, optimizer=None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gp.fit(X, y)
            units = self._candidates(rng)
            mean, std = gp.predict(self.encoding.encode_units(units), return_std=True)
        score = acquire(self.acquisition, mean, std, best, self.kappa, self.xi)
        for i in np.argsort(-score, kind="stable"):
            config = self.space.from_unit(units[i])
            if _key(config) not in self._tried:
                return config
        return self._random(rng)

    def _random(self, rng: np.random.Generator) -> dict:
        """A random config not tried yet (within a few draws: a finite space may be spent)."""
        return untried_sample(self.space, rng, self._tried)

    def _data(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """The first ``n`` observations (all: None) encoded, and their values standardised, to
        minimise, a failed trial's the worst among them; None with fewer than two values."""
        ended = list(self._ended.values())[:n]
        values = [v for _, _, v in ended if v is not None]
        if len(values) < 2:
            return None
        sign = 1.0 if self.mode == "min" else -1.0
        worst = max(sign * v for v in values)
        y = np.array([worst if v is None else sign * v for _, _, v in ended])
        y = (y - y.mean()) / (y.std() or 1.0)
        return np.vstack([x for _, x, _ in ended]), y

    def _kernel(self, X: np.ndarray, y: np.ndarray) -> Any:
        """The kernel fitted on the first n observations alone, n the last refit point reached:
        the same whenever the same observations came first."""
        n = len(y)
        if n > FIT_EVERY_UNTIL:
            n = max(FIT_EVERY_UNTIL, n - n % self.refit_every)
        on = (n, self.mode, tuple(self._ended)[:n])
        if self._fit is None or self._fit[0] != on:
            X, y = self._data(n) or (X, y)
            rng = np.random.default_rng([self.seed, n, 2])
            keep = _subsample(y, self.max_fit_points, rng)
            gp = _regressor(_prior_kernel(self.encoding.width), optimizer="fmin_l_bfgs_b",
                            restarts=0, seed=int(rng.integers(2**31)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a length scale at its bound is no news
                gp.fit(X[keep], y[keep])
            self._fit = (on, gp.kernel_)
        return self._fit[1]

    def _candidates(self, rng: np.random.Generator) -> np.ndarray:
        """Random points of the unit cube (`Space.to_unit` coordinates), and perturbations of
        the best observed configs."""
        d = len(self.space.unit_names)
        units = [rng.random((N_CANDIDATES, d))]
        top, each, scale = N_LOCAL
        sign = 1.0 if self.mode == "min" else -1.0
        done = [(sign * v, c) for c, _, v in self._ended.values() if v is not None]
        for _, config in sorted(done, key=lambda p: p[0])[:top]:
            centre = self.space.to_unit(config)
            units.append(np.clip(centre + rng.normal(0.0, scale, (each, d)), 0.0, 1.0))
        return np.vstack(units)

    def __repr__(self) -> str:
        return (f"BayesOptSearcher(seed={self.seed}, mode={self.mode!r}, "
                f"acquisition={self.acquisition!r}, kappa={self.kappa!r}, xi={self.xi!r}, "
                f"n_initial={self.n_initial!r})")


def _subsample(y: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of at most ``cap`` values, in order: the best half, a seeded draw of the rest."""
    if len(y) <= cap:
        return np.arange(len(y))
    order = np.argsort(y, kind="stable")
    best, rest = order[:cap // 2], order[cap // 2:]
    return np.sort(np.concatenate([best, rng.choice(rest, cap - len(best), replace=False)]))


def _prior_kernel(width: int) -> Any:
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    return (ConstantKernel(1.0, (1e-2, 1e2))
            * Matern(length_scale=np.full(width, 0.3), length_scale_bounds=(1e-2, 1e2), nu=2.5)
            + WhiteKernel(1e-2, (1e-6, 1.0)))


def _regressor(kernel: Any, optimizer: str | None, restarts: int = 0, seed: int = 0) -> Any:
    from sklearn.gaussian_process import GaussianProcessRegressor

    return GaussianProcessRegressor(kernel=kernel, optimizer=optimizer, normalize_y=False,
                                    n_restarts_optimizer=restarts, random_state=seed)
