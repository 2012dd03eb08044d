"""Searchers: which config each trial runs. `make_searcher` builds one by name."""
from __future__ import annotations

import inspect
from typing import Any

from ..ported import OPTUNA_PRUNERS, of_optuna
from ..space import Space, as_space
from ..typos import did_you_mean, hint
from .base import Searcher
from .bayesopt import BayesOptSearcher
from .grid import GridSearcher
from .kde import KDESearcher
from .optuna_adapter import OptunaSearcher, is_optuna_sampler
from .random import RandomSearcher
from .tpe import TPESearcher

__all__ = ["Searcher", "RandomSearcher", "GridSearcher", "BayesOptSearcher", "KDESearcher",
           "TPESearcher", "OptunaSearcher", "SEARCHERS", "make_searcher", "searcher_name"]

SEARCHERS: dict[str, type[Searcher]] = {"random": RandomSearcher, "grid": GridSearcher,
                                         "bayesopt": BayesOptSearcher, "kde": KDESearcher,
                                         "tpe": TPESearcher, "optuna": OptunaSearcher}
# other tools' names (lower case) for nbtune's searchers: named as such in the error
ALIASES = {"gp": "bayesopt", "bo": "bayesopt", "bayesian": "bayesopt",
           "gaussian_process": "bayesopt", "skopt": "bayesopt", "gp_minimize": "bayesopt",
           "hyperopt": "tpe", "tpesampler": "tpe", "tree_parzen": "tpe", "bohb": "kde",
           "randomsampler": "random", "gridsampler": "grid", "basicvariant": "random",
           "gpsampler": "bayesopt", "botorchsampler": "bayesopt", "qmcsampler": "random"}
# an option of one searcher under another's name ("n_initial" given to tpe): the hint
SAME_OPTION = {"n_initial": "n_startup", "n_startup": "n_initial"}
# Syne Tune's searcher options -> nbtune's (first-day test, round 61)
SYNE_OPTIONS = {"num_init_random": ("n_initial", ""),
                "num_min_data_points": ("min_points", ""),
                "top_n_percent": ("gamma", ", a fraction: top_n_percent=15 is gamma=0.15")}
_COMMON = {"self", "space", "seed", "points_to_evaluate"}
# what a study gives every searcher: not the user's searcher options; where each is set
_STUDYS = {"mode": "its mode=, %%tune --mode", "seed": "its seed=, %%tune --seed",
           "points_to_evaluate": "its points_to_evaluate=", "space": "its space"}


def user_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """``searcher_options`` as the user gave them; ValueError, one line, for one the study sets
    itself (``mode`` had been listed among a searcher's options, and failed with Python's
    "got multiple values for keyword argument 'mode'")."""
    options = dict(options or {})
    for name, where in _STUDYS.items():
        if name in options:
            raise ValueError(f"searcher option {name!r} is set by the study itself ({where}): "
                             "leave it out of the searcher's options")
    return options


def searcher_name(obj: Any) -> Any:
    """The name a study stores for a searcher: a name as is, a Searcher's `name`, "optuna" for
    an Optuna sampler."""
    return "optuna" if is_optuna_sampler(obj) else getattr(obj, "name", obj)


def _other_space(theirs: Space, mine: Space) -> str:
    """The line for a searcher object built over another space than the study's: which names
    differ, and how (it printed the searcher's whole space: first-day test, round 64)."""
    missing = [k for k in mine if k not in theirs]
    extra = [k for k in theirs if k not in mine]
    changed = [f"{k} is {theirs[k]!r} there, {mine[k]!r} here" for k in mine
               if k in theirs and repr(theirs[k]) != repr(mine[k])]
    parts = ([f"it lacks {', '.join(map(repr, missing))}"] if missing else []) + \
        ([f"it has {', '.join(map(repr, extra))}, which the study lacks"] if extra else []) + \
        changed
    return (f"the searcher was built over another space ({'; '.join(parts) or 'its order'}): "
            "build it over the study's space")


def make_searcher(name_or_obj: Any, space: Space | dict | None,
                  seed: int | None = None, points_to_evaluate: list[dict] | None = None,
                  **options: Any) -> Searcher:
    """A searcher from a name in SEARCHERS (options go to its constructor), an instance, or an
    Optuna sampler instance (wrapped in an :class:`OptunaSearcher` over `space`).

    An instance is returned as is, except that a `mode` option is set on it; it keeps its own
    seed, and must have been built over `space` (when given) with its own points_to_evaluate.
    """
    if is_optuna_sampler(name_or_obj):
        if space is None:
            raise ValueError("an Optuna sampler needs a space")
        mode = options.pop("mode", "min")
        if options:
            raise ValueError(f"options {sorted(options)} apply only to a searcher given by name")
        return OptunaSearcher(space, seed=seed, points_to_evaluate=points_to_evaluate,
                              mode=mode, sampler=name_or_obj)
    if isinstance(name_or_obj, Searcher):
        mode = options.pop("mode", None)
        if options:
            raise ValueError(f"options {sorted(options)} apply only to a searcher given by name")
        if points_to_evaluate:
            raise ValueError("pass points_to_evaluate to the searcher's constructor")
        if space is not None and as_space(space) != name_or_obj.space:
            raise ValueError(_other_space(name_or_obj.space, as_space(space)))
        if mode is not None:
            if mode not in ("min", "max"):
                raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
            name_or_obj.mode = mode
        return name_or_obj
    if of_optuna(name_or_obj, "optuna.pruners"):  # it read as an object's repr (round 64)
        pruner = name_or_obj.__name__ if isinstance(name_or_obj, type) \
            else type(name_or_obj).__name__
        ours = OPTUNA_PRUNERS.get(pruner, "scheduler='asha', 'median' or 'hyperband'")
        raise ValueError(f"searcher={pruner}(...) is Optuna's pruner, which stops trials: "
                         f"nbtune's is {ours}; a searcher picks configs (searcher='tpe', or an "
                         f"Optuna sampler)")
    if isinstance(name_or_obj, type) and of_optuna(name_or_obj):
        raise ValueError(f"searcher={name_or_obj.__name__} is Optuna's class, not a sampler: "
                         f"pass an instance, searcher={name_or_obj.__name__}()")
    if isinstance(name_or_obj, type) and issubclass(name_or_obj, Searcher):  # uncalled
        raise ValueError(f"searcher={name_or_obj.__name__} is the class, not a searcher: call "
                         f"it, searcher={name_or_obj.__name__}(space, ...), or name it, "
                         "searcher='bayesopt' (or 'random', 'tpe', 'kde')")
    if not isinstance(name_or_obj, str) or name_or_obj not in SEARCHERS:
        known = ", ".join(repr(k) for k in SEARCHERS)
        raise ValueError(f"unknown searcher {name_or_obj!r}{hint(name_or_obj, SEARCHERS, ALIASES)}"
                         f"; known: {known}, a "
                         "Searcher instance or an Optuna sampler")
    if space is None:
        raise ValueError(f"searcher {name_or_obj!r} needs a space")
    cls = SEARCHERS[name_or_obj]
    allowed = set(inspect.signature(cls.__init__).parameters) - _COMMON
    unknown = sorted(set(options) - allowed)
    if unknown:
        own = allowed - set(_STUDYS)  # the user's to give: mode is the study's (user_options)
        same = SAME_OPTION.get(unknown[0])
        syne, how = SYNE_OPTIONS.get(unknown[0], (None, ""))
        near = (f" (did you mean {same!r}?)" if same in own else
                f" ({unknown[0]} is Syne Tune's name: nbtune's is {syne!r}{how})" if syne in own
                else
                did_you_mean(unknown[0], own) or next(  # Optuna's n_startup_trials
                    (f" (did you mean {o!r}?)" for o in sorted(own) if unknown[0].startswith(o)),
                    ""))
        takes = f"its options: {', '.join(sorted(own))}" if own else "it takes no options"
        raise ValueError(f"searcher {name_or_obj!r} has no option {unknown[0]!r}{near} "
                         f"({takes})")
    return cls(space, seed=seed, points_to_evaluate=points_to_evaluate, **options)
