"""``nbtune.simulate``: a study run in simulated time on a learning-curve table, in seconds."""
from __future__ import annotations

import inspect
import os
import time
from typing import Any, Iterable, Mapping

from .caller import user_facing, warn_note
from .contract.budget import Budget
from .contract.events import Broadcast, Observer
from .paths import chosen_file
from .planning import search_and_schedule, stored_settings
from .ported import KEYWORDS, ported_keyword
from .schedule import SCHEDULERS, Scheduler
from .search import Searcher, user_options
from .sim.backend import SimSettings, Simulator
from .sim.blackbox import Blackbox
from .sim.tables import load_table
from .space import Space
from .recorder import StorageRecorder
from .storage import Storage
from .study import Study
from .resume import StudyExists
from .starting import RecordEnd, default_name, open_study, positive, trial_count
from .warm import warm_start as resolve_warm_start


def _blackbox(table: Any) -> Blackbox:
    return table if isinstance(table, Blackbox) else load_table(table)


# nbtune.tune's arguments that a simulated study has no use for, named as such
TUNE_ONLY = frozenset({"progress", "cluster", "concurrency", "resources", "background",
                       "security", "show_output", "restart_held", "fail_fast", "resume",
                       "replace", "checkpoints_folder", "trial_fn"})


def _scheduler_options(scheduler: str | Scheduler | None, box: Blackbox,
                       options: dict) -> dict:
    """The scheduler's options: a scheduler given by name gets the table's max_t unless the
    options give one."""
    if isinstance(scheduler, str) and scheduler.lower() in SCHEDULERS:
        params = inspect.signature(SCHEDULERS[scheduler.lower()].__init__).parameters
        if "max_t" in params and "max_t" not in options:  # rung_levels are rungs below it
            options = {**options, "max_t": box.max_t}
    return options


def _ported(options: Mapping[str, Any], box: Blackbox) -> None:
    """A TypeError for another tool's keyword, in the line ``tune()`` gives it: ``resource_attr``
    read "scheduler 'asha' has no option 'resource_attr'" here (first-day test, round 61)."""
    for key in options:
        line = ported_keyword(key)
        if line is None:
            continue
        if KEYWORDS[key][1] == "resource":  # a table records its own
            line = (f"{key}= is {KEYWORDS[key][0]}'s name for the resource, which the table "
                    f"records: {box.resource!r}")
        raise TypeError(f"simulate() got an unexpected keyword argument {key!r}: {line}")


LONG = 10.0  # seconds of wall time after which a simulated study without n_trials is named


class _LongRun(Observer):
    """Names a simulated study without ``n_trials`` that has run :data:`LONG` seconds of wall
    time: a ``max_time`` alone starts trials until it, and the README's 256 workers for 600
    simulated seconds started 400,000 and took 7 minutes, in silence (first-day test, round 61)."""

    def __init__(self, clock: Any, max_time: float, n_workers: int, table: str):
        self.clock, self.max_time, self.n_workers, self.table = clock, max_time, n_workers, table
        self.started, self.count, self.said = time.monotonic(), 0, False

    def trial_created(self, trial: Any) -> None:
        self.count += 1
        if self.said or self.count % 1000 or time.monotonic() - self.started < LONG:
            return
        self.said = True
        warn_note(f"nbtune.simulate has started {self.count:,} trials in "
                  f"{time.monotonic() - self.started:.0f} s and is at simulated second "
                  f"{self.clock():.0f} of max_time={self.max_time:g} on {self.n_workers} "
                  f"workers: without n_trials a simulated study starts trials until its "
                  f"max_time, on the configs of {self.table!r} again and again; give n_trials=N to "
                  f"end it sooner (a few thousand trials take seconds)")


@user_facing
def simulate(table: str | os.PathLike | Blackbox, *, space: Space | Mapping[str, Any] | None = None,
             searcher: str | Searcher | Any = "random", searcher_options: Mapping[str, Any] | None = None,
             scheduler: str | Scheduler | None = None,
             metric: str | None = None, mode: str | None = None,
             n_workers: int = 4, n_trials: int | str | None = None, max_time: float | None = None,
             target: float | None = None, max_resource: float | None = None,
             seed: int | None = None, start_overhead: float = 0.0, checkpoints: bool = True,
             failure_rate: float = 0.0, retries: int = 1, restrict: bool = True,
             points_to_evaluate: list[dict] | None = None, study: str | None = None,
             storage: str | os.PathLike | None = None, observers: Iterable[Observer] = (),
             warm_start: Study | str | None = None, **scheduler_options: Any) -> Study:
    """Run a study on ``table`` in simulated time with ``n_workers`` simulated workers.

    ``table`` is a table's name (:func:`nbtune.sim.table_names`), the path of a ``.npz`` table, or
    a :class:`nbtune.sim.Blackbox`. Each trial's reports are the learning curve of the table's
    nearest config, each level costs the seconds measured when the table was made, and each
    submission (start, resume, retry) costs ``start_overhead`` simulated seconds more. The
    searcher (a name, a Searcher or an Optuna sampler) and scheduler (names or objects, your own
    ``Scheduler`` subclass included) make every decision through the same calls as in
    :func:`nbtune.tune`; ``metric`` and ``mode`` are the table's (given, they must match it). ``max_time`` is in simulated
    seconds. ``checkpoints=False``: a paused trial resumes from its first level (counted again).
    ``failure_rate``: the chance that a submission's worker dies (the trial is retried ``retries``
    times). ``restrict`` (a table's default): the searcher suggests only the table's configs,
    each once while some are left (:meth:`Searcher.restrict`), so no two trials share a row and a
    model-based searcher is not charged for the table's gaps; ``restrict=False`` looks each
    suggestion up by nearest neighbour instead. Returns a normal :class:`Study`; its times are simulated seconds from 0. Observers
    get the same events as in a real study; ``info["clock"]()`` in ``study_started`` is the
    simulated time of the event being observed. ``searcher_options`` and ``warm_start`` (a
    :class:`Study`, or a study name in ``storage``) as in :func:`nbtune.tune`.
    """
    tune_only = sorted(set(scheduler_options) & TUNE_ONLY)
    if tune_only:  # it read "scheduler 'fifo' has no option 'progress'" (check round 44)
        raise TypeError(f"simulate() takes no {tune_only[0]}=: it is nbtune.tune's; a simulated "
                        f"study runs no trial code on a cluster and shows no live view (its "
                        f"arguments: n_workers=, n_trials=, max_time=, seed=, ...)")
    box = _blackbox(table)
    _ported(scheduler_options, box)
    space = box.space if space is None else box.check_space(space)
    auto = isinstance(n_trials, str) and n_trials == "auto"
    for name, value, integer in (("n_workers", n_workers, True),
                                 ("n_trials", None if auto else n_trials, True),
                                 ("max_time", max_time, False),
                                 ("max_resource", max_resource, False)):
        positive(name, value, integer)
    if n_workers is None:
        raise ValueError("n_workers must be a positive integer, got None")
    if not isinstance(start_overhead, (int, float)) or isinstance(start_overhead, bool) \
            or not start_overhead >= 0:
        raise ValueError(f"start_overhead must be a number of seconds >= 0, got {start_overhead!r}")
    if not isinstance(failure_rate, (int, float)) or not 0 <= failure_rate < 1:
        raise ValueError(f"failure_rate must be a number in [0, 1), got {failure_rate!r}")
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise ValueError(f"retries must be an integer >= 0, got {retries!r}")
    for given, recorded, what in ((metric, box.metric, "metric"), (mode, box.mode, "mode")):
        if given is not None and given != recorded:
            raise ValueError(f"the table {box.name!r} records {box.metric!r} (mode {box.mode!r}), "
                             f"not {what}={given!r}: leave {what} out, or use another table")
    metric, mode, resource = box.metric, box.mode, box.resource
    search, sched = search_and_schedule(searcher, scheduler, space, metric, mode, resource, seed,
                                        points_to_evaluate, user_options(searcher_options),
                                        _scheduler_options(scheduler, box, scheduler_options))
    if restrict and getattr(box, "configs", None):
        allowed = box.allowed(search.space) if hasattr(box, "allowed") else (box.configs, None)
        if allowed[0]:  # a space narrower than every config of the table: nearest ones instead
            search.restrict(*allowed)
    timed = max_time is not None or max_resource is not None
    if auto:
        n_trials = trial_count(n_trials, search, sched, space, timed=timed)
    else:
        sched.set_budget(n_trials, timed)
    ends = [n_trials, max_time, max_resource, search.max_trials,
            getattr(sched, "trials_needed", None)]
    if target is not None:
        best = box.best_value
        if (target > best if mode == "max" else target < best) and all(e is None for e in ends):
            raise ValueError(f"target={target!r} can never be reached: the best {metric} in "
                             f"{box.name!r} is {best:.6g}; give a target within it, or a "
                             "max_time, n_trials or max_resource")
    elif all(e is None for e in ends):
        raise ValueError("the study has no end: give n_trials, max_time, target or max_resource")
    storage = chosen_file(storage)  # "none": in memory, the magic's word (check round 43)
    there = storage is not None and os.path.exists(storage)
    name = study or default_name(Storage(storage) if there else None)
    warm = resolve_warm_start(warm_start, storage, space=space, metric=metric, mode=mode,
                              study=name, searcher=search)
    settings = stored_settings(search, sched, resource, n_trials, max_time, target,
                               max_resource, retries, warm,
                               simulated={"table": box.name, "n_workers": n_workers,
                                          "start_overhead": start_overhead,
                                          "checkpoints": checkpoints,
                                          "failure_rate": failure_rate})
    if seed is None:
        settings["seed_drawn"] = True
    db = Storage(storage) if storage is not None else None
    try:
        if db is not None and db.study_row(name) is not None:
            raise StudyExists(name, db.path)
        trials = open_study(db, name, space, metric, mode, settings, row=None, resume=False)
        result = Study(name, space, metric, mode, trials=trials, settings=settings,
                       storage=None if storage is None else os.fspath(storage))
        result.scheduler, result.searcher = sched, search
        long_run = ([_LongRun(lambda: sim.clock, max_time, n_workers, box.name)]
                    if n_trials is None and max_time is not None else [])
        observer = Broadcast([RecordEnd(result)]
                             + ([StorageRecorder(db, name, settings=result.settings)] if db else [])
                             + long_run + list(observers))
        sim = Simulator(box, trials, search, sched,
                        SimSettings(metric=metric, mode=mode, resource=resource,
                                    n_workers=n_workers, start_overhead=float(start_overhead),
                                    checkpoints=bool(checkpoints), failure_rate=failure_rate,
                                    retries=retries, seed=search.seed,
                                    budget=Budget(n_trials, max_time, target, max_resource)),
                        observer, warm=warm)
        observer.study_started({"study": name, "metric": metric, "mode": mode,
                                "searcher": search.name, "scheduler": sched.name,
                                "cluster": f"simulated: {n_workers} workers on {box.name}",
                                "clock": lambda: sim.clock})
        result.stop_reason = sim.run()
    finally:
        if db is not None:
            db.close()
    return result
