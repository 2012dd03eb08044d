"""``SearchCV``'s checks of what it is given, each failing with one line before any trial runs."""
from __future__ import annotations

import difflib
import itertools
import numbers
from typing import Any, Iterable

from ..caller import warn
from ..schedule.rungs import check_reduction_factor
from ..typos import did_you_mean



def _name(est: Any) -> str:
    return type(est).__name__


# scikit-learn's searches' parameter names that SearchCV spells its own way, with that way
SKLEARN_NAMES = {"param_distributions": "space=", "param_grid": "space= with searcher=\"grid\"",
                 "n_iter": "n_trials=", "n_candidates": "n_trials=",
                 "random_state": "seed= (an int)",
                 "factor": "reduction_factor= (with scheduler='asha')",
                 "max_resources": "max_t= (with scheduler='asha')",
                 "min_resources": "grace_period= (with scheduler='asha')",
                 "verbose": "progress=",
                 "timeout": "max_time= (OptunaSearchCV's timeout=)"}
# ... and those that have no place here, with why
SKLEARN_WITHOUT = {
    "n_jobs": "candidates run on the Dask cluster's workers, as many at once as they have "
              "threads (cluster= picks the cluster)",
    "pre_dispatch": "the loop keeps each worker fed itself",
    "aggressive_elimination": "ASHA stops candidates as their scores arrive (max_time= bounds "
                              "the search's time)",
    # nbtune.tune's words, which a user of both gives (first-day test, round 42)
    "mode": "scikit-learn's scorers are all maximised, a loss negated (scoring="
            "'neg_root_mean_squared_error'), and SearchCV maximises them as its searches do",
    "metric": "scoring= names what is scored (a scorer's name, a callable, or a dict of them "
              "with refit= naming the one that ranks)"}


def check_init_names(given: dict[str, Any], space: Any, known: Iterable[str]) -> None:
    """SearchCV(...) named parameters it does not take (``given``), or no space: one TypeError,
    which names scikit-learn's spellings with SearchCV's and a typo with the closest name."""
    parts, known = [], sorted(known)
    renamed = [f"{k}= is {SKLEARN_NAMES[k]}" for k in given if k in SKLEARN_NAMES]
    if renamed:
        parts.append("SearchCV names some of scikit-learn's parameters its own way: "
                     + ", ".join(renamed))
    parts += [f"SearchCV has no {k}=: {SKLEARN_WITHOUT[k]}" for k in given if k in SKLEARN_WITHOUT]
    parts += [f"SearchCV has no parameter {k!r}{did_you_mean(k, known)}" for k in given
              if k not in SKLEARN_NAMES and k not in SKLEARN_WITHOUT]
    if space is None and not any(SKLEARN_NAMES.get(k, "").startswith("space=") for k in given):
        parts.append("SearchCV needs a space: SearchCV(estimator, {'C': loguniform(1e-3, 1e3), "
                     "...}) (a dict of lists, scipy.stats distributions or nbtune domains)")
    if parts:
        raise TypeError("; ".join(parts))


def check_estimator(estimator: Any) -> None:
    """An estimator: something with ``fit`` and ``get_params``, an instance (the class itself
    read "BaseEstimator.get_params() missing 1 required positional argument: 'self'")."""
    if isinstance(estimator, type):
        raise TypeError(f"estimator is the class {estimator.__name__}: give an instance, "
                        f"{estimator.__name__}() (with any settings the search keeps fixed)")
    if not (hasattr(estimator, "fit") and hasattr(estimator, "get_params")):
        raise TypeError(f"estimator must be a scikit-learn estimator (with fit and get_params), "
                        f"got {_name(estimator)}")


def check_sendable(estimator: Any, objects: dict[str, dict[str, Any]]) -> None:
    """The estimator, and the objects the space offers (estimators as choices), can be copied
    (scikit-learn's ``clone``) and pickled (each candidate's estimator goes to a Dask worker);
    else one TypeError naming the parameter that holds what cannot. ``GridSearchCV`` in one
    process never pickles them; here a step holding a lock showed 14 frames of ``copy``, and an
    open connection a message about "the trial function" (first-day test, round 32)."""
    import copy

    import cloudpickle

    params = estimator.get_params(deep=True)
    for act, verb in ((copy.deepcopy, "copied"), (cloudpickle.dumps, "pickled")):
        try:
            act((estimator, objects))
        except Exception as exc:  # a lock, an open file or connection, a generator
            failing = [key for key, value in params.items() if _fails(act, value)]
            choices = [(name, label) for name, table in objects.items()
                       for label, value in table.items() if _fails(act, value)]
            if failing:  # the deepest name: the step's own parameter, not the steps around it
                key = max(failing, key=lambda k: (k.count("__"), len(k)))
                what = f"its parameter {key!r} holds a {_name(params[key])} that cannot be {verb}"
            elif choices:
                what = f"the space's choice {choices[0][1]} for {choices[0][0]!r} cannot be {verb}"
            else:
                what = f"{_name(estimator)} cannot be {verb}"
            raise TypeError(f"the estimator cannot go to the Dask workers: {what} ({exc}). Each "
                            f"candidate's estimator is cloned and sent to a worker: create "
                            f"objects such as open files, locks or connections inside the "
                            f"step's fit, not in its parameters") from None


def _fails(act: Any, value: Any) -> bool:
    try:
        act(value)
    except Exception:
        return True
    return False


def _space_estimators(space: Any, objects: dict[str, dict[str, Any]], name: str) -> list | None:
    """The estimators that the space's list for ``name`` holds (a step's choices), or None where
    the space has no list of estimators for it."""
    domain = space[name] if name in space else None
    values = getattr(domain, "values", None)
    if values is None:
        return None
    found = [v for v in _originals(objects, name, values) if hasattr(v, "get_params")]
    return found or None


def _originals(objects: dict[str, dict[str, Any]], name: str, values: list) -> list:
    """The space's values for ``name`` as given: a label turned back into its object (a dict or
    a list, ``class_weight={...}``, is a value of its own: first-day test, round 45)."""
    table = objects.get(name, {})
    return [table.get(v, v) if isinstance(v, str) else v for v in values]


def _estimator_classes(space: Any, objects: dict[str, dict[str, Any]], name: str) -> list[str]:
    """The names of the estimator classes (not instances) the space's list for ``name`` holds."""
    values = getattr(space[name], "values", None) or []
    return [v.__name__ for v in _originals(objects, name, values)
            if isinstance(v, type) and hasattr(v, "get_params")]


MODELS = 64  # the estimators a space's step choices make, looked at in checks at most


def space_models(estimator: Any, converted: Any) -> list[tuple[Any, str]]:
    """The estimators the candidates fit, each with where it comes from: ``estimator`` with
    each choice of the steps the space gives estimators (``{"clf": [SVC(), LogisticRegression()]
    }``), in each of a list of spaces (its ``parts``), ``estimator`` as given where a space
    chooses none. A resource and a misspelt key were checked against the pipeline's own
    ``clf``, which no candidate fit: every fit of another model failed (first-day test, 59)."""
    from sklearn.base import clone

    parts = getattr(converted, "parts", None)
    valid = estimator.get_params(deep=True)  # a wrong key is check_keys' to name
    out = []
    for i, part in enumerate(parts or [converted]):
        steps = {name: _originals(part.objects, name, list(part.space[name].values))
                 for name in part.space
                 if name in valid and _space_estimators(part.space, part.objects, name)
                 and not _estimator_classes(part.space, part.objects, name)}  # check_keys
        named = f"space[{i}]" if parts else "the space"
        if not steps:
            out.append((estimator, named if parts else ""))
            continue
        made = 0
        for combo in itertools.islice(itertools.product(*steps.values()), MODELS):
            chosen = dict(zip(steps, combo))
            try:
                model = clone(estimator).set_params(**clone(chosen, safe=False))
            except Exception:  # a choice that cannot be copied: check_sendable names it
                continue
            made += 1
            out.append((model, named + " with " + ", ".join(
                f"{k}={_name(v) if hasattr(v, 'get_params') else repr(v)}"
                for k, v in chosen.items())))
        if not made:
            out.append((estimator, named if parts else ""))
    return out


def check_spaces_keys(estimator: Any, converted: Any) -> None:
    """:func:`check_keys` of a converted space, or of each of a list of spaces (its
    ``parts``), the message then naming which; each against an estimator its candidates fit
    (a misspelt key in the SVC's space named LogisticRegression's parameters: round 59)."""
    parts = getattr(converted, "parts", None)
    for i, part in enumerate(parts or [converted]):
        model = space_models(estimator, part)[0][0]
        try:
            check_keys(model, part.space, part.objects)
        except ValueError as exc:
            if parts is None:
                raise
            raise ValueError(f"space[{i}]: {exc}") from None


def check_keys(estimator: Any, space: Any, objects: dict[str, dict[str, Any]]) -> None:
    """Every space key must be a parameter of the estimator (``step__param`` in a pipeline), or,
    under a step the space itself chooses estimators for (``{"clf": [SVC()], "clf__gamma":
    [...]}``), a parameter of every one of those estimators, as GridSearchCV checks it; a step's
    choices are estimators, not their classes."""
    valid = estimator.get_params(deep=True)
    for name in space:
        classes = _estimator_classes(space, objects, name)
        if classes:  # every trial failed in scikit-learn's check of its pipeline (round 32)
            raise ValueError(f"space key {name!r} lists the class{'es' if len(classes) > 1 else ''}"
                             f" {', '.join(classes)}, not estimators: give instances, "
                             f"[{', '.join(c + '()' for c in classes)}]")
        parts = name.split("__")
        for i in range(len(parts) - 1, 0, -1):  # a step the space chooses first: the pipeline's
            # own step has the parameter, and a chosen LogisticRegression was given gamma
            step, rest = "__".join(parts[:i]), "__".join(parts[i:])
            chosen = _space_estimators(space, objects, step)
            if chosen is None:
                continue
            lacking = [_name(e) for e in chosen if rest not in e.get_params(deep=True)]
            if lacking:
                raise ValueError(f"space key {name!r} is not a parameter of "
                                 f"{', '.join(dict.fromkeys(lacking))}, which the space gives "
                                 f"{step!r}: give {rest!r} only with estimators that have it, "
                                 f"or give a list of spaces, one for each estimator")
            break
        else:
            if name in valid:
                continue
            close = [n for n in valid if n.endswith("__" + name)] \
                or difflib.get_close_matches(name, list(valid), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"space key {name!r} is not a parameter of {_name(estimator)}"
                             f"{hint}; {_parameters(valid, close[0] if close else None)}")


def _parameters(valid: Any, near: str | None) -> str:
    """The parameters to name beside a wrong space key: those of the step that holds ``near``
    (the likely one), else the estimator's own; a pipeline's nested ones were all listed, 63
    names and 2,000 characters for a ColumnTransformer pipeline (first-day test, round 9)."""
    step = near.rsplit("__", 1)[0] if near and "__" in near else None
    if step is not None:
        names = [n[len(step) + 2:] for n in valid if n.startswith(step + "__")]
        return (f"the parameters of step {step!r} are: "
                f"{', '.join(sorted(n for n in names if '__' not in n))}")
    own = sorted(n for n in valid if "__" not in n)
    nested = " (a step's own as step__param)" if len(own) < len(valid) else ""
    return f"its parameters are: {', '.join(own)}{nested}"


def check_cv(cv: Any) -> None:
    """At least two folds: cv=1 and cv=0 are named with the fix."""
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool) and cv < 2:
        raise ValueError(f"cv={cv} is too few folds: cross-validation needs cv >= 2 (5 is the "
                         "default); for one validation split give cv=ShuffleSplit(n_splits=1) "
                         "or cv=[(train_indices, validation_indices)]")


def check_rung_folds(rung_folds: Any) -> None:
    """``rung_folds`` is "all" or "grow"."""
    if rung_folds not in ("all", "grow"):
        raise ValueError(f"rung_folds must be 'all' (every fold scored at every rung) or 'grow' "
                         f"(fewer folds at the early rungs, all at max_t), got {rung_folds!r}")


def weighted_scorers(scorers: dict[str, Any], fit_params: dict[str, Any]) -> frozenset:
    """The scorers that get ``fit``'s ``sample_weight``, as the installed scikit-learn's searches
    decide it: from 1.9 on, those whose signature takes it (a warning names those that do not);
    before, none."""
    from inspect import signature

    from sklearn.model_selection._search import BaseSearchCV

    if fit_params.get("sample_weight") is None \
            or not hasattr(BaseSearchCV, "_check_scorers_accept_sample_weight"):
        return frozenset()
    taking = set()
    for name, scorer in scorers.items():
        accept = getattr(scorer, "_accept_sample_weight", None)
        if accept() if accept is not None else "sample_weight" in signature(scorer).parameters:
            taking.add(name)
        else:
            warn(f"the scoring {scorer} does not take sample_weight: its scores are unweighted, "
                 f"while the estimator's fit is weighted")
    return frozenset(taking)


def _whole(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def check_numbers(error_score: Any, n_trials: Any, max_time: Any, max_t: Any,
                  grace_period: Any, reduction_factor: Any) -> None:
    """error_score, the budget and the rungs' numbers have the types they need: one ValueError
    for the first that has not."""
    if error_score != "raise" and (not isinstance(error_score, numbers.Real)
                                   or isinstance(error_score, bool)):
        raise ValueError(f"error_score must be a number (the score of a failed fit; NaN by "
                         f"default) or 'raise' (stop at the first failed fit), got "
                         f"error_score={error_score!r}")
    if not (n_trials is None or n_trials == "auto" or _whole(n_trials)):
        raise ValueError(f"n_trials must be a positive integer, 'auto' (every candidate of a "
                         f"finite space up to 50) or None (no limit; give max_time), got "
                         f"n_trials={n_trials!r}")
    if max_time is not None and (not isinstance(max_time, numbers.Real)
                                 or isinstance(max_time, bool) or not max_time > 0):
        raise ValueError(f"max_time must be a positive number of seconds or None, got "
                         f"max_time={max_time!r}")
    for name, value, default in (("max_t", max_t, "the resource's own"),
                                 ("grace_period", grace_period, "max_t / reduction_factor**3")):
        if value is not None and not _whole(value):
            raise ValueError(f"{name} must be a positive integer or None ({default}), got "
                             f"{name}={value!r}")
    if reduction_factor is not None:
        check_reduction_factor(reduction_factor)


def check_rungs_need_a_scheduler(scheduler: Any, resource: Any, max_t: Any, grace_period: Any,
                                 reduction_factor: Any, scheduler_options: Any) -> None:
    """The rungs' settings given to a search without a scheduler: one ValueError. They did
    nothing, and a ``HalvingRandomSearchCV`` ported by the renames of :data:`SKLEARN_NAMES`
    (``factor=`` to ``reduction_factor=``, ...) ran every candidate in full, saying nothing
    (first-day test, round 63)."""
    if scheduler is not None:
        return
    given = [name for name, value in (("grace_period", grace_period),
                                      ("reduction_factor", reduction_factor),
                                      ("scheduler_options", scheduler_options)) if value]
    if max_t is not None and resource == "auto":  # with a resource, every candidate trains to it
        given.insert(0, "max_t")
    if given:
        names = ", ".join(f"{name}=" for name in given)
        raise ValueError(f"{names} set{'s' if len(given) == 1 else ''} early stopping's rungs, "
                         f"and this search has no scheduler: give scheduler='asha' "
                         f"(successive halving, as HalvingRandomSearchCV runs it), or leave "
                         f"{'it' if len(given) == 1 else 'them'} out")


# the short names of losses people give for scoring=, and scikit-learn's negated scorer of each
SHORT_SCORERS = {"rmse": "neg_root_mean_squared_error", "mse": "neg_mean_squared_error",
                 "mae": "neg_mean_absolute_error", "mape": "neg_mean_absolute_percentage_error",
                 "rmsle": "neg_root_mean_squared_log_error", "msle": "neg_mean_squared_log_error",
                 "logloss": "neg_log_loss", "log_loss": "neg_log_loss",
                 "medae": "neg_median_absolute_error", "brier": "neg_brier_score"}


def check_scoring_names(scoring: Any) -> None:
    """A scorer name in ``scoring`` (alone, or in a list or dict) is one of scikit-learn's: a
    misspelt one is named as SearchCV's ``scoring``, with the closest name."""
    from sklearn.metrics import get_scorer_names

    names = [scoring] if isinstance(scoring, str) else \
        list(scoring.values()) if isinstance(scoring, dict) else \
        list(scoring) if isinstance(scoring, (list, tuple, set)) else []
    known = get_scorer_names()
    for name in names:
        if isinstance(name, str) and name not in known:
            near = (f" (did you mean {SHORT_SCORERS[name.lower()]!r}? scikit-learn's scorers "
                    f"are maximised: a loss is negated)" if name.lower() in SHORT_SCORERS
                    else did_you_mean(name, known))
            raise ValueError(f"scoring={name!r} is not a scorer of scikit-learn"
                             f"{near}: give a name of "
                             f"sklearn.metrics.get_scorer_names(), a callable, or a list or dict "
                             f"of them")
