"""Optuna's percentile and median pruners as schedulers: stop a trial worse than its peers' percentile."""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..caller import user_facing
from .base import CONTINUE, STOP, Scheduler
from .rungs import as_int
from .sorted_keys import SortedKeys


def _count(name: str, x: Any, low: int) -> int:
    v = as_int(x)
    if v is None or v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {name}={x!r}")
    return v


class PercentileScheduler(Scheduler):
    """Stop a trial whose best value so far is worse than a percentile of the completed trials.

    Optuna's ``PercentilePruner``: the step is the report's resource value (an integer >= 0).
    A trial is stopped at step ``s`` when at least ``n_startup_trials`` trials have completed,
    ``s >= n_warmup_steps``, ``s`` is the trial's first report in its interval of
    ``interval_steps`` steps (counted from ``n_warmup_steps``), at least ``n_min_trials``
    completed trials reported step ``s``, and the trial's best value over its reports so far is
    worse than the ``percentile`` of theirs at ``s`` (the ``100 - percentile`` percentile in
    max mode: ``percentile=25`` keeps the top quarter). A NaN best value (no finite metric
    reported yet) stops the trial at any such check.
    """

    name = "percentile"

    @user_facing
    def __init__(self, percentile: float = 25.0, n_startup_trials: int = 5, n_warmup_steps: int = 0,
                 interval_steps: int = 1, n_min_trials: int = 1):
        if (not isinstance(percentile, numbers.Real) or isinstance(percentile, bool)
                or not 0.0 <= percentile <= 100.0):
            raise ValueError(f"percentile must be a number between 0 and 100 inclusive, got "
                             f"percentile={percentile!r}")
        self.percentile = float(percentile)
        self.n_startup_trials = _count("n_startup_trials", n_startup_trials, 0)
        self.n_warmup_steps = _count("n_warmup_steps", n_warmup_steps, 0)
        self.interval_steps = _count("interval_steps", interval_steps, 1)
        self.n_min_trials = _count("n_min_trials", n_min_trials, 1)
        self._values: dict[int, dict[int, float]] = {}  # trial -> step -> intermediate value
        self._completed: dict[int, dict[int, float]] = {}
        self._reset_peers()

    def _reset_peers(self) -> None:
        self._peers: dict[int, SortedKeys] = {}  # step -> completed trials' non-NaN values there
        self._n_peers: dict[int, int] = {}  # step -> completed trials that reported it

    def setup(self, metric: str, mode: str, resource: str, *, seed: int | None = None,
              space: Mapping[str, Any] | None = None) -> None:
        """Receive the study's settings and forget every trial."""
        super().setup(metric, mode, resource, seed=seed, space=space)
        self._values, self._completed = {}, {}
        self._reset_peers()

    def decision_points(self) -> Sequence[float] | None:
        """None: any report may be a check."""
        return None

    def idle_note(self, n_trials: int | None) -> str | None:
        """A study no larger than the trials it waits for before its first verdict."""
        if n_trials is None or n_trials > self.n_startup_trials:
            return None
        return (f"the {self.name} scheduler judges trials once {self.n_startup_trials} have "
                f"completed, and n_trials={n_trials}: it will stop none; give fewer "
                f"n_startup_trials (%%tune --startup-trials 2) or more trials")

    def on_trial_start(self, trial_id: int, config: dict[str, Any]) -> None:
        """A new trial, or a retry from the beginning: no intermediate values yet."""
        self._values[trial_id] = {}

    def on_report(self, trial_id: int, report: dict[str, Any]) -> str:
        """Record the value at this step, then apply the pruning rule."""
        step = as_int(report.get(self.resource))
        if step is None or step < 0:
            return CONTINUE
        values = self._values.setdefault(trial_id, {})
        if step in values:
            return CONTINUE  # a step reported before (a restart) is not judged again
        v = report.get(self.metric)
        ok = isinstance(v, numbers.Real) and not isinstance(v, bool)
        values[step] = float(v) if ok else math.nan  # type: ignore[arg-type]
        return STOP if self._prune(step, values) else CONTINUE

    def _prune(self, step: int, values: dict[int, float]) -> bool:
        n = len(self._completed)
        if n == 0 or n < self.n_startup_trials or step < self.n_warmup_steps:
            return False
        w, k = self.n_warmup_steps, self.interval_steps
        checkpoint = (step - w) // k * k + w
        previous = max((s for s in values if s != step), default=-1)
        if previous >= checkpoint:
            return False  # this interval was checked at an earlier report
        own = np.asarray(list(values.values()), dtype=float)
        if np.isnan(own).all():
            return True
        maximize = self.mode == "max"
        best = float(np.nanmax(own) if maximize else np.nanmin(own))
        peers = self._peers.get(step)
        if self._n_peers.get(step, 0) < self.n_min_trials or not peers:
            return False
        p = _nanpercentile(peers, 100 - self.percentile if maximize else self.percentile)
        if math.isnan(p):
            return False
        return best < p if maximize else best > p

    def on_trial_end(self, trial_id: int, state: str) -> None:
        """A completed trial's values become a reference for the others."""
        if state == "completed":
            values = self._completed[trial_id] = self._values.get(trial_id, {})
            for step, v in values.items():
                self._n_peers[step] = self._n_peers.get(step, 0) + 1
                if not math.isnan(v):
                    self._peers.setdefault(step, SortedKeys()).add(v)

    def _options(self) -> list[str]:
        return [f"n_startup_trials={self.n_startup_trials}", f"n_warmup_steps={self.n_warmup_steps}",
                f"interval_steps={self.interval_steps}", f"n_min_trials={self.n_min_trials}"]

    def __repr__(self) -> str:
        return f"PercentileScheduler({', '.join([f'percentile={self.percentile}', *self._options()])})"


def _nanpercentile(values: SortedKeys, percentile: float) -> float:
    """``numpy.nanpercentile`` of sorted non-NaN values: numpy interpolates between the two
    neighbours of the virtual index, so only those two are handed to it."""
    n = len(values)
    h = (n - 1) * (percentile / 100)
    lo = math.floor(h)
    pair = np.array([values[lo], values[min(lo + 1, n - 1)]], dtype=float)
    with np.errstate(invalid="ignore"):  # inf - inf: numpy's NaN, which never stops a trial
        return float(np.quantile(pair, h - lo))


class MedianScheduler(PercentileScheduler):
    """The median stopping rule: Optuna's ``MedianPruner`` (the 50th percentile)."""

    name = "median"

    @user_facing
    def __init__(self, n_startup_trials: int = 5, n_warmup_steps: int = 0, interval_steps: int = 1,
                 n_min_trials: int = 1):
        super().__init__(50.0, n_startup_trials, n_warmup_steps, interval_steps, n_min_trials)

    def __repr__(self) -> str:
        return f"MedianScheduler({', '.join(self._options())})"
