"""A study's plan, before any cluster is reached: the settings it runs with (those given, or, for a
resumed study, those it was run with), its searcher and scheduler, its trial count and its warm
start, and the settings kept with it in storage. ``nbtune.tune`` makes one; ``nbtune.simulate``
shares :func:`stored_settings` and :func:`search_and_schedule`."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from .arguments import check_values
from .caller import warn_note
from .directions import mode_note
from .ported import budget_note
from .resume import new_settings, resumed_searcher_options, resumed_settings
from .schedule import Scheduler, make_scheduler
from .search import Searcher, make_searcher, user_options
from .space import Space
from .starting import positive, trial_count
from .warm import WarmStart, data_fingerprint, measured, missing_source
from .warm import warm_start as resolve_warm_start


@dataclass
class Plan:
    """What a study runs with, as chosen before it starts."""

    name: str
    metric: str
    mode: str
    n_trials: int | None
    max_time: float | None
    target: float | None
    max_resource: float | None
    retries: int
    resource: str
    resources: dict[str, float] | None  # a resumed study's GPUs, as it was run
    checkpoints: str | None  # a shared folder for the checkpoints, as it was run
    search: Searcher
    sched: Scheduler
    scheduler_options: dict[str, Any]
    given_scheduler: Any  # a name, or a Scheduler object (whose options are its own)
    warm: WarmStart | None = None
    row: dict[str, Any] | None = None  # the stored study, where there is one
    resumed: bool = False  # a stored study continued (resume=True on a name it holds)
    seed_drawn: bool = False  # the user gave no seed: the searcher drew one
    mode_given: bool = False  # the user chose the mode (min too): the summary names no default
    measured: str | None = None  # how the metric is measured, where the caller said (SearchCV)
    data: str | None = None  # the data's fingerprint, where the caller gave one (SearchCV)
    max_trial_time: float | None = None  # seconds a trial may run

    def settings(self, run: str) -> dict[str, Any]:
        """The settings kept with the study in storage, for run ``run`` (its id's prefix)."""
        settings = stored_settings(self.search, self.sched, self.resource, self.n_trials,
                                   self.max_time, self.target, self.max_resource, self.retries,
                                   self.warm, resources=self.resources, run=run)
        if self.seed_drawn:
            settings["seed_drawn"] = True
        if self.mode_given:
            settings["mode_given"] = True
        if self.checkpoints is not None:
            settings["checkpoints"] = self.checkpoints
        if self.max_trial_time is not None:
            settings["max_trial_time"] = self.max_trial_time
        if self.measured is not None:
            settings["measured"] = self.measured
        if self.data is not None:
            settings["data"] = self.data
        if self.warm is None:  # none: a resume cannot add one (it would suggest otherwise)
            was = (self.row or {}).get("settings", {}) if self.resumed else {}
            settings.update({k: v for k, v in was.items() if k.startswith("warm_start")}
                            or {"warm_start": None})
        if isinstance(self.given_scheduler, (str, type(None))):  # an object's are its own
            settings["scheduler_options"] = {  # JSON values: tuples become lists
                k: list(v) if isinstance(v, tuple) else v
                for k, v in self.scheduler_options.items()}
        return settings


def stored_settings(search: Searcher, sched: Scheduler, resource: str, n_trials: int | None,
                    max_time: float | None, target: float | None, max_resource: float | None,
                    retries: int, warm: WarmStart | None, **more: Any) -> dict[str, Any]:
    """The settings a study keeps in storage: its seed, searcher, scheduler, budgets, the
    searcher's options, its warm start and the scheduler's rung levels (for plots of the study
    when loaded), with ``more`` (a real study's run and resources, a simulated one's table)
    after its budgets."""
    settings = {"seed": search.seed, "searcher": search.name, "scheduler": sched.name,
                "resource": resource, "n_trials": n_trials, "max_time": max_time,
                "target": target, "max_resource": max_resource, "retries": retries, **more}
    if search.options:
        settings["searcher_options"] = search.options
    if search.name == "optuna" and getattr(search, "sampler_name", "") is None:
        settings["sampler_seeded"] = False  # an instance: its own seed draws the configs
    if warm is not None:
        settings.update(warm.settings())
    if getattr(sched, "levels", None):
        settings["rung_levels"] = [int(x) for x in sched.levels]
    return settings


def search_and_schedule(searcher: Any, scheduler: Any, space: Space, metric: str, mode: str,
                        resource: str, seed: int | None, points_to_evaluate: list | None,
                        search_options: Mapping[str, Any],
                        scheduler_options: Mapping[str, Any]) -> tuple[Searcher, Scheduler]:
    """The study's searcher, and its scheduler set up for the metric and resource, with the
    searcher's model to judge by (where it has one)."""
    if isinstance(searcher, Searcher) and searcher.mode_given and searcher.mode != mode:
        # set to the study's without a word, to a user who gave the searcher a direction as an
        # Optuna sampler takes one (first-day test, round 64)
        warn_note(f"the searcher was built with mode={searcher.mode!r}; it searches with the "
                  f"study's, mode={mode!r} (give the study mode={searcher.mode!r} if that is "
                  "the one meant)")
    search = make_searcher(searcher, space, seed=seed, points_to_evaluate=points_to_evaluate,
                           mode=mode, **search_options)
    sched = make_scheduler(scheduler, **scheduler_options)
    sched.setup(metric, mode, resource, seed=search.seed, space=space)
    sched.use_model(search.predict)
    if getattr(sched, "judge", None) == "model" and type(search).predict is Searcher.predict:
        # a no-op in silence: the study ran as judge='rank' (first-day test, round 64)
        warn_note(f"judge='model' asks the searcher's model what a trial would reach at max_t: "
                  f"searcher {search.name!r} has none, so the rank alone decides; "
                  f"searcher='bayesopt' has one")
    return search, sched


def plan_study(name: str, row: dict[str, Any] | None, resume: bool, space: Space,
               given: Mapping[str, Any], n_trials: Any, concurrency: int | None,
               scheduler_options: Mapping[str, Any], searcher_options: Any,
               points_to_evaluate: list | None, warm_start: Any,
               storage: str | os.PathLike | None) -> Plan:
    """The plan of study ``name``: ``row`` is the stored study of that name (None: a new one),
    continued where ``resume``; ``given`` holds the settings the call gave (None left out)."""
    resumed = row is not None and resume
    if resumed:
        _check_space(name, row, space)
        chosen, options = resumed_settings(name, row, given, scheduler_options)
        if not isinstance(chosen["scheduler"], (str, type(None))):
            options = dict(scheduler_options)  # an object carries its own options
    else:
        chosen, options = new_settings(given), dict(scheduler_options)
    metric, mode, n_trials = chosen["metric"], chosen["mode"], chosen["n_trials"]
    max_time, max_resource = chosen["max_time"], chosen["max_resource"]
    searcher = chosen["searcher"]
    check_values(metric, mode, n_trials, concurrency, max_time, max_resource, chosen["retries"])
    positive("max_trial_time", chosen["max_trial_time"], False)
    # an accuracy minimised (the mode left out, most likely), or a logloss maximised
    note = None if resumed else mode_note(metric, mode, "mode" in given)
    if not resumed and note is None and not {"metric", "mode"} & set(given):
        # the value a trial function returns, minimised without a word: a returned accuracy
        # made the worst trial the best (first-day test, round 41)
        note = ("minimising the value the trial function returns (mode='min' is the default): "
                "give mode='max' if higher is better (and metric='NAME' to name it), or "
                "mode='min' to say it is a loss")
    if note is not None:
        warn_note(note)
    search_options = {}
    if searcher == "grid" and n_trials is not None and n_trials != "auto":
        search_options["n_experiments"] = n_trials  # a cap below the grid's size: a subsample
    given_options = user_options(searcher_options)
    if resumed and isinstance(searcher, str):  # as it was run
        search_options.update(resumed_searcher_options(name, row, given_options))
    else:
        search_options.update(given_options)
    search, sched = search_and_schedule(searcher, chosen["scheduler"], space, metric, mode,
                                        chosen["resource"], chosen["seed"], points_to_evaluate,
                                        search_options, options)
    note = budget_note(max_resource, sched.max_level())
    if note is not None:
        warn_note(note)  # Optuna's max_resource, the longest trial, ported as it was
    n_trials = trial_count(n_trials, search, sched, space,
                           timed=max_time is not None or max_resource is not None)
    idle = sched.idle_note(n_trials)
    if idle is not None:
        warn_note(idle)  # early stopping asked for, and off: grace_period at max_t, say
    layout = None if resumed else sched.layout_note()
    if layout is not None:
        warn_note(layout)  # said once, when the study is set up: a resume cannot change it
    warm = _warm_start(chosen["warm_start"], warm_start, storage, row if resume else None,
                       space, metric, mode, name, search)
    if n_trials is None and max_time is None and chosen["target"] is None \
            and max_resource is None and search.max_trials is None:
        raise ValueError("the study has no end: give n_trials, max_time, target or "
                         "max_resource")
    return Plan(name=name, metric=metric, mode=mode, n_trials=n_trials, max_time=max_time,
                target=chosen["target"], max_resource=max_resource, retries=chosen["retries"],
                resource=chosen["resource"], resources=chosen["resources"],
                checkpoints=chosen["checkpoints"], search=search, sched=sched,
                scheduler_options=options, given_scheduler=chosen["scheduler"], warm=warm,
                row=row, resumed=resumed, measured=measured(), data=data_fingerprint(),
                seed_drawn=bool(row["settings"].get("seed_drawn")) if resumed
                else chosen["seed"] is None,
                mode_given=bool(row["settings"].get("mode_given")) if resumed
                else "mode" in given, max_trial_time=chosen["max_trial_time"])


def _check_space(name: str, row: Mapping[str, Any], space: Space) -> None:
    stored = Space.from_json(row["space"])
    if stored != space:
        new = f"{name}-2"  # the advice had named the same study, and no searcher that learns
        raise ValueError(f"study {name!r} was run over another space: "
                         f"{'; '.join(space.changes_from(stored))}. Resume it with the same "
                         "space, or start a new study whose model learns from this one's "
                         f"trials: study={new!r}, searcher='bayesopt', warm_start={name!r} "
                         f"(%%tune --study {new} --searcher bayesopt --warm-start {name}), or "
                         f"run it afresh over the new space: replace=True (%%tune --replace)")


def _warm_start(chosen: Any, given: Any, storage: str | os.PathLike | None,
                row: dict[str, Any] | None, space: Space, metric: str, mode: str,
                name: str, searcher: Searcher) -> WarmStart | None:
    """The warm start of the study: the one given (a Study object as it is), else, for a
    resumed study, the one it was run with, from the storage file it was kept in."""
    if chosen is None:
        return None
    stored = (row or {}).get("settings", {})
    if given is not None:  # given again on a resume: the trials it held then
        return resolve_warm_start(given, storage, space=space, metric=metric, mode=mode,
                                  study=name, searcher=searcher, held=stored)
    where = stored.get("warm_start_storage", storage) if row is not None else storage
    gone = "was kept in memory only" if where is None else missing_source(chosen, where)
    if gone is not None:  # it ran on without it (a file moved: first-day test, round 64)
        warn_note(f"study {name!r} was warm-started from {chosen!r}, which {gone}: it runs on "
                  "without that warm start; pass warm_start=<that Study> "
                  "(nbtune.load_study(NAME, storage=PATH)) to replay it")
        return None
    return resolve_warm_start(chosen, where, space=space, metric=metric, mode=mode, study=name,
                              searcher=searcher, held=stored)
