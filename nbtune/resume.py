"""What a resumed study takes from its stored settings, and the one-line errors of re-running one.

A study stores its metric and mode (columns of the studies table) and its settings (JSON): trial and
time budgets, target, max_resource, seed, searcher with its options, scheduler with its options,
resource, retries, the Dask resources each trial asked for (its GPUs), the study it was
warm-started from, the shared folder of its checkpoints.
Resuming takes every one of them from the stored study; one given again must agree with it,
except the budgets and the checkpoints' folder (:data:`BUDGETS`): a study resumed with
``n_trials=60`` runs on to 60 trials in all, and keeps the new budget for its next resume.
"""
from __future__ import annotations

from typing import Any, Mapping

from .search import SEARCHERS, is_optuna_sampler, searcher_name

# settings a resumed study takes from storage, and what a new study uses when they are not given
DEFAULTS: dict[str, Any] = {"metric": "value", "mode": "min", "n_trials": "auto", "seed": None,
                            "max_time": None, "target": None, "max_resource": None,
                            "retries": 1, "searcher": "random", "scheduler": None,
                            "resource": "epoch", "resources": None, "warm_start": None,
                            "checkpoints": None, "max_trial_time": None}
# settings a resume may change: how long the study runs, and where its checkpoints are (a shared
# folder mounted elsewhere), not what it searches
BUDGETS = ("n_trials", "max_time", "checkpoints", "max_trial_time")
NOT_STORED = object()  # a stored study that ran without this setting (or one older than it)


class StudyExists(ValueError):
    """A new study was asked for under the name of a stored one."""

    def __init__(self, name: str, path: str):
        self.name, self.path = name, path
        super().__init__(f"a study named {name!r} already exists in {path!r}: pass resume=True "
                         "to continue it, replace=True to delete it and start again, or another "
                         "study name for a new one")


class SettingsConflict(ValueError):
    """A setting given to resume a study differs from the one it was run with."""

    def __init__(self, name: str, key: str, stored: Any, given: Any):
        self.name, self.key, self.stored, self.given = name, key, stored, given
        was = f"without {key}" if stored is NOT_STORED else f"with {key}={stored!r}"
        super().__init__(f"study {name!r} was run {was}, not {key}={given!r}: leave {key} out "
                         "to continue it as it was run, or start a new study (another study "
                         "name, or replace=True)")


def _same(key: str, stored: Any, given: Any) -> bool:
    # a Searcher or Scheduler object: its name; an Optuna sampler: "optuna"
    given = searcher_name(given) if key == "searcher" else getattr(given, "name", given)
    if key == "scheduler":
        stored, given = (str(v or "fifo").lower() for v in (stored, given))
    if isinstance(stored, list) or isinstance(given, tuple):
        stored, given = list(stored or ()), list(given or ())
    return stored == given


def stored_settings(row: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of a stored study row (``Storage.study_row``), metric and mode included."""
    settings = dict(row["settings"])
    return {"metric": row["metric"], "mode": row["mode"],
            **{k: settings.get(k, NOT_STORED) for k in DEFAULTS if k not in ("metric", "mode")},
            "scheduler_options": settings.get("scheduler_options", NOT_STORED)}


def resumed_settings(name: str, row: Mapping[str, Any], given: Mapping[str, Any],
                     options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings, scheduler options) of study ``name`` resumed: the stored ones, checked against
    those ``given`` again (only the keys given); :class:`SettingsConflict` on a difference.

    A study stored before a setting was kept takes the given value, else the default."""
    stored = stored_settings(row)
    out: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        was = stored[key]
        if key in BUDGETS and key in given:
            out[key] = given[key]  # run it longer (or shorter) than it was first asked to
            continue
        if key in given and was is not NOT_STORED and not _same(key, was, given[key]):
            raise SettingsConflict(name, key, was, given[key])
        if key in given and not isinstance(given[key], str) and (
                hasattr(given[key], "name") or is_optuna_sampler(given[key])):
            out[key] = given[key]  # the caller's own searcher, scheduler or sampler object
        else:
            out[key] = was if was is not NOT_STORED else given.get(key, default)
    kept = stored["scheduler_options"]
    if kept is NOT_STORED:
        return out, dict(options)
    for key, value in options.items():
        if not _same(key, kept.get(key, NOT_STORED), value):
            raise SettingsConflict(name, key, kept.get(key, NOT_STORED), value)
    return out, dict(kept)


def new_settings(given: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of a new study: those given, the defaults for the rest."""
    return {key: given.get(key, default) for key, default in DEFAULTS.items()}


def resumed_searcher_options(name: str, row: Mapping[str, Any],
                             given: Mapping[str, Any]) -> dict[str, Any]:
    """The searcher options study ``name`` was run with; one given again must agree with the
    stored one (:class:`SettingsConflict`)."""
    kept = dict(row["settings"].get("searcher_options") or {})
    if kept:  # an option added since the study was stored: the value it ran with
        cls = SEARCHERS.get(row["settings"].get("searcher"))
        for key, value in (cls.added_options if cls else {}).items():
            kept.setdefault(key, value)
    for key, value in given.items():
        if not _same(key, kept.get(key, NOT_STORED), value):
            raise SettingsConflict(name, key, kept.get(key, NOT_STORED), value)
    return kept
