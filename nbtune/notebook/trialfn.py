"""A %%tune cell's body as a trial function that runs on any Dask worker."""
from __future__ import annotations

import builtins
import linecache
from typing import Any

from ..run.channel import current_trial, get_checkpoint, report
from ..run.metrics import clean_metrics
from ..run.task import TrialFailed
from .trial_globals import anchor, with_notebook_code


class CellTrial:
    """Runs the body of a ``%%tune`` cell with one config's values bound to the space's names.

    ``globals`` are the notebook values the body reads (small ones travel inside this object;
    large ones arrive as keywords, scattered once by :func:`nbtune.with_parameters`). The body is
    compiled under ``filename`` with its cell line numbers, and its source is put in ``linecache``
    on the worker, so a traceback shows the user's own lines. ``main``: the notebook's globals,
    whose copy in each trial the body runs in (:mod:`nbtune.notebook.trial_globals`).
    """

    def __init__(self, body: str, filename: str, metric: str, sets_metric: bool,
                 globals: dict[str, Any], main: dict[str, Any] | None = None):
        self.body, self.filename, self.metric = body, filename, metric
        self.sets_metric, self.globals = sets_metric, globals
        self.anchor = anchor(main) if main is not None else None
        self._code = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_code"] = None  # code objects are compiled again where they run
        return state

    def namespace(self, config: dict[str, Any], shared: dict[str, Any]) -> dict[str, Any]:
        """The globals the body runs in: notebook values, shared data, config, ``report``,
        ``get_checkpoint`` and ``checkpoint`` (what the trial reported with ``checkpoint=``
        before a pause, which ``get_checkpoint()`` returns too; None fresh)."""
        ns: dict[str, Any] = {"__name__": "__nbtune_cell__", "__builtins__": builtins}
        ns.update(self.globals)
        ns.update(shared)
        ns.update(config)
        ns.setdefault("report", report)
        ns.setdefault("get_checkpoint", get_checkpoint)
        ns["checkpoint"] = get_checkpoint()
        return ns

    def run(self, ns: dict[str, Any]) -> Any:
        """Execute the body in ``ns``; the metric variable's value, or None to use the reports."""
        if self._code is None:
            lines = self.body.splitlines(keepends=True)
            linecache.cache[self.filename] = (len(self.body), None, lines, self.filename)
            self._code = compile(self.body, self.filename, "exec")
        exec(self._code, ns)
        if not self.sets_metric:
            return None
        if self.metric in ns:
            if ns[self.metric] is None:  # it read "the trial never reported the metric"
                raise TrialFailed(f"the cell left {self.metric!r} as None, not a number: the "
                                  f"line that sets it got None (a function that returns "
                                  f"nothing?); assign it a number")
            return self._number(ns[self.metric])
        ctx = current_trial()
        if ctx is not None and not any(self.metric in rep for rep in ctx.reports):
            raise TrialFailed(  # the words of a cell: it had read "return it, return a dict..."
                f"the cell never set {self.metric!r} in this trial: the line that sets it did "
                f"not run (an if, a loop that ran no time, an early break); set {self.metric} "
                f"on every path, or call report({self.metric}=...)")
        return None

    def _number(self, value: Any) -> Any:
        """The metric's value as the cell left it; a value no report can carry (an array, a
        list) fails the trial in the cell's words ("the trial function returned a ndarray")."""
        try:
            clean_metrics({self.metric: value}, "the metric")
        except TypeError:
            shown = f"a {type(value).__name__}"
            shape = getattr(value, "shape", None)
            if shape is not None:
                shown += f" of shape {tuple(shape)}"
            if shape is not None and len(shape) == 1 and 1 < shape[0] <= FOLDS_UP_TO:
                fix = f"{self.metric} = cross_val_score(...).mean(), the folds' mean"
            elif shape is not None and len(shape) == 1 and shape[0] > 1:  # a value per row
                fix = (f"one value per row: aggregate them, {self.metric} = float(np.mean(...)), "
                       "or the scikit-learn metric of the whole set")  # (round 65)
            else:
                fix = f"{self.metric} = float(...), or .item() of a one-element array"
            raise TrialFailed(f"the cell left {self.metric!r} as {shown}, not a number: assign "
                              f"it a number ({fix})") from None
        return value

    def __call__(self, config: dict[str, Any], **shared: Any) -> Any:
        """Run one trial, on a worker: the body in the globals of the notebook code it carries
        (a copy of it, this trial's own); ``--local`` runs :meth:`namespace` in the kernel."""
        held = self.anchor.__globals__ if self.anchor is not None else None
        return self.run(with_notebook_code(self.namespace(config, shared), held))


FOLDS_UP_TO = 20  # a metric left an array of up to this many values: cross-validation's folds;
# longer, a value per row of the data (first-day test, round 65: 750 squared errors)


def cell_filename(shell: Any) -> str:
    """The file name a %%tune cell's body is compiled under: ``<tune cell [N]>``, N the number
    JupyterLab shows as ``In [N]`` (a failed trial's traceback reads ``Cell In[N], line L``).

    The running cell is the last one in the shell's input history (IPython stores it before
    running it); ``execution_count`` alone is that number in IPython 8 and the next one in 9.
    """
    history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    number = len(history) - 1 if history else shell.execution_count
    return f"<tune cell [{number}]>"

