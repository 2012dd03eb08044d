"""The Gaussian-process kernels of ``bayesopt``: over configs, and over (config, resource level).

The encoded rows are the config's unit-cube encoding and, when the rows span two levels or more,
a last column: the level as ``log(level / first level) / log(81)`` (``reports.Reports.resource``).
Three joint kernels:

- ``"matern"``: one Matern 5/2 over every column, the level with its own length scale. Values
  at two levels of one config are as alike as two nearby configs; nothing says curves flatten.
- ``"exp-decay-sum"``: the additive freeze-thaw model of MOBSTER's default kernel (Tiao et al.
  2020, delta = 0; Swersky et al. 2014): ``f(x, r) = g(x) + h(r)``, a Matern over configs plus
  one curve shared by all of them, with covariance ``(beta / (r + r' + beta)) ** alpha``, which
  vanishes as ``r`` grows: the curves decay towards their config's asymptote ``g(x)``. A
  config's rank is the same at every level; what low levels say about the top one is weighed by
  how far the curve still has to go. MOBSTER centres this covariance and fits the curve's mean
  as a function; here the uncentred form carries it (an unknown amplitude, integrated out).
- ``"exp-decay"``: the same, plus a product term ``Matern'(x) * decay(r)``: configs whose curves
  differ in shape, so an early rank can be overturned.

The decay kernel's hyperparameters (alpha, beta) are fitted with the rest by marginal likelihood
(scikit-learn's optimiser, with this module's analytic gradients). The module imports
scikit-learn: ``bayesopt`` imports it when it first builds a kernel, not with nbtune.
"""
from __future__ import annotations

import math

import numpy as np
from sklearn.gaussian_process.kernels import (ConstantKernel, Hyperparameter, Kernel, Matern,
                                              WhiteKernel)

from .reports import LEVEL_SPAN

_UNUSED = 1e5  # a length scale so long that the column it belongs to makes no difference


class ExponentialDecay(Kernel):
    """``k(r, r') = (beta / (r + r' + beta)) ** alpha`` on the level ``r`` (in first levels: 1, 3,
    9, ... under ASHA's default rungs) read from the last column; the other columns are ignored.

    The covariance of the freeze-thaw model's exponentially decaying curves: a mixture of
    ``exp(-lambda r)`` with ``lambda`` drawn from a Gamma(alpha, beta) distribution.
    """

    def __init__(self, alpha: float = 1.0, beta: float = 1.0,
                 alpha_bounds: tuple[float, float] = (1e-2, 1e2),
                 beta_bounds: tuple[float, float] = (1e-2, 1e3)) -> None:
        self.alpha, self.beta = alpha, beta
        self.alpha_bounds, self.beta_bounds = alpha_bounds, beta_bounds

    @property
    def hyperparameter_alpha(self) -> Hyperparameter:
        return Hyperparameter("alpha", "numeric", self.alpha_bounds)

    @property
    def hyperparameter_beta(self) -> Hyperparameter:
        return Hyperparameter("beta", "numeric", self.beta_bounds)

    @staticmethod
    def _level(X: np.ndarray) -> np.ndarray:
        return np.exp(np.asarray(X, dtype=float)[:, -1] * math.log(LEVEL_SPAN))

    def __call__(self, X, Y=None, eval_gradient=False):
        if Y is not None and eval_gradient:
            raise ValueError("gradient can only be evaluated when Y is None")
        r1 = self._level(X)
        r2 = r1 if Y is None else self._level(Y)
        s = r1[:, None] + r2[None, :]
        log_ratio = math.log(self.beta) - np.log(s + self.beta)
        K = np.exp(self.alpha * log_ratio)
        if not eval_gradient:
            return K
        # with respect to log(alpha) and log(beta), the order of the hyperparameters' names
        d_alpha = self.alpha * log_ratio * K
        d_beta = self.alpha * s / (s + self.beta) * K
        return K, np.dstack([d_alpha, d_beta])

    def diag(self, X) -> np.ndarray:
        r = self._level(X)
        return (self.beta / (2.0 * r + self.beta)) ** self.alpha

    def is_stationary(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha={self.alpha:.3g}, beta={self.beta:.3g})"


def _matern(width: int, level: bool) -> Matern:
    """A Matern 5/2 with a length scale per column; with ``level`` False the last column (the
    level) gets one too long to matter, fixed."""
    scales = np.full(width, 0.3)
    bounds = np.tile([1e-2, 1e2], (width, 1))
    if not level:
        scales[-1] = _UNUSED
        bounds[-1] = _UNUSED
    return Matern(length_scale=scales, length_scale_bounds=bounds, nu=2.5)


def prior_kernel(width: int, joint: str = "matern", levels: bool = False) -> Kernel:
    """The kernel before any fit, over ``width`` columns; ``levels``: the last column is the
    resource level, modelled as ``joint`` says (one of ``bayesopt.JOINT_KERNELS``)."""
    noise = WhiteKernel(1e-2, (1e-6, 1.0))
    if not levels or joint == "matern":
        return ConstantKernel(1.0, (1e-2, 1e2)) * _matern(width, level=True) + noise
    kernel = (ConstantKernel(1.0, (1e-2, 1e2)) * _matern(width, level=False)
              + ConstantKernel(0.5, (1e-3, 1e2)) * ExponentialDecay())
    if joint == "exp-decay":
        kernel = kernel + (ConstantKernel(0.1, (1e-3, 1e2)) * _matern(width, level=False)
                           * ExponentialDecay())
    return kernel + noise
