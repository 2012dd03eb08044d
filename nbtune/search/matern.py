"""``bayesopt``'s default kernel computed directly: its covariances and its marginal likelihood.

The default kernel (``kernels.prior_kernel`` with ``"matern"``) is ``c * Matern52(a length scale
per column) + noise``. scikit-learn evaluates it through its composite-kernel objects: a full
matrix for the constant, one of zeros for the noise off the diagonal, a sum and a product; and
``GaussianProcessRegressor.log_marginal_likelihood`` computes the gradient from an (n, n, d)
tensor of per-column derivatives, stacked again by each sum and product: about 8 ms an
evaluation at 128 rows and 11 columns, and a kernel fit evaluates it some 60 times. The gradient
with respect to a log length scale is a weighted sum over pairs of rows of their squared
distance in that column, so with ``M`` the pairs' weights it is ``sum_i x_ik**2 (M 1)_i -
(X' M X)_kk``: two matrix products and no (n, n, d) tensor, a seventh of the time for the same
values to rounding.

- :func:`covariance`: a kernel of that form as a :class:`Matern52` (the same ``k(A, B)`` and
  ``k.diag(A)``, computed in place), any other kernel as it is;
- :func:`objective`: ``theta -> (log marginal likelihood, gradient)`` for a kernel of that form,
  None for any other (the joint kernels of ``kernels.py``: the caller uses scikit-learn's).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

JITTER = 1e-10  # added to the diagonal, as the regressor's ``alpha``
ROOT5 = math.sqrt(5.0)


class Matern52:
    """``c * Matern52(length scales) + noise`` with fixed hyperparameters: ``k(A, B)`` (the
    noise only on the diagonal of ``k(A)``) and ``k.diag(A)``, as scikit-learn's kernel gives
    them."""

    def __init__(self, c: float, scales: np.ndarray, noise: float) -> None:
        self.c, self.scales, self.noise = c, scales, noise

    def __call__(self, A: np.ndarray, B: np.ndarray | None = None) -> np.ndarray:
        from scipy.spatial.distance import cdist, pdist, squareform

        a = A / self.scales
        r = squareform(pdist(a)) if B is None else cdist(a, B / self.scales)
        r *= ROOT5
        K = _matern52(r, self.c)
        if B is None:
            K[np.diag_indices_from(K)] += self.noise
        return K

    def diag(self, A: np.ndarray) -> np.ndarray:
        return np.full(len(A), self.c + self.noise)


def _matern52(s: np.ndarray, c: float) -> np.ndarray:
    """``c * (1 + s + s**2 / 3) * exp(-s)`` for ``s = sqrt(5) * distance``; ``s`` is
    overwritten with ``exp(-s)`` (the likelihood's gradient reads it)."""
    K = s * s
    K /= 3.0
    K += s
    K += 1.0
    np.negative(s, out=s)
    np.exp(s, out=s)
    K *= s
    K *= c
    return K


def covariance(kernel: Any) -> Any:
    """``kernel`` as a :class:`Matern52` when it is the default kernel, else ``kernel``."""
    if not _is_default(kernel):
        return kernel
    constant, matern, white = kernel.k1.k1, kernel.k1.k2, kernel.k2
    return Matern52(constant.constant_value, np.asarray(matern.length_scale, dtype=float),
                    white.noise_level)


def objective(kernel: Any, X: np.ndarray,
              y: np.ndarray) -> Callable[[np.ndarray], tuple[float, np.ndarray]] | None:
    """``theta -> (log marginal likelihood, its gradient)`` of a GP with ``kernel`` (at the log
    hyperparameters ``theta``, in ``kernel.theta``'s order) on (X, y), as scikit-learn computes
    them, when ``kernel`` is the default kernel with a length scale per column of ``X``; None
    otherwise."""
    if not _is_default(kernel) or len(kernel.k1.k2.length_scale) != X.shape[1]:
        return None
    return lambda theta: value_and_gradient(theta, X, y)


def _is_default(kernel: Any) -> bool:
    """``ConstantKernel * Matern(nu=2.5, a length scale per column) + WhiteKernel``, none of
    its hyperparameters fixed."""
    from sklearn.gaussian_process.kernels import (ConstantKernel, Matern, Product, Sum,
                                                  WhiteKernel)

    if not (isinstance(kernel, Sum) and isinstance(kernel.k1, Product)
            and isinstance(kernel.k2, WhiteKernel)):
        return False
    constant, matern = kernel.k1.k1, kernel.k1.k2
    return (isinstance(constant, ConstantKernel) and isinstance(matern, Matern)
            and matern.nu == 2.5 and np.ndim(matern.length_scale) == 1
            and not any(h.fixed for h in kernel.hyperparameters))


def value_and_gradient(theta: np.ndarray, X: np.ndarray,
                       y: np.ndarray) -> tuple[float, np.ndarray]:
    """Log marginal likelihood of ``c * Matern52 + noise`` at ``theta = log([c, length scales,
    noise])`` on (X, y), and its gradient with respect to ``theta``; ``(-inf, zeros)`` where the
    kernel matrix is not positive definite (as scikit-learn returns)."""
    from scipy.linalg import LinAlgError, cho_solve, cholesky
    from scipy.spatial.distance import pdist, squareform

    n, d = X.shape
    c, scales, noise = math.exp(theta[0]), np.exp(theta[1:1 + d]), math.exp(theta[-1])
    Xs = X / scales
    r = ROOT5 * squareform(pdist(Xs))
    decay = r.copy()
    signal = _matern52(decay, c)  # c * Matern52, also d K / d log c; decay is now exp(-r)
    K = signal.copy()
    K[np.diag_indices_from(K)] += noise + JITTER
    try:
        L = cholesky(K, lower=True, check_finite=False)
    except LinAlgError:
        return -np.inf, np.zeros_like(theta)
    alpha = cho_solve((L, True), y, check_finite=False)
    lml = (-0.5 * float(y @ alpha) - float(np.log(np.diag(L)).sum())
           - 0.5 * n * math.log(2.0 * math.pi))
    # d lml / d theta_j = trace(W dK/dtheta_j) / 2, with W = alpha alpha' - K^-1 (symmetric)
    W = np.outer(alpha, alpha) - cho_solve((L, True), np.eye(n), check_finite=False)
    grad = np.empty(len(theta))
    grad[0] = 0.5 * float(np.sum(W * signal))
    grad[-1] = 0.5 * noise * float(np.trace(W))
    # d K_ij / d log scale_k = c 5/3 (1 + r_ij) exp(-r_ij) (Xs_ik - Xs_jk)**2
    M = W * ((c * 5.0 / 3.0) * (1.0 + r) * decay)
    grad[1:1 + d] = (Xs * Xs).T @ M.sum(axis=1) - np.einsum("ik,ik->k", Xs, M @ Xs)
    return lml, grad
