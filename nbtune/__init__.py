"""nbtune: hyperparameter tuning from a Jupyter notebook, on Dask.

``nbtune.tune(fn, space, ...)`` runs ``fn(config)`` for many configs drawn from ``space`` on a Dask
cluster (a local one by default), keeps every trial and report in a SQLite file, and returns the
:class:`Study`. ``%load_ext nbtune`` adds the ``%%tune`` cell magic built on it.
"""
from __future__ import annotations

from .caller import NbtuneWarning, missing_name
from .run.channel import TrialPaused, TrialStopped, get_checkpoint, report, trial_id
from .run.halt import TrialHalted
from .contract.events import Observer
from .run.failure import StudyFailed
from .run.task import with_parameters
from .schedule import (ASHAScheduler, FIFOScheduler, HyperbandScheduler, MedianScheduler,
                       PercentileScheduler, Scheduler, ThresholdScheduler)
from .search import (BayesOptSearcher, GridSearcher, KDESearcher, RandomSearcher, Searcher,
                     TPESearcher)
from .simulate import simulate
from .space import (Space, choice, fixed, grid, linspace, loguniform, lograndint, logspace,
                    quniform, randint, uniform)
from .paths import StorageError
from .studies import delete_studies, delete_study, list_studies, load_study
from .study import NoTrialCompleted, Study, StudyInterrupted
from .trial import Trial
from .tune import tune

__version__ = "0.1.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds nbtune's prebuilt extension (``jupyter labextension develop``)."""
    return [{"src": "labextension", "dest": "nbtune-apply"}]

__all__ = [
    "tune", "with_parameters", "report", "get_checkpoint", "trial_id", "TrialStopped",
    "TrialPaused", "TrialHalted", "StudyFailed", "StudyInterrupted", "NoTrialCompleted",
    "StorageError", "NbtuneWarning", "load_study",
    "list_studies", "delete_study", "delete_studies", "Study", "Trial",
    "Space", "simulate",
    "uniform", "loguniform", "quniform", "randint", "lograndint", "choice", "grid", "linspace",
    "logspace", "fixed", "Searcher", "RandomSearcher", "GridSearcher", "BayesOptSearcher",
    "KDESearcher", "TPESearcher", "Scheduler",
    "FIFOScheduler", "ThresholdScheduler", "ASHAScheduler", "HyperbandScheduler",
    "MedianScheduler", "PercentileScheduler", "Observer", "SpaceEditor", "__version__",
    "SearchCV", "compare",
]


def __getattr__(name: str):
    """``nbtune.SpaceEditor`` is imported on first use, so ``import nbtune`` needs no ipywidgets."""
    if name == "SpaceEditor":
        from .notebook.space_editor import SpaceEditor

        return SpaceEditor
    if name == "SearchCV":  # likewise: scikit-learn is imported only by who uses it
        from .sklearn import SearchCV

        return SearchCV
    if name == "compare":  # and matplotlib by who draws
        from .comparison import compare

        return compare
    from .ported import module_note

    note = module_note(name)
    if note is None:
        raise AttributeError(f"module 'nbtune' has no attribute {name!r}")
    raise missing_name(note)


def load_ipython_extension(ipython) -> None:
    """``%load_ext nbtune``: add the %%tune magic and its companions."""
    from .notebook.extension import load

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    """``%unload_ext nbtune``: remove them."""
    from .notebook.extension import unload

    unload(ipython)
