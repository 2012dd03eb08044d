"""The Gaussian process under ``bayesopt``: when its kernel is fitted, on what, and where.

- :func:`refit_point`: the events after which the kernel's hyperparameters are fitted again
  (every event up to ``FIT_EVERY_UNTIL``, then ``every`` apart or a fifth of the data apart);
- :func:`subsample`: at most ``cap`` rows, the best half and a seeded draw of the rest;
- :func:`maximise_likelihood`: the hyperparameters of largest marginal likelihood from a start,
  by scipy's L-BFGS-B (as scikit-learn's regressor fits them, without its warnings);
- :func:`fitter`: the one thread every fit of this process runs on, in order;
- :func:`import_ahead` and :func:`imports_done`: the libraries the model needs, imported on that
  thread while a study's first trials (random) run;
- :class:`KernelFits`: one searcher's fits, started at the refit points, and the one its
  suggestions use;
- :func:`regressor`: scikit-learn's ``GaussianProcessRegressor`` with a fixed kernel (what the
  likelihood is maximised on);
- :class:`Posterior`: the GP conditioned on the rows with a fitted kernel, for suggestions and
  predictions (the regressor's fit and predict, without the likelihood its fit computes).
"""
from __future__ import annotations

import contextlib
import importlib
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterator

import numpy as np

from .matern import JITTER, covariance, objective

FIT_EVERY_UNTIL = 20  # observations up to which the hyperparameters are fitted after each one

_FITTER: list[ThreadPoolExecutor] = []
_FITTER_LOCK = threading.Lock()


def fitter() -> ThreadPoolExecutor:
    """The thread every bayesopt searcher of this process fits its kernels on, one fit after
    another (a fit's warm start waits for the fit before it; one thread keeps that order)."""
    with _FITTER_LOCK:
        if not _FITTER:
            _FITTER.append(ThreadPoolExecutor(1, thread_name_prefix="nbtune-bayesopt-fit"))
        return _FITTER[0]


# what the model's first suggestion and fit import: 1.3 s in a fresh kernel, which the first
# bayesopt study of a kernel waited for (1.1-1.9 s of a 4 s study; round 22), where its first
# trials, drawn at random, could have hidden it
MODEL_MODULES = ("scipy.linalg", "scipy.linalg.blas", "scipy.optimize", "scipy.special",
                 "scipy.stats", "scipy.spatial.distance", "sklearn.gaussian_process.kernels")
_IMPORTS: list[Future] = []


def import_ahead() -> None:
    """Import :data:`MODEL_MODULES` on the fitter's thread, once a process (a searcher calls it
    when it is made; its own imports then wait for these: :func:`imports_done`)."""
    pool = fitter()
    with _FITTER_LOCK:
        if not _IMPORTS:
            _IMPORTS.append(pool.submit(lambda: [importlib.import_module(m)
                                                 for m in MODEL_MODULES] and None))


def importing() -> bool:
    """Whether :func:`import_ahead`'s imports are under way on the fitter's thread."""
    return bool(_IMPORTS) and not _IMPORTS[0].done()


def imports_done() -> None:
    """Wait for :func:`import_ahead`'s imports (at once where they are done, or never started),
    so that no module is imported by two threads at a time."""
    if _IMPORTS:
        _IMPORTS[0].result()


def refit_point(n: int, every: int) -> int:
    """The last refit point at or below ``n`` past FIT_EVERY_UNTIL: points ``every`` apart, or a
    fifth of the data apart once that is more, so a long study refits a few dozen times."""
    point = FIT_EVERY_UNTIL
    while True:
        step = max(every, point // 5)
        if point + step > n:
            return point
        point += step


def subsample(y: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of at most ``cap`` values, in order: the best half, a seeded draw of the rest."""
    if len(y) <= cap:
        return np.arange(len(y))
    order = np.argsort(y, kind="stable")
    best, rest = order[:cap // 2], order[cap // 2:]
    return np.sort(np.concatenate([best, rng.choice(rest, cap - len(best), replace=False)]))


def maximise_likelihood(start: Any, X: np.ndarray, y: np.ndarray) -> tuple[float, Any]:
    """(log marginal likelihood, kernel) of the hyperparameters that maximise it from
    ``start``, by scipy's L-BFGS-B within the kernel's bounds, as ``GaussianProcessRegressor``
    fits them, but without its warnings: ``warnings.catch_warnings`` is not thread-safe, and a
    length scale at its bound is no news here. The default kernel's likelihood is computed by
    ``matern.py`` (the same values, a seventh of the time); the others' by scikit-learn.
    Raises numpy's ``LinAlgError`` when the start's kernel matrix is not positive definite."""
    from scipy.optimize import minimize

    with np.errstate(all="ignore"):  # thread-local, unlike the warning filters
        likelihood = objective(start, X, y)
        if likelihood is None:
            gp = regressor(start)
            gp.fit(X, y)

            def likelihood(theta: np.ndarray) -> tuple[float, np.ndarray]:
                return gp.log_marginal_likelihood(theta, eval_gradient=True, clone_kernel=False)

        def negative(theta: np.ndarray) -> tuple[float, np.ndarray]:
            lml, grad = likelihood(theta)
            return -lml, -grad

        result = minimize(negative, start.theta, method="L-BFGS-B", jac=True,
                          bounds=start.bounds)
    if not np.isfinite(result.fun):  # no Cholesky factor at the start: a zero gradient there
        raise np.linalg.LinAlgError("the start's kernel matrix is not positive definite")
    return -float(result.fun), start.clone_with_theta(result.x)


class KernelFits:
    """The kernel fits of one searcher. Each event that changes its rows is counted
    (:meth:`changed`); at each refit point the hyperparameters are fitted on the rows held then,
    on the :func:`fitter` thread, and the event returns at once (a rung verdict waits for no
    fit). :meth:`kernel` gives the fit a suggestion uses: the latest while refit points come at
    every event (fits on few rows: quick, and a model of few rows changes most with each one),
    then the one before the latest, which has had the events between two refit points to end
    (waited for in the rare case it has not). Which fit that is depends on the events alone, not
    on when the fits end, so the suggestions depend on the events and the seed alone.

    A fit is ((refit point, width), kernel); ``prior(width)`` gives the kernel before any fit
    for rows of that width (the encoding, and the level as a last column where there is one)."""

    def __init__(self, seed: int | None, refit_every: int, max_fit_points: int,
                 prior: Callable[[int], Any]) -> None:
        self.seed, self.refit_every, self.max_fit_points = seed, refit_every, max_fit_points
        self.prior = prior
        self.events = 0  # events that changed the rows
        self._fits: list[tuple[int, Future]] = []  # the last two: (refit point, its future)
        self._deferred: deque | None = None  # in deferred(): the last two (point, rows) met
        self.fitted: list[int] = []  # the refit points fitted, in order (a few dozen a study)
        self.current: tuple[tuple, Any] | None = None  # the fit the last suggestion used

    def changed(self, rows: Callable[[], tuple | None]) -> None:
        """Count an event; at a refit point fit on ``rows()`` (X, y; None: too few to fit)."""
        self.events += 1
        n = self.events
        if n <= FIT_EVERY_UNTIL or n == refit_point(n, self.refit_every):
            data = rows()
            if data is not None and self._deferred is not None:
                self._deferred.append((n, data))
            elif data is not None:
                self._submit(n, data)

    def _submit(self, n: int, data: tuple) -> None:
        """Fit at refit point ``n`` on ``data``, after (and from) the fit before."""
        last = self._fits[-1][1] if self._fits else None
        future = fitter().submit(self._refit, n, *data, last)
        self._fits = self._fits[-1:] + [(n, future)]
        self.fitted.append(n)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Events counted as ever, the fits of their refit points left out but for the last two,
        started at the end: a block of events that comes all at once (a warm start's), after
        which only those two are read (:meth:`kernel`)."""
        self._deferred = deque(maxlen=2)
        try:
            yield
        finally:
            last_two, self._deferred = self._deferred, None
            for n, data in last_two:
                self._submit(n, data)

    def wait(self) -> None:
        """Block until the fits started so far have ended (they end in order)."""
        if self._fits:
            self._fits[-1][1].result()

    def kernel(self, width: int) -> Any:
        """The kernel the suggestions use now, or the prior while none fits this width."""
        if not self._fits:
            return self.prior(width)
        point, future = self._fits[-1]
        if point > FIT_EVERY_UNTIL and len(self._fits) > 1:
            future = self._fits[0][1]
        self.current = future.result()
        return self.current[1] if self.current[0][1] == width else self.prior(width)

    def _refit(self, n: int, X: np.ndarray, y: np.ndarray, last: Future | None) -> tuple:
        """The fit of refit point ``n`` (run on the fitting thread): the hyperparameters fitted
        on at most ``max_fit_points`` of (X, y) by marginal likelihood, from the prior; past the
        first 20 events also from the fit before (``last``, of the same width: a warm start, a
        few optimiser steps), keeping the likelier of the two. A warm start alone stays in
        whatever optimum the first, thin data chose (all noise, say). A start whose fit fails
        numerically (a matrix not positive definite, an overflow) is dropped; when every start
        fails the fit keeps the last kernel (or the prior): the study goes on, and what the
        suggestions use still depends on the events alone."""
        width = X.shape[1]
        keep = subsample(y, self.max_fit_points, np.random.default_rng([self.seed, n, 2]))
        starts = [self.prior(width)]
        before = last.result() if last is not None else None  # ended: fits run in order
        same = before is not None and before[0][1] == width
        if n > FIT_EVERY_UNTIL and same:
            starts.append(before[1])
        fits = []
        for start in starts:
            try:
                fits.append(maximise_likelihood(start, X[keep], y[keep]))
            except (ValueError, ArithmeticError, np.linalg.LinAlgError):  # (a ValueError
                # since numpy 1.25; an Exception of its own in 1.24, which pyproject allows)
                pass  # numerically hopeless from this start: the others, or the last kernel
        if fits:
            return (n, width), max(fits, key=lambda fit: fit[0])[1]
        return (n, width), before[1] if same else starts[0]


def regressor(kernel: Any) -> Any:
    """A ``GaussianProcessRegressor`` that keeps ``kernel`` as it is (no optimiser)."""
    from sklearn.gaussian_process import GaussianProcessRegressor

    return GaussianProcessRegressor(kernel=kernel, optimizer=None, normalize_y=False)


class Posterior:
    """The GP with ``kernel`` conditioned on (X, y): the computation of
    ``regressor(kernel).fit(X, y)`` and its ``predict``, without the log marginal likelihood
    that the regressor's fit also computes (a second kernel matrix and Cholesky factor, a tenth
    of a suggestion, that nothing here reads) and its input checks; the default kernel is
    computed directly (``matern.covariance``), and the triangular solve by BLAS in place.
    Raises numpy's ``LinAlgError`` when the kernel matrix is not positive definite."""

    def __init__(self, kernel: Any, X: np.ndarray, y: np.ndarray) -> None:
        from scipy.linalg import cho_solve, cholesky

        self.kernel, self.X = covariance(kernel), X
        K = self.kernel(X)
        K[np.diag_indices_from(K)] += JITTER
        self.L = np.asfortranarray(cholesky(K, lower=True, check_finite=False))
        self.weights = cho_solve((self.L, True), y, check_finite=False)

    def mean(self, C: np.ndarray) -> np.ndarray:
        """The posterior mean at the rows of ``C``."""
        return self.kernel(C, self.X) @ self.weights

    def mean_std(self, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The posterior mean and standard deviation at the rows of ``C``."""
        from scipy.linalg.blas import dtrsm

        K = self.kernel(C, self.X)
        mean = K @ self.weights
        # V = L^-1 K', solved over K's own memory (K' is Fortran-ordered: no copy)
        V = dtrsm(1.0, self.L, K.T, lower=1, overwrite_b=1)
        var = self.kernel.diag(C) - np.einsum("ij,ij->j", V, V)
        return mean, np.sqrt(np.maximum(var, 0.0))
