"""What ``nbtune.tune`` says as a run ends where its caller says nothing of its own (a script,
``progress=False``): how to continue an interrupted study, the failure of a study with no
completed trial, and nbtune's notes that its trials raised. The ``%%tune`` magic and
``SearchCV`` say their own."""
from __future__ import annotations

from . import trial as T
from .caller import warn_note
from .run.interrupts import die_of_sigterm
from .study import NoTrialCompleted, Study, kept_clause


def say_interrupted(study: Study, terminated: bool, script: bool) -> None:
    """An interrupted study of a call whose caller prints nothing of its own (not the magic's):
    how to continue it; then, in a script, the script stops there, as Python's own Ctrl-C
    stops it (KeyboardInterrupt, whose ``study`` is the study; exit status 130), or as the
    SIGTERM it was sent (143). The rest of a script ran, and the job passed, after the user
    asked it to stop (first-day test, round 39)."""
    done = len(study.completed)
    how = "was sent SIGTERM" if terminated else "interrupted"
    print(f"nbtune: study {study.name!r} {how}; {done} trial{'s' if done != 1 else ''} "
          f"completed. Continue it with nbtune.tune(trial_fn, space, study={study.name!r}, "
          f"resume=True){kept_clause(study)}: it keeps the settings it was run with.",
          flush=True)
    if terminated:
        die_of_sigterm()
    if script:  # KeyboardInterrupt itself: Python exits of SIGINT for it, not a subclass
        stopped = KeyboardInterrupt(f"study {study.name!r} was interrupted and "
                                    + ("is kept" if study.storage else "was kept in memory only"))
        stopped.study = study  # type: ignore[attr-defined]
        raise stopped


def none_completed(study: Study) -> None:
    """In a script, a study that ended with failed trials and no completed one raises
    NoTrialCompleted (its ``study`` is the study), with the latest failure's traceback: a
    script whose every trial failed ended with status 0, its log naming the error's last line
    only (first-day test, round 39). (A notebook's ``%%tune`` cell raises it too; there
    ``nbtune.tune`` returns the study, to look into.)"""
    failed = [t for t in study.trials if t.state == T.FAILED]
    if study.best is not None or not failed:
        return
    last = failed[-1]
    error = NoTrialCompleted(
        f"study {study.name!r} has no completed trial ({T.counts_text(study.counts())}); "
        f"trial {last.id} failed so:\n{(last.error or '').rstrip()}")
    error.study = study  # type: ignore[attr-defined]
    raise error


def trial_notes(study: Study) -> None:
    """nbtune's own notes that its trials raised (a folder's path given as the checkpoint), each
    once with the number of trials, where no view shows them (``progress=False``): they were in
    ``study.summary()`` only, and such a study ran without a word (first-day test, round 35)."""
    from .trial_messages import study_warnings

    for record, n in study_warnings(study):
        if record.get("category") == "NbtuneWarning":
            warn_note(f"{record['message']} ({n} trial{'s' if n != 1 else ''})")
