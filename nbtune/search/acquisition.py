"""Acquisition functions (Polyaxon's names: ei, ucb, poi) on a posterior to be minimised."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..typos import one_of

ACQUISITIONS = ("ei", "ucb", "poi")
# other tools' names for them (scikit-optimize's, BoTorch's, the literature's), lower case
ALIASES = {"expected_improvement": "ei", "expectedimprovement": "ei", "logei": "ei",
           "upper_confidence_bound": "ucb", "upperconfidencebound": "ucb", "lcb": "ucb",
           "probability_of_improvement": "poi", "probabilityofimprovement": "poi", "pi": "poi"}
# the options each acquisition reads, and their defaults
READS = {"ei": "xi", "poi": "xi", "ucb": "kappa"}
DEFAULTS = {"kappa": 2.0, "xi": 0.01}


def check_acquisition(name: Any, kappa: Any, xi: Any) -> tuple[str, float, float]:
    """(name, kappa, xi) validated; ValueError with one line naming the problem otherwise. The
    name in any case: papers and BoTorch write "EI" (first-day test, round 36)."""
    name = name.lower() if isinstance(name, str) else name
    one_of("acquisition", name, ACQUISITIONS, ALIASES)
    for label, v, low in (("kappa", kappa, "> 0"), ("xi", xi, ">= 0")):
        ok = isinstance(v, (int, float, np.number)) and not isinstance(v, bool) \
            and math.isfinite(float(v)) and (float(v) > 0 if label == "kappa" else float(v) >= 0)
        if not ok:
            also = (" (kappa=0 would only exploit: acquisition='ei' with xi=0 comes closest)"
                    if label == "kappa" and isinstance(v, (int, float)) and v == 0 else "")
            raise ValueError(f"{label} must be a finite number {low}, got {label}={v!r}{also}")
    return name, float(kappa), float(xi)


def unread_note(name: str, kappa: float, xi: float) -> str | None:
    """The note for an option that acquisition ``name`` ignores, set away from its default
    (``kappa=3`` under 'ei': the user believes the search explores more; first-day test, round
    19); None where there is none."""
    for option, value in (("kappa", kappa), ("xi", xi)):
        if READS[name] != option and value != DEFAULTS[option]:
            readers = [a for a, o in READS.items() if o == option]
            return (f"{option}={value:g} has no effect with acquisition={name!r}, which reads "
                    f"{READS[name]} only; {option} is read by {' and '.join(map(repr, readers))}"
                    f" (searcher_options={{'acquisition': {readers[0]!r}, ...}}, "
                    f"--searcher-option acquisition={readers[0]})")
    return None


def acquire(name: str, mean: np.ndarray, std: np.ndarray, best: float, kappa: float,
            xi: float) -> np.ndarray:
    """Score of each candidate (higher is better) for minimising: expected improvement over
    ``best`` less ``xi`` (ei), its probability (poi), or ``kappa`` deviations below the mean (ucb,
    the lower confidence bound of a minimisation)."""
    from scipy.special import ndtr

    std = np.maximum(std, 1e-12)
    if name == "ucb":
        return kappa * std - mean
    gain = best - mean - xi
    z = gain / std
    if name == "poi":
        return ndtr(z)
    return gain * ndtr(z) + std * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
