"""``nbtune.tune``: the plain Python face that the magic and scripts share."""
from __future__ import annotations

import contextlib
import inspect
import os
import sys
from contextvars import ContextVar
from typing import Any, Callable, Iterable, Mapping

from .scoped import within
from .caller import call_site, ipython_shell, user_facing, warn_note, warnings_at
from .run.cluster import default_cluster, is_embedded
from .run.embedded import embedded_started, starting_line
from .contract.events import Broadcast, Observer
from .run.failfast import check_fail_fast
from .run.failure import StudyFailed
from .run.guard import STDIN_LINE, from_stdin, guard_line, unguarded_line
from .run.halt import halt_leftovers
from .run.held import restart_delay
from .run.interrupts import interrupts_deferred, quiet_sync_cancel_race, terminate_as_interrupt
from .run.local import processes_can_start
from .run.loop import Loop, new_run_id, run_prefix
from .contract.budget import Budget
from .arguments import check_call, pickled_fn
from .ported import mode_of
from .run.settings import LoopSettings
from .planning import Plan, plan_study
from .schedule import Scheduler
from .search import Searcher
from .space import Space, as_space
from .lease import STALE_AFTER, Lease
from .recorder import StorageRecorder
from .paths import DEFAULT_STORAGE, chosen_file, remove_file, shared_folder
from .storage import Storage
from .live import check_progress, make_progress, starting_notice
from .connecting import Connected, Starting, StopLater, connect_and_send, starts_later
from .starting import RecordEnd, default_name, new_study_line, open_study, resume_typo
from .run_end import say_interrupted, none_completed, trial_notes
from .study import Study, StudyInterrupted
from .resume import StudyExists

# Whether tune() prints how to continue an interrupted study; the %%tune magic prints its own.
_RESUME_NOTE: ContextVar[bool] = ContextVar("nbtune_resume_note", default=True)
# How the caller that prints its own note names a trial budget ("--trials 60" in a cell)
_BUDGET: ContextVar[str] = ContextVar("nbtune_budget", default="--trials {}")


# A line tune() prints once the study's settings are checked (see said_once_planned)
_PLANNED_NOTE: ContextVar[str] = ContextVar("nbtune_planned_note", default="")


@contextlib.contextmanager
def said_once_planned(text: str):
    """Within it, tune() prints ``text`` (when not empty) once the study's settings are checked:
    a cell refused for a bad option first printed "--storage none keeps this study in memory
    only", for a study that never ran (first-day test, round 64)."""
    with within(_PLANNED_NOTE, text):
        yield


@contextlib.contextmanager
def own_resume_note(budget: str = "--trials {}"):
    """Within it, tune() leaves the note on how to continue an interrupted study to the caller,
    and names a trial budget as ``budget`` does (SearchCV's ``n_trials={}``)."""
    with within(_RESUME_NOTE, False), within(_BUDGET, budget):
        yield


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
         checkpoints: str | os.PathLike | None = None, max_trial_time: float | None = None,
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
    each run. ``max_trial_time`` (seconds, counted from a trial's start, or from its
    resumption where a scheduler paused it) ends a trial that runs longer, hung or slow: one
    that reported its metric is ``stopped`` there, its last value its result (as a scheduler
    stops it), one that did not is ``failed``; the study goes on. A failed trial is recorded and the study goes on, but ``fail_fast="auto"`` stops it
    where its first 3 trials, and every trial started before them, failed alike (a bug each
    trial would meet; configs that fail at once wait for the trials started earlier);
    ``fail_fast=True`` stops at the first failed trial, ``False`` never. In a script (no
    IPython), a study interrupted (Ctrl-C, or SIGTERM, which it takes as one) raises
    KeyboardInterrupt once recorded (SIGTERM then ends the process as it would have), and one
    that ended with failures and no completed trial raises :class:`NoTrialCompleted`; each
    carries the study as ``.study``. In a notebook both are returned.
    ``progress="auto"`` shows a live panel in a notebook and a progress line on a terminal
    (``False``: nothing; ``"text"``: a line every 30 s and a text summary, in a notebook too,
    for the log of a notebook run by papermill or nbconvert). With ``background=True`` it returns at once; the study fills in while it runs (``study.wait()``,
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
    check_progress(progress)
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
                               ("max_trial_time", max_trial_time),
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
        # a script's mistake, said as its one line and exit status 1 (SystemExit: a page of
        # nbtune's frames came with it, first-day test, round 39)
        unguarded = unguarded_line()  # its workers would import the script and run it again
        if unguarded is not None and processes_can_start():
            raise SystemExit(f"nbtune: {guard_line(*unguarded)}")
        if from_stdin() and processes_can_start():
            raise SystemExit(f"nbtune: {STDIN_LINE}")
    restart_held = restart_delay(restart_held, is_embedded(cluster))
    made = storage is not None and not os.path.exists(storage)  # by this call, if it fails
    db = Storage(storage) if storage is not None else None
    name = study or default_name(db)
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
        plan = plan_study(name, row, resume, space, given, n_trials, concurrency,
                          scheduler_options, searcher_options, points_to_evaluate, warm_start,
                          storage)
        if _PLANNED_NOTE.get():
            print(_PLANNED_NOTE.get())
        from . import __version__  # nbtune/__init__ imports this module first

        if row is None and resume and db is not None:  # said before a view is shown: the panel
            # took the starting line's place, above it, and it read below the summary (round 20)
            print(f"nbtune: {new_study_line(db.study_names(), name, db.path)}")
        starting = is_embedded(cluster) and not embedded_started()
        # a background study connects on its own thread while nbtune's cluster starts: its
        # cell returns at once (the data goes once the cluster is up; see nbtune.connecting)
        later = (background and starting and not plan.resumed and starts_later()
                 and plan.resources is None  # resources asked: checked in the cell
                 and ipython_shell() is not None)  # a script's exit closed the cluster first
        if starting and not later:  # seconds: say so meanwhile
            notice = starting_notice(progress, starting_line())
        connected = None
        if not later:
            connected, notice = connect_and_send(cluster, security, plan.resources, trial_fn,
                                                 pickled, __version__, progress, notice)
        if plan.resumed:  # what its last run left on the cluster (a dead kernel's)
            left = halt_leftovers(connected.client, row["settings"].get("run"))
            if left:
                warn_note(f"{left} trial{'s' if left > 1 else ''} of study {name!r}'s last run "
                          "still run on the cluster and hold their workers' threads (a trial "
                          "that does not return to Python); they give them back when they end")
        run_id = new_run_id()
        settings = plan.settings(run_prefix(run_id))
        trials = [] if later else open_study(db, name, space, plan.metric, plan.mode, settings,
                                             row, resume)
        _said_done(plan, trials)
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
    result = Study(name, space, plan.metric, plan.mode, trials=trials,
                   storage=None if storage is None else os.fspath(storage), settings=settings)
    # a resumed study's earlier trials, known before any view draws (RecordEnd sets it again
    # as the run starts): the panel's first frame took them into this run's pace, for good
    result.earlier = frozenset(t.id for t in trials if t.is_finished)
    result.scheduler, result.searcher = plan.sched, plan.search
    limits = [n for n in (plan.n_trials, plan.search.max_trials) if n is not None]
    capacity = connected.capacity if connected is not None else Starting(starting_line())
    view = make_progress(progress, result, notice=notice,
                         n_trials=min(limits) if limits else None,  # what the bar counts to
                         max_time=plan.max_time,
                         # what runs at once: follows workers that come and go
                         concurrency=(lambda: min(concurrency, capacity())) if concurrency
                         else capacity,
                         show_output=show_output, starved=capacity.starved,
                         paused=capacity.paused)
    if view is not None:
        observers, result.live = [*observers, view], view
        if connected is None:  # its first frame says the cluster starts; the rest follow
            view.draw_now()

    def make_loop(connected: Connected) -> Loop:
        loop = Loop(connected.client, connected.carried, trials, plan.search, plan.sched,
                    LoopSettings(metric=plan.metric, mode=plan.mode, resource=plan.resource,
                                 concurrency=concurrency, resources=connected.asked,
                                 retries=plan.retries, show_output=show_output,
                                 budget=Budget(plan.n_trials, plan.max_time, plan.target,
                                               plan.max_resource, plan.max_trial_time),
                                 study=name, restart_held=restart_held, stored=db is not None,
                                 fail_fast=fail_fast,
                                 keep_at=db.checkpoint_folder(name) if db is not None else None,
                                 keep_shared=plan.checkpoints is not None, run_id=run_id),
                    Broadcast([RecordEnd(result)]
                              + ([StorageRecorder(db, name, lease, settings=result.settings)]
                                 if db else []) + list(observers)),
                    shared=connected.shared, capacity=connected.capacity, warm=plan.warm,
                    pickled=pickled, send_again=connected.send_again)
        if lease is not None:
            lease.on_lost = _taken_over(name, loop)
        loop.observer.study_started({
            "study": name, "metric": plan.metric, "mode": plan.mode,
            "searcher": plan.search.name, "scheduler": plan.sched.name,
            "cluster": getattr(connected.client, "dashboard_link", None),
            "address": loop.address,
            "data": list(connected.shared)})  # sent to the workers with the trials
        return loop

    site = call_site()  # the caller's line, for the loop's warnings on a background thread
    # a script's study (not a notebook's, whose Ctrl-C returns it) stops the script when
    # interrupted, once recorded, and takes SIGTERM for an interrupt (first-day test, round 39)
    script = not background and note and ipython_shell() is None
    stop = StopLater(make_loop(connected) if connected is not None else None)

    def start_later() -> Loop | None:
        """On the study's thread: connect once the cluster is up, send, write the study."""
        try:
            up, _ = connect_and_send(cluster, security, plan.resources, trial_fn, pickled,
                                     __version__, says=False)
            trials[:] = open_study(db, name, space, plan.metric, plan.mode, settings, row,
                                   resume)
            capacity.capacity = up.capacity
            return stop.took(make_loop(up))
        except BaseException as exc:  # said as the cell would have said it, and ended
            if lease is not None:
                lease.release()
            if db is not None:
                empty = made and not db.study_names()
                db.close()
                if empty:
                    remove_file(db.path)
            result.stop_reason, result.error = "error", str(exc) or type(exc).__name__
            print(f"nbtune: study {name!r} did not start: {result.error}", flush=True)
            if view is not None:
                view.study_finished("error")
            return None

    def run() -> None:
        quiet_sync_cancel_race()  # an interrupt in Dask's sync() logged an ERROR of its own
        with terminate_as_interrupt() if script else contextlib.nullcontext([False]) as term:
            try:
                with warnings_at(site):
                    loop = stop.loop if stop.loop is not None else start_later()
                    if loop is None:
                        return
                    result.stop_reason = loop.run()
                    if view is None:  # no view shows the trials' warnings
                        trial_notes(result)
            except StudyFailed as exc:
                result.stop_reason, result.error, exc.study = "error", str(exc), result
                if not background:
                    raise
                print(f"nbtune: {exc}")  # nobody waits on a background study's thread
            finally:
                if db is not None:
                    with contextlib.suppress(Exception):
                        db.close()
        if result.stop_reason == "interrupted" and note:
            say_interrupted(result, term[0], script)
        if script:
            none_completed(result)

    if background:
        result._start_background(run, stop)
    else:
        run()
    return result


def _said_done(plan: Plan, trials: list) -> None:
    """A resumed study that has run its trials: how to run more, said before anything runs."""
    ended = sum(1 for t in trials if t.is_finished)
    if not plan.resumed or plan.n_trials is None:
        return
    n_trials, made = plan.n_trials, len(trials)
    if ended < made and n_trials < made:  # its unfinished trials run on: none is new (round
        # 67: taken in silence, and the next resume's "n_trials=3 or more" named a number
        # unasked; round 68: "nothing is left to run", then they ran)
        _say(f"study {plan.name!r} has {made} trials already, {made - ended} of them "
             f"unfinished, which this run ends: n_trials={n_trials} starts no new one; ",
             made + n_trials, n_trials)
    elif ended >= n_trials:
        # "has run its 10 trials" of a study that had run 24, n_trials 10 given again (round 39)
        ran = (f"its {n_trials} trials" if ended == n_trials else
               f"{ended} trials, more than its n_trials={n_trials}")
        _say(f"study {plan.name!r} has run {ran}: nothing is left to run; ", ended + n_trials,
             n_trials)


def _say(said: str, budget: int, more: int) -> None:
    """``said``, then the budget that runs ``more`` trials, in the caller's words."""
    if _RESUME_NOTE.get():
        warn_note(f"{said}n_trials={budget} runs {more} more")
    else:  # a %%tune cell run again, as a notebook invites: a line in its own words,
        # where a warning's red box said "<tune cell [9]>:1: NbtuneWarning" (round 25)
        print(f"nbtune: {said}{_BUDGET.get().format(budget)} runs {more} more")


def _taken_over(name: str, loop: Loop) -> Callable[[str], None]:
    """What a run does when another process takes its study's lease: it stops."""
    def taken_over(by: str) -> None:
        print(f"nbtune: study {name!r} was taken over by {by}, which found its lease not "
              f"renewed for {STALE_AFTER:g} s: this run stops and writes nothing more to "
              "the file (the other run's trials are the study's now)", file=sys.stderr)
        loop.request_stop("taken_over")

    return taken_over
