"""What a scheduler lets through, for a model-based searcher that suggests under it.

Under ASHA or Hyperband a config ended at a low rung never shows its value at a high one, however
good a model predicts it there: a Gaussian process over (config, level) pinned at the first level
keeps its uncertainty at the top, so expected improvement at the top stayed high where trials
kept ending at the first rung, and ``bayesopt`` suggested the same place again and again (18
trials in a row, a third of a study: first-day test, round 64). A suggestion is worth its
acquisition if the scheduler lets it reach the level the acquisition is taken at, and the lowest
score otherwise; :func:`bars` reads what it took to go on at each lower level from the rows the
model holds, :func:`reached` weighs the acquisition by each candidate's chance of it.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np


def bars(y: np.ndarray, levels: np.ndarray, trials: np.ndarray, held: Iterable[float],
         at: float | None, pending: Iterable[int]) -> list[tuple[float, float, float]]:
    """(level, bar, share) for each level of ``held`` below the acquisition's level ``at``
    where the scheduler ended trials (``y`` the modelled values to minimise of the rows, at
    ``levels``, of ``trials``; ``pending`` the trials running or queued, decided nowhere yet):
    of the k trials decided there (gone on past it, or ended at it) that went on, ``bar`` is
    the k-th best value of the decided ones, what a new trial must beat there to be among as
    good a share of them (ASHA's rule, the top 1/eta of the values at a rung go on, without its
    eta), and ``share`` is k over the decided ones. (The worst value that went on was no bar:
    the first trials of a rung go on whatever their value.) None where every trial went on (no
    scheduler), or no trial ended there yet."""
    if at is None:
        return []
    _, row_of = np.unique(trials, return_inverse=True)
    furthest = np.full(row_of.max() + 1, -np.inf)
    np.maximum.at(furthest, row_of, np.nan_to_num(levels, nan=-np.inf))
    went_on = furthest[row_of] > levels  # False for a row without a level
    ended = ~went_on & ~np.isin(trials, list(pending))
    out = []
    for level in held:
        if level >= at:
            break
        here = levels == level
        gone = int((here & went_on).sum())
        if gone and (here & ended).any():
            decided = np.sort(y[here & (went_on | ended)])
            out.append((level, float(decided[gone - 1]), gone / len(decided)))
    return out


def reached(model: Any, candidates: np.ndarray, score: np.ndarray,
            bars: list[tuple[float, float, float]], column: Callable[[float], float],
            low: float = 0.0) -> np.ndarray:
    """``score``, each candidate's acquisition (higher is better, ``low`` the worst it can be:
    0 for ei and poi), weighed by its chance of reaching the level it is taken at: the
    posterior probability (``model.mean_std`` at the candidates' encodings, their last column,
    the level, set to ``column(level)``) of beating each level's bar (:func:`bars`) over the
    share of trials that did (a config the model knows nothing of goes on as often as any:
    weighed 1, so the search explores as much as without it), at most 1, the least of them.
    The plain probability held unexplored configs down too (20% more regret on the
    simulator's sgd MLP table at 2 workers)."""
    from scipy.special import ndtr

    chance = np.ones(len(candidates))
    there = candidates.copy()
    for level, bar, share in bars:
        there[:, -1] = column(level)
        mean, std = model.mean_std(there)
        odds = ndtr((bar - mean) / np.maximum(std, 1e-12)) / share
        chance = np.minimum(chance, np.minimum(odds, 1.0))
    return low + chance * (score - low)
