"""SearchCV's scorers: scikit-learn's ``scoring=`` as scorers by name (one, or several with
``refit`` naming the one selected by), and how the optimised one is measured, in words kept
with the study."""
from __future__ import annotations

from typing import Any

from ..search import GridSearcher, RandomSearcher
from ..typos import did_you_mean


def scorers_of(estimator: Any, scoring: Any, refit: Any) -> tuple[dict[str, Any], str, bool]:
    """(scorers by name, the name the study optimises, multimetric) for ``scoring=`` as
    scikit-learn's searches take it."""
    from sklearn.metrics import check_scoring

    if scoring is None or isinstance(scoring, str) or callable(scoring):
        return {"score": check_scoring(estimator, scoring)}, "score", False
    from sklearn.metrics._scorer import _check_multimetric_scoring

    found = _check_multimetric_scoring(estimator, scoring)
    if refit is not False and not callable(refit) and refit not in found:
        near = did_you_mean(refit, found) if isinstance(refit, str) else ""
        raise ValueError(f"with several scorers ({', '.join(found)}), refit must name the "
                         f"one to select and refit by, be a callable, or be False; got "
                         f"refit={refit!r}{near}")
    return found, refit if isinstance(refit, str) else next(iter(found)), True


def check_ranking_scorer(found: dict[str, Any], refit: Any, scheduler: Any,
                         searcher: Any) -> None:
    """Several scorers, and a scheduler or a model-based searcher that compares candidates by
    one of them, with ``refit`` naming none: one ValueError. The first key of ``scoring`` stopped
    the candidates, where a callable refit chose by another, and nothing said so (first-day
    test, round 63); scikit-learn's HalvingRandomSearchCV takes one scorer only."""
    if isinstance(refit, str) or len(found) < 2:
        return
    plain = searcher in ("random", "grid") or isinstance(searcher, (RandomSearcher, GridSearcher))
    if scheduler is None and plain:
        return  # no decision made by a score before the refit's
    who = f"scheduler={scheduler!r}" if scheduler is not None else f"searcher={searcher!r}"
    first = next(iter(found))
    raise ValueError(f"with several scorers ({', '.join(found)}), {who} compares candidates by "
                     f"one: name it as refit='{first}' (refit={refit!r} names none, and the first "
                     f"key would decide in silence); a refit by a rule of your own goes after "
                     f"the search, from cv_results_")


def measured_by(scoring: Any, refit_name: str) -> str:
    """How the score the study optimises is measured, as ``scoring=`` gives it (kept with the
    study: a warm start from a search of another scoring is refused)."""
    if isinstance(scoring, dict):
        scoring = scoring[refit_name]
    elif isinstance(scoring, (list, tuple, set)):
        scoring = refit_name  # names of scikit-learn's scorers
    named = getattr(scoring, "__qualname__", None)  # a function's, a bound method's
    if scoring is None or isinstance(scoring, str) or named is None:
        return repr(scoring)  # a name; a scorer object's is make_scorer(...)
    return f"{scoring.__module__}.{named}"  # not its repr: an address, another each run
