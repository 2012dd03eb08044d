"""The loop's side of checkpoints kept on disk (:mod:`nbtune.run.kept`): a resumed study's paused
trials restored from their files, the files of trials that ended for good deleted, and the notes
where a checkpoint could not be kept or read back.

A mixin of :class:`nbtune.run.loop.Loop`, which holds the state these read.
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from .. import trial as T
from ..schedule import PAUSE, STOP
from ..contract.outcome import final_value
from . import kept
from .resources import worker_info
from .sending import held


def not_kept_note(trial_id: int, error: str) -> str:
    """Why a paused trial's checkpoint is not on disk: a study cut short resumes it from the
    beginning."""
    return (f"trial {trial_id}'s checkpoint could not be kept on disk ({error}): if the study is "
            "cut short, a resume trains it again from the beginning (the checkpoint must pickle, "
            "and the study file's folder must be writable and have room)")


def unmovable_note(trial_id: int, error: str) -> str:
    """Why a paused trial waits for the worker it paused on, and is not kept on disk."""
    return (f"trial {trial_id}'s checkpoint cannot be pickled ({error}): it resumes only on the "
            "worker that holds it, and were the study cut short, a resume would train it again "
            "from the beginning; keep what resuming needs in the checkpoint (a model, its "
            "optimiser's state, the epoch), and create the rest again when the trial resumes")


def unrestored_note(trial_id: int, error: str) -> str:
    """Why a trial restored from its kept checkpoint trains again from the beginning."""
    return (f"trial {trial_id} could not resume from the checkpoint an earlier run kept "
            f"({error}), so it trains again from the beginning")


def pause_lost_note(trial_id: int) -> str:
    return (f"trial {trial_id}'s checkpoint was lost with its worker, and no file of it was "
            "kept (a study kept in memory only, or a worker on another machine): it ends "
            "interrupted at its rung, and a resumed study runs it again from its beginning")


def final_not_kept_note(trial_id: int, error: str) -> str:
    """Why the best trial so far has no checkpoint kept after the study."""
    return (f"trial {trial_id}, the best so far, completed, but its last checkpoint was not "
            f"saved ({error}): study.best_checkpoint will not have it")


FETCH_WAIT = 5.0  # seconds a study cut short waits for the checkpoints of other machines' workers
FINAL_WAIT = 30.0  # seconds a study's end waits for its best trial's, held by such a worker


class Keeping:
    """Checkpoints kept across runs of a study (a mixin: see the module's docstring)."""

    by_id: dict[int, T.Trial]
    paused: dict[int, Any]
    requeue: list[T.Trial]

    def _keep_at(self) -> str | None:
        """The study's checkpoint folder (None: a study kept in memory only)."""
        return self.settings.keep_at

    def _restorable(self) -> dict[int, kept.Saved]:
        """A resumed study's unfinished trials whose checkpoint an earlier run kept, by id, each
        with what it resumes from: each goes back to the report its checkpoint came with (later
        reports, of a run the study's end cut short, are dropped: it trains them again) and is
        paused there. The others run again from their beginning, as before."""
        folder = self._keep_at()
        if folder is None:
            return {}
        found = {}
        for trial in list(self.requeue):
            head = kept.header(folder, trial.id)
            seq = head["seq"] if head else None
            if seq is None or not 0 < seq <= len(trial.reports) or self._promoted_before(
                    trial.reports[:seq - 1]):
                kept.forget(folder, trial.id)  # a file of a run that did not reach the study
                trial.state = T.INTERRUPTED
                continue
            self.requeue.remove(trial)
            rewound = seq < len(trial.reports)
            trial.reports, trial.state, trial.error = trial.reports[:seq], T.PAUSED, None
            self.kept_ids.add(trial.id)
            if rewound:
                self.observer.trial_rewound(trial)
            found[trial.id] = kept.Saved(kept.path_of(folder, trial.id),
                                         {"output": trial.output, "warnings": trial.warnings})
        return found

    def _held_pause(self, trial: T.Trial, paused: Any) -> Any:
        """What a paused trial resumes from: ``paused``, the future of its (outcome,
        checkpoint), while the cluster holds it; else the checkpoint its worker wrote to the
        study's folder as it paused; else None. Dask computes a segment lost with its worker
        again, but not without the data sent with the trials, lost with it too: promoted, the
        trial ended 'cancelled', and its rung's best never went on (check round 56)."""
        if held(paused):
            return paused
        folder = self._keep_at()
        head = kept.header(folder, trial.id) if folder is not None else None
        if head is None or head.get("seq") != len(trial.reports):
            return None
        return kept.Saved(kept.path_of(folder, trial.id),
                          {"output": trial.output, "warnings": trial.warnings})

    def _promoted_before(self, reports: list[dict]) -> bool:
        """Whether reports before a checkpoint's passed a rung (the trial paused there and was
        promoted), where the scheduler cannot be told so in a replay (synchronous Hyperband):
        the trial then runs again from its beginning, as it did before checkpoints were kept."""
        if getattr(self.scheduler, "replays_promotions", True):
            return False
        rungs = set(self.scheduler.decision_points() or ())
        return any(r.get(self.settings.resource) in rungs for r in reports)

    def _replay_restored(self, trial: T.Trial, saved: kept.Saved) -> None:
        """Tell the scheduler of a restored trial's reports as the live run did: a PAUSE at a
        report before its last was followed by its promotion there (each call in its place: told
        after all the reports, the promotion cleared the rung the trial waits at now, and ASHA
        never promoted the best trial of that rung: first-day test, round 15). Where the last
        report's answer is PAUSE (its rung), it waits there, paused, for a promotion; a STOP
        (a rung that now ranks it out, a bracket that moved on without it) ends it; else it goes
        straight on from its checkpoint (a trial that was running, or the one ASHA's promotion
        type resumes at once)."""
        self.scheduler.on_trial_start(trial.id, trial.config)
        answers = []
        for i, data in enumerate(trial.reports):
            answers.append(self.scheduler.on_report(trial.id, data))
            if answers[-1] == PAUSE and i < len(trial.reports) - 1:
                self.scheduler.on_trial_end(trial.id, T.PAUSED)
                self.scheduler.on_trial_resume(trial.id)
        if STOP in answers:
            trial.state = T.STOPPED
            trial.value, _ = final_value(trial, None, self.settings.metric)
            self.scheduler.on_trial_end(trial.id, T.STOPPED)
            self.observer.trial_finished(trial)
            self._let_go(trial)
        elif answers and answers[-1] == PAUSE:
            self.scheduler.on_trial_end(trial.id, T.PAUSED)
            self.paused[trial.id] = saved
        else:
            self.resume_now.append((trial, saved))

    def _unkept(self) -> dict[int, Any]:
        """The paused trials whose checkpoint no file holds (they paused on a worker of another
        machine, which writes none), with the futures that hold it, where the study keeps
        checkpoints: :meth:`_fetch_unkept` keeps them once the running trials let go of the
        workers (these references keep the futures on the cluster meanwhile)."""
        if self._keep_at() is None:
            return {}
        return {tid: pair for tid, pair in self.paused.items()
                if tid not in self.kept_ids and tid not in self.pinned
                and not isinstance(pair, kept.Saved)}

    def _fetch_unkept(self, unkept: dict[int, Any]) -> None:
        """The user cut the study short: the checkpoints of ``unkept`` (:meth:`_unkept`) are
        pickled on their workers and written here, for :data:`FETCH_WAIT` seconds at most, so
        that a resume takes those trials up where they paused as well. One that cannot be
        pickled, or comes late, is let go (its trial then starts again)."""
        if not unkept:
            return
        fetched = {tid: self.client.submit(kept.pickled_half, pair, pure=False,
                                           key=f"nbtune-keep-{self.run_id}-{tid}")
                   for tid, pair in unkept.items()}
        deadline = time.monotonic() + FETCH_WAIT  # what comes in time is kept
        while any(f.status == "pending" for f in fetched.values()) and \
                time.monotonic() < deadline:
            time.sleep(0.02)
        folder = self._keep_at()
        for tid, future in fetched.items():
            if future.status != "finished":
                continue
            data, seq = future.result()
            trial = self.by_id[tid]
            if not isinstance(data, bytes) or not 0 < seq <= len(trial.reports):
                continue
            try:
                kept.save(folder, tid, seq, trial.reports[seq - 1].get(self.settings.resource),
                          data)
            except OSError:
                continue
            self.kept_ids.add(tid)
        self.client.cancel(list(fetched.values()))

    def _heard_kept(self, trial: T.Trial, out: dict) -> None:
        """A trial's run ended: its checkpoint is on disk now (it paused, or ran long enough to
        write one), or could not be written (said once); one that cannot be pickled cannot go
        to another worker either: the trial resumes where it paused (a resume sent elsewhere
        waited for a transfer that never came, and the study hung: first-day test, round 15)."""
        written, unmovable = out.get("kept"), out.get("unmovable")
        self.pinned.pop(trial.id, None)
        if written is True:
            self.kept_ids.add(trial.id)
        if unmovable is not None:
            self.pinned[trial.id] = out["worker"]
            self._note("unmovable", lambda: unmovable_note(trial.id, unmovable))
        elif isinstance(written, str):
            self._note("not kept", lambda: not_kept_note(trial.id, written))

    def _to_beat(self) -> tuple[str, float | None] | None:
        """What a trial sent now is told of the best final checkpoint kept (``TrialSpec.
        keep_best``): the study's mode and that trial's value (None: none kept yet); None where
        the study keeps no checkpoints (in memory only)."""
        if self._keep_at() is None:
            return None
        return self.settings.mode, None if self.best_final is None else self.best_final[1]

    def _better(self, trial: T.Trial, than: tuple[int, float] | None) -> bool:
        """Whether completed ``trial`` ranks above the trial ``than`` (id, value), as
        ``Study.best`` ranks them: by value, ties to the earlier trial."""
        mode = self.settings.mode
        return than is None or \
            T.rank_key(trial.value, trial.id, mode) < T.rank_key(than[1], than[0], mode)

    def _find_final(self) -> None:
        """A resumed study's kept final checkpoint (:mod:`nbtune.run.kept`): that of its best
        completed trial, which the trials of this run must beat to keep theirs. Any other file
        (a trial its last run did not record as completed) is deleted."""
        folder = self._keep_at()
        for trial_id in kept.finals(folder):
            trial = self.by_id.get(trial_id)
            if trial is not None and trial.state == T.COMPLETED and trial.value is not None \
                    and self._better(trial, self.best_final):
                if self.best_final is not None:
                    kept.forget(folder, self.best_final[0], final=True)
                self.best_final = (trial.id, trial.value)
            else:
                kept.forget(folder, trial_id, final=True)

    def _heard_final(self, trial: T.Trial, final: bool | str) -> None:
        """A trial ended whose worker kept its last checkpoint (``final`` True: it completed
        above the best kept when it was sent; :data:`kept.HELD`: its worker, on another
        machine, holds it for the study's end) or could not (a text: why). The best completed
        trial's is kept, the one it beats deleted: a study's folder holds one such file."""
        folder = self._keep_at()
        better = trial.state == T.COMPLETED and self._better(trial, self.best_final)
        if final in (True, kept.HELD) and better:
            if self.best_final is not None:
                kept.forget(folder, self.best_final[0], final=True)
            self.best_final = (trial.id, trial.value)
            self.best_held = trial.worker if final == kept.HELD else None
        elif final is True:  # a better one was kept while it ran, or it failed after all
            kept.forget(folder, trial.id, final=True)
        elif better and final != kept.HELD:
            self._note("final not kept", lambda: final_not_kept_note(trial.id, final))
        if final == kept.HELD and trial.worker:
            self.held_finals.add(trial.worker)

    def _pause_kept_as_final(self, trial: T.Trial) -> None:
        """A paused trial that the study's end records completed (PASHA's top level): the
        checkpoint its worker wrote as it paused is its last, kept as the final one where it
        beats the best kept (``study.best_checkpoint`` had nothing for PASHA's best)."""
        folder = self._keep_at()
        trial.value, _ = final_value(trial, None, self.settings.metric)
        if folder is None or trial.value is None or kept.header(folder, trial.id) is None \
                or not self._better(trial, self.best_final):
            return
        if self.best_final is not None:
            kept.forget(folder, self.best_final[0], final=True)
        kept.rename_final(folder, trial.id)
        self.best_final, self.best_held = (trial.id, trial.value), None

    def _fetch_final(self) -> None:
        """At the study's end, where the best trial's last checkpoint is held by its worker on
        another machine (:func:`kept.hold_final`): fetch it and write it to the study's folder;
        the workers that hold others of this run let go of them. Where it does not come (its
        worker died) it is said, once."""
        if not self.held_finals:
            return
        held, workers = self.best_held, sorted(self.held_finals)
        trial_id = self.best_final[0] if held else None
        self.held_finals, self.best_held = set(), None
        with contextlib.suppress(Exception):  # asked of a worker gone, the call waited 30 s
            alive = set(worker_info(self.client))
            workers = [w for w in workers if w in alive]
        fetched: dict[str, Any] = {}

        def fetch() -> None:  # a thread of its own: a worker that died unnoticed is retried
            try:
                fetched.update(self.client.run(kept.take_final, self.prefix, trial_id,
                                               workers=workers, on_error="return"))
            except Exception as exc:  # the cluster closing
                fetched[held] = exc

        if workers:
            thread = threading.Thread(target=fetch, name=f"{self.prefix}-final", daemon=True)
            thread.start()
            thread.join(FINAL_WAIT if held in workers else FETCH_WAIT)
        if held is None:
            return
        data = fetched.get(held)
        if not isinstance(data, bytes):  # a connection that closed: its worker died, and the
            # scheduler had not yet seen it go (a CommClosedError's words said it once)
            gone = not isinstance(data, Exception) or isinstance(data, OSError)
            why = (f"its worker, {held}, left before the study ended, or did not answer" if gone
                   else f"{type(data).__name__}: {data}")
            self._note("final not kept", lambda: final_not_kept_note(trial_id, why))
            return
        trial = self.by_id[trial_id]
        try:
            kept.save(self._keep_at(), trial_id, len(trial.reports),
                      trial.last(self.settings.resource), data, final=True)
        except OSError as exc:
            error = f"{type(exc).__name__}: {exc}"
            self._note("final not kept", lambda: final_not_kept_note(trial_id, error))

    def _let_go(self, trial: T.Trial) -> None:
        """A trial ended for good: its file is not needed (one cut short keeps it, for a
        resume)."""
        if trial.id in self.kept_ids and trial.state != T.INTERRUPTED:
            self.kept_ids.discard(trial.id)
            kept.forget(self._keep_at(), trial.id)
