"""``make demo``: tune a real scikit-learn model on a bundled data set, on a local Dask cluster.

Run as ``python -m nbtune.demo [--trials N] [--storage PATH]``. It trains an MLP on the handwritten
digits that ship with scikit-learn, one ``partial_fit`` per epoch, reporting validation accuracy each
epoch, and prints the best trial and a table of all of them.
"""
from __future__ import annotations

import argparse
import time

import nbtune


def train_digits(config: dict) -> float:
    """One trial: an MLP on scikit-learn's digits, reporting validation accuracy every epoch."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, stratify=y,
                                                      random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
    clf = MLPClassifier(hidden_layer_sizes=(config["hidden"],), alpha=config["alpha"],
                        learning_rate_init=config["lr"], batch_size=config["batch_size"],
                        solver="sgd", momentum=0.9, random_state=0)
    classes = np.unique(y)
    accuracy = 0.0
    for epoch in range(1, config["epochs"] + 1):
        clf.partial_fit(X_train, y_train, classes=classes)
        accuracy = clf.score(X_val, y_val)
        nbtune.report(epoch=epoch, accuracy=accuracy)
    return accuracy


SPACE = {
    "lr": nbtune.loguniform(1e-4, 1e-1),
    "alpha": nbtune.loguniform(1e-6, 1e-2),
    "hidden": nbtune.choice(16, 32, 64, 128),
    "batch_size": nbtune.choice(16, 32, 64),
    "epochs": nbtune.fixed(10),
}


def main(argv: list[str] | None = None) -> nbtune.Study:
    """Run the demo study and print its result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24, help="number of trials (default 24)")
    parser.add_argument("--storage", default="nbtune.db", help="SQLite file (default nbtune.db)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    t0 = time.time()
    study = nbtune.tune(train_digits, SPACE, metric="accuracy", mode="max", n_trials=args.trials,
                        seed=args.seed, storage=args.storage,
                        study=time.strftime("digits-%Y%m%d-%H%M%S"))
    elapsed = time.time() - t0
    best = study.best
    print(f"\nstudy {study.name!r} in {args.storage}: {len(study.trials)} trials in {elapsed:.1f} s "
          f"({study.stop_reason}); states {study.counts()}")
    if best is None:
        raise SystemExit("no trial completed")
    print(f"best trial #{best.id}: accuracy={best.value:.4f} config={best.config}\n")
    table = study.to_dataframe().sort_values("accuracy", ascending=False)
    columns = ["state", "accuracy"] + [c for c in table.columns if c.startswith("config.")] \
        + ["epoch", "duration", "worker"]
    with __import__("pandas").option_context("display.width", 160, "display.max_columns", 20):
        print(table[columns].head(10).to_string(float_format=lambda v: f"{v:.4g}"))
    return study


if __name__ == "__main__":
    main()
