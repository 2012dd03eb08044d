"""Which way a metric's name says it goes: a hint for a study whose mode was left out, or
given the other way."""
from __future__ import annotations

import re

# words of a metric's name that say "higher is better", and words that say "lower is better"
# (LightGBM's and XGBoost's metric names among them: binary_logloss, l2, aucpr, mlogloss)
HIGHER = frozenset({"accuracy", "acc", "auc", "auroc", "aucpr", "f1", "precision", "recall",
                    "r2", "score", "reward", "return", "map", "ndcg", "iou", "miou", "dice",
                    "explained",  # scikit-learn's explained_variance
                    "bleu", "rouge", "mcc", "kappa", "top1", "top5", "sharpe", "fitness", "gain"})
# the words of a loss, which a study never means to maximise: an explicit mode='max' on one is
# named too (maximising a logloss found the worst model, and nothing said so: round 29)
LOSSES = frozenset({"loss", "logloss", "mlogloss", "nloglik", "crossentropy", "xentropy",
                    "error", "err", "merror", "rmse", "mse", "mae", "mape", "rmsle", "l1", "l2",
                    "huber", "deviance", "regret", "perplexity", "ppl", "nll"})
LOWER = LOSSES | {"cost", "distance", "latency", "time", "seconds"}


def _words(metric: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", metric.lower()))


def looks_maximised(metric: str) -> bool:
    """Whether ``metric``'s name says higher is better (``accuracy``, ``val_f1``, ``roc_auc``,
    ``neg_log_loss``) and nothing in it says lower is."""
    words = _words(metric)
    if "neg" in words:  # scikit-learn's negated losses: higher is better
        return True
    return bool(words & HIGHER) and not words & LOWER


def looks_a_loss(metric: str) -> bool:
    """Whether ``metric``'s name is a loss's (``val_loss``, ``binary_logloss``, ``rmse``) and
    nothing in it says higher is better."""
    words = _words(metric)
    if metric.startswith("mean_test_"):  # a SearchCV study's: a scorer's, higher is better
        return False  # ({"rmse": "neg_root_mean_squared_error"} read as a loss: round 42)
    return bool(words & LOSSES) and not words & HIGHER and "neg" not in words


def mode_note(metric: str, mode: str = "min", given: bool = False) -> str | None:
    """The one line for a study whose mode, left at the default ('min'), reads as a score to
    maximise, or whose mode='max', ``given``, reads as a loss; None when the name and the mode
    agree, or the name says nothing of the kind."""
    if not given and looks_maximised(metric):
        return (f"minimising {metric!r}: mode='min' is the default; give mode='max' (%%tune "
                f"--mode max) if higher {metric} is better")
    if given and mode == "max" and looks_a_loss(metric):
        return (f"maximising {metric!r}, whose name reads as a loss: if lower {metric} is "
                f"better, the best trial is the worst model; give mode='min' (%%tune --mode "
                "min)")
    return None
