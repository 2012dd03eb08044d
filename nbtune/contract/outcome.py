"""A finished trial's result: its final metric value, or why it has none."""
from __future__ import annotations

import re
from typing import Any

from .. import trial as T
from ..schedule.rungs import as_int
from ..typos import meant_key


def result_value(returned: Any, reports: list[dict[str, Any]], metric: str) -> Any:
    """What a trial that returned ``returned`` after ``reports`` gives as its value of
    ``metric``: the returned value, or the dict's entry, else the last report's (None: none;
    it may be anything the trial gave, not only a number)."""
    value = returned.get(metric) if isinstance(returned, dict) else returned
    if value is None:
        for rep in reversed(reports):
            if metric in rep:
                return rep[metric]
    return value


NEVER_REPORTED = "the trial never reported the metric"  # how a failure for it begins


def final_value(trial: T.Trial, returned: Any, metric: str) -> tuple[float | None, str | None]:
    """The trial's result and, when it has none usable, the reason why."""
    value = result_value(returned, trial.reports, metric)
    # every key it reported, its last value, then what it returned over them: a %%tune cell
    # that reported r2 beside rmse and left rmse set kept only {'rmse': ...} (first-day test,
    # round 42)
    reported = {k: v for rep in trial.reports for k, v in rep.items()}
    if isinstance(returned, dict):
        trial.metrics = {**reported, **returned}
    elif returned is not None:
        trial.metrics = {**reported, metric: returned}
    elif trial.reports:
        trial.metrics = reported
    if value is None:
        seen = sorted({k for rep in trial.reports for k in rep} | set(trial.metrics))
        near = meant_key(metric, seen)
        also = (f" (it reported {', '.join(seen)}"
                + (f"; did you mean {near!r}?" if near else "") + ")") if seen else ""
        # the default name: which key is meant, the call says (a guess ignored the mode: 44)
        named = (f", or name it with metric=NAME (one of {', '.join(map(repr, seen))})"
                 if metric == "value" and seen else "")
        return None, (f"{NEVER_REPORTED} {metric!r}{also}: return it, return a "
                      f"dict with it, or call report({metric}=...){named}")
    if not T.is_finite_number(value):
        return None, f"the metric {metric!r} is {value!r}, not a finite number"
    return float(value), None


def unjudged_note(trial: T.Trial, resource: str, scheduler: Any, metric: str) -> str | None:
    """Why ``scheduler``, which judges reports at whole levels of ``resource`` by ``metric``,
    could judge none of this finished trial's reports (no report at all, the resource missing or
    never a whole number, or the metric missing from every report at a level); None otherwise."""
    if scheduler.decision_points() == ():
        return None
    name = scheduler.name
    if not trial.reports:
        if trial.state != T.COMPLETED:
            return None
        return (f"trial {trial.id} ended without calling report(...): the {name} scheduler "
                f"judges the reports a trial makes while it runs, so it stopped none; call "
                f"report({resource}=N, {metric}=...) as the trial goes ({resource} counting up)")
    levels = [r.get(resource) for r in trial.reports]
    seen = ", ".join(dict.fromkeys(k for r in trial.reports for k in r))
    if not any(as_int(level) is not None for level in levels):
        what = (f"with {resource!r} never a whole number ({levels[-1]!r})" if any(
            level is not None for level in levels) else f"never with {resource!r} (it "
            f"reported {seen})")
        return (f"trial {trial.id} reported {len(trial.reports)} times, {what}: the {name} "
                f"scheduler judges trials at whole {resource} levels, so it stopped none; call "
                f"report({resource}=N, ...) with N counting up, or name the key that counts "
                "progress with resource=KEY (%%tune --resource KEY)")
    if any(metric in r for r in trial.reports if as_int(r.get(resource)) is not None):
        return None
    return (f"trial {trial.id} reported {resource!r} without {metric!r} (it reported {seen}): "
            f"the {name} scheduler judges each rung by {metric!r}, so it stopped the trial at "
            f"its first rung; report both at once, report({resource}=N, {metric}=...), or name the "
            f"key reported as the metric (metric=KEY, %%tune --metric KEY)")


def listed(levels: list[int]) -> str:
    """Levels as a short list: all of up to six, else the first four, "...", the last."""
    shown = [str(x) for x in levels] if len(levels) <= 6 else \
        [*map(str, levels[:4]), "...", str(levels[-1])]
    return ", ".join(shown)


def _whole_levels(trial: T.Trial, resource: str) -> list[int]:
    """The whole resource levels the trial reported, in order."""
    return [x for x in (as_int(r.get(resource)) for r in trial.reports) if x is not None]


def _shown(level: float) -> str:
    """A level as written: 27 for 27.0, 2.5 as it is."""
    whole = as_int(level)
    return str(level if whole is None else whole)


# the words of a boosting round's name as a resource (LightGBM's and XGBoost's loops are theirs,
# and a callback reports their count: the notes' fixes for a loop of one's own read otherwise)
BOOSTING = frozenset({"round", "rounds", "boost", "iteration", "iterations", "trees", "tree",
                      "estimators"})


def _boosting(resource: str) -> bool:
    return bool(set(re.split(r"[^a-z]+", resource.lower())) & BOOSTING)


def restart_note(trial_id: int, resource: str, paused_at: float, level: float) -> str | None:
    """Why a trial resumed from a checkpoint taken at ``paused_at`` and first reporting
    ``level`` is compared unfairly (its loop counted the resource from the start again, so it
    trains more than it reports); None where it went on past ``paused_at``."""
    if level > paused_at:
        return None
    return (f"trial {trial_id} resumed from its checkpoint at {resource} {_shown(paused_at)}, "
            f"and its first report after it was at {resource} {_shown(level)}: its loop counts "
            f"{resource} from the start again, so it trains more than it reports and is "
            f"compared unfairly with the others; continue from the checkpoint's {resource}: "
            f'state = nbtune.get_checkpoint(), then count from state["{resource}"] + 1, as the '
            f"checkpoint recipe in nbtune's README does"
            + ("; from a booster's callback, report the booster's own count (XGBoost's "
               "model.num_boosted_rounds(): with xgb_model= its epoch starts from 0 again)"
               if _boosting(resource) else ""))


def no_checkpoint_note(trial_id: int, resource: str, paused_at: float | None) -> str:
    """Why a trial resumed from a pause with no checkpoint trains again from the beginning."""
    at = "" if paused_at is None else f" at {resource} {_shown(paused_at)}"
    return (f"trial {trial_id} was resumed from its pause{at} without a checkpoint (no report "
            f"before the pause passed checkpoint=...), so it trains again from the beginning; "
            f"pass the trial's state with each report, report({resource}=N, ..., "
            f"checkpoint=state), and take it back with nbtune.get_checkpoint() (in %%tune the "
            f"name checkpoint holds what the trial resumes from: assigning it saves nothing)")


def short_of_max_t_note(trial: T.Trial, resource: str, scheduler: Any) -> str | None:
    """Why a trial that completed below the scheduler's max_t is a mistake (its loop ends
    before max_t: the rungs above are never reached, and a trial promoted there trains
    nothing), or, where it counted from 0 to max_t - 1, why that is (each rung a level late:
    "give max_t=4" kept the count wrong, first-day test, round 50); None where it reached
    max_t, did not complete, or the scheduler has no max_t."""
    top = scheduler.top_level()  # pasha's ends trials below max_t on purpose
    if trial.state != T.COMPLETED or top is None:
        return None
    levels = _whole_levels(trial, resource)
    if not levels or max(levels) >= top:
        return None
    last = max(levels)
    if last == top - 1 and levels[0] == 0:  # range(max_t), Keras' on_epoch_end: from 0
        return (f"trial {trial.id} reported {resource} from 0 and ended at {last}, one below "
                f"max_t={top}: the {scheduler.name} scheduler counts {resource} from 1 (its "
                f"rung at {resource} 1 is the first one trained), so each rung judged the "
                f"trial one {resource} late; report {resource}={resource} + 1 (range() and "
                f"Keras' on_epoch_end count from 0), or loop over range(1, max_t + 1)")
    promoted = (f" (a trial promoted past {last} resumes with nothing left to train)"
                if scheduler.pauses else "")
    return (f"trial {trial.id} completed at {resource} {last}, below max_t={top}: its loop ends "
            f"before max_t, so the {scheduler.name} scheduler's levels above {last} are never "
            f"reached{promoted}; run the loop to max_t, for {resource} in range(first, "
            f"max_t + 1), or give max_t={last} (%%tune --max-t {last}). A model that stopped "
            f"itself (its own early stopping) ends below max_t by design: it is ranked by its "
            f"value, as any completed trial")


def past_max_t_note(trial: T.Trial, resource: str, scheduler: Any) -> str | None:
    """Why a trial whose loop went on past the scheduler's max_t was ended at its first report
    past it (what it trains past max_t no rung judges), with the fix; None otherwise."""
    top = scheduler.max_level()
    levels = [] if top is None else _whole_levels(trial, resource)
    past = [level for level in levels if level > top]
    if not past:
        return None
    booster = " (a booster: num_boost_round=max_t)" if _boosting(resource) else ""
    return (f"trial {trial.id} went on past max_t={top}: nbtune ended it at its report of "
            f"{resource} {past[0]}, as Ray Tune and Syne Tune end a trial at max_t (the "
            f"{scheduler.name} scheduler judges trials up to {resource} {top}), and recorded "
            f"it completed; end the loop at max_t, for {resource} in range(first, max_t + 1)"
            f"{booster}, to spare each trial what it trains past max_t, or give a larger max_t "
            f"(%%tune --max-t N) for longer trials")


def off_rungs_note(trial: T.Trial, resource: str, scheduler: Any) -> str | None:
    """Why a trial whose reported levels passed the first rung level without landing on any is
    never judged (early stopping silently off); None otherwise."""
    rungs, top = scheduler.decision_points(), scheduler.max_level()
    levels = sorted(set(_whole_levels(trial, resource))) if rungs and top is not None else []
    if not levels or levels[-1] <= min(rungs) or set(levels) & set(rungs):
        return None
    return (f"trial {trial.id} reported {resource} {listed(levels)}: none is a level at which "
            f"the {scheduler.name} scheduler judges trials (its rungs {listed(list(rungs))} "
            f"below max_t={top}), so early stopping is off; report every {resource}"
            f"{rungs_fix(scheduler.name, levels, top, scheduler.reduction_factor)}")


def rungs_fix(scheduler: str, levels: list[int], top: float, reduction_factor: Any) -> str:
    """The clause that gives rungs at ``levels`` a study's trials report (sorted), below max_t
    ``top``, reduction_factor apart: ", or rung_levels=[20, 60, 180] (...)" for ASHA; for
    Hyperband, whose rungs max_t sets, a max_t whose rungs are such levels."""
    if scheduler != "asha":
        return ", or a max_t whose rungs (max_t / reduction_factor**k) are levels it reports"
    eta, fit, want = as_int(reduction_factor) or 3, [], levels[0]
    for level in (x for x in levels if x < top):
        if level >= want:
            fit.append(level)
            want = level * eta
    return f", or rung_levels={fit} (%%tune --rung-levels {','.join(map(str, fit))})" \
        if fit else ""


def pass_again_note(trial_id: int, resource: str, top: float, level: float,
                    scheduler: Any) -> str | None:
    """Why a trial whose ``resource``, after reaching ``top``, went back to ``level`` within one
    run (not a resume or a retry: those start a run of their own) is judged and drawn wrongly:
    its loop counts the resource again from the start, as a hand-written loop over folds around
    a booster does (``round`` from 1 in each fold). A scheduler judges a level once, so the
    trial is judged by its first pass alone; its curve draws the passes over one another, and
    the summary's column shows the highest level, not the rounds trained (the best trial of a
    5-fold loop had 500 reports, its round column said 100: user test of a Kaggle user's CV
    loop). None where the resource went on rising."""
    if level >= top:
        return None
    judged = (f"the {scheduler.name} scheduler judged only its first pass, and "
              if scheduler.decision_points() != () else "")
    # not "a count made to rise across the folds": it judged each config on another fold's
    # rounds and ended the trial on its last fold's score (check round 47)
    return (f"trial {trial_id}'s {resource} went from {_shown(top)} back to {_shown(level)} "
            f"(a loop over folds?): {judged}its learning curve draws the passes over one "
            f"another; report once per fold, the mean so far, with resource='fold', max_t=K "
            f"(%%tune --resource fold --max-t K, K folds), or, for stages of one training, "
            f"keep {resource} rising across them")
