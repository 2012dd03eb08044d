"""How an estimator trains a level further: one plain fit, ``partial_fit`` epochs (its own, or a
Pipeline's last step's), with ``class_weight="balanced"`` weighed as ``fit`` would weigh it.
Used by a ``SearchCV`` trial's folds (:mod:`nbtune.sklearn.fitting`) and by its refit."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np


def fit_on(est: Any, X: Any, y: Any, params: dict[str, Any], method: str = "fit",
           **extra: Any) -> Any:
    """``est.fit(X, y, **params)`` (or ``method``), without ``y`` where there is none."""
    fit = getattr(est, method)
    return fit(X, **extra, **params) if y is None else fit(X, y, **extra, **params)


# scikit-learn's estimators, tuned as a last step, whose partial_fit adds the rows it is given to
# what it holds where an epoch would refine it: a second pass over the same fold counts every
# row again. 27 "epochs" of MultinomialNB held 27 times the counts (its alpha in effect divided
# by 27), and the CV scores and best_estimator_ were those of no fit, in silence (first-day
# test). One pass is the whole model: they are not trained by epochs, and under a scheduler
# their resource is rows (n_samples). Each maps to (whose partial_fit it is, what it adds).
# Scalers and HashingVectorizer accumulate too, but as a Pipeline's other steps they are fitted
# once; MiniBatchKMeans, MiniBatchNMF, MiniBatchDictionaryLearning, LatentDirichletAllocation,
# BernoulliRBM, SGD and MLP estimators take another step at each pass: epochs.
ACCUMULATING = {
    **{nb: ("naive Bayes", "counts") for nb in ("BernoulliNB", "CategoricalNB", "ComplementNB",
                                                 "GaussianNB", "MultinomialNB")},
    "IncrementalPCA": ("IncrementalPCA", "rows"),
    "Birch": ("Birch", "rows"),
}


def accumulating(estimator: Any) -> tuple[str, str, str] | None:
    """(the estimator's class, whose partial_fit it is, what it adds again) where the last step
    of ``estimator`` is in :data:`ACCUMULATING` (a subclass too, or one wrapped by a
    meta-estimator whose partial_fit is its, such as ``OneVsRestClassifier(MultinomialNB())``);
    None where its partial_fit, if any, refines."""
    step = final_step(estimator)
    while step is not None:
        for cls in type(step).__mro__:
            if cls.__name__ in ACCUMULATING and cls.__module__.startswith("sklearn."):
                return (type(step).__name__, *ACCUMULATING[cls.__name__])
        inner = getattr(step, "estimator", None)
        step = inner if hasattr(step, "partial_fit") and hasattr(inner, "partial_fit") \
            and hasattr(inner, "get_params") else None
    return None


def partial_fits(estimator: Any) -> bool:
    """Whether ``estimator`` trains by ``partial_fit``: its own, or a Pipeline's last step's
    (scaling and encoding, then ``SGDClassifier``: the Pipeline itself has none); not where that
    partial_fit adds the rows again at each pass (:func:`accumulating`)."""
    return hasattr(final_step(estimator), "partial_fit") and accumulating(estimator) is None


def partial_fitted(est: Any, X: Any, y: Any, params: dict[str, Any], done: int, level: int,
                   classes: Any) -> None:
    """Train ``est`` (see :func:`partial_fits`) from epoch ``done`` to ``level``, a
    ``partial_fit`` an epoch, the classes at the first. A Pipeline's other steps are fitted at
    the first epoch and transform the rows after; its last step's fit parameters
    (``clf__sample_weight``) go to its ``partial_fit``, the others to those steps."""
    from sklearn.pipeline import Pipeline

    if isinstance(est, Pipeline) and len(est.steps) == 1:  # its one step: as if bare
        est, params = est.steps[0][1], {k.split("__", 1)[1]: v for k, v in params.items()}
    elif isinstance(est, Pipeline):
        name, last = est.steps[-1]
        own = {k[len(name) + 2:]: v for k, v in params.items() if k.startswith(name + "__")}
        rest = {k: v for k, v in params.items() if not k.startswith(name + "__")}
        head = est[:-1]
        if done == 0:
            X = head.fit_transform(X, y, **rest)
            est.steps[:-1] = head.steps  # the fitted steps, whether or not the slice cloned
        else:
            X = head.transform(X)
        est, params = last, own
    with _balanced_as_weights(est, y):
        for epoch in range(done, level):
            extra = {"classes": classes} if epoch == 0 and classes is not None else {}
            fit_on(est, X, y, params, "partial_fit", **extra)


@contextlib.contextmanager
def _balanced_as_weights(est: Any, y: Any) -> Iterator[None]:
    """While ``est`` trains by ``partial_fit``, its ``class_weight="balanced"`` as the weights
    that ``fit`` would compute from these rows' ``y``. scikit-learn's SGD estimators refuse
    "balanced" in ``partial_fit`` (it needs all of y before the first epoch, which here is the
    fold's): every candidate with it failed once the search ran, where RandomizedSearchCV, which
    calls ``fit``, took it (first-day test, round 32). Set back after, so the estimator's
    parameters (``best_estimator_``'s) stay as given."""
    if y is None or not isinstance(getattr(est, "class_weight", None), str) \
            or est.class_weight != "balanced":
        yield
        return
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(y)
    weights = compute_class_weight("balanced", classes=present, y=y)
    est.set_params(class_weight={c.item() if isinstance(c, np.generic) else c: float(w)
                                 for c, w in zip(present, weights)})
    try:
        yield
    finally:
        est.set_params(class_weight="balanced")


def final_step(est: Any) -> Any:
    """A Pipeline's last step (whose fit takes the model it continues), or ``est`` itself."""
    from sklearn.pipeline import Pipeline

    return est.steps[-1][1] if isinstance(est, Pipeline) else est
