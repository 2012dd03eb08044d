"""Which way a metric's name says it goes: a hint for a study whose mode was left out."""
from __future__ import annotations

import re

# words of a metric's name that say "higher is better", and words that say "lower is better"
HIGHER = frozenset({"accuracy", "acc", "auc", "auroc", "f1", "precision", "recall", "r2",
                    "score", "reward", "return", "map", "ndcg", "iou", "miou", "dice", "bleu",
                    "rouge", "mcc", "kappa", "top1", "top5", "sharpe", "fitness", "gain"})
LOWER = frozenset({"loss", "error", "err", "rmse", "mse", "mae", "mape", "regret", "cost",
                   "perplexity", "ppl", "nll", "distance", "latency", "time", "seconds"})


def looks_maximised(metric: str) -> bool:
    """Whether ``metric``'s name says higher is better (``accuracy``, ``val_f1``, ``roc_auc``,
    ``neg_log_loss``) and nothing in it says lower is."""
    words = set(re.split(r"[^a-z0-9]+", metric.lower()))
    if "neg" in words:  # scikit-learn's negated losses: higher is better
        return True
    return bool(words & HIGHER) and not words & LOWER


def mode_note(metric: str) -> str | None:
    """The one line for a study left at the default mode ('min') whose metric reads as a score
    to maximise; None when the name says nothing of the kind."""
    if not looks_maximised(metric):
        return None
    return (f"minimising {metric!r}: mode='min' is the default; give mode='max' (%%tune "
            f"--mode max) if higher {metric} is better")
