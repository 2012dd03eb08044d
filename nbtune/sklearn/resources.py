"""What ``SearchCV`` trains a candidate along under early stopping (its resource): ``partial_fit``
epochs, a parameter that grows with warm starts or continued fits (``n_estimators``,
``max_iter``, LightGBM's and XGBoost's rounds), or training rows; which of them an estimator
allows, its ``max_t`` by default, and an estimator that stops itself short of a rung."""
from __future__ import annotations

import numbers
from typing import Any

from .fitting import N_SAMPLES, PARAM, PARTIAL_FIT
from .training import accumulating, partial_fits

WARM_PARAMS = ("n_estimators", "max_iter")  # parameters that grow under warm_start, in order
# fit's keywords that take the model trained so far and train more on top of it: LightGBM's
# estimators (init_model) and XGBoost's (xgb_model), whose n_estimators then counts the rounds
# added. Neither has warm_start, and SearchCV fell back to n_samples rungs of 15 rows, where
# LightGBM makes no split (first-day test, round 29).
CONTINUED_FITS = ("init_model", "xgb_model")


def _name(est: Any) -> str:
    return type(est).__name__


def _owner(estimator: Any, param: str) -> Any:
    """The (sub-)estimator that owns ``param``: ``clf__max_iter`` belongs to step ``clf``."""
    prefix, _, _ = param.rpartition("__")
    return estimator.get_params(deep=True)[prefix] if prefix else estimator


def _warm_start_of(param: str) -> str:
    prefix, sep, _ = param.rpartition("__")
    return f"{prefix}{sep}warm_start"


def auto_resource(estimator: Any) -> str:
    """``"partial_fit"`` when the estimator trains by it (see
    :func:`~nbtune.sklearn.training.partial_fits`), else a parameter that grows with warm starts
    (``n_estimators``, then ``max_iter``), else ``"n_samples"``."""
    if partial_fits(estimator):
        return PARTIAL_FIT
    if accumulating(estimator) is not None:
        # naive Bayes and the like: one pass over the rows is the whole model, so what a rung
        # can give it is more rows. It has no parameter that grows, and one found elsewhere in
        # a Pipeline (a feature selector's max_iter) would not train it further
        return N_SAMPLES
    return _warm_param(estimator) or N_SAMPLES


def _warm_param(estimator: Any) -> str | None:
    """The estimator's first parameter that grows with warm starts (``n_estimators``, then
    ``max_iter``, its own or a step's), or a booster's ``n_estimators`` whose fit continues a
    model (:data:`CONTINUED_FITS`); None where it has none."""
    params = estimator.get_params(deep=True)
    for suffix in WARM_PARAMS:
        for name in params:
            if (name == suffix or name.endswith("__" + suffix)) \
                    and (_warm_start_of(name) in params
                         or suffix == "n_estimators" and continued_fit(estimator, name)):
                return name
    return None


def continued_fit(estimator: Any, param: str) -> str | None:
    """The fit keyword (a Pipeline step's as ``step__init_model``) through which the owner of
    ``param`` trains on top of a model trained before (:data:`CONTINUED_FITS`); None where its
    fit takes none."""
    import inspect

    owner = _owner(estimator, param)
    try:
        taken = inspect.signature(owner.fit).parameters
    except (TypeError, ValueError, AttributeError):
        return None
    prefix, sep, _ = param.rpartition("__")
    for keyword in CONTINUED_FITS:
        if keyword in taken:
            return f"{prefix}{sep}{keyword}"
    return None


def resource_kind(estimator: Any, resource: str) -> tuple[str, str | None, bool, str | None]:
    """(kind, warm_start parameter, cumulative, the fit keyword that continues a model) of a
    resource, or a ValueError saying why the estimator cannot use it."""
    if not isinstance(resource, str) or not resource:
        raise ValueError(f"resource must be 'partial_fit', 'n_samples' or the name of a parameter "
                         f"that grows with warm starts (such as 'n_estimators'), got {resource!r}")
    if resource == PARTIAL_FIT:
        adds = accumulating(estimator)
        if adds is not None:
            name, whose, what = adds
            whose += "'" if whose.endswith("s") else "'s"
            raise ValueError(f"resource='partial_fit' cannot train {name} by epochs: {whose} "
                             f"partial_fit adds the same {what} again at each pass, so k "
                             f"epochs count every row k times; give resource='n_samples', or "
                             f"leave resource='auto' (rows under a scheduler, one fit without)")
        if not partial_fits(estimator):
            warm = _warm_param(estimator)  # it named n_estimators to a Pipeline of SGD, which
            # has none (first-day test, round 23)
            grows = (f"resource={warm!r}, which grows with warm starts" if warm else
                     "a parameter that grows with warm starts (such as 'n_estimators')")
            raise ValueError(f"resource='partial_fit' needs an estimator with partial_fit (or "
                             f"a Pipeline whose last step has it), and {_name(estimator)} has "
                             f"none: use resource='n_samples', or {grows}")
        return PARTIAL_FIT, None, True, None
    if resource == N_SAMPLES:
        return N_SAMPLES, None, True, None
    params = estimator.get_params(deep=True)
    if resource not in params:
        close = [n for n in params if n.endswith("__" + resource)]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"resource {resource!r} is not a parameter of {_name(estimator)}{hint}: "
                         f"give 'partial_fit', 'n_samples', or one of its parameters that grows "
                         f"with warm starts")
    warm = _warm_start_of(resource)
    continued = continued_fit(estimator, resource) if resource.endswith("n_estimators") \
        else None
    if continued is not None and warm not in params:  # rounds added to the model so far
        return PARAM, None, False, continued
    if warm not in params:
        raise ValueError(f"resource {resource!r} needs warm starts, and {_name(estimator)} has "
                         f"no {warm!r} parameter: use resource='n_samples'"
                         + (" or 'partial_fit'" if partial_fits(estimator) else ""))
    owner = _owner(estimator, resource)
    cumulative = resource.endswith("n_estimators") or "HistGradientBoosting" in _name(owner)
    return PARAM, warm, cumulative, None


def models_resource(models: list[tuple[Any, str]], resource: str
                    ) -> tuple[str, tuple[str, str | None, bool, str | None]]:
    """The resource every one of the candidates' estimators (``models``: see
    :func:`~nbtune.sklearn.checks.space_models`) trains along, and its kind
    (:func:`resource_kind`); ``"auto"`` is theirs where they agree, else rows. A ValueError
    names the first model that cannot take it: the others' fits all failed on a warm_start
    nbtune set (first-day test, round 59)."""
    if resource == "auto":
        chosen = {auto_resource(model) for model, _ in models}
        resource = chosen.pop() if len(chosen) == 1 else N_SAMPLES
    found = None
    for model, where in models:
        try:
            kind = resource_kind(model, resource)
        except ValueError as exc:
            if not where:
                raise
            raise ValueError(f"{where}: {exc}") from None
        if found is not None and kind != found:
            raise ValueError(f"resource {resource!r} trains the space's models in different "
                             f"ways ({where}): give resource='n_samples'")
        found = kind
    return resource, found  # type: ignore[return-value]


def models_max_t(models: list[tuple[Any, str]], kind: str, resource: str, n_train: int) -> int:
    """:func:`default_max_t` of every model, which must agree."""
    values = {}
    for model, where in models:
        values.setdefault(default_max_t(model, kind, resource, n_train), where)
    if len(values) > 1:
        said = ", ".join(f"{v} ({where})" for v, where in values.items())
        raise ValueError(f"resource {resource!r} has different values in the space's models: "
                         f"{said}; give SearchCV(..., max_t=N), the most any candidate trains")
    return next(iter(values))


def self_stopping_note(estimator: Any, param: str, n_train: int,
                       n_refit: int | None = None) -> str | None:
    """The note for a resource parameter whose estimator stops early by itself:
    ``HistGradientBoosting*``'s ``early_stopping`` ("auto": on over 10,000 rows) ends its
    ``max_iter`` short of the rung, so the rungs count fewer iterations than they say (a
    candidate "completed" at 90 had trained 38: first-day test, round 42). Where only the refit
    on all ``n_refit`` rows passes 10,000, ``best_estimator_`` is the one that stops short (31 of
    the 60 its candidate trained: round 57). None otherwise."""
    owner = _owner(estimator, param)
    if not param.endswith("max_iter") or not hasattr(owner, "early_stopping") \
            or not type(owner).__name__.startswith("HistGradientBoosting"):
        return None
    stops = owner.early_stopping
    prefix = param[:-len("max_iter")]
    fix = f"give it early_stopping=False ({prefix}early_stopping=False in the estimator)"
    name = type(owner).__name__
    if stops is True or stops == "auto" and n_train > 10_000:
        why = "early_stopping=True" if stops is True else \
            f"early_stopping='auto', on over 10,000 rows ({n_train:,} here)"
        return (f"{name} stops its own boosting early ({why}): the {param} rungs then count "
                f"fewer iterations than they say, and a candidate that stopped itself is ranked "
                f"with those that trained in full; {fix} so that each rung trains what it says")
    if stops == "auto" and n_refit is not None and n_refit > 10_000:
        return (f"{name} stops its own boosting early on over 10,000 rows "
                f"(early_stopping='auto'): the folds' {n_train:,} rows train each rung in full, "
                f"but best_estimator_, refitted on all {n_refit:,} rows, holds some out to "
                f"judge itself and may stop short of the {param} its candidate reached; {fix} "
                f"so that it trains what its candidate did")
    return None


def unscheduled_note(kind: str, resource: str, max_t: int) -> str:
    """The note for a resource given to a search without a scheduler: it stops no candidate,
    and changes how each trains (27 ``partial_fit`` epochs in place of one ``fit``: scores
    unlike GridSearchCV's, and nothing said, first-day test, round 63)."""
    how = {PARTIAL_FIT: f"{max_t} partial_fit epochs, not one fit",
           N_SAMPLES: "on all its fold's rows"}.get(kind, f"to {resource}={max_t}")
    name = "partial_fit" if kind == PARTIAL_FIT else resource
    return (f"resource={name!r} without a scheduler stops no candidate early: each trains "
            f"{how}; give scheduler='asha' to stop the poor ones at its rungs, or leave "
            f"resource= out to fit each candidate once, as GridSearchCV does")


def default_max_t(estimator: Any, kind: str, resource: str, n_train: int) -> int:
    """max_t when none is given: 27 epochs; a parameter's value in the estimator; for
    n_samples, ``n_train``: the rows of the largest training fold. A fold trains on
    min(level, its rows) (:meth:`~nbtune.sklearn.fitting.FoldTrial._subsample`), so at max_t
    every fold trains on all its rows and a candidate scores what ``cross_val_score`` scores.
    The smallest fold left TimeSeriesSplit's later folds on a fraction of their rows at the top
    rung, and the candidates ranked on that (first-day test)."""
    if kind == PARTIAL_FIT:
        return 27
    if kind == N_SAMPLES:
        return int(n_train)
    value = estimator.get_params(deep=True)[resource]
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        owner = _name(_owner(estimator, resource))
        raise ValueError(f"resource {resource!r} needs its largest value: give SearchCV(..., "
                         f"max_t=N), or {owner}({resource.rpartition('__')[2]}=N); the "
                         f"estimator's {resource}={value!r} is not a positive integer")
    return int(value)
