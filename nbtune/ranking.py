"""What the trials say, below both the plots and the summary: trials ranked, their curves,
hyperparameter importances, and how numbers and messages are written for people."""
from __future__ import annotations

import heapq
import math
import re
from typing import Any, Iterable

import numpy as np

from . import trial as T

EMPTY = "the study has no completed trials yet"
RANKED = (T.COMPLETED, T.RUNNING, T.PAUSED, T.STOPPED, T.INTERRUPTED)


def fmt(value: Any, digits: int = 4) -> str:
    """A config value or metric as a short string (floats with ``digits`` significant digits,
    small and large ones in exponent form: ``4e-06``, never ``0.000004``)."""
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def config_text(config: dict[str, Any]) -> str:
    """A config as ``name=value`` pairs: floats as :func:`fmt` writes them (a whole one with its
    ``.0``: ``max_df=1.0``, all of a vectorizer's documents, read ``max_df=1``, one document:
    check round 48), other values as Python writes them (``act='relu'``), so the text reads,
    and pastes, as the call's arguments. The live views, the closing line and the summary all
    write a config this way."""
    return ", ".join(f"{k}={_float_text(v)}" if isinstance(v, float) else f"{k}={v!r}"
                     for k, v in config.items())


def _float_text(value: float) -> str:
    """A config's float as :func:`fmt` writes it, a whole one ending in ``.0``."""
    text = fmt(value)
    return f"{text}.0" if text.lstrip("-").isdigit() else text


def choice_text(value: Any) -> str:
    """A choice's label on a figure's axis: :func:`fmt`'s, a whole float's with its ``.0``
    (``choice(1, 0.5, 1.0)``'s slice read 1, 0.5 and 1)."""
    return _float_text(value) if isinstance(value, float) else fmt(value)


# an exception's line, at a line's start: "ValueError: ...", or a bare "KeyboardInterrupt"
_RAISED = re.compile(r"[A-Za-z_][\w.]*(?::\s|(?:Error|Exception|Interrupt|Exit):?$)")
_MODULE_PATH = re.compile(r"^(?:[A-Za-z_]\w*\.)+(?=[A-Z]\w*: )")  # before a class's name


def one_line(text: str, width: int = 160, first: bool = False) -> str:
    """The last non-blank line of ``text`` (an error's message; with ``first``, the first: a
    warning's, which says what happened, where joblib's last line read "before creating your
    Dask cluster.": first-day test, round 23), at most ``width`` characters: the exception's
    name without its module (``sklearn.utils._param_validation.`` took a third of the line),
    and a longer line keeps its start (the exception's name) and its end, where the useful
    part of a message usually is, with `` … `` between them."""
    lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
    if not first:  # an exception's message over several lines (an estimator's repr wraps):
        # from its name on, where the line began mid-repr (first-day test, round 59)
        raw = (text or "").rstrip().splitlines()
        starts = [i for i, ln in enumerate(raw) if _RAISED.match(ln)]
        if starts:
            lines = [" ".join(ln.strip() for ln in raw[starts[-1]:] if ln.strip())]
    last = _MODULE_PATH.sub("", lines[0 if first else -1]) if lines else ""
    if len(last) <= width:
        return last
    head = max(20, width // 3)
    return last[:head] + " … " + last[-(width - head - 3):]


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


def resource_of(study: Any) -> str:
    """The report key the study counts its resource in (``settings["resource"]``, "epoch")."""
    return study.settings.get("resource") or "epoch"


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
    if study.settings.get("measured") is None:
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


IMPORTANCE_FROM = 10  # completed trials from which importance is fitted on their values


def importance_basis(study: Any, at: float | None = None
                     ) -> tuple[list[T.Trial], list[float], str]:
    """The trials importance is fitted on, their values, and a phrase that says which: the
    completed trials' values, where there are :data:`IMPORTANCE_FROM` of them and they are at
    least half of the trials that reported (or no level was reached by more); else the values at
    the furthest level of the resource that half the trials reached. An early-stopping study
    completes few, and those it completes are the ones its rungs kept: fitted on 4 of 40 ASHA
    trials, the figure named batch size, where all 40 at epoch 1 said the learning rate
    (first-day test, round 26); fitted on the 130 completed of 3,000, a choice none of whose
    747 trials survived the rungs weighed little (round 27). ``at``: the values at that level
    of the resource instead, of the trials that reached it. Where the level chosen is the
    first of several, the phrase says what a later one would show: a booster's learning rate
    cannot move its AUC after one round, and weighed 0.00 there (round 29)."""
    done = completed(study)
    basis = (done, [float(t.value) for t in done],
             f"{len(done)} completed trial{'s' if len(done) != 1 else ''}")
    resource, levels = resource_of(study), {}
    for t in list(study.trials):
        for level, value in zip(*curve(t, resource, study.metric)):
            levels.setdefault(level, {})[t.id] = (t, value)
    if at is not None:
        return _at_level(study, resource, levels, at, len(done))
    valued = {t for trials in levels.values() for t in trials}
    if len(done) >= IMPORTANCE_FROM and 2 * len(done) >= len(valued):
        return basis
    reached = [level for level, trials in levels.items()
               if len(trials) > len(done) and 2 * len(trials) >= len(valued)]
    if not reached:
        return basis
    trials, values, phrase = _at_level(study, resource, levels, max(reached), len(done))
    later = [level for level in levels if level > max(reached)
             and len(levels[level]) >= IMPORTANCE_LATER]
    if max(reached) == min(levels) and later:  # the first level, and a later one to fit on
        level = max(later)
        phrase += (f";\nwhat shows only later weighs little at the first {resource}: "
                   f"importance(at={fmt(level)}) fits the {len(levels[level])} trials at "
                   f"{resource} {fmt(level)}")
    return trials, values, phrase


# trials at a later level that a study's importance suggests fitting on instead of the first
IMPORTANCE_LATER = 6


def _at_level(study: Any, resource: str | None, levels: dict[float, dict[int, tuple]],
              level: float, n_done: int) -> tuple[list[T.Trial], list[float], str]:
    """The trials at ``level`` of ``resource``, their values there, and the phrase for them."""
    found = levels.get(level, {})
    if len(found) < 3:
        known = ", ".join(f"{fmt(k)} ({len(v)})" for k, v in sorted(levels.items())
                          if len(v) >= 3)
        raise ValueError(f"importance at {resource} {fmt(level)} needs 3 trials that reached it;"
                         f" {len(found)} did" + (f" (levels with 3 or more: {known})" if known
                                                 else ""))
    trials, values = zip(*found.values())
    return (list(trials), [float(v) for v in values],
            f"{len(trials)} trials at {resource} {fmt(level)}; {n_done} completed")


IMPORTANCE_ROWS = 1000  # trials importance is fitted on at most: about a second at any size


def param_importances(study: Any, seed: int = 0,
                      basis: tuple[list[T.Trial], list[float], str] | None = None
                      ) -> dict[str, float]:
    """Permutation importance of each hyperparameter for a random forest fitted on the trials.

    The forest (scikit-learn, 100 trees) learns the metric from the configs, in unit-cube
    encoding (``study.space.to_unit``), of the trials :func:`importance_basis` picks (at most
    :data:`IMPORTANCE_ROWS` of them, a seeded sample, in a bigger study: it took 7 to 22 s of a
    loaded machine at 3,000 trials, first-day test, round 58): the
    completed ones, or, where an early-stopping study completed few, every trial's value at the
    furthest level half of them reached. A hyperparameter's importance is how much worse the
    forest fits when that column is shuffled (10 shuffles), floored at 0 and normalised to sum
    1. Most important first; fixed hyperparameters are left out. ``basis``: what
    :func:`importance_basis` gave, where the caller has it already.
    """
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    done, names = completed(study), study.space.unit_names
    trials, values, _ = basis if basis is not None else importance_basis(study)
    if not trials:
        raise ValueError(empty_message(study))
    if len(trials) < 3:
        raise ValueError(f"importance needs at least 3 completed trials; the study has {len(done)}")
    if not names:
        raise ValueError("the space has no hyperparameter to weigh: every one is fixed")
    x = np.array([study.space.to_unit(t.config) for t in trials])
    y = np.array(values)
    if len(y) > IMPORTANCE_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(len(y), IMPORTANCE_ROWS, replace=False))
        x, y = x[keep], y[keep]
    forest = RandomForestRegressor(n_estimators=100, random_state=seed, n_jobs=1).fit(x, y)
    result = permutation_importance(forest, x, y, n_repeats=10, random_state=seed, n_jobs=1)
    raw = np.clip(np.nan_to_num(result.importances_mean), 0.0, None)
    share = raw / raw.sum() if raw.sum() > 0 else raw
    order = sorted(range(len(names)), key=lambda i: (-share[i], i))
    return {names[i]: float(share[i]) for i in order}


def duration_text(seconds: float | None) -> str:
    """A duration as people read it, the same everywhere: ``12 ms``, ``8.2 s``, ``1 min 29 s``,
    ``2 h 05 min`` (under a tenth of a second in milliseconds, never ``0.0 s``)."""
    if seconds is None or not T.is_finite_number(seconds):
        return "unknown"
    seconds = max(0.0, float(seconds))
    if seconds < 0.0995:  # what would round to 0.1 s is 0.1 s
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole // 60 % 60:02d} min"


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


FAR = 1000.0  # a column's value this many times its median size is written apart (blown up)


def int_beside_float(values: list[Any]) -> bool:
    """Whether ``values`` hold an int and a float equal to it (``1`` and ``1.0``)."""
    ints = {v for v in values if isinstance(v, int) and not isinstance(v, bool)}
    return bool(ints) and any(isinstance(v, float) and v in ints for v in values)


def column_texts(values: list[Any], digits: int = 4, exponent: bool = False,
                 config: bool = False) -> list[str]:
    """One table column's cells, its numbers written alike: whole numbers as integers; others
    with ``digits`` significant digits, all with the same decimals (``0.9533``, ``-0.006``), or
    all in exponent form where they are tiny, huge, or positive over two decades as log-scale
    values are (``2.074e-04``, ``1.000e-06``), or wherever ``exponent`` (a log-scale range's
    column: its form then does not change as trials come in); a column of both signs keeps
    decimals. None is an empty cell; a column with text in it writes each value with
    :func:`fmt`. A ``config`` column of whole floats keeps their ``.0``: ``max_df`` read ``1``
    for 1.0, and 1 is another value to the estimator (one document, not all)."""
    numbers = [v for v in values if v is not None]
    if not numbers or not all(T.is_finite_number(v) for v in numbers):
        return ["" if v is None else fmt(v) for v in values]
    if int_beside_float(numbers):  # a choice of 1 and 1.0, two values (max_df: one document,
        return ["" if v is None else str(v) for v in values]  # all): both read 1.000 (round 47)
    if all(float(v).is_integer() and abs(v) < 1e15 for v in numbers):
        tail = ".0" if config and any(isinstance(v, float) for v in numbers) else ""
        return ["" if v is None else f"{int(v)}{tail}" for v in values]
    sizes = [abs(float(v)) for v in numbers if v != 0]
    if len(sizes) >= 5 and not exponent:  # a few blown-up values (rmse 5e12 among 35s) wrote
        # every cell as 3.49595e+01: they keep the exponent form, the rest their own (round 43)
        middle = sorted(sizes)[len(sizes) // 2]
        far = {i for i, v in enumerate(values) if v is not None and abs(float(v)) >= FAR * middle}
        if far and len(far) <= len(sizes) // 4:
            rest = column_texts([None if i in far else v for i, v in enumerate(values)], digits)
            return [f"{float(v):.{digits - 1}e}" if i in far else rest[i]
                    for i, v in enumerate(values)]
    top, low = max(sizes), min(sizes)
    signed = any(float(v) < 0 for v in numbers)  # values around zero: decimals, not exponents
    if top >= 1e5 or top < 1e-3 or (not signed and (exponent or low < 1e-3
                                                    or top / low >= 100)):
        return ["" if v is None else f"{float(v):.{digits - 1}e}" for v in values]
    decimals = max(0, digits - 1 - math.floor(math.log10(top)))
    return ["" if v is None else f"{float(v):.{decimals}f}" for v in values]
