"""How a study was set up, in words, for the live panel's header and the summary's facts: its
searcher and what its model holds, its scheduler and rungs, the trials run again."""
from __future__ import annotations

from typing import Any

from .formatting import duration_text

WAIT_SHOWN = 0.5  # seconds of waiting for a model's suggestions that the searcher's line names


def retried_text(settings: dict[str, Any]) -> str:
    """"2 trials ran again after their worker died or the scheduler was lost: trials 4, 7"; "" where
    none did (``settings["retried"]``, kept by the study as its trials start again)."""
    ids = sorted(int(k) for k in settings.get("retried") or {})
    if not ids:
        return ""
    shown = ", ".join(str(i) for i in ids[:10]) + (", ..." if len(ids) > 10 else "")
    one = len(ids) == 1
    return (f"{len(ids)} trial{'' if one else 's'} ran again after {'its' if one else 'their'} "
            f"worker died or the scheduler was lost: trial{'' if one else 's'} {shown}")


def asks_text(settings: dict[str, Any]) -> str:
    """"each trial asks GPU=1": what each trial asks of the workers where it asked for resources
    (``--gpus``, ``resources=``); "" where it asked for none. A GPU study waiting for the GPU
    another study held said only "1/1 slots busy" (first-day test, round 33)."""
    amounts = asked_amounts(settings)
    return f"each trial asks {amounts}" if amounts else ""


def asked_amounts(settings: dict[str, Any]) -> str:
    """"GPU=1, MEM=2": the resources each trial asks for; "" where none."""
    return ", ".join(f"{k}={float(v):g}" for k, v in (settings.get("resources") or {}).items())


def scheduler_text(settings: dict[str, Any]) -> str:
    """"asha scheduler on clf__max_iter, rungs 38, 114, 342, 1000": the scheduler, and where it
    judges trials by a resource its levels (``SearchCV(resource="auto")`` chooses the resource,
    and the user learnt which only from a column's header: first-day test, round 9)."""
    name = settings.get("scheduler") or "fifo"
    kind = (settings.get("scheduler_options") or {}).get("type")
    text = f"{name} ({kind}) scheduler" if kind in ("promotion", "pasha") else \
        f"{name} scheduler"
    if name != "fifo" and settings.get("resource"):  # fifo judges no trial by a resource
        text += f" on {settings['resource']}"
        levels = settings.get("rung_levels")
        if levels:
            text += f", rungs {', '.join(str(x) for x in levels)}"
        if kind == "pasha" and settings.get("pasha_top"):
            text += f", trials trained up to {settings['pasha_top']} (its top level)"
    options = settings.get("scheduler_options") or {}
    if name == "asha" and (options.get("judge") == "model" or "model_kept" in settings):
        # the model's say, and its count (a scheduler object's options are not in settings)
        kept = settings.get("model_kept")
        text += (", judged by rank and by the searcher's model" +
                 ("" if kept is None else
                  f" ({kept} {'trial' if kept == 1 else 'trials'} went on that the rank "
                  f"stopped)"))
    if name == "asha" and options.get("brackets") not in (None, 1):
        text += f", {options['brackets']} brackets"  # asynchronous Hyperband: say so
        if options.get("rung_system_per_bracket"):
            text += " ranked apart"
    return text


def random_starts(study: Any) -> tuple[str, int] | None:
    """(``n_initial`` or ``n_startup``, its value) where a model-based searcher suggested
    nothing yet, each of the study's trials one of its seeded random starts (a warm start's
    trials count in its model: it would have); else None."""
    settings = getattr(study, "settings", {})
    options = settings.get("searcher_options") or {}
    first = next(((k, options[k]) for k in ("n_initial", "n_startup") if options.get(k)), None)
    if first and len(getattr(study, "trials", ())) <= first[1] and not settings.get("warm_start"):
        return first
    return None


def searcher_text(study: Any) -> str:
    """"bayesopt searcher (ei), model of 12 trials (30 observations), 3 random configs while the
    model was busy, 2.1 s waiting for its suggestions, warm-started from 'old'": the searcher's
    name, its acquisition ("ei per second" when cost-aware), what its model holds (now, while
    the study runs in this process; at its end, for a loaded study), the trials that started
    with a random config because the model's suggestion was late (:mod:`nbtune.run.thinking`),
    the time the loop waited for suggestions, a trial slot empty, and the study it was
    warm-started from."""
    settings = getattr(study, "settings", {})
    text = f"{settings.get('searcher') or 'random'} searcher"
    options = settings.get("searcher_options") or {}
    if options.get("acquisition"):
        text += f" ({options['acquisition']}{' per second' if options.get('cost_aware') else ''})"
    elif isinstance(options.get("sampler"), str):  # Optuna's: which one (round 36)
        text += f" ({options['sampler']})"
    searcher = getattr(study, "searcher", None)
    held, trials = ((settings.get("searcher_observations"), settings.get("searcher_trials"))
                    if searcher is None else (getattr(searcher, "observations", None),
                                              getattr(searcher, "modelled_trials", None)))
    if held is not None:  # the trials first: one model counts a trial at each level it reached,
        # another once (TPE's 360 beside bayesopt's 120 for the same 30 trials: round 19);
        # one observation a trial is said as trials, as the other studies' lines begin (22)
        seen = (f"{held} observation{'s' if held != 1 else ''}" if trials is None else
                f"{trials} trial{'s' if trials != 1 else ''}" + (
                    f" ({held} observation{'s' if held != 1 else ''})" if trials != held else ""))
        text += f", model of {seen}"
        first = random_starts(study)
        if first:
            text += f" (every trial a random start so far: {first[0]}={first[1]})"
    this_run = getattr(study, "started_at", None) and getattr(study, "finished_at", 0) is None
    drawn = settings.get("searcher_quick_draws", 0) + \
        (getattr(searcher, "quick_draws", 0) if this_run else 0)  # at its end: in settings
    if drawn:
        text += f", {drawn} random config{'s' if drawn != 1 else ''} while the model was busy"
    waited = settings.get("searcher_waited", 0.0) + \
        (getattr(searcher, "waited", 0.0) if this_run else 0.0)
    if waited >= WAIT_SHOWN:  # a worker sat free meanwhile (first-day test, round 19)
        text += f", {duration_text(waited)} waiting for its suggestions"
    if settings.get("warm_start"):
        text += (f", warm-started from {settings['warm_start']!r}" if held is not None else
                 f", warm start from {settings['warm_start']!r} unused (no model to seed)")
    return text


ORDERLESS_SEARCHERS = ("random", "grid")
"""Searchers whose configs do not depend on the order results arrive in."""
ORDERLESS_SCHEDULERS = ("fifo", "hyperband", "threshold")
"""Schedulers whose decisions do not: synchronous Hyperband waits for a rung's every trial."""


def seed_text(study: Any) -> str:
    """"42; which trials went on depended on when their reports arrived, ...": the study's seed,
    whether it was drawn (a study given none: how to draw its configs again), and where its
    trials overlapped under a searcher or scheduler that follows the order of their results,
    that a rerun with the same seed may end with another best, and what repeats it exactly. A
    researcher's Restart & Run All, seeded, ended with another best and said nothing of why
    (first-day test, round 38); "" for a study whose settings hold no seed."""
    settings = study.settings
    seed = settings.get("seed")
    if seed is None:
        return ""
    text = str(seed)
    searcher = str(settings.get("searcher") or "random")
    if settings.get("sampler_seeded") is False:  # an Optuna sampler instance (round 64)
        return (f"{text}, not the sampler's: an Optuna sampler passed as an object draws its "
                f"configs by its own seed (optuna.samplers.TPESampler(seed=N)); "
                f"searcher='optuna' builds one with this seed")
    if settings.get("seed_drawn") and searcher != "grid":  # a grid draws nothing (round 57)
        text += f" (drawn: seed={seed} draws these configs again)"
    scheduler = str(settings.get("scheduler") or "fifo")
    if not _overlapped(study.trials):
        return text
    if made_by_searchcv(settings):  # which has no concurrency= (first-day test, round 63)
        one = ("a cluster of one single-threaded worker "
               "(cluster=LocalCluster(1, threads_per_worker=1))")
        exact = (f"{one} repeats it exactly" if settings.get("max_time") is None else
                 f"{one} and n_trials (not max_time) repeat it exactly")
    else:
        exact = ("concurrency=1 repeats it exactly" if settings.get("max_time") is None else
                 "concurrency=1 and a trial budget (not max_time) repeat it exactly")
    if searcher not in ORDERLESS_SEARCHERS and not random_starts(study):
        return (f"{text}; the {searcher} searcher's suggestions follow the order results "
                f"arrive in, so a rerun differs; {exact}")
    if scheduler not in ORDERLESS_SCHEDULERS:
        return (f"{text}; the same configs again, but which trials the {scheduler} scheduler "
                f"lets go on follows the order reports arrive in, so a rerun may end with "
                f"another best; {exact}")
    return text


def _overlapped(trials: Any) -> bool:
    """Whether any two of the trials ran at the same time (a worker started one before another
    had finished)."""
    spans = sorted((t.started, t.finished if t.finished is not None else float("inf"))
                   for t in list(trials) if t.started is not None)
    latest = float("-inf")
    for start, end in spans:
        if start < latest:
            return True
        latest = max(latest, end)
    return False


def made_by_searchcv(settings: dict[str, Any] | None) -> bool:
    """Whether a study's settings are a ``SearchCV`` search's: it keeps how its score is
    measured (``settings["measured"]``), which a study of ``tune`` has not. Such a study is
    resumed by ``SearchCV(..., resume=True)``, not by ``tune``, and is ``search.study_`` in its
    notebook."""
    return (settings or {}).get("measured") is not None
