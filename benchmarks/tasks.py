"""The training tasks behind nbtune's learning-curve tables, and behind early_stopping.py.

Each task trains one config for real and returns its learning curve: the metric at every resource
level and the seconds each level took. ``make tables`` (benchmarks/make_tables.py) runs them over
configs drawn from each task's space and writes the tables nbtune's simulator looks up.

The tasks:

- ``sgd-mlp``, the early-stopping task: scikit-learn's ``MLPClassifier`` (solver sgd, one
  ``partial_fit`` per epoch, at most 27 epochs, ``random_state=0``) over learning rate
  (log 1e-4..1), alpha (log 1e-6..1e-1), hidden layers ((32,), (64,), (128,), (64, 64)), batch
  size (16, 32, 64, 128) and momentum (0.5..0.99), on ``make_classification(n_samples=20000,
  n_features=40, n_informative=24, n_redundant=8, n_classes=10, n_clusters_per_class=2,
  class_sep=1.0, flip_y=0.02, random_state=0)``, standardised, 25% stratified validation split
  (``random_state=0``); metric: validation accuracy after each epoch (mode max).
- ``sgd-mlp-noisy``: the sgd-mlp task's model, space and epochs on a harder, noisier set, made
  to check in the simulator that what wins on sgd-mlp is not fitted to its one data set:
  ``make_classification(n_samples=12000, n_features=20, n_informative=12, n_redundant=4,
  n_classes=6, n_clusters_per_class=3, class_sep=0.7, flip_y=0.08, random_state=3)``, the same
  split; validation accuracy (mode max).
- ``digits-mlp``: the same kind of MLP (one hidden layer) on scikit-learn's 8x8 digits
  (1,797 images), 25% stratified validation split; cheap, for tests.
- ``hgb``: ``HistGradientBoostingClassifier`` with the boosting iterations (1..81) as the resource,
  on a generated 2-class set (3,000 rows, 16 features); validation accuracy after each
  iteration (``staged_predict``).
- ``sgd-regression``: a linear model (``SGDRegressor``, one ``partial_fit`` per epoch, 27 at
  most) on a generated regression set (5,000 rows, 100 features); validation RMSE (mode min),
  NaN where the training diverged.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

import nbtune

EPOCHS = 27
HIDDEN = {"32": (32,), "64": (64,), "128": (128,), "64-64": (64, 64)}
SPACE = {"lr": nbtune.loguniform(1e-4, 1.0), "alpha": nbtune.loguniform(1e-6, 1e-1),
         "hidden": nbtune.choice(*HIDDEN), "batch_size": nbtune.choice(16, 32, 64, 128),
         "momentum": nbtune.uniform(0.5, 0.99)}


def _split(X, y, stratify=True):
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, random_state=0,
                                                      stratify=y if stratify else None)
    scaler = StandardScaler().fit(X_train)
    return {"X_train": scaler.transform(X_train), "y_train": y_train,
            "X_val": scaler.transform(X_val), "y_val": y_val}


def make_data() -> dict[str, np.ndarray]:
    """The sgd-mlp task's data: standardised, 25% stratified validation split."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=20000, n_features=40, n_informative=24, n_redundant=8,
                               n_classes=10, n_clusters_per_class=2, class_sep=1.0, flip_y=0.02,
                               random_state=0)
    return _split(X, y)


def small_data() -> dict[str, np.ndarray]:
    """The sgd-mlp task's generator at 4,000 rows (early_stopping.py's ``sgd-mlp-small``): an
    epoch costs about 40 ms of CPU instead of 0.2 s, where a trial's fixed costs weigh five times
    as much."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=4000, n_features=40, n_informative=24, n_redundant=8,
                               n_classes=10, n_clusters_per_class=2, class_sep=1.0, flip_y=0.02,
                               random_state=0)
    return _split(X, y)


def noisy_data() -> dict[str, np.ndarray]:
    """The sgd-mlp-noisy table's data: standardised, 25% stratified validation split."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=12000, n_features=20, n_informative=12, n_redundant=4,
                               n_classes=6, n_clusters_per_class=3, class_sep=0.7, flip_y=0.08,
                               random_state=3)
    return _split(X, y)


def heldout_data() -> dict[str, np.ndarray]:
    """A second data set for the sgd-mlp task's model and space, held out: no table is made from
    it and no default of nbtune was chosen on it (peers.py's ``sgd-mlp-heldout``): 8 classes,
    30 features, more label noise, classes closer together."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=20000, n_features=30, n_informative=18, n_redundant=6,
                               n_classes=8, n_clusters_per_class=3, class_sep=0.8, flip_y=0.05,
                               random_state=7)
    return _split(X, y)


def make_model(config: dict, hidden=HIDDEN, seed: int = 0):
    """The sgd-mlp task's untrained model for ``config``."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=hidden[config["hidden"]], solver="sgd",
                         learning_rate_init=config["lr"], alpha=config["alpha"],
                         batch_size=config["batch_size"], momentum=config["momentum"],
                         random_state=seed)


def _epochs(model, fit: Callable, score: Callable, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Metric and seconds of ``n`` epochs of ``fit`` (one pass each) then ``score``."""
    values, seconds = np.full(n, np.nan), np.zeros(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j in range(n):
            t = time.process_time()
            try:
                fit(model)
                v = float(score(model))
            except (ValueError, FloatingPointError, OverflowError):
                v = float("nan")
            seconds[j] = time.process_time() - t
            values[j] = v if np.isfinite(v) else np.nan
    return values, seconds


def mlp_curve(config: dict, data: dict, seed: int = 0, hidden=HIDDEN, epochs: int = EPOCHS):
    """An MLP's validation accuracy and seconds after each of its epochs."""
    classes = np.unique(data["y_train"])
    return _epochs(make_model(config, hidden, seed),
                   lambda m: m.partial_fit(data["X_train"], data["y_train"], classes=classes),
                   lambda m: m.score(data["X_val"], data["y_val"]), epochs)


DIGITS_HIDDEN = {"16": (16,), "32": (32,), "64": (64,), "128": (128,)}
DIGITS_SPACE = {**SPACE, "hidden": nbtune.choice(*DIGITS_HIDDEN)}


def digits_data() -> dict:
    """scikit-learn's digits, standardised, 25% stratified validation split."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return _split(X, y)


def digits_curve(config: dict, data: dict, seed: int = 0):
    """The digits MLP's validation accuracy and seconds after each epoch."""
    return mlp_curve(config, data, seed, hidden=DIGITS_HIDDEN)


HGB_ITERATIONS = 81
HGB_SPACE = {"learning_rate": nbtune.loguniform(0.01, 1.0),
             "max_leaf_nodes": nbtune.lograndint(4, 64),
             "min_samples_leaf": nbtune.lograndint(2, 100),
             "l2_regularization": nbtune.loguniform(1e-6, 10.0),
             "max_bins": nbtune.choice(16, 32, 64, 128, 255)}


def hgb_data() -> dict:
    """A generated 2-class set of 3,000 rows and 16 features, 25% stratified validation split."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=3000, n_features=16, n_informative=8, n_redundant=4,
                               n_classes=2, flip_y=0.03, class_sep=0.5, random_state=0)
    return _split(X, y)


def hgb_curve(config: dict, data: dict, seed: int = 0):
    """Validation accuracy after each boosting iteration; its seconds: the fit's time spread
    evenly over the iterations, plus the time to score each one."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=HGB_ITERATIONS, early_stopping=False,
                                           random_state=seed, **config)
    t = time.process_time()
    model.fit(data["X_train"], data["y_train"])
    fit = (time.process_time() - t) / HGB_ITERATIONS
    values, seconds = np.full(HGB_ITERATIONS, np.nan), np.zeros(HGB_ITERATIONS)
    t = time.process_time()
    for j, pred in enumerate(model.staged_predict(data["X_val"])):
        values[j] = float(np.mean(pred == data["y_val"]))
        now = time.process_time()
        seconds[j], t = fit + now - t, now
    return values, seconds


SGD_SPACE = {"alpha": nbtune.loguniform(1e-7, 1e-1), "eta0": nbtune.loguniform(1e-5, 1e-1),
             "learning_rate": nbtune.choice("constant", "invscaling", "adaptive"),
             "penalty": nbtune.choice("l2", "l1", "elasticnet"),
             "l1_ratio": nbtune.uniform(0.0, 1.0), "power_t": nbtune.uniform(0.1, 0.5)}


def sgd_data() -> dict:
    """A generated regression set: 5,000 rows, 100 features (30 informative), target scaled."""
    from sklearn.datasets import make_regression

    X, y = make_regression(n_samples=5000, n_features=100, n_informative=30, noise=20.0,
                           random_state=0)
    data = _split(X, y / np.std(y), stratify=False)
    return data


def sgd_curve(config: dict, data: dict, seed: int = 0):
    """Validation RMSE and seconds after each epoch of ``SGDRegressor.partial_fit``."""
    from sklearn.linear_model import SGDRegressor

    def rmse(m):
        return np.sqrt(np.mean((m.predict(data["X_val"]) - data["y_val"]) ** 2))

    return _epochs(SGDRegressor(random_state=seed, **config),
                   lambda m: m.partial_fit(data["X_train"], data["y_train"]), rmse, EPOCHS)


@dataclass
class Task:
    """One table's task: its space, metric, resource and the function that trains a config."""

    name: str
    description: str
    space: dict
    metric: str
    mode: str
    resource: str
    levels: list[int]
    n_configs: int
    data: Callable[[], dict]
    curve: Callable[..., tuple[np.ndarray, np.ndarray]]
    seed: int = 0


def _doc(name: str) -> str:
    """The task's paragraph of this module's docstring."""
    text = __doc__.split(f"- ``{name}``", 1)[1].split("\n- ``", 1)[0]
    return f"{name}{' '.join(text.split())}".rstrip()


TASKS = {t.name: t for t in [
    Task("digits-mlp", _doc("digits-mlp"), DIGITS_SPACE, "accuracy", "max", "epoch",
         list(range(1, EPOCHS + 1)), 1000, digits_data, digits_curve),
    Task("sgd-regression", _doc("sgd-regression"), SGD_SPACE, "rmse", "min", "epoch",
         list(range(1, EPOCHS + 1)), 1000, sgd_data, sgd_curve),
    Task("hgb", _doc("hgb"), HGB_SPACE, "accuracy", "max", "iterations",
         list(range(1, HGB_ITERATIONS + 1)), 1000, hgb_data, hgb_curve),
    Task("sgd-mlp", _doc("sgd-mlp"), SPACE, "accuracy", "max", "epoch",
         list(range(1, EPOCHS + 1)), 500, make_data, mlp_curve),
    Task("sgd-mlp-noisy", _doc("sgd-mlp-noisy"), SPACE, "accuracy", "max", "epoch",
         list(range(1, EPOCHS + 1)), 500, noisy_data, mlp_curve),
]}
