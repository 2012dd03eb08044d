"""What ``SearchCV`` says of fits and scorers that failed, in scikit-learn's words.

The one place that forms those messages: a failed candidate's trial error (what the panel and
``study_`` show) and the ``FitFailedWarning``, scoring warning or ValueError of ``fit`` read
alike. A failure is kept per split as the traceback of the user's (or the estimator's) code
(:func:`nbtune.run.task.user_traceback`: nbtune's frames left out), under the report keys
``split<i>_fit_error`` and ``split<i>_score_error``; identical tracebacks are grouped and counted,
as scikit-learn's ``_warn_or_raise_about_fit_failures`` does.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Sequence

from ..caller import warn

FIT, SCORE = "fit_error", "score_error"  # report keys: split<i>_fit_error, split<i>_score_error
DELIMITER = "-" * 80 + "\n"


def split_errors(rows: Iterable[dict[str, Any]], kind: str) -> list[str]:
    """Every split's traceback of ``kind`` (:data:`FIT` or :data:`SCORE`) in the rows, in order."""
    return [value for row in rows for key, value in row.items()
            if key.startswith("split") and key.endswith("_" + kind) and value]


def fits_failed(errors: Sequence[str], total: int, error_score: Any,
                one_candidate: bool = False) -> str:
    """scikit-learn's message for ``errors`` (one traceback per failed fit) among ``total`` fits:
    "N fits failed out of a total of M." (or "All the M fits failed."), then each distinct error
    with the number of fits that raised it. Of ``one_candidate`` whose every fit failed, it says
    so, not scikit-learn's "your model is misconfigured", which is of a whole search's: one
    candidate of twelve read as the search's failure (first-day test, round 32)."""
    summary = "\n".join(f"{DELIMITER}{n} fits failed with the following error:\n{error}"
                        for error, n in Counter(errors).items())
    if len(errors) >= total and one_candidate:
        head = (f"\nAll the {total} fits of this candidate failed; its score is set to "
                f"{error_score}, and the search goes on with the other candidates.\n"
                "If these failures are not expected, you can try to debug them "
                "by setting error_score='raise'.\n\n")
    elif len(errors) >= total:
        head = (f"\nAll the {total} fits failed.\n"
                "It is very likely that your model is misconfigured.\n"
                "You can try to debug the error by setting error_score='raise'.\n\n")
    else:
        head = (f"\n{len(errors)} fits failed out of a total of {total}.\n"
                "The score on these train-test partitions for these parameters"
                f" will be set to {error_score}.\n"
                "If these failures are not expected, you can try to debug them "
                "by setting error_score='raise'.\n\n")
    return f"{head}Below are more details about the failures:\n{summary}"


def scoring_failed(error: str, count: int, total: int, error_score: Any) -> str:
    """scikit-learn's message for a scorer that raised (its whole traceback, ``error``), on
    ``count`` of ``total`` splits."""
    return (f"Scoring failed on {count} of the {total} splits. The score on these train-test "
            f"partitions for these parameters will be set to {error_score}. Details: \n{error}")


def none_scored(rows: Sequence[dict[str, Any]], total: int, name: str) -> str:
    """Why no candidate can be refitted as the best: every mean test score of ``name`` is NaN
    (the scorer raised on every split: a multiclass target with ``scoring="roc_auc"``).
    scikit-learn's searches warn, then refit the first failed candidate as ``best_estimator_``:
    a failed config read as the best one (first-day test, round 62)."""
    errors = split_errors(rows, SCORE)
    summary = "\n".join(f"{DELIMITER}{n} splits failed with the following error:\n{error}"
                        for error, n in Counter(errors).items())
    why = (f"the scorer raised on {len(errors)} of the {total} splits" if errors
           else "every split scored NaN")
    score = "test score" if name == "score" else f"{name} test score"
    return (f"\nNo candidate has a {score}: {why}, so none can be chosen as the best and "
            "refitted. Check that the scoring suits the task (for a multiclass target, roc_auc "
            "is 'roc_auc_ovr'), debug it with error_score='raise', or give refit=False to keep "
            "cv_results_ alone." + (f"\n\nBelow are more details about the failures:\n"
                                   f"{summary}" if errors else ""))


def candidate_error(row: dict[str, Any], n_splits: int, error_score: Any) -> str:
    """A candidate's trial error, for a row whose metric its failures made non-finite: its
    failed fits as :func:`fits_failed` says them, or else its scorer's failures."""
    fits = split_errors([row], FIT)
    if fits:
        return fits_failed(fits, n_splits, error_score, one_candidate=True)
    scores = Counter(split_errors([row], SCORE))
    return "\n".join(scoring_failed(error, n, n_splits, error_score)
                     for error, n in scores.items())


def warn_failures(rows: Sequence[dict[str, Any]], total: int, error_score: Any) -> None:
    """The search's failures said once it ended: all ``total`` fits failed, scikit-learn's
    ValueError; some, its ``FitFailedWarning``; a scorer that raised, one UserWarning per distinct
    traceback with the number of splits it failed."""
    from sklearn.exceptions import FitFailedWarning

    fits = split_errors(rows, FIT)
    if fits and len(fits) >= total:
        raise ValueError(fits_failed(fits, total, error_score))
    if fits:
        warn(fits_failed(fits, total, error_score), FitFailedWarning)
    for error, n in Counter(split_errors(rows, SCORE)).items():
        warn(scoring_failed(error, n, total, error_score))
