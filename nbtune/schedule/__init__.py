"""Schedulers: when to continue, stop, pause or promote running trials."""
from __future__ import annotations

import inspect
import re
from typing import Any

from ..ported import OPTUNA_PRUNERS, of_optuna
from ..typos import did_you_mean
from .asha import ASHAScheduler
from .base import CONTINUE, DONE, PAUSE, RESUME, START, STOP, WAIT, FIFOScheduler, Scheduler
from .hyperband import HyperbandScheduler, hyperband_brackets
from .median import MedianScheduler, PercentileScheduler
from .rungs import infer_max_t, rung_levels
from .threshold import ThresholdScheduler

SCHEDULERS: dict[str, type[Scheduler]] = {
    "fifo": FIFOScheduler, "asha": ASHAScheduler, "hyperband": HyperbandScheduler,
    "median": MedianScheduler, "percentile": PercentileScheduler}


def _params(cls: type[Scheduler]) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def option_names() -> set[str]:
    """The options any scheduler named in :data:`SCHEDULERS` takes."""
    return {p.name for cls in SCHEDULERS.values() for p in _params(cls)}


def _check_options(name: str, cls: type[Scheduler], options: dict[str, Any]) -> None:
    """A ValueError naming an option the scheduler does not take, or one it needs and lacks."""
    params = _params(cls)
    names = [p.name for p in params]
    takes = f"its options are {', '.join(names)}" if names else "it takes no options"
    for option in options:
        if option not in names:
            hint = did_you_mean(option.replace("-", "_"), names, cutoff=0.6)
            others = [n for n, c in SCHEDULERS.items() if option in {p.name for p in _params(c)}]
            if others and not hint:  # an early-stopping option with the default scheduler, say
                hint = (f" ({option} is an option of scheduler {' and '.join(map(repr, others))}"
                        f": give scheduler={others[0]!r}, --scheduler {others[0]} in %%tune)")
            raise ValueError(f"scheduler {name!r} has no option {option!r}{hint}: {takes}")
    for p in params:
        if p.default is p.empty and p.name not in options:
            raise ValueError(f"scheduler {name!r} needs the option {p.name!r}: {takes}")


# Optuna's pruners, given as a scheduler -> nbtune's (first-day test, round 36: an object's
# bare repr, "unknown scheduler <optuna.pruners._hyperband.HyperbandPruner object at ...>")


# Ray Tune's schedulers' class names, given as a name -> nbtune's
RAY_SCHEDULERS = {
    "ASHAScheduler": "scheduler='asha'", "AsyncHyperBandScheduler": "scheduler='asha'",
    "HyperBandScheduler": "scheduler='hyperband'", "FIFOScheduler": "scheduler='fifo'",
    "MedianStoppingRule": "scheduler='median'",
    "HyperBandForBOHB": "scheduler='hyperband', searcher='kde'",
}


# those names (lower case) -> nbtune's text, and the scheduler it names (the magic's hint)
OTHER_NAMES = {k.lower(): v for k, v in {**OPTUNA_PRUNERS, **RAY_SCHEDULERS}.items()}
ALIASES = {k: m[1] for k, v in OTHER_NAMES.items() if (m := re.match(r"scheduler='(\w+)'", v))}


def make_scheduler(scheduler: str | Scheduler | None, **options: Any) -> Scheduler:
    """A scheduler from its name (``"asha"``) and options, or an instance; None means FIFO."""
    if scheduler is None:
        scheduler = "fifo"
    if isinstance(scheduler, Scheduler):
        if options:
            raise ValueError(f"scheduler options {sorted(options)} were given with a scheduler "
                             "object: set them on the object instead")
        return scheduler
    if isinstance(scheduler, str) and scheduler.lower() in SCHEDULERS:
        cls = SCHEDULERS[scheduler.lower()]
        _check_options(scheduler.lower(), cls, options)
        return cls(**options)
    known = ", ".join(sorted(SCHEDULERS))
    pruner = scheduler.__name__ if isinstance(scheduler, type) else type(scheduler).__name__
    if of_optuna(scheduler, "optuna.pruners"):  # Optuna's pruner, or its class
        ours = OPTUNA_PRUNERS.get(pruner, "scheduler='asha', 'median' or 'hyperband'")
        raise ValueError(f"scheduler={pruner}(...) is Optuna's pruner: nbtune's is {ours}")
    if isinstance(scheduler, type) and issubclass(scheduler, Scheduler):  # Ray Tune's, uncalled
        raise ValueError(f"scheduler={scheduler.__name__} is the class, not a scheduler: call "
                         f"it, scheduler={scheduler.__name__}(...), or name it, "
                         f"scheduler={getattr(scheduler, 'name', 'asha')!r}")
    hint = did_you_mean(scheduler.lower(), SCHEDULERS) if isinstance(scheduler, str) else ""
    if isinstance(scheduler, str) and scheduler.lower() in OTHER_NAMES:  # a class's name
        tool = "Optuna's pruner" if scheduler.lower().endswith("pruner") else "Ray Tune's"
        hint = f" (that is {tool}; nbtune's is {OTHER_NAMES[scheduler.lower()]})"
    if isinstance(scheduler, str) and scheduler.lower() in ("pbt", "pb2"):
        hint = (" (nbtune has no Population Based Training, which changes a running trial's "
                "hyperparameters; asha and hyperband stop or pause the poor trials instead)")
    raise ValueError(f"unknown scheduler {scheduler!r}{hint}: use one of {known}, or a "
                     "Scheduler object")


__all__ = ["CONTINUE", "STOP", "PAUSE", "START", "RESUME", "WAIT", "DONE", "Scheduler",
           "FIFOScheduler", "ThresholdScheduler", "ASHAScheduler", "HyperbandScheduler",
           "MedianScheduler", "PercentileScheduler", "rung_levels", "hyperband_brackets",
           "infer_max_t", "make_scheduler", "SCHEDULERS"]
