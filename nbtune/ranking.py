"""What the trials say, below both the plots and the summary: trials ranked, each one's curve,
the trials per rung, and the study's pace."""
from __future__ import annotations

import heapq
import itertools
import re
from typing import Any, Iterable

import numpy as np

from . import trial as T
from .formatting import amount_text, duration_text
from .run.overdue import past_time_limit
from .setup_text import made_by_searchcv

EMPTY = "the study has no completed trials yet"
RANKED = (T.COMPLETED, T.RUNNING, T.PAUSED, T.STOPPED, T.INTERRUPTED)


def rank_rule(study: Any, ranked: list[T.Trial] | None = None,
              unfinished: bool | None = None) -> str:
    """How :func:`rank_trials` orders ``ranked`` (all the study's trials by default), in words:
    the caption of a ranked table. The rule for unfinished trials is said where there are some
    (``unfinished``: whether there are, where the caller knows)."""
    if unfinished is None and ranked is None:
        unfinished = any(t.state != T.COMPLETED and is_ranked(study, t)
                         for t in list(study.trials))
    elif unfinished is None:
        unfinished = any(t.state != T.COMPLETED for t in ranked)
    direction = "highest" if study.mode == "max" else "lowest"
    rule = f"completed trials first, {direction} {study.metric} first"
    if unfinished:
        key = resource_of(study)  # said where the trials report it: a study left at "epoch"
        # whose trials report round= read "the furthest epoch first" (first-day test, 31)
        counted = any(t.reports and key in t.reports[-1] for t in list(study.trials))
        rule += ("; then running, paused, stopped and cut-short trials, "
                 + (f"the furthest {key} first, then " if counted else "")
                 + f"by their last {study.metric}")
    return rule


# the words of a resource's name that count folds of a cross-validation, not training (split at
# any other character: cv_fold, n_splits): a running mean over folds that falls says the later
# folds score lower, and "a smaller max_t" there would advise fewer folds (user test: a Kaggle
# user's hand-written 5-fold loop, reported once a fold with --resource fold)
FOLDS = frozenset({"fold", "folds", "kfold", "split", "splits", "cv"})


def name_words(name: str) -> set[str]:
    """The words of a report key's name, in lower case, split at any other character than a
    letter (``cv_fold``: cv, fold; ``n_splits``: n, splits)."""
    return set(re.split(r"[^a-z]+", name.lower()))


def resource_of(study: Any) -> str:
    """The report key the study counts its resource in: ``settings["resource"]`` ("epoch" by
    default) where a scheduler judges by it or the study named another; in a study without
    one whose trials never report "epoch", the one key they all count up in (boosting's
    ``n_trees=20, 40, ...``), found by :func:`counted_key`. Such a study had no learning
    curves, its summary drew a plot by trial, and its frame an empty "epoch" column (first-day
    test, round 65)."""
    given = study.settings.get("resource") or "epoch"
    if given != "epoch" or (study.settings.get("scheduler") or "fifo") != "fifo":
        return given
    return counted_key(study.trials, study.metric) or given


LOOKED_AT = 20  # trials with reports counted_key reads (the first ones): a panel's redraw asks
SCANNED = 200  # trials it looks through for them at most (a study of one report a trial)


def counted_key(trials: Iterable[T.Trial], metric: str) -> str | None:
    """The one report key, not the metric nor a count of folds, whose ints rise from
    report to report in each of the first :data:`LOOKED_AT` trials that reported twice or
    more (their first five reports and their last; among the first :data:`SCANNED`); None
    where the trials report "epoch", none reported twice, or no key or several do."""
    found: set[str] | None = None
    looked = 0
    for t in itertools.islice(trials, SCANNED):
        reports = list(t.reports)
        if len(reports) < 2:
            continue
        if "epoch" in reports[0]:
            return None
        seen = reports[:5] + reports[-1:] if len(reports) > 6 else reports
        keys = {k for k in seen[0] if k != metric and not name_words(k) & FOLDS
                and _rises(k, seen)}
        found = keys if found is None else found & keys
        looked += 1
        if not found or looked == LOOKED_AT:
            break
    return next(iter(found)) if found and len(found) == 1 else None


def _rises(key: str, reports: list[dict]) -> bool:
    values = [r.get(key) for r in reports]
    return all(type(v) is int for v in values) and all(a < b for a, b in zip(values, values[1:]))


def completed(study: Any) -> list[T.Trial]:
    """The study's completed trials with a finite metric, in creation order."""
    return [t for t in list(study.trials) if t.state == T.COMPLETED and T.is_finite_number(t.value)]


def empty_message(study: Any) -> str:
    """"the study has no completed trials yet", with the counts of the trials it has."""
    counts = T.counts_text(study.counts(), getattr(study, "stop_reason", None))
    return EMPTY + (f" ({counts})" if counts else "")


def scored_once(study: Any, what: str) -> str | None:
    """Why a ``SearchCV`` search without a scheduler has no ``what`` (its study's settings
    keep what it measured): each candidate was scored once. The plots asked its user for
    ``report(epoch=...)``, which a SearchCV user never writes (first-day test, round 59)."""
    if not made_by_searchcv(study.settings):
        return None
    return (f"study {study.name!r} is a SearchCV search without a scheduler: each candidate "
            f"was scored once, on all its folds, so it has no {what}; SearchCV(..., "
            f"scheduler='asha') scores them at rungs. plot.history(), slice(), importance() "
            f"and parallel_coordinates() show this one")


def trials_per_rung(study: Any, levels: Any = None, call: str = "plot.rungs") -> dict:
    """Rung level -> how many trials reported at least that level of the study's resource, at
    ``levels``, else the rung levels the study knows (``settings["rung_levels"]`` or the live
    scheduler's decision points, with the furthest level reached), else the levels at which
    completed, stopped and paused trials ended (the rungs, for a loaded study). A ValueError
    says why there are none; ``call`` is the caller's name in it."""
    resource, trials = resource_of(study), list(study.trials)
    reached = {t.id: t.resource(resource) for t in trials}
    reached = {k: v for k, v in reached.items() if T.is_finite_number(v)}
    if not reached:
        if not completed(study):
            raise ValueError(empty_message(study))
        raise ValueError(scored_once(study, "rungs")
                         or f"no trial reported {resource!r}: rungs need "
                            f"report({resource}=...)")
    if levels is None and study.settings.get("scheduler") == "fifo":
        raise ValueError(f"study {study.name!r} ran without a scheduler: every trial trained "
                         "to its end, so it has no rungs; plot.learning_curves() shows how "
                         f"they trained, {call}(levels=[1, 3, 9]) counts the trials that "
                         "reached those levels")
    if levels is not None:
        chosen = sorted(levels)
    else:
        known: Any = study.settings.get("rung_levels")
        scheduler = getattr(study, "scheduler", None)
        if not known and scheduler is not None:
            try:
                known = scheduler.decision_points()
            except Exception:  # a scheduler not set up: fall back on the reports
                known = None
        if known:
            top = max(reached.values())
            chosen = sorted(known) + ([top] if top > max(known) else [])
        else:
            ended = {reached[t.id] for t in trials if t.id in reached
                     and t.state in (T.COMPLETED, T.STOPPED, T.PAUSED)}
            chosen = sorted(ended or set(reached.values()))
    return {level: sum(1 for r in reached.values() if r >= level) for level in chosen}


def no_best_text(study: Any) -> str:
    """What the best line says where no trial completed: a study its time budget ended before
    any could says which setting to change."""
    if getattr(study, "stop_reason", None) == "max_time" and any(
            t.state == T.INTERRUPTED for t in list(study.trials)):
        return ("no trial completed before max_time ended: give a longer max_time (resuming "
                "with it goes on with the trials it cut) or shorter trials")
    ended = [t for t in list(study.trials) if t.is_finished]
    if ended and all(past_time_limit(t.error) is not None for t in ended):
        # "no completed trial yet" of a study whose every trial its limit ended (round 68)
        return ("no trial completed within max_trial_time: every trial that ended ran past "
                "it; give a larger one, or leave it out")
    return "no completed trial yet"


def score(study: Any, t: T.Trial) -> Any:
    """The trial's metric: its final value, else its last report of the metric."""
    return t.value if T.is_finite_number(t.value) else t.last(study.metric)


def rank_key(study: Any):
    """The sort key of :func:`rank_trials` for ``study``'s trials (smaller ranks first)."""
    resource, sign = resource_of(study), -1.0 if study.mode == "max" else 1.0

    def key(t: T.Trial) -> tuple:
        if t.state == T.COMPLETED:
            return (0, 0, sign * t.value, t.id)
        reached = t.resource(resource)
        return (1, -(reached if T.is_finite_number(reached) else 0), sign * score(study, t), t.id)

    return key


def is_ranked(study: Any, t: T.Trial) -> bool:
    """Whether :func:`rank_trials` ranks ``t``: a completed, running, paused, stopped or
    interrupted trial with a finite value."""
    return t.state in RANKED and T.is_finite_number(score(study, t))


def rank_trials(study: Any, top: int | None = None,
                among: Iterable[T.Trial] | None = None) -> list[T.Trial]:
    """Trials that have a value, best first (the first ``top`` only, when given).

    Completed trials come first, by metric (the first is ``study.best``); then the unfinished
    ones (running, paused, stopped, cut short: what a resume goes on with, after an interrupt),
    the furthest along first (resource reached), then by their last value. Failed trials are left
    out (after an interrupt, the table left out every trial: first-day test, round 18).
    ``among``: those trials only (all the study's by default).
    """
    scored = [t for t in list(study.trials if among is None else among) if is_ranked(study, t)]
    if top is not None:  # the best few of many: no sort of them all
        return heapq.nsmallest(top, scored, key=rank_key(study))
    return sorted(scored, key=rank_key(study))


def curve(t: T.Trial, resource: str, metric: str) -> tuple[list[float], list[float]]:
    """A trial's metric against the resource, sorted; a level reported twice keeps its last value."""
    points = {}
    for rep in list(t.reports):
        x, y = rep.get(resource), rep.get(metric)
        if T.is_finite_number(x) and T.is_finite_number(y):
            points[x] = y
    xs = sorted(points)
    return xs, [points[x] for x in xs]


def earlier_ids(study: Any) -> frozenset[int]:
    """Ids of the trials a resumed study had finished before this run of it started (none for a
    study in its first run, or loaded): this run's pace and time left leave them out, since
    ``study.elapsed`` counts this run's time only."""
    return getattr(study, "earlier", None) or frozenset()


def paced(study: Any, t: T.Trial) -> bool:
    """Whether trial ``t`` counts in this run's pace: one it finished, and one that ran in it to
    a pause at a rung or to the cut of the study's end, with its time so far (a resumed study's
    trials restored paused ran in an earlier run: not this one's)."""
    if t.duration is None or t.id in earlier_ids(study):
        return False
    if t.state in T.FINISHED:
        return True
    since = getattr(study, "started_at", None)
    return t.state in T.PACED_UNFINISHED and (since is None or (t.started or 0.0) >= since)


def pace(study: Any) -> tuple[float | None, float | None]:
    """Trials finished in this run per minute over the study's elapsed time (this run's), and
    the median duration of such a trial in seconds (None where not known yet); a trial paused at
    a rung, or cut by the study's end, counts with its time so far; a resumed
    study's earlier trials are left out (:func:`earlier_ids`)."""
    trials = [t for t in list(study.trials) if paced(study, t)]
    if all(t.state == T.FAILED for t in trials):  # "4,668 trials/min" of 3 trials failed at
        return None, None  # once said nothing of a study's pace (check round 40)
    durations = [t.duration for t in trials]
    elapsed = study.elapsed
    rate = len(durations) / (elapsed / 60.0) if durations and elapsed else None
    # the median of the trials that did not fail: five that failed in milliseconds (out of
    # memory) made a study of 5 s trials read "median trial 11 ms" (first-day test, round 46)
    ran = [t.duration for t in trials if t.state != T.FAILED]
    median = float(np.median(ran)) if ran else None
    return rate, median


def pace_text(study: Any, known: tuple[float | None, float | None] | None = None) -> str:
    """``2.4 trials/min · median trial 12.0 s``, or "" before any trial finished (``known``:
    :func:`pace`'s answer, where the caller has it)."""
    rate, median = pace(study) if known is None else known
    if rate is None or median is None:  # no trial yet, or only failed ones (see pace)
        return ""
    per_minute = f"{rate:.1f}" if rate < 100 else f"{rate:,.0f}"
    return f"{per_minute} trials/min · median trial {duration_text(median)}"


def training_text(study: Any) -> str:
    """What a scheduler's study trained against training every trial that ran to max_t:
    "23% of training its 40 trials to clf__max_iter 200 each: 1,808 of 8,000". Nothing
    said what early stopping saved, and a user weighing it against a plain search worked it
    out from ``cv_results_`` (first-day test, round 63). "" without a scheduler that stops or
    pauses trials, a known max_t, or a saving."""
    settings = study.settings or {}
    if str(settings.get("scheduler") or "fifo") == "fifo":
        return ""
    levels = settings.get("rung_levels") or []
    max_t = (settings.get("scheduler_options") or {}).get("max_t") or (
        max(levels) if levels else None)
    if not T.is_finite_number(max_t) or max_t <= 0:
        return ""
    resource = resource_of(study)
    spent = [t.trained(resource) for t in list(study.trials)]
    spent = [x for x in spent if x > 0]
    full = len(spent) * float(max_t)
    if not spent or sum(spent) >= full:
        return ""
    share = 100 * sum(spent) / full
    return (f"{f'{share:.0f}%' if share >= 1 else 'under 1%'} of training its {len(spent)} "
            f"trial{'s' if len(spent) != 1 else ''} to {resource} {amount_text(max_t)} each: "
            f"{amount_text(sum(spent))} of {amount_text(full)}")
