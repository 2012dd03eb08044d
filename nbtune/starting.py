"""Starting a study: what ``nbtune.tune`` and ``nbtune.simulate`` share before and after its
trials run: a budget's check, the study's default name, its trial count where the user left it
"auto", its opening in storage (new, replaced or resumed), and the observer that records its end
on the Study."""
from __future__ import annotations

import math

import contextlib
import os
import time
import uuid
from contextvars import ContextVar
from typing import Any

from .scoped import within
from .caller import warn_note
from .contract.events import Observer
from .paths import checkpoint_folder
from .run import kept
from .schedule import Scheduler
from .search import Searcher
from .shown import outdated
from .space import Space
from .storage import Storage
from .study import Study
from .typos import one_typo


def positive(name: str, value: Any, integer: bool = False) -> None:
    """ValueError, one line, unless ``value`` is None or a positive number (an integer): not
    NaN, which compared as no limit at all (``max_trial_time=nan`` let a hung trial run for
    good: first-day check, round 68), nor infinity, which None says."""
    kind = int if integer else (int, float)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)
                              or not math.isfinite(value) or value <= 0):
        what = "a positive integer" if integer else "a positive number"
        raise ValueError(f"{name} must be {what} or None, got {value!r}")


def default_name(db: Storage | None = None) -> str:
    """A new study's name where the user gave none: its start, and 4 hex digits, drawn again
    while ``db`` holds a study of that name (a dozen cells run in one second drew one twice)."""
    taken = set(db.study_names()) if db is not None else set()
    while True:
        name = time.strftime("study-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:4]
        if name not in taken:
            return name


# settings kept across a study's runs, each run adding to them or (run_ended) moving them on
RUN_TOTALS = ("run_seconds", "run_ended", "run_spans", "searcher_quick_draws", "searcher_waited")


class RecordEnd(Observer):
    """Sets the study's start and end times (and sums its runs' seconds in its settings: see
    :attr:`Study.elapsed`), the trials it had finished before (``earlier``: a
    resumed study's), ``stop_reason``, the observations its searcher's
    model holds and how many random configs its searcher drew while the model was busy (both
    kept in its settings; the draws summed over a resumed study's runs), and the trials that ran
    again (``settings["retried"]``: see :func:`nbtune.setup_text.retried_text`), before the views
    draw and storage writes."""

    def __init__(self, study: Study):
        self.study = study
        self.attempts: dict[int, int] = {}  # trial id -> its attempt when last started

    def trial_started(self, trial) -> None:
        # a later attempt in this run: its worker died, or the scheduler was lost, and the trial
        # ran again, which neither the panel nor the summary said (first-day test, round 10)
        last = self.attempts.get(trial.id)
        self.attempts[trial.id] = trial.attempts
        if last is not None and trial.attempts > last:
            retried = self.study.settings.setdefault("retried", {})
            key = str(trial.id)  # as JSON keeps it
            retried[key] = retried.get(key, 0) + trial.attempts - last

    def study_started(self, info: dict) -> None:
        self.study.started_at, self.study.finished_at = time.time(), None
        self.study.earlier = frozenset(t.id for t in self.study.trials if t.is_finished)

    def study_finished(self, reason: str) -> None:
        self.study.stop_reason, self.study.finished_at = reason, time.time()
        settings = self.study.settings  # each run's time, summed: a loaded study's elapsed
        settings["run_seconds"] = settings.get("run_seconds", 0.0) + self.study.elapsed
        settings["run_ended"] = self.study.finished_at
        # each run's start and end: nbtune.compare(by="time") leaves out the time between runs
        settings["run_spans"] = [*settings.get("run_spans", ()),
                                 [self.study.started_at, self.study.finished_at]]
        if getattr(self.study.scheduler, "type", None) == "pasha":  # where it ended the trials
            settings["pasha_top"] = self.study.scheduler.top_level()
        if getattr(self.study.scheduler, "judge", None) == "model":  # what the model kept
            settings["model_kept"] = settings.get("model_kept", 0) + \
                self.study.scheduler.model_kept
        held = getattr(self.study.searcher, "observations", None)
        if held is not None:
            self.study.settings["searcher_observations"] = held
            self.study.settings["searcher_trials"] = getattr(self.study.searcher,
                                                             "modelled_trials", None)
        waited = getattr(self.study.searcher, "waited", 0.0)
        if waited:
            settings["searcher_waited"] = settings.get("searcher_waited", 0.0) + waited
        drawn = getattr(self.study.searcher, "quick_draws", 0)
        if drawn:
            settings = self.study.settings
            settings["searcher_quick_draws"] = settings.get("searcher_quick_draws", 0) + drawn


DEFAULT_TRIALS = 50  # trials of a study whose searcher and scheduler have no size of their own


def trial_count(n_trials: int | str | None, search: Searcher, sched: Scheduler,
                 space: Space, timed: bool = False) -> int | None:
    """``n_trials`` with "auto" resolved: where the study has a time or resource budget
    (``timed``), no cap (it ran 50 trials in 1 s of a 20 s ``max_time``: first-day test, round
    14, as Optuna's ``timeout=`` alone runs on), else one round of the scheduler's brackets
    (hyperband), else the grid's size (None: the searcher ends the study), else the configs of a
    finite space smaller than :data:`DEFAULT_TRIALS` (each once), else :data:`DEFAULT_TRIALS`.
    A count below what the brackets need is noted (the last brackets would run short), and one
    above what a finite space holds (the searcher would repeat configs). The scheduler is told
    the budget (:meth:`~nbtune.schedule.base.Scheduler.set_budget`): hyperband runs round
    after round of its brackets where the budget is larger than one round (it ran 49 trials of
    ``--trials 1000`` and ended the study: first-day test, round 27)."""
    resolved = _trial_count(n_trials, search, sched, space, timed)
    sched.set_budget(resolved, timed)
    return resolved


# whether the caller has said that the brackets run short (SearchCV, of a space too small)
_SHORT_SAID: ContextVar[bool] = ContextVar("nbtune_short_brackets_said", default=False)


@contextlib.contextmanager
def short_brackets_said():
    """Within it, tune() leaves brackets that run short to the caller to say: ``SearchCV`` of
    12 candidates said so, and tune's line beside it advised the n_trials=17 just given
    (first-day test, round 59)."""
    with within(_SHORT_SAID, True):
        yield


def _trial_count(n_trials: int | str | None, search: Searcher, sched: Scheduler,
                 space: Space, timed: bool) -> int | None:
    needed = getattr(sched, "trials_needed", None)
    held = space.count() if search.max_trials is None and needed is None else None
    if n_trials == "auto":
        if needed is not None:
            return None if timed else needed
        if search.max_trials is not None:
            return None
        if held is not None and held < DEFAULT_TRIALS:
            return held
        return None if timed else DEFAULT_TRIALS
    if needed is not None and n_trials is not None and n_trials < needed \
            and not _SHORT_SAID.get():
        warn_note(f"the {sched.name} scheduler's brackets start {needed} trials, but "
                  f"n_trials={n_trials}: its last brackets will run short; give "
                  f"n_trials={needed} (or --trials {needed}), or fewer brackets")
    grid = search.max_trials
    if grid is not None and needed is None and isinstance(n_trials, int) and n_trials > grid:
        configs = f"{grid} config" + ("s" if grid != 1 else "")  # it ran 3 of 12 in silence
        warn_note(f"the {search.name} searcher's grid holds {configs}, fewer than "
                  f"n_trials={n_trials}: the study runs each once, {grid} trials (Ray Tune "
                  "repeats a grid num_samples times; nbtune's grid searcher does not)")
    if held is not None and n_trials is not None and n_trials > held:
        configs = f"{held} config" + ("s" if held != 1 else "")
        warn_note(f"the space holds {configs}, fewer than n_trials={n_trials}: once each has "
                  f"run, the {search.name} searcher repeats them; n_trials={held} (--trials "
                  f"{held}) runs each once")
    return n_trials


def no_study_to_resume(names: list[str], name: str, path: str) -> str:
    """"no study 'abc' in 'i.db' to resume (studies there: 'long')": resume=True (``--resume``)
    of a name the file lacks, which starts that study (first-day test, round 19). A relative
    path is followed by the file's full one: a script run from another folder started its
    nightly study afresh in a new file there, in silence (first-day test, round 39)."""
    listed = f" (studies there: {', '.join(map(repr, names))})" if names else ""
    where = os.fspath(path)
    full = "" if os.path.isabs(where) else f" ({os.path.abspath(where)})"
    return f"no study {name!r} in {where!r}{full} to resume{listed}"


def new_study_line(names: list[str], name: str, path: str) -> str:
    """The line for resume=True (``--resume``) of a name the file lacks, which starts it: what
    happens first, then why. "no study 'quickstart' in 'nbtune.db' to resume" was the first
    line of a first run, and read as an error (first-day test, round 41)."""
    listed = f"; studies there: {', '.join(map(repr, names))}" if names else ""
    where = os.fspath(path)
    full = "" if os.path.isabs(where) else f" ({os.path.abspath(where)})"
    return (f"study {name!r} starts as a new study in {where!r}{full}: none of that name there "
            f"to resume yet{listed}")


def resume_typo(names: list[str], name: str, path: str,
                flag: str = "resume=True (--resume)") -> str | None:
    """The error for resume=True (``--resume``) of a name one typo away from a stored study's
    (``ws-odl`` beside ``ws-old``: :func:`~nbtune.typos.one_typo`), which would start a study
    nobody meant (first-day test, round 20); None where no stored name is that close."""
    near = next((n for n in names if one_typo(name, n)), None)
    if near is None:
        return None
    return (f"no study {name!r} in {os.fspath(path)!r} to resume (did you mean {near!r}?): "
            f"give that name, or leave out {flag} to start a new study {name!r}")


def open_study(db: Storage | None, name: str, space: Space, metric: str, mode: str,
                settings: dict[str, Any], row: dict[str, Any] | None, resume: bool) -> list:
    """The trials to start from: none for a new study (a replaced one is deleted first), the
    stored ones when resuming."""
    if db is None:
        if resume:
            raise ValueError("resume=True needs a storage file to resume from")
        return []
    if row is not None and resume:
        stored = row["settings"]
        for key in RUN_TOTALS:  # the earlier runs' part, which this run adds to
            if key in stored:
                settings[key] = stored[key]
        here = settings["file"] = os.path.abspath(db.path)
        db.set_status(name, "resumed", settings)
        trials = db.load_trials(name, space)  # the configs as this run's trials get them
        note = left_behind_note(name, trials, stored.get("file"), here,
                                stored.get("checkpoints"), settings.get("checkpoints"))
        if note is not None:
            warn_note(note)
        return trials
    if row is not None:  # replace=True
        db.delete_study(name)
        outdated(db.path, name, "replaced")  # the summaries this kernel shows of it say so
    settings["file"] = os.path.abspath(db.path)  # where its checkpoints are: see left_behind_note
    db.create_study(name, space.to_json(), metric, mode, settings)  # resume=True on a new name
    return []                                                        # starts it (Optuna's way)


def left_behind_note(name: str, trials: list, before: str | None, here: str,
                     shared_before: str | None = None, shared: str | None = None) -> str | None:
    """Where a resumed study's unfinished trials' checkpoints are not in the folder this run
    reads, though the study's last run kept them elsewhere: a study file moved or copied
    without its ``NAME.db.checkpoints`` folder (``before``: the file it last ran from), or a
    ``checkpoints=`` folder named otherwise than the one it ran with (``shared_before``): they
    train again from their start, which the user is told, with the folder that holds them.
    (Only the paths it ran with tell "moved" from "never had any": a missing folder alone does
    not, for remote workers and pauses without a checkpoint keep none.) A ``checkpoints=``
    folder that holds none of them, where the last run kept them in another, is said too, even
    where that one is gone (first-day test, round 18: a folder named wrong, in silence)."""
    if not before:
        return None
    old = checkpoint_folder(before, name, shared_before)
    new = checkpoint_folder(here, name, shared)
    if old == new:
        return None
    unfinished = [t.id for t in trials if not t.is_finished and t.reports]
    if any(os.path.exists(kept.path_of(new, i)) for i in unfinished):
        return None
    ids = [i for i in unfinished if os.path.exists(kept.path_of(old, i))]
    some = f"{len(ids)} unfinished trial{'s' if len(ids) > 1 else ''}"
    if ids:
        return (f"study {name!r} kept the checkpoints of its {some} in {old!r} when it last "
                f"ran, and none are in {new!r}, which this run reads: they train again from "
                "their start. To go on from the checkpoints, interrupt this study, move that "
                f"folder to {new!r} and resume it")
    if shared is None or not unfinished:
        return None
    some = f"{len(unfinished)} unfinished trial{'s' if len(unfinished) > 1 else ''}"
    return (f"checkpoints={shared!r} holds no checkpoint of study {name!r}'s {some} (its last "
            f"run kept them in {old!r}): they train again from their start; interrupt it and "
            "name the folder that holds them")
