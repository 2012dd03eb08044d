"""The tasks of peers.py, trained one resource level at a time: shared by nbtune's trials, the
Optuna worker processes and the Syne Tune training script (scikit-learn and numpy only, so that
the script each Syne Tune trial starts imports neither nbtune nor Dask).

The tasks are those of tasks.py, with the same data, validation split and models:

- ``sgd-mlp``: tasks.py's ``MLPClassifier`` (solver sgd), one ``partial_fit`` per epoch, 27
  epochs; validation accuracy after each; target 0.80.
- ``sgd-mlp-heldout``: the same model, space and levels on tasks.py's ``heldout_data`` (8
  classes, 30 features, more label noise), a data set no table and no default of nbtune came
  from; target 0.60 (3 of 24 random configs trained fully reached it in a probe).
- ``hgb``: tasks.py's ``HistGradientBoostingClassifier``, one boosting iteration per level (a
  warm-started fit to ``max_iter=k``), 81 iterations; validation accuracy after each; target 0.87
  (about 6% of tasks.py's 500 tabled hgb configs reach it at some iteration).
"""
from __future__ import annotations

import warnings
from typing import Any, Iterator

import numpy as np

MAX_T = {"sgd-mlp": 27, "sgd-mlp-heldout": 27, "hgb": 81}
TARGET = {"sgd-mlp": 0.80, "sgd-mlp-heldout": 0.60, "hgb": 0.87}
MODEL = {"sgd-mlp": "mlp", "sgd-mlp-heldout": "mlp", "hgb": "hgb"}  # the model each task trains
HIDDEN = {"32": (32,), "64": (64,), "128": (128,), "64-64": (64, 64)}  # as tasks.HIDDEN


def warm() -> None:
    """Import the models' modules (about 2 s on a busy core): a long-lived worker does it before
    the study's clock starts."""
    import sklearn.ensemble  # noqa: F401
    import sklearn.neural_network  # noqa: F401


def make_data(task: str) -> dict[str, np.ndarray]:
    """The task's data as tasks.py makes it (standardised, 25% stratified validation split)."""
    import tasks

    return {"sgd-mlp": tasks.make_data, "sgd-mlp-heldout": tasks.heldout_data,
            "hgb": tasks.hgb_data}[task]()


def save_data(task: str, path: str) -> None:
    """The task's data into an .npz file that a training script loads instead of remaking it."""
    np.savez(path, **make_data(task))


def load_data(path: str) -> dict[str, np.ndarray]:
    """The arrays written by :func:`save_data`."""
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def new_model(task: str, config: dict[str, Any]) -> Any:
    """The task's untrained model for ``config`` (``random_state=0``, as in tasks.py)."""
    if MODEL[task] == "mlp":
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(hidden_layer_sizes=HIDDEN[config["hidden"]], solver="sgd",
                             learning_rate_init=config["lr"], alpha=config["alpha"],
                             batch_size=int(config["batch_size"]), momentum=config["momentum"],
                             random_state=0)
    from sklearn.ensemble import HistGradientBoostingClassifier

    params = {k: config[k] for k in ("learning_rate", "l2_regularization")}
    params.update({k: int(config[k]) for k in ("max_leaf_nodes", "min_samples_leaf", "max_bins")})
    return HistGradientBoostingClassifier(max_iter=1, early_stopping=False, warm_start=True,
                                          random_state=0, **params)


def levels(task: str, config: dict[str, Any], data: dict[str, np.ndarray],
           model: Any = None, first: int = 1) -> Iterator[tuple[int, float, Any]]:
    """(level, validation accuracy, model) after each level from ``first`` to the task's last;
    ``model``: the one trained to ``first - 1`` (a checkpoint), else a new one. A diverging
    fit's accuracy is NaN, and its curve ends there (for every method alike)."""
    if model is None:
        model, first = new_model(task, config), 1
    classes = np.unique(data["y_train"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for level in range(first, MAX_T[task] + 1):
            try:
                if MODEL[task] == "mlp":
                    model.partial_fit(data["X_train"], data["y_train"], classes=classes)
                else:
                    model.set_params(max_iter=level)
                    model.fit(data["X_train"], data["y_train"])
                value = float(model.score(data["X_val"], data["y_val"]))
            except (ValueError, FloatingPointError, OverflowError):
                value = float("nan")
            finite = np.isfinite(value)
            yield level, value if finite else float("nan"), model
            if not finite:
                return
