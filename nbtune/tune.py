"""``nbtune.tune``: the plain Python face that the magic and scripts share."""
from __future__ import annotations

import contextlib
import inspect
import os
import sys
from contextvars import ContextVar
from typing import Any, Callable, Iterable, Mapping

from .caller import call_site, user_facing, warn_note, warnings_at
from .run.cluster import default_cluster, is_embedded
from .run.embedded import embedded_started, starting_line, tell_environ
from .contract.events import Broadcast, Observer
from .run.failfast import check_fail_fast
from .run.failure import StudyFailed
from .run.guard import STDIN_LINE, from_stdin, guard_line, unguarded_line
from .run.halt import halt_leftovers
from .run.held import restart_delay
from .run.interrupts import interrupts_deferred
from .run.local import processes_can_start
from .run.loop import Loop, new_run_id, run_prefix
from .contract.budget import Budget
from .directions import mode_note
from .arguments import check_call, check_values, pickled_fn
from .ported import budget_note, mode_of
from .run.sending import Sending, check_fits, memory_limits, sending_line
from .run.settings import LoopSettings
from .run.workers import connect
from .schedule import Scheduler, make_scheduler
from .search import Searcher, make_searcher, user_options
from .space import Space, as_space
from .lease import STALE_AFTER, Lease
from .recorder import StorageRecorder
from .paths import DEFAULT_STORAGE, chosen_file, remove_file, shared_folder
from .storage import Storage
from .live import make_progress, starting_notice
from .starting import (RecordEnd, default_name, no_study_to_resume, open_study, resume_typo,
                       trial_count)
from .study import Study, StudyInterrupted, kept_clause
from .resume import StudyExists, new_settings, resumed_searcher_options, resumed_settings
from .warm import WarmStart, warm_start as resolve_warm_start

def _check_space(name: str, row: Mapping[str, Any], space: Space) -> None:
    stored = Space.from_json(row["space"])
    if stored != space:
        new = f"{name}-2"  # the advice had named the same study, and no searcher that learns
        raise ValueError(f"study {name!r} was run over another space: "
                         f"{'; '.join(space.changes_from(stored))}. Resume it with the same "
                         "space, or start a new study whose model learns from this one's "
                         f"trials: study={new!r}, searcher='bayesopt', warm_start={name!r} "
                         f"(%%tune --study {new} --searcher bayesopt --warm-start {name})")


def _json_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Scheduler options as stored: JSON values (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}


# Whether tune() prints how to continue an interrupted study; the %%tune magic prints its own.
_RESUME_NOTE: ContextVar[bool] = ContextVar("nbtune_resume_note", default=True)


@contextlib.contextmanager
def own_resume_note():
    """Within it, tune() leaves the note on how to continue an interrupted study to the caller."""
    token = _RESUME_NOTE.set(False)
    try:
        yield
    finally:
        _RESUME_NOTE.reset(token)


@user_facing
def tune(trial_fn: Callable[[dict], Any], space: Space | Mapping[str, Any] | None = None, *,
         metric: str | None = None, mode: str | None = None,
         n_trials: int | str | None = "auto", seed: int | None = None, cluster: Any = None,
         storage: str | os.PathLike | None = DEFAULT_STORAGE, study: str | None = None,
         resume: bool = False, replace: bool = False, concurrency: int | None = None,
         resources: Mapping[str, float] | None = None, max_time: float | None = None,
         target: float | None = None, max_resource: float | None = None,
         retries: int | None = None, searcher: str | Searcher | Any | None = None,
         searcher_options: Mapping[str, Any] | None = None,
         points_to_evaluate: list[dict] | None = None, warm_start: Study | str | None = None,
         scheduler: str | Scheduler | None = None, resource: str | None = None,
         observers: Iterable[Observer] = (), background: bool = False,
         progress: bool | str | type = "auto", security: Any = None, show_output: bool = False,
         restart_held: float | str | None = "auto", fail_fast: bool | str = "auto",
         checkpoints: str | os.PathLike | None = None,
         **scheduler_options: Any) -> Study:
    """Tune ``trial_fn(config)`` over ``space`` on a Dask cluster and return the :class:`Study`.

    ``trial_fn`` returns a number, a dict of metrics, or nothing after calling
    ``nbtune.report(...)``. ``n_trials="auto"`` is what a grid searcher's grid or a hyperband
    scheduler's brackets hold, else the configs of a finite space (choices, integer ranges) of
    fewer than 50, each once, else 50 (:data:`nbtune.starting.DEFAULT_TRIALS`), or no cap
    where ``max_time`` or ``max_resource`` bounds the study; None: no cap.
    The study ends after ``n_trials`` trials, ``max_time`` seconds, when a
    result reaches ``target``, when ``max_resource`` units of ``resource`` were trained, when the
    searcher runs out, or on KeyboardInterrupt; whatever ran is in ``storage`` (None: memory
    only; by default nbtune.db, or in a notebook the file ``%config Tune.storage`` names).
    ``cluster`` (an address, a Client, a cluster object, or ``"local"``) left out is, in a
    notebook, the one ``%tune_cluster`` chose (``Tune.cluster``), else nbtune's local cluster.
    Left out (None), ``metric`` is "value", ``mode`` "min", ``retries`` 1, ``searcher`` "random",
    ``resource`` "epoch". ``searcher`` is a name of ``nbtune.search.SEARCHERS``, a
    :class:`Searcher`, or an Optuna sampler instance (run through ``OptunaSearcher``). A study name that exists in ``storage`` needs ``resume=True``, which
    continues it with the settings it was run with (metric, mode, budgets, target, seed,
    searcher, scheduler and its options, resource, retries, resources; those given again must
    agree), or ``replace=True``, which deletes it and starts again. ``max_time`` counts from
    each run. A failed trial is recorded and the study goes on, but ``fail_fast="auto"`` stops it
    where its first 3 trials to end all failed alike (a bug each trial would meet);
    ``fail_fast=True`` stops at the first failed trial, ``False`` never.
    ``progress="auto"`` shows a live panel in a notebook and a progress line on a terminal
    (``False``: nothing). With ``background=True`` it returns at once; the study fills in while it runs (``study.wait()``,
    ``study.stop()``). What a trial prints is kept as ``trial.output`` (never shown in another
    cell); ``show_output=True`` also streams it into the live view, each line prefixed with its
    trial's id. Wrap ``trial_fn`` with :func:`nbtune.with_parameters` to share large data.
    ``searcher_options`` go to the searcher named by ``searcher`` (``{"acquisition": "ucb"}``
    for bayesopt). ``warm_start`` (a :class:`Study`, or a study name in ``storage``) replays an
    earlier study's ended trials into the searcher before the first suggestion; see
    :mod:`nbtune.warm`. A paused trial's checkpoint is kept beside the study file by the workers
    of the notebook's machine, so a resume takes it up there (a kernel that dies loses those of
    other machines' workers); ``checkpoints`` names a folder that every worker and the notebook
    reach (a shared file system), where all workers keep them.
    """
    check_call(trial_fn, space, scheduler_options, scheduler,
               [name for name in inspect.signature(tune).parameters
                if name not in ("trial_fn", "space", "scheduler_options")])
    mode = mode_of(mode)  # Optuna's "maximize"
    check_fail_fast(fail_fast)
    pickled = pickled_fn(trial_fn)  # fails here, before anything starts, if it cannot travel
    storage = chosen_file(storage)
    if progress not in ("auto", True, False, None) and not isinstance(progress, type):
        raise ValueError(f"progress must be 'auto', True or False, got {progress!r}")
    space = as_space(space)
    if resume and replace:
        raise ValueError("resume=True continues the stored study and replace=True deletes it: "
                         "give one of the two")
    if resources is not None:  # none of a resource asks nothing (Dask waited for a worker
        # offering it: Ray Tune's {"cpu": 1, "gpu": 0} never ran a trial, first-day test, 17)
        resources = {str(k): float(v) for k, v in dict(resources).items() if float(v) != 0} \
            or None
    if checkpoints is not None:
        if storage is None:
            raise ValueError("checkpoints= keeps the paused trials' checkpoints for a resume, "
                             "which needs a study file: give storage= too")
        checkpoints = shared_folder(checkpoints)
    given = {k: v for k, v in (("metric", metric), ("mode", mode), ("seed", seed),
                               ("max_time", max_time), ("target", target),
                               ("max_resource", max_resource), ("retries", retries),
                               ("searcher", searcher), ("scheduler", scheduler),
                               ("resource", resource), ("resources", resources),
                               ("checkpoints", checkpoints),
                               ("warm_start", getattr(warm_start, "name", warm_start)))
             if v is not None}
    if searcher_options is not None and not isinstance(searcher_options, Mapping):
        raise ValueError("searcher_options must be a dict of option name -> value, got "
                         f"{type(searcher_options).__name__}")
    if not (isinstance(n_trials, str) and n_trials == "auto"):
        given["n_trials"] = n_trials
    if cluster is None:  # in a notebook, the cluster %tune_cluster chose
        cluster = default_cluster()
    if is_embedded(cluster) and not embedded_started():
        unguarded = unguarded_line()  # its workers would import the script and run it again
        if unguarded is not None and processes_can_start():
            raise RuntimeError(guard_line(*unguarded))
        if from_stdin() and processes_can_start():
            raise RuntimeError(STDIN_LINE)
    restart_held = restart_delay(restart_held, is_embedded(cluster))
    name = study or default_name()
    made = storage is not None and not os.path.exists(storage)  # by this call, if it fails
    db = Storage(storage) if storage is not None else None
    if made and not os.path.splitext(os.fspath(storage))[1]:  # Ray Tune's storage_path habit
        warn_note(f"storage={os.fspath(storage)!r} is a new study file, a SQLite file of that "
                  f"name, not a folder: a name such as {os.fspath(storage) + '.db'!r} says so")
    lease = notice = None
    try:
        if db is not None:  # one run of a study at a time, across processes
            lease = Lease(db, name)
            lease.acquire()
        row = db.study_row(name) if db is not None and study is not None else None
        if row is not None and not (resume or replace):
            raise StudyExists(name, db.path)  # type: ignore[union-attr]
        if row is None and resume and db is not None:
            typo = resume_typo(db.study_names(), name, db.path)
            if typo is not None:
                raise ValueError(typo)
        if row is not None and resume:
            _check_space(name, row, space)
            chosen, options = resumed_settings(name, row, given, scheduler_options)
            if not isinstance(chosen["scheduler"], (str, type(None))):
                options = dict(scheduler_options)  # an object carries its own options
        else:
            chosen, options = new_settings(given), dict(scheduler_options)
        metric, mode, n_trials, seed = (chosen[k] for k in ("metric", "mode", "n_trials", "seed"))
        max_time, target, max_resource = chosen["max_time"], chosen["target"], \
            chosen["max_resource"]
        retries, searcher, scheduler, resource = (chosen[k] for k in ("retries", "searcher",
                                                                      "scheduler", "resource"))
        check_values(metric, mode, n_trials, concurrency, max_time, max_resource, retries)
        # an accuracy minimised (the mode left out, most likely), or a logloss maximised
        note = None if row is not None and resume else mode_note(metric, mode, "mode" in given)
        if note is not None:
            warn_note(note)
        auto = isinstance(n_trials, str) and n_trials == "auto"
        resources = chosen["resources"]  # a resumed study's GPUs, as it was run (first-day, 11)
        search_options = {}
        if searcher == "grid" and n_trials is not None and not auto:
            search_options["n_experiments"] = n_trials  # a cap below the grid's size: a subsample
        given_options = user_options(searcher_options)
        if row is not None and resume and isinstance(searcher, str):  # as it was run
            search_options.update(resumed_searcher_options(name, row, given_options))
        else:
            search_options.update(given_options)
        search = make_searcher(searcher, space, seed=seed,
                               points_to_evaluate=points_to_evaluate, mode=mode, **search_options)
        sched = make_scheduler(scheduler, **options)
        sched.setup(metric, mode, resource, seed=search.seed, space=space)
        sched.use_model(search.predict)
        note = budget_note(max_resource, sched.max_level())
        if note is not None:
            warn_note(note)  # Optuna's max_resource, the longest trial, ported as it was
        n_trials = trial_count(n_trials, search, sched, space,
                                timed=max_time is not None or max_resource is not None)
        idle = sched.idle_note(n_trials)
        if idle is not None:
            warn_note(idle)  # early stopping asked for, and off: grace_period at max_t, say
        warm = _warm_start(chosen["warm_start"], warm_start, storage, row if resume else None,
                           space, metric, mode, name, search)
        if n_trials is None and max_time is None and target is None and max_resource is None \
                and getattr(search, "max_trials", None) is None:
            raise ValueError("the study has no end: give n_trials, max_time, target or "
                             "max_resource")
        from . import __version__  # nbtune/__init__ imports this module first

        if row is None and resume and db is not None:  # said before a view is shown: the panel
            # took the starting line's place, above it, and it read below the summary (round 20)
            print(f"nbtune: {no_study_to_resume(db.study_names(), name, db.path)}: it starts as "
                  "a new study")
        if is_embedded(cluster) and not embedded_started():  # seconds: say so meanwhile
            notice = starting_notice(progress, starting_line())
        client, capacity, asked = connect(cluster, security, resources, __version__)
        if is_embedded(cluster):  # what the notebook set since its workers started
            tell_environ(client)
        sending = Sending(client, trial_fn, pickled)  # every worker gets a copy, before any trial
        sizes = sending.sizes  # what is not on the workers already, from the last study
        tight = check_fits(memory_limits(client), sizes, sending.freed)
        if tight is not None:
            warn_note(tight)
        line = sending_line(sizes, len(capacity.workers))
        if line is not None:  # seconds to a minute of a blank cell (first-day test, round 21)
            if notice is not None:
                notice.say(line)
            else:
                notice = starting_notice(progress, line)
        shared, carried = sending.send()  # before the study is written: may fail
        if row is not None and resume:  # what its last run left on the cluster (a dead kernel's)
            left = halt_leftovers(client, row["settings"].get("run"))
            if left:
                warn_note(f"{left} trial{'s' if left > 1 else ''} of study {name!r}'s last run "
                          "still run on the cluster and hold their workers' threads (a trial "
                          "that does not return to Python); they give them back when they end")
        run_id = new_run_id()
        settings = {"seed": search.seed, "searcher": search.name, "scheduler": sched.name,
                    "resource": resource, "n_trials": n_trials, "max_time": max_time,
                    "target": target, "max_resource": max_resource, "retries": retries,
                    "resources": resources, "run": run_prefix(run_id)}
        if chosen["checkpoints"] is not None:
            settings["checkpoints"] = chosen["checkpoints"]
        if search.options:
            settings["searcher_options"] = search.options
        if warm is not None:
            settings.update(warm.settings())
        if isinstance(scheduler, (str, type(None))):  # an object's options are its own
            settings["scheduler_options"] = _json_options(options)
        if getattr(sched, "levels", None):  # rung levels, for plots of the study when loaded
            settings["rung_levels"] = [int(x) for x in sched.levels]
        trials = open_study(db, name, space, metric, mode, settings, row, resume)
        ended = sum(1 for t in trials if t.is_finished)
        if row is not None and resume and n_trials is not None and ended >= n_trials:
            said = f"study {name!r} has run its {n_trials} trials: nothing is left to run; "
            if _RESUME_NOTE.get():
                warn_note(f"{said}n_trials={ended + n_trials} runs {n_trials} more")
            else:  # a %%tune cell run again, as a notebook invites: a line in its own words,
                # where a warning's red box said "<tune cell [9]>:1: NbtuneWarning" (round 25)
                print(f"nbtune: {said}--trials {ended + n_trials} runs {n_trials} more")
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        # a second interrupt must not cut the clearing up short, nor (in a %%tune cell, see
        # interrupts_absorbed_to_cell_end) fall in the cell's last lines: a page of frames
        with interrupts_deferred() if interrupted else contextlib.nullcontext():
            if notice is not None:
                notice.clear()
            if lease is not None:
                lease.release()
            if db is not None:
                empty = made and not db.study_names()
                db.close()
                if empty:  # a cell refused (a wrong address, a bad option) leaves no file
                    remove_file(db.path)
        if interrupted and not isinstance(exc, StudyInterrupted):
            # before any trial: one line, where a page of nbtune's and Dask's frames showed
            # (an interrupt while the notebook's data went to the workers: first-day test, 21)
            raise StudyInterrupted(f"study {name!r} was interrupted while it started, before "
                                   "any trial ran: nothing of this run was stored") from None
        raise
    note = _RESUME_NOTE.get()  # read here: a background study runs in a thread of its own
    result = Study(name, space, metric, mode, trials=trials,
                   storage=None if storage is None else os.fspath(storage), settings=settings)
    # a resumed study's earlier trials, known before any view draws (RecordEnd sets it again
    # as the run starts): the panel's first frame took them into this run's pace, for good
    result.earlier = frozenset(t.id for t in trials if t.is_finished)
    result.scheduler, result.searcher = sched, search
    limits = [n for n in (n_trials, search.max_trials) if n is not None]
    planned = min(limits) if limits else None  # what the progress bar counts up to
    view = make_progress(progress, result, notice=notice, n_trials=planned, max_time=max_time,
                         # what runs at once: follows workers that come and go
                         concurrency=(lambda: min(concurrency, capacity())) if concurrency
                         else capacity,
                         show_output=show_output, starved=capacity.starved,
                         paused=capacity.paused)
    if view is not None:
        observers, result.live = [*observers, view], view
    loop = Loop(client, carried, trials, search, sched,
                LoopSettings(metric=metric, mode=mode, resource=resource,
                             concurrency=concurrency,
                             resources=asked, retries=retries, show_output=show_output,
                             budget=Budget(n_trials, max_time, target, max_resource),
                             study=name, restart_held=restart_held, stored=db is not None,
                             fail_fast=fail_fast,
                             keep_at=db.checkpoint_folder(name) if db is not None else None,
                             keep_shared=chosen["checkpoints"] is not None, run_id=run_id),
                Broadcast([RecordEnd(result)]
                          + ([StorageRecorder(db, name, lease, settings=result.settings)]
                             if db else []) + list(observers)),
                shared=shared, capacity=capacity, warm=warm, pickled=pickled)
    if lease is not None:
        def taken_over(by: str) -> None:
            print(f"nbtune: study {name!r} was taken over by {by}, which found its lease not "
                  f"renewed for {STALE_AFTER:g} s: this run stops and writes nothing more to "
                  "the file (the other run's trials are the study's now)", file=sys.stderr)
            loop.request_stop("taken_over")

        lease.on_lost = taken_over
    loop.observer.study_started({"study": name, "metric": metric, "mode": mode,
                                 "searcher": search.name, "scheduler": sched.name,
                                 "cluster": getattr(client, "dashboard_link", None),
                                 "address": loop.address,
                                 "data": list(shared)})  # sent to the workers with the trials

    site = call_site()  # the caller's line, for the loop's warnings on a background thread

    def run() -> None:
        try:
            with warnings_at(site):
                result.stop_reason = loop.run()
                if view is None:  # no view shows the trials' warnings
                    _trial_notes(result)
        except StudyFailed as exc:
            result.stop_reason, result.error, exc.study = "error", str(exc), result
            if not background:
                raise
            print(f"nbtune: {exc}")  # nobody waits on a background study's thread to raise it
        finally:
            if db is not None:
                with contextlib.suppress(Exception):
                    db.close()
        if result.stop_reason == "interrupted" and note:
            done = len(result.completed)
            print(f"nbtune: study {name!r} interrupted; {done} trial{'s' if done != 1 else ''} "
                  f"completed. Continue it with nbtune.tune(trial_fn, space, study={name!r}, "
                  f"resume=True){kept_clause(result)}: it keeps the settings it was run with.")

    if background:
        result._start_background(run, loop.request_stop)
    else:
        run()
    return result


def _trial_notes(study: Study) -> None:
    """nbtune's own notes that its trials raised (a folder's path given as the checkpoint), each
    once with the number of trials, where no view shows them (``progress=False``): they were in
    ``study.summary()`` only, and such a study ran without a word (first-day test, round 35)."""
    from .summary import study_warnings

    for record, n in study_warnings(study):
        if record.get("category") == "NbtuneWarning":
            warn_note(f"{record['message']} ({n} trial{'s' if n != 1 else ''})")


def _warm_start(chosen: Any, given: Any, storage: str | os.PathLike | None,
                row: dict[str, Any] | None, space: Space, metric: str, mode: str,
                name: str, searcher: Searcher) -> WarmStart | None:
    """The warm start of the study: the one given (a Study object as it is), else, for a
    resumed study, the one it was run with, from the storage file it was kept in."""
    if chosen is None:
        return None
    if given is not None:
        return resolve_warm_start(given, storage, space=space, metric=metric, mode=mode,
                                  study=name, searcher=searcher)
    stored = (row or {}).get("settings", {})
    where = stored.get("warm_start_storage", storage) if row is not None else storage
    if where is None:
        warn_note(f"study {name!r} was warm-started from {chosen!r}, which was kept in "
                  "memory only: it runs on without that warm start; pass "
                  "warm_start=<that Study> to replay it")
        return None
    return resolve_warm_start(chosen, where, space=space, metric=metric, mode=mode, study=name,
                              searcher=searcher)
