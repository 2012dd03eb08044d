"""Other tuners' names for nbtune's: one line for a user who ports a study and types the words
of the tool they know. Optuna's (first-day test, round 14: ``direction="maximize"`` was called
an option the "fifo" scheduler lacks, and ``max_resource``, Optuna's longest trial, is nbtune's
total budget) and Ray Tune's (round 16: ``num_samples``, ``time_budget_s``, ``tune.Tuner``,
``{"grid_search": [...]}``).

Pure: names and sentences, for ``tune()``'s keywords, the ``%%tune`` flags, the space, the
module's and a study's attributes alike.
"""
from __future__ import annotations

from typing import Any

OPTUNA, RAY, SKLEARN, SYNE = "Optuna", "Ray Tune", "scikit-learn", "Syne Tune"
_SEARCHERS = "searcher='bayesopt' (or 'tpe', 'kde', 'random')"
_STORAGE = ("storage='results.db' (a study file; checkpoints are kept beside it, or in "
            "checkpoints=FOLDER where every worker reaches a shared one)")

# another tool's keyword -> (the tool, nbtune's keyword, its %%tune flag or "", what to write)
KEYWORDS: dict[str, tuple[str, str, str, str]] = {
    "direction": (OPTUNA, "mode", "--mode", "mode='max' or mode='min'"),
    "timeout": (OPTUNA, "max_time", "--max-time", "max_time=SECONDS"),
    "study_name": (OPTUNA, "study", "--study", "study=NAME"),
    "load_if_exists": (OPTUNA, "resume", "--resume", "resume=True"),
    "sampler": (OPTUNA, "searcher", "--searcher", "searcher='tpe' (or 'bayesopt', 'kde'; an "
                "Optuna sampler object works where Optuna is installed)"),
    "pruner": (OPTUNA, "scheduler", "--scheduler", "scheduler='asha' (or 'median', 'hyperband'; "
               "Optuna's HyperbandPruner is scheduler='asha', brackets=N)"),
    "n_jobs": (OPTUNA, "concurrency", "--concurrency", "concurrency=N (trials at once; by "
               "default every worker's)"),
    "min_resource": (OPTUNA, "grace_period", "--grace-period", "grace_period=N"),
    "callbacks": (OPTUNA, "observers", "", "observers=[...] (nbtune.Observer subclasses)"),
    "show_progress_bar": (OPTUNA, "progress", "", "progress=False"),
    "num_samples": (RAY, "n_trials", "--trials", "n_trials=N (None: no cap, with max_time)"),
    "time_budget_s": (RAY, "max_time", "--max-time", "max_time=SECONDS"),
    "max_concurrent_trials": (RAY, "concurrency", "--concurrency", "concurrency=N"),
    "search_alg": (RAY, "searcher", "--searcher", _SEARCHERS),
    "resources_per_trial": (RAY, "resources", "--resources", "resources={'GPU': 1} (--gpus 1 "
                            "in %%tune; every trial takes one worker thread, so CPUs need no "
                            "entry)"),
    "param_space": (RAY, "space", "", "the second argument, nbtune.tune(fn, space, ...)"),
    "config": (RAY, "space", "", "the second argument, nbtune.tune(fn, space, ...)"),
    "local_dir": (RAY, "storage", "--storage", _STORAGE),
    "storage_path": (RAY, "storage", "--storage", _STORAGE),
    "time_attr": (RAY, "resource", "--resource", "resource='epoch' (the report key that counts "
                  "training)"),
    "stop": (RAY, "max_t", "--max-t", "max_t=N with a scheduler (the most a trial trains, in "
             "the resource's units; the trial's own loop ends it otherwise), or target=VALUE to "
             "end the study once a trial reaches it"),
    "verbose": (RAY, "progress", "", "progress=False"),
    "name": (RAY, "study", "--study", "study=NAME"),
    "tune_config": (RAY, "", "", "TuneConfig's fields are nbtune.tune's own keywords "
                    "(num_samples is n_trials=, search_alg searcher=, max_concurrent_trials "
                    "concurrency=, time_budget_s max_time=; metric, mode and scheduler as they "
                    "are)"),
    "checkpoint_config": (RAY, "", "", "nbtune keeps the best trial's last checkpoint after "
                          "the study, study.best_checkpoint; a trial's checkpoint goes with its "
                          "report, nbtune.report(..., checkpoint=state)"),
    "run_config": (RAY, "", "", "RunConfig's fields are nbtune.tune's own keywords (name is "
                   "study=, storage_path storage=, stop max_t= with a scheduler)"),
    # Syne Tune's (first-day test, round 61: max_resource_attr was steered to max_resource,
    # nbtune's budget over all trials)
    "max_resource_attr": (SYNE, "max_t", "--max-t", "max_t=N, or epochs = fixed(N) in the space "
                          "(read as max_t, as a space key max_t or max_epochs is); nbtune's "
                          "max_resource= is the total trained over all trials"),
    "resource_attr": (SYNE, "resource", "--resource", "resource='epoch' (the report key that "
                      "counts training)"),
    "search_options": (SYNE, "searcher_options", "--searcher-option", "searcher_options="
                       "{'n_initial': 5} (num_init_random is n_initial; kde's "
                       "num_min_data_points min_points, top_n_percent=15 gamma=0.15)"),
    "random_seed": (SYNE, "seed", "--seed", "seed=N"),
    "stop_criterion": (SYNE, "", "", "StoppingCriterion's fields are nbtune.tune's own keywords "
                       "(max_wallclock_time is max_time=, max_num_trials_started n_trials=, "
                       "max_metric_value / min_metric_value target=)"),
    # a researcher's seed, as scikit-learn spells it (first-day test, round 38)
    "random_state": (SKLEARN, "seed", "--seed", "seed=N (it seeds the configs drawn; the "
                     "trial code's own random numbers take their own seed)"),
    "n_iter": (SKLEARN, "n_trials", "--trials", "n_trials=N"),
}
MODES = {"maximize": "max", "minimize": "min",  # Optuna's directions
         "maximise": "max", "minimise": "min"}  # and as nbtune's own help spells the words


# Optuna's pruners, and the scheduler nbtune has for each
OPTUNA_PRUNERS = {
    "HyperbandPruner": "scheduler='asha', brackets='all', rung_system_per_bracket=True, "
                       "grace_period= its min_resource, max_t= its max_resource",
    "SuccessiveHalvingPruner": "scheduler='asha', grace_period= its min_resource, "
                               "reduction_factor= its reduction_factor",
    "MedianPruner": "scheduler='median' (its n_startup_trials, n_warmup_steps as they are)",
    "PercentilePruner": "scheduler='percentile' (its options as they are)",
    "NopPruner": "scheduler='fifo', the default: no early stopping",
    "ThresholdPruner": "nbtune.ThresholdScheduler(...)",
}


def of_optuna(thing: Any, part: str = "optuna") -> bool:
    """Whether ``thing`` (a class, or an object of one) is Optuna's, of its module ``part``
    (``"optuna.pruners"``), as its classes' modules say: Optuna itself is never imported."""
    cls = thing if isinstance(thing, type) else type(thing)
    return any((m := getattr(c, "__module__", "") or "") == part or m.startswith(part + ".")
               for c in cls.__mro__)


def ported_keyword(key: str) -> str | None:
    """The line for another tool's keyword ``key`` given to ``tune()``, else None."""
    if key not in KEYWORDS:
        return None
    tool, name, flag, write = KEYWORDS[key]
    if not name:
        return f"{key}= is {tool}'s: {write}"
    where = f" ({flag} in %%tune)" if flag else ""
    return f"{key}= is {tool}'s name: nbtune's is {name}=, {write}{where}"


# another tool's flags, as a user types them on the %%tune line, -> nbtune's
FLAGS = {"local_dir": "--storage", "storage_path": "--storage", "name": "--study",
         "num_samples": "--trials", "time_budget_s": "--max-time",
         "max_concurrent_trials": "--concurrency", "search_alg": "--searcher",
         "time_attr": "--resource"}


def ported_flag(flag: str) -> str | None:
    """The line for a ``%%tune`` flag of another tool's name (``--direction``), else None."""
    key = flag.lstrip("-").replace("-", "_")
    ours = KEYWORDS[key][2] if key in KEYWORDS else FLAGS.get(key, "")
    if not ours and key in KEYWORDS:  # no flag of nbtune's: what to write instead
        return f"{flag} is {KEYWORDS[key][0]}'s: {KEYWORDS[key][3]}"
    if not ours:
        return None
    tool = KEYWORDS[key][0] if key in KEYWORDS else RAY
    more = FLAG_NOTES.get(key, "")
    return f"{flag} is {tool}'s name: nbtune's is {ours}{more}"


FLAG_NOTES = {"max_resource_attr": " (or epochs = fixed(N) in the cell's space)",
              "stop": " with a scheduler (the most a trial trains, in the resource's units; the "
                      "cell's own loop ends it otherwise), or --target VALUE to end the study "
                      "once a trial reaches it"}


def mode_of(mode: Any) -> Any:
    """``mode`` with Optuna's "maximize"/"minimize" (or "maximise"/"minimise") read as
    "max"/"min"."""
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


# other tools' names a cell may use, which nbtune's cells do without -> what to write instead
CELL_NAMES = {
    "trial": ("trial.report(...), trial.should_prune() and optuna.TrialPruned are Optuna's: a "
              "%%tune cell calls report(epoch=N, accuracy=...), and the scheduler stops the "
              "trial inside that call, so drop the pruning check"),
    "tune": ("tune.report(...) and tune.get_checkpoint() are Ray Tune's: in a %%tune cell, "
             "report(epoch=N, accuracy=...) and get_checkpoint() need no prefix (the name "
             "checkpoint holds a resumed trial's checkpoint too)"),
    "train": ("train.report(...), train.get_checkpoint() and train.get_context() are Ray "
              "Train's: in a %%tune cell, report(epoch=N, accuracy=...) and get_checkpoint() "
              "need no prefix, and nbtune.trial_id() is the trial's id"),
    "config": ("config[...] is Ray Tune's: a %%tune cell reads each hyperparameter by its "
               "name (lr, not config['lr'])"),
    "Checkpoint": ("Checkpoint is Ray Tune's: report(..., checkpoint=state) keeps the state "
                   "itself (a dict, a model: any picklable object), no folder"),
}
CELL_NAMES["optuna"] = CELL_NAMES["should_prune"] = CELL_NAMES["trial"]
CELL_NAMES["session"] = CELL_NAMES["tune"]


# another tool's attribute -> (the tool, nbtune's), of a study and of a trial
STUDY_ATTRIBUTES = {
    "best_params": (OPTUNA, "best_config"), "best_trial": (OPTUNA, "best"),
    "trials_dataframe": (OPTUNA, "to_dataframe()"),
    "optimize": (OPTUNA, "nbtune.tune(fn, space, ...)"),
    "enqueue_trial": (OPTUNA, "points_to_evaluate=[config] of nbtune.tune"),
    "direction": (OPTUNA, "mode"), "study_name": (OPTUNA, "name"),
    "get_best_result": (RAY, "best (the best Trial: .config, .value, .reports) and best_config"),
    "get_dataframe": (RAY, "to_dataframe() (a row per trial, its last report's metrics)"),
    "num_errors": (RAY, "counts().get('failed', 0)"),
    "errors": (RAY, "[t.error for t in study.trials if t.state == 'failed']"),
    "fit": (RAY, "nbtune.tune(fn, space, ...), which runs the study and returns it"),
}
TRIAL_ATTRIBUTES = {
    "params": (OPTUNA, "config"), "number": (OPTUNA, "id"),
    "intermediate_values": (OPTUNA, "reports"), "user_attrs": (OPTUNA, "metrics"),
    "metrics_dataframe": (RAY, "reports (a list of dicts: pandas.DataFrame(trial.reports))"),
    "checkpoint": (RAY, "nbtune.get_checkpoint() inside the trial; after the study, "
                   "study.best_checkpoint is the best trial's last one"),
    "trial_id": (RAY, "id"), "last_result": (RAY, "metrics"),
}
# nbtune.X that another tool has, and what to write here
MODULE_NAMES = {
    "Tuner": (RAY, "nbtune.tune(fn, space, metric=..., mode=..., n_trials=..., scheduler="
              "'asha') runs the study and returns it (no Tuner to fit); Tuner.restore(path) is "
              "nbtune.tune(..., study=NAME, storage=FILE, resume=True)"),
    "TuneConfig": (RAY, "its fields are nbtune.tune's keywords (num_samples is n_trials=, "
                   "search_alg searcher=, max_concurrent_trials concurrency=, time_budget_s "
                   "max_time=)"),
    "RunConfig": (RAY, "its fields are nbtune.tune's keywords (name is study=, storage_path "
                  "storage=)"),
    "with_resources": (RAY, "resources={'GPU': 1} of nbtune.tune (%%tune --gpus 1)"),
    "grid_search": (RAY, "nbtune.grid(a, b, c) (searcher='grid' runs each value once)"),
    "sample_from": (RAY, "a space is flat: draw the parts, and compute the rest in the trial "
                    "function (config['a'] * 2)"),
    "qrandint": (RAY, "nbtune.randint(lo, hi) for integers (both ends included), or "
                 "nbtune.quniform(lo, hi, q) for steps"),
    "qloguniform": (RAY, "nbtune.loguniform(lo, hi), or nbtune.lograndint(lo, hi) for integers"),
    "qlograndint": (RAY, "nbtune.lograndint(lo, hi)"),
    "randn": (RAY, "nbtune.uniform(lo, hi) (nbtune has no normal distribution)"),
    "qrandn": (RAY, "nbtune.quniform(lo, hi, q) (nbtune has no normal distribution)"),
    "Checkpoint": (RAY, "report(..., checkpoint=state) takes the state itself (a dict, a "
                   "state_dict: any picklable object) and nbtune.get_checkpoint() gives it back "
                   "in the resumed trial; no folder"),
    "Trainable": (RAY, "a trial is a function of its config: fn(config) that calls "
                  "nbtune.report(epoch=..., ...) each step"),
    "PopulationBasedTraining": (RAY, "nbtune has no Population Based Training: "
                                "scheduler='asha' (or 'hyperband') stops or pauses poor trials"),
}
# Ray Tune's dict forms in a space: {"grid_search": [...]}
SPACE_KEYS = {"grid_search": "nbtune.grid(...)"}


def cell_note(missing: list[str]) -> str | None:
    """What to say where a cell uses names it never defines that are another tool's (Optuna's
    ``trial``, Ray Tune's ``tune.report``, ``config[...]``): what a %%tune cell writes
    instead; else None."""
    notes = list(dict.fromkeys(CELL_NAMES[n] for n in missing if n in CELL_NAMES))
    return "; ".join(notes) if notes else None


def attribute_note(kind: str, name: str) -> str | None:
    """The line for another tool's attribute ``name`` of a study or trial (``kind``), else
    None."""
    found = (STUDY_ATTRIBUTES if kind == "Study" else TRIAL_ATTRIBUTES).get(name)
    if found is None:
        return None
    tool, ours = found
    return f"{kind!r} object has no attribute {name!r}: that is {tool}'s name; nbtune's is {ours}"


def module_note(name: str) -> str | None:
    """The line for ``nbtune.NAME`` where NAME is another tool's (``tune.Tuner``), else None."""
    if name not in MODULE_NAMES:
        return None
    tool, write = MODULE_NAMES[name]
    return f"module 'nbtune' has no attribute {name!r}: that is {tool}'s; here, {write}"


def space_note(name: str, value: Any, is_domain: Any) -> str | None:
    """The line for a hyperparameter given in another tool's form, which nbtune's flat space of
    JSON values and domains (``is_domain`` tells them) does not take: Ray Tune's
    ``{"grid_search": [1, 2]}`` (one fixed dict for every trial), a nested dict of domains, a
    function (``sample_from``); else None."""
    if callable(value) and not is_domain(value):
        return (f"hyperparameter {name!r} is a function: a space holds values and domains "
                f"(nbtune.uniform, choice, ...); for Ray Tune's sample_from, "
                f"{MODULE_NAMES['sample_from'][1]}")
    if isinstance(value, dict) and any(is_domain(v) for v in value.values()):
        parts = ", ".join(f"'{name}.{k}': {v!r}" for k, v in value.items())
        return (f"hyperparameter {name!r} is a dict of domains: a space is flat, so name each "
                f"part, {{{parts}}}, and read config['{name}.{next(iter(value))}'] in the trial")
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in SPACE_KEYS:
        return None
    key = next(iter(value))
    values = value[key]
    args = ", ".join(map(repr, values)) if isinstance(values, (list, tuple)) else repr(values)
    return (f"hyperparameter {name!r} is {{{key!r}: ...}}, Ray Tune's form: nbtune's is "
            f"{SPACE_KEYS[key].replace('...', args)}")
