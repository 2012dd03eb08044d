"""Optuna's names for nbtune's: one line for a user who ports a study and types the words of the
tool they know (first-day test, round 14: ``direction="maximize"`` was called an option the
"fifo" scheduler lacks, and ``max_resource``, Optuna's longest trial, is nbtune's total budget).

Pure: names and sentences, for ``tune()``'s keywords and the ``%%tune`` flags alike.
"""
from __future__ import annotations

from typing import Any

# Optuna's keyword -> (nbtune's keyword, its %%tune flag or "", what to write)
KEYWORDS: dict[str, tuple[str, str, str]] = {
    "direction": ("mode", "--mode", "mode='max' or mode='min'"),
    "timeout": ("max_time", "--max-time", "max_time=SECONDS"),
    "study_name": ("study", "--study", "study=NAME"),
    "load_if_exists": ("resume", "--resume", "resume=True"),
    "sampler": ("searcher", "--searcher", "searcher='tpe' (or 'bayesopt', 'kde'; an Optuna "
                "sampler object works where Optuna is installed)"),
    "pruner": ("scheduler", "--scheduler", "scheduler='asha' (or 'median', 'hyperband'; "
               "Optuna's HyperbandPruner is scheduler='asha', brackets=N)"),
    "n_jobs": ("concurrency", "--concurrency", "concurrency=N (trials at once; by default "
               "every worker's)"),
    "min_resource": ("grace_period", "--grace-period", "grace_period=N"),
    "callbacks": ("observers", "", "observers=[...] (nbtune.Observer subclasses)"),
    "show_progress_bar": ("progress", "", "progress=False"),
}
MODES = {"maximize": "max", "minimize": "min"}


def optuna_keyword(key: str) -> str | None:
    """The line for Optuna's keyword ``key`` given to ``tune()``, else None."""
    if key not in KEYWORDS:
        return None
    name, flag, write = KEYWORDS[key]
    where = f" ({flag} in %%tune)" if flag else ""
    return f"{key}= is Optuna's name: nbtune's is {name}=, {write}{where}"


def optuna_flag(flag: str) -> str | None:
    """The line for an Optuna-named ``%%tune`` flag (``--direction``), else None."""
    key = flag.lstrip("-").replace("-", "_")
    if key not in KEYWORDS or not KEYWORDS[key][1]:
        return None
    return f"{flag} is Optuna's name: nbtune's is {KEYWORDS[key][1]}"


def mode_of(mode: Any) -> Any:
    """``mode`` with Optuna's "maximize"/"minimize" read as "max"/"min"."""
    return MODES.get(mode, mode) if isinstance(mode, str) else mode


def budget_note(max_resource: float | None, max_t: float | None) -> str | None:
    """A ``max_resource`` no larger than the most one trial trains: Optuna's meaning (the
    HyperbandPruner's longest trial), where nbtune's is the total over all trials."""
    if max_resource is None or max_t is None or max_resource > max_t:
        return None
    return (f"max_resource={max_resource:g} is the total trained over all trials, and one trial "
            f"trains up to max_t={max_t:g}: the study ends after about one trial. The most one "
            "trial trains is max_t (Optuna's HyperbandPruner calls it max_resource); leave "
            "max_resource out, or give the total budget")


# Optuna's names a cell may use, which nbtune's cells do without
CELL_NAMES = {"trial", "optuna", "should_prune"}
# Optuna's attribute -> nbtune's, of a study and of a trial
STUDY_ATTRIBUTES = {"best_params": "best_config", "best_trial": "best",
                    "trials_dataframe": "to_dataframe()", "optimize": "nbtune.tune(fn, space, ...)",
                    "enqueue_trial": "points_to_evaluate=[config] of nbtune.tune",
                    "direction": "mode", "study_name": "name"}
TRIAL_ATTRIBUTES = {"params": "config", "number": "id", "intermediate_values": "reports",
                    "user_attrs": "metrics"}


def cell_note(missing: list[str]) -> str | None:
    """What to say where a cell uses names it never defines, Optuna's among them (``trial``,
    ``should_prune``): nbtune's scheduler stops a trial inside ``report()``; else None."""
    if not CELL_NAMES & set(missing):
        return None
    return ("trial.report(...), trial.should_prune() and optuna.TrialPruned are Optuna's: a "
            "%%tune cell calls report(epoch=N, accuracy=...), and the scheduler stops the trial "
            "inside that call, so drop the pruning check")


def attribute_note(kind: str, name: str) -> str | None:
    """The line for Optuna's attribute ``name`` of a study or trial (``kind``), else None."""
    ours = (STUDY_ATTRIBUTES if kind == "Study" else TRIAL_ATTRIBUTES).get(name)
    if ours is None:
        return None
    return f"{kind!r} object has no attribute {name!r}: that is Optuna's name; nbtune's is {ours}"
