"""``nbtune.tune``: the plain Python face that the magic and scripts share."""
from __future__ import annotations

import os
import time
import uuid
from typing import Any, Callable, Iterable, Mapping

from .contract.events import Broadcast, Observer
from .run.loop import Loop
from .contract.budget import Budget
from .run.settings import LoopSettings
from .run.task import scatter_data
from .run.workers import connect
from .schedule import Scheduler, make_scheduler
from .search import Searcher, make_searcher
from .space import Space, as_space
from .storage import Storage, StorageRecorder
from .live import make_progress
from .study import Study

def _check_callable(fn: Any) -> None:
    if not callable(fn):
        raise TypeError(f"the trial function must be callable, got {type(fn).__name__}")
    import cloudpickle

    try:
        cloudpickle.dumps(fn)
    except Exception as exc:
        raise TypeError(f"the trial function cannot be sent to the Dask workers: {exc}. Create "
                        "objects such as open files, locks or connections inside the function "
                        "instead of capturing them") from None


def _positive(name: str, value: Any, integer: bool = False) -> None:
    kind = int if integer else (int, float)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool) or value <= 0):
        what = "a positive integer" if integer else "a positive number"
        raise ValueError(f"{name} must be {what} or None, got {value!r}")


def _default_name() -> str:
    return time.strftime("study-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:4]


class _RecordEnd(Observer):
    """Sets the study's ``stop_reason`` when its loop ends, before the views draw the summary."""

    def __init__(self, study: Study):
        self.study = study

    def study_finished(self, reason: str) -> None:
        self.study.stop_reason = reason


def tune(trial_fn: Callable[[dict], Any], space: Space | Mapping[str, Any], *,
         metric: str = "value", mode: str = "min", n_trials: int | str | None = "auto",
         seed: int | None = None, cluster: Any = None,
         storage: str | os.PathLike | None = "nbtune.db", study: str | None = None,
         resume: bool = False, concurrency: int | None = None,
         resources: Mapping[str, float] | None = None, max_time: float | None = None,
         target: float | None = None, max_resource: float | None = None, retries: int = 1,
         searcher: str | Searcher = "random", points_to_evaluate: list[dict] | None = None,
         scheduler: str | Scheduler | None = None, resource: str = "epoch",
         observers: Iterable[Observer] = (), background: bool = False,
         progress: bool | str | type = "auto", security: Any = None,
         **scheduler_options: Any) -> Study:
    """Tune ``trial_fn(config)`` over ``space`` on a Dask cluster and return the :class:`Study`.

    ``trial_fn`` returns a number, a dict of metrics, or nothing after calling
    ``nbtune.report(...)``. ``n_trials="auto"`` is what a grid searcher's grid or a hyperband
    scheduler's brackets hold, else 50 (:data:`DEFAULT_TRIALS`); None: no cap.
    The study ends after ``n_trials`` trials, ``max_time`` seconds, when a
    result reaches ``target``, when ``max_resource`` units of ``resource`` were trained, when the
    searcher runs out, or on KeyboardInterrupt; whatever ran is in ``storage`` (None: memory only).
    ``progress="auto"`` shows a live panel in a notebook and a progress line on a terminal
    (``False``: nothing). With ``background=True`` it returns at once; the study fills in while it runs (``study.wait()``,
    ``study.stop()``). Wrap ``trial_fn`` with :func:`nbtune.with_parameters` to share large data.
    """
    _check_callable(trial_fn)
    if progress not in ("auto", True, False, None) and not isinstance(progress, type):
        raise ValueError(f"progress must be 'auto', True or False, got {progress!r}")
    space = as_space(space)
    if not isinstance(metric, str) or not metric:
        raise ValueError(f"metric must be a non-empty name, got {metric!r}")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    auto = isinstance(n_trials, str) and n_trials == "auto"
    for name, value, integer in (("n_trials", None if auto else n_trials, True),
                                 ("concurrency", concurrency, True),
                                 ("max_time", max_time, False),
                                 ("max_resource", max_resource, False)):
        _positive(name, value, integer)
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise ValueError(f"retries must be an integer >= 0, got {retries!r}")
    if resources is not None:
        resources = {str(k): float(v) for k, v in dict(resources).items()}
    name = study or _default_name()
    db = Storage(storage) if storage is not None else None
    try:
        stored = db.study_row(name) if resume and seed is None and db is not None else None
        if stored:
            seed = stored["settings"].get("seed")  # continue the same sequence
        options = {}
        if searcher == "grid" and n_trials is not None and not auto:
            options["n_experiments"] = n_trials  # a cap below the grid's size: an even subsample
        search = make_searcher(searcher, space, seed=seed,
                               points_to_evaluate=points_to_evaluate, mode=mode, **options)
        sched = make_scheduler(scheduler, **scheduler_options)
        sched.setup(metric, mode, resource, seed=search.seed, space=space)
        n_trials = _trial_count(n_trials, search, sched)
        if n_trials is None and max_time is None and target is None and max_resource is None \
                and getattr(search, "max_trials", None) is None:
            raise ValueError("the study has no end: give n_trials, max_time, target or "
                             "max_resource")
        from . import __version__  # nbtune/__init__ imports this module first

        client, capacity, resources = connect(cluster, security, resources, __version__)
        shared = scatter_data(client, trial_fn)  # before the study is written: may fail
        settings = {"seed": search.seed, "searcher": search.name, "scheduler": sched.name,
                    "resource": resource, "n_trials": n_trials, "max_time": max_time,
                    "target": target, "max_resource": max_resource, "retries": retries,
                    "resources": resources}
        if getattr(sched, "levels", None):  # rung levels, for plots of the study when loaded
            settings["rung_levels"] = [int(x) for x in sched.levels]
        trials = _open_study(db, name, space, metric, mode, settings, resume)
    except BaseException:
        if db is not None:
            db.close()
        raise
    result = Study(name, space, metric, mode, trials=trials,
                   storage=None if storage is None else os.fspath(storage), settings=settings)
    result.scheduler = sched
    limits = [n for n in (n_trials, search.max_trials) if n is not None]
    planned = min(limits) if limits else None  # what the progress bar counts up to
    view = make_progress(progress, result, n_trials=planned, max_time=max_time,
                         concurrency=concurrency or capacity)  # follows workers that come and go
    if view is not None:
        observers, result.live = [*observers, view], view
    loop = Loop(client, trial_fn, trials, search, sched,
                LoopSettings(metric=metric, mode=mode, resource=resource,
                             concurrency=concurrency,
                             resources=resources, retries=retries,
                             budget=Budget(n_trials, max_time, target, max_resource)),
                Broadcast([_RecordEnd(result)] + ([StorageRecorder(db, name)] if db else [])
                          + list(observers)),
                shared=shared, capacity=capacity)
    loop.observer.study_started({"study": name, "metric": metric, "mode": mode,
                                 "searcher": search.name, "scheduler": sched.name,
                                 "cluster": getattr(client, "dashboard_link", None)})

    def run() -> None:
        try:
            result.stop_reason = loop.run()
        finally:
            if db is not None:
                db.close()
        if result.stop_reason == "interrupted":
            print(f"nbtune: study {name!r} interrupted; {len(result.completed)} trials "
                  f"completed. Continue it with nbtune.tune(..., study={name!r}, resume=True), "
                  f"or in a %%tune cell with --study {name} --resume.")

    if background:
        result._start_background(run, loop.request_stop)
    else:
        run()
    return result


DEFAULT_TRIALS = 50  # trials of a study whose searcher and scheduler have no size of their own


def _trial_count(n_trials: int | str | None, search: Searcher, sched: Scheduler) -> int | None:
    """``n_trials`` with "auto" resolved: the scheduler's brackets (hyperband), else the grid's
    size (None: the searcher ends the study), else :data:`DEFAULT_TRIALS`. A count below what
    the brackets need is warned of: the last brackets would run short."""
    needed = getattr(sched, "trials_needed", None)
    if n_trials == "auto":
        if needed is not None:
            return needed
        return None if search.max_trials is not None else DEFAULT_TRIALS
    if needed is not None and n_trials is not None and n_trials < needed:
        import warnings

        warnings.warn(f"the {sched.name} scheduler's brackets start {needed} trials, but "
                      f"n_trials={n_trials}: its last brackets will run short; give "
                      f"n_trials={needed} (or --trials {needed}), or fewer brackets",
                      stacklevel=3)
    return n_trials


def _open_study(db: Storage | None, name: str, space: Space, metric: str, mode: str,
                settings: dict[str, Any], resume: bool) -> list:
    """The trials to start from: none for a new study, the stored ones when resuming."""
    if db is None:
        if resume:
            raise ValueError("resume=True needs a storage file to resume from")
        return []
    row = db.study_row(name)
    if row is None:  # resume=True on a new name starts it (Optuna's load_if_exists)
        db.create_study(name, space.to_json(), metric, mode, settings)
        return []
    if not resume:
        raise ValueError(f"a study named {name!r} already exists in {db.path!r}: pass resume=True "
                         "to continue it, or choose another study name")
    stored = Space.from_json(row["space"])
    if stored != space:
        raise ValueError(f"study {name!r} was run over another space ({stored!r}); resume it with "
                         "the same space, or start a new study")
    for key, value in (("metric", metric), ("mode", mode)):
        if row[key] != value:
            raise ValueError(f"study {name!r} was run with {key}={row[key]!r}, not {value!r}")
    db.set_status(name, "resumed", settings)
    return db.load_trials(name)
