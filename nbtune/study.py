"""A study: the space, the metric, and every trial run so far."""
from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from .background import BackgroundRun
from .caller import shown_as_users, user_facing
from . import trial as T
from .space import Space
from .styles import FAINT
from .ported import attribute_note
from .typos import did_you_mean
from .run import kept
from .paths import checkpoint_folder
from .ranking import resource_of, trials_per_rung
from .study_errors import NoTrialCompleted, StudyInterrupted
from .trial import Trial

__all__ = ["NoTrialCompleted", "Study", "StudyInterrupted", "kept_clause"]

if TYPE_CHECKING:
    from .plots import StudyPlots
    from .summary import StudySummary


class Study(BackgroundRun):
    """Trials of one tuning run, with the best one and a table of all of them.

    Returned by :func:`nbtune.tune` and :func:`nbtune.load_study`; ``trials`` are in creation order.
    """

    def __init__(self, name: str, space: Space, metric: str, mode: str,
                 trials: list[Trial] | None = None, storage: str | None = None,
                 settings: dict[str, Any] | None = None, stop_reason: str | None = None):
        self.name, self.space, self.metric, self.mode = name, space, metric, mode
        self.trials: list[Trial] = trials if trials is not None else []
        self.storage = storage
        self.settings = dict(settings or {})
        self.stop_reason = stop_reason
        self.error: str | None = None  # why a study that stopped on an error ("error") did
        self.scheduler: Any = None  # the scheduler object, for a study run in this process
        self.searcher: Any = None  # the searcher object, for a study run in this process
        self.live: Any = None  # its live view (panel or progress line), when one was shown
        self.started_at: float | None = None  # when its loop started and ended, in this process
        self.finished_at: float | None = None
        # ids of the trials finished before this run started (a resumed study's earlier runs)
        self.earlier: frozenset[int] = frozenset()
        self._ended: threading.Event | None = None  # set when a background study's loop ends
        self._stop: Callable[[str], None] | None = None
        # loaded from its file while a run (another kernel's, or a background one) runs it
        self.running_elsewhere = False

    @property
    def elapsed(self) -> float | None:
        """Seconds the study has run: from its loop's start to its end (or now, while it runs);
        for a loaded study, its runs' seconds summed (the days between a run and its resume
        are not its time), and for a run that ended with its kernel, from its first trial's
        start to its last trial's end."""
        if self.started_at is not None:
            return (self.finished_at or time.time()) - self.started_at
        ran, ended = self.settings.get("run_seconds"), self.settings.get("run_ended")
        later = [t for t in self.trials if ended is None or (t.started or 0.0) > ended]
        starts = [t.started for t in later if t.started is not None]
        ends = [t.finished for t in later if t.finished is not None]
        tail = max(ends) - min(starts) if starts and ends else None
        if ran is None:
            return tail
        return ran + max(0.0, tail or 0.0)

    @property
    def completed(self) -> list[Trial]:
        """Trials that ran to the end with a finite metric."""
        return [t for t in self.trials if t.state == T.COMPLETED]

    @property
    def best(self) -> Trial | None:
        """The completed trial with the best metric (ties: the earliest), or None."""
        done = [t for t in self.completed if t.value is not None]
        if not done:
            return None
        return min(done, key=lambda t: T.rank_key(t.value, t.id, self.mode))

    @property
    @user_facing
    def best_config(self) -> dict[str, Any]:
        """Config of the best trial; a ValueError that says why where no trial completed."""
        return dict(self._best_or_why("best_config").config)

    @property
    @user_facing
    def best_value(self) -> float:
        """Metric of the best trial; a ValueError that says why where no trial completed."""
        return self._best_or_why("best_value").value

    @property
    @user_facing
    def best_checkpoint(self) -> Any:
        """The last checkpoint the best trial reported (``nbtune.report(..., checkpoint=state)``):
        its trained model, without training it again (Ray Tune's ``result.checkpoint``). A
        study with a study file keeps the best completed trial's beside it (its checkpoint
        folder, ``trial-ID.final.ckpt``), so a study loaded in a new kernel has it too. A
        ValueError says why where there is none: a study in memory only, a best trial that
        reported no checkpoint, or one whose worker could not write to the folder."""
        best = self._best_or_why("best_checkpoint")
        if self.storage is None:
            raise ValueError(f"no best_checkpoint: study {self.name!r} is kept in memory only "
                             "(storage=None, %%tune --storage none), and only a study file keeps "
                             "checkpoints: run it with one (the default, nbtune.db)")
        path = self.kept_checkpoint(best)
        if path is None:
            folder = checkpoint_folder(self.storage, self.name, self.settings.get("checkpoints"))
            moved = self.settings.get("file")
            moved = (f"; or the study file was moved or copied without its checkpoints "
                     f"(it last ran as {moved!r}: its .checkpoints folder is beside that one)"
                     if moved and moved != os.path.abspath(self.storage) else "")
            raise ValueError(
                f"no best_checkpoint: trial {best.id}, the best of study {self.name!r}, has no "
                f"checkpoint in {folder!r}: it reported none (nbtune.report(..., "
                "checkpoint={'model': model}) keeps its last, in a %%tune cell too), or it "
                f"could not be pickled or written, as a note said when the study ran{moved}")
        return kept.load(path)

    def kept_checkpoint(self, trial: Trial | None) -> str | None:
        """The file that holds ``trial``'s last checkpoint, kept after the study because it is
        the best trial's (``best_checkpoint`` reads it), or None where there is none."""
        if trial is None or self.storage is None:
            return None
        folder = checkpoint_folder(self.storage, self.name, self.settings.get("checkpoints"))
        path = kept.path_of(folder, trial.id, final=True)
        return path if os.path.exists(path) else None

    def _best_or_why(self, what: str) -> Trial:
        """The best trial, or a ValueError naming the study and what its trials did: a
        ``study.best_config`` of None failed the next cell's ``cfg["hidden"]`` with a bare
        "'NoneType' object is not subscriptable", the study being one whose every trial had
        failed (first-day test, round 30). ``study.best`` is None there."""
        best = self.best
        if best is None:
            counts = T.counts_text(self.counts(), self.stop_reason)
            raise ValueError(f"no {what}: study {self.name!r} has no completed trial"
                             + (f" ({counts})" if counts else ""))
        return best

    def counts(self) -> dict[str, int]:
        """Number of trials in each state (states with none are left out); a running trial no
        worker has started yet counts as ``"queued"``, as the panel counts it (they said "4
        running" where the panel said "2 running, 2 queued": first-day test, round 27)."""
        return T.shown_counts(self.trials)

    @user_facing
    def rungs(self, levels: Any = None) -> dict[Any, int]:
        """Rung level -> how many trials reached it (reported at least that level of the
        resource): the bars of ``study.plot.rungs()``, for a study run here or loaded. The
        levels are ``levels``, else the study's rung levels. (A study run in this kernel also
        has ``study.scheduler.rung_counts()``, the values its scheduler recorded at each rung.)
        """
        return trials_per_rung(self, levels, call="rungs")

    def to_dataframe(self):
        """One row per trial: state, metric, config, resource reached, times, worker, output.

        Indexed by trial id; columns ``state`` (as :meth:`counts` counts it: ``"queued"`` for a
        trial no worker has started yet), the metric (of a trial the study's end interrupted,
        the last value it reported, as the summary shows it), ``config.<name>`` for each
        hyperparameter, ``metrics.<key>`` for each other value a trial reported or returned (its
        last: Ray Tune's ``get_dataframe()`` has them), the resource (e.g. ``epoch``: the
        largest level reported), ``reports``,
        ``attempts``, ``worker``, ``started``, ``finished`` (timestamps), ``duration`` (seconds),
        ``error`` (its last line), ``output_lines`` (lines it wrote: ``trial.output``). Floats
        show with 6 significant digits (``4.1e-06``, not ``0.000004``); the values themselves are not rounded.
        """
        from .frame import trials_frame

        return trials_frame(list(self.trials), list(self.space), self.metric,  # a running
                            resource_of(self))  # study adds trials

    def reports_dataframe(self):
        """One row per report, in each trial's order: ``trial``, ``report`` (its number within
        the trial, from 0), the trial's ``state`` and ``config.<name>`` columns, then the keys
        the report holds (the resource, the metric, any other value). The learning curves of a
        study as a table: ``to_dataframe()`` has a row per trial, and a colleague given it
        could not draw the curves again (first-day test, round 26); ``nbtune export NAME
        --reports`` writes this one."""
        from .frame import reports_frame

        return reports_frame(list(self.trials))

    @property
    def plot(self) -> "StudyPlots":
        """The study's plots: ``study.plot.history()``, ``.learning_curves()``, ``.rungs()``, ..."""
        from .plots import StudyPlots

        return StudyPlots(self)

    def _repr_html_(self) -> str:
        """A study as the last line of a notebook cell shows its summary; a running one's says
        first that it is the study as it was then (the output stays as it is; the live panel
        follows the study)."""
        shown = self.summary()._repr_html_()
        if not self.running:
            return shown
        import html

        from .formatting import duration_text

        return (f'<div class="nbtune-snapshot" style="color:{FAINT}">nbtune: study '
                f'{html.escape(repr(self.name), quote=False)} runs; below is how it stood after '
                f'{duration_text(self.elapsed)}. Its live panel follows it; '
                f'<code>study.wait()</code> waits for its end.</div>{shown}')

    def summary(self, top: int = 10) -> "StudySummary":
        """What the study found, as HTML in a notebook and as text elsewhere: header, top trials."""
        from .summary import StudySummary

        return StudySummary(self, top=top)

    def reload(self) -> "Study":
        """Read the trials again from storage (another process may be adding to them)."""
        if self.storage is None:
            return self
        from .studies import load_study  # which makes Study objects of a file's rows

        fresh = load_study(self.name, storage=self.storage)
        self.trials, self.stop_reason = fresh.trials, fresh.stop_reason
        self.running_elsewhere = fresh.running_elsewhere
        return self

    def __getattr__(self, name: str) -> Any:
        """Optuna's names (``best_params``, ``trials_dataframe``) are named with nbtune's."""
        note = None if name.startswith("_") else attribute_note("Study", name)
        if note is None and not name.startswith("_"):  # a typo: `study.best_confg`
            near = did_you_mean(name, [n for n in dir(type(self)) if not n.startswith("_")])
            note = f"'Study' object has no attribute {name!r}{near}" if near else None
        error = AttributeError(note or f"'Study' object has no attribute {name!r}", name=name,
                               obj=self)
        raise shown_as_users(error) if note else error

    def __bool__(self) -> bool:
        return True  # a study with no trials yet is still one (__len__ below refuses)

    def _not_a_list(self, *args: Any) -> Any:
        """``len(study)``, ``study[0]``, ``for t in study``: Ray Tune's ResultGrid habits, named
        with where the trials are (Python's own lines said only what a Study is not)."""
        raise shown_as_users(TypeError(
            "a Study is not a list of its trials (Ray Tune's ResultGrid is): study.trials is, "
            "len(study.trials), study.trials[0], for trial in study.trials; study.best is the "
            "best one"))

    __len__ = __getitem__ = __iter__ = _not_a_list

    def __repr__(self) -> str:
        # as the summary counts them: "4 running" on 2 workers read as if all ran (round 20)
        counts = T.counts_text(T.shown_counts(self.trials), self.stop_reason) or "no trials"
        best = self.best
        tail = "" if best is None else f", best {self.metric}={best.value:.6g} (trial {best.id})"
        return f"<Study {self.name!r}: {counts}{tail}>"


def kept_clause(study: Study) -> str:
    """What a resume of an interrupted study takes up where it paused, as a clause of the line
    that says how to resume it: its trials with a checkpoint kept beside the study file
    (:mod:`nbtune.run.kept`); "" where none has one."""
    if study.storage is None:
        return ""
    folder = checkpoint_folder(study.storage, study.name, study.settings.get("checkpoints"))
    n = sum(1 for t in list(study.trials) if t.state == T.INTERRUPTED
            and os.path.exists(kept.path_of(folder, t.id)))
    if not n:
        return ""
    return (f" ({n} trial{'s' if n > 1 else ''} go{'' if n > 1 else 'es'} on from "
            f"{'their' if n > 1 else 'its'} last checkpoint{'s' if n > 1 else ''}, not from "
            f"{'their' if n > 1 else 'its'} start)")

