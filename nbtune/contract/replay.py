"""Replaying ended trials into a searcher: a resumed study's own, and a warm start's.

The real loop (run/) and the simulator (sim/) both start a run with :func:`start_searcher`, so a
searcher sees the same calls whichever drives it (see :mod:`nbtune.search.base`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from .. import trial as T

if TYPE_CHECKING:
    from ..search import Searcher


def level_value(data: dict, resource: str, metric: str) -> tuple[float | None, float | None]:
    """The resource level and metric value of a report, each None unless a finite number."""
    return tuple(data.get(k) if T.is_finite_number(data.get(k)) else None  # type: ignore
                 for k in (resource, metric))


def replay(searcher: Searcher, trials: Iterable[T.Trial], resource: str, metric: str,
           offset: int = 0, paused: Iterable[T.Trial] = ()) -> None:
    """Feed the ended trials, and the ``paused`` ones (a resumed study's restored from their
    checkpoints), to ``searcher`` in the order they ended or paused (each one's start, its
    reports, its end); trial ``t`` goes in as id ``t.id + offset``."""
    ended = [t for t in trials if t.is_finished] + list(paused)
    for trial in sorted(ended, key=lambda t: (t.finished or 0.0, t.id)):
        tid = trial.id + offset
        searcher.on_trial_start(tid, trial.config)
        for data in trial.reports:
            searcher.on_report(tid, trial.config, *level_value(data, resource, metric))
        timed(searcher, trial, tid)
        searcher.on_trial_end(tid, trial.config, trial.state, trial.value)


def timed(searcher: Searcher, trial: T.Trial, trial_id: int | None = None) -> None:
    """Tell ``searcher`` how long the trial's run took (:meth:`Searcher.on_trial_time`), where
    both its start and its end are known (a trial that never started on a worker has no time)."""
    if trial.duration is not None:
        searcher.on_trial_time(trial.id if trial_id is None else trial_id, trial.config,
                               max(0.0, trial.duration))


def warm_offset(warm: list[T.Trial]) -> int:
    """The id offset that puts a warm start's trials below 0, where no trial of the study is."""
    return -(max((t.id for t in warm), default=-1) + 1)


def start_searcher(searcher: Searcher, trials: Iterable[T.Trial], resource: str, metric: str,
                   warm: Any = None, paused: Iterable[T.Trial] = ()) -> None:
    """Before a run's first suggestion: :meth:`Searcher.reset`, then the ended trials of a warm
    start (``warm``: its ``trials``, and the ``resource`` they report), under ids below 0, then
    the study's own ended trials and ``paused`` ones (a resumed study)."""
    searcher.reset()
    if warm is not None:
        with searcher.warm_replay():
            replay(searcher, warm.trials, warm.resource, metric, offset=warm_offset(warm.trials))
    replay(searcher, trials, resource, metric, paused=paused)
