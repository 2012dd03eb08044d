"""Running a %%tune cell again: the study it names, and what the magic says about it in its flags.

A cell whose study exists needs ``--resume`` (continue it with its stored settings), ``--replace``
(delete it, start again) or another ``--study``; a flag given with ``--resume`` must agree with the
study's stored setting. An interrupted study prints the cell that continues it.
"""
from __future__ import annotations

import argparse
import os
import shlex
import time
from typing import Any, NoReturn

from ..resume import NOT_STORED, SettingsConflict
from ..storage import Storage
from .options import SCHEDULER_FLAGS, resources_of
from .space_rows import show_value

# nbtune.tune argument -> the %%tune flag that sets it
FLAGS = {"metric": "--metric", "mode": "--mode", "n_trials": "--trials", "seed": "--seed",
         "max_time": "--max-time", "target": "--target", "retries": "--retries",
         "searcher": "--searcher", "scheduler": "--scheduler", "resource": "--resource",
         "max_resource": "max_resource", "warm_start": "--warm-start",
         "resources": "--gpus/--resources", "checkpoints": "--checkpoints",
         **{option: "--" + flag.replace("_", "-") for flag, option in SCHEDULER_FLAGS.items()}}


def stored_row(path: str, name: str) -> dict[str, Any] | None:
    """The stored header of study ``name`` in the file ``path``; None if either is missing."""
    if not os.path.exists(path):
        return None
    db = Storage(path, readonly=True)
    try:
        return db.study_row(name)
    finally:
        db.close()


def given_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the %%tune line gives (flags left out are absent), by tune()'s names."""
    values = {"metric": args.metric, "mode": args.mode, "n_trials": args.trials,
              "seed": args.seed, "max_time": args.max_time, "target": args.target,
              "retries": args.retries, "searcher": args.searcher, "scheduler": args.scheduler,
              "resource": args.resource, "warm_start": args.warm_start,
              "resources": resources_of(args), "checkpoints": args.checkpoints}
    return {k: v for k, v in values.items() if v is not None}


def _shown(flag: str, value: Any) -> str:
    if flag == "--gpus/--resources":  # --gpus N is --resources GPU=N
        asked = dict(value or {})
        if list(asked) == ["GPU"]:
            return f"--gpus {float(asked['GPU']):g}"
        return " ".join(f"--resources {k}={float(v):g}" for k, v in asked.items())
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{flag} {value}"


def conflict_line(exc: SettingsConflict) -> str:
    """The magic's one line for a flag that differs from the resumed study's setting."""
    flag = FLAGS.get(exc.key)
    if flag is None:  # a searcher option: --searcher-option NAME=VALUE
        flag = f"--searcher-option {exc.key}"

        def shown(value: Any) -> str:
            return f"{flag}={show_value(value)}"
    else:
        def shown(value: Any) -> str:
            return _shown(flag, value)
    was = ("without " + flag if exc.stored is NOT_STORED or exc.stored is None
           else "with " + shown(exc.stored))
    return (f"%%tune: study {exc.name!r} was run {was}, not {shown(exc.given)}: leave "
            f"{flag} out to continue it as it was run, or start a new study with --study NEW "
            "(or --replace to run this one again from the start)")


def exists_line(name: str, path: str, again: str = "") -> str:
    """The magic's one line for a cell that would start a study under a stored one's name,
    under that study's summary (:func:`refuse_existing`); ``again``: that this cell ran it
    minutes ago, where it did."""
    where = f"({again})" if again else "(its summary is above)"
    return (f"%%tune: a study named {name!r} already exists in {path!r} {where}: add --resume "
            "to continue it, use --study NEW for a fresh one, or --replace to delete it and "
            "start again")


def refuse_existing(name: str, path: str, again: str = "") -> NoReturn:
    """Refuse a cell that would start study ``name`` again (:func:`exists_line`), under the
    stored study's summary. JupyterLab clears a cell's outputs when it runs, and the refusal was
    all that was left of the study in the cell, in the saved notebook and in its HTML
    (first-day test, round 22)."""
    from IPython.core.error import UsageError
    from IPython.display import display

    from ..studies import load_study

    try:
        study = load_study(name, storage=path)
    except Exception:  # what cannot be read is no reason to hide the refusal
        study = None
    if study is not None:
        display(study.summary())
    raise UsageError(exists_line(name, path, again)) from None


def refuse_running(study: Any, ns: dict[str, Any], out: str) -> NoReturn:
    """Refuse a cell that would start, resume or replace ``study`` while this kernel runs it in
    the background: its cell run again (Run All) said "add --resume", which was refused in
    turn, and its panel was gone with the cell's output (first-day test, round 60). ``out`` is
    bound to it again and its live panel shown here again."""
    from IPython.core.error import UsageError
    from IPython.display import display

    ns[out] = study
    live = getattr(study, "live", None)
    if getattr(live, "widget", None) is not None:
        display(live.widget)
    since = time.strftime("%H:%M:%S", time.localtime(study.started_at or time.time()))
    raise UsageError(f"%%tune: study {study.name!r} runs in this kernel's background (since "
                     f"{since}), and `{out}` is it again: {out}.wait() waits for it, "
                     f"{out}.stop() stops it; --study NEW starts another study") from None


def resume_cell(args: argparse.Namespace, name: str, cell: str) -> str:
    """The %%tune cell that continues study ``name``: the same body, and of the line the flags
    that are not stored with the study (where it is kept, where it runs, where it is bound)."""
    words = ["%%tune", "--study", name, "--resume"]
    carried = [("--storage", args.storage), ("--space", args.space), ("-o", args.out),
               ("--cluster", args.cluster), ("--concurrency", args.concurrency),
               ("--gpus", args.gpus)]
    for flag, value in carried:
        if value is not None:
            words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    for resource, amount in args.resources or ():
        words += ["--resources", f"{resource}={amount:g}"]
    if args.fail_fast is not None:
        words.append("--fail-fast" if args.fail_fast else "--no-fail-fast")
    if args.apply:
        words.append("--apply")
    return " ".join(w if w.startswith("%%") else shlex.quote(w) for w in words) + "\n" \
        + cell.rstrip("\r\n")



RAN_JUST_NOW = 600.0  # seconds: a cell's run this recent is named when the cell runs again


class RecentRuns:
    """The stored studies this kernel's cells ran, each with the cell's body, its flags and when
    it ended: a cell run twice in a row (Ctrl+Enter pressed again) had its first run's output
    cleared by JupyterLab, and the second said only "already exists" (first-day test, round
    41)."""

    def __init__(self) -> None:
        self._ran: dict[tuple[str, str], tuple[str, dict, float]] = {}

    def record(self, path: str | None, name: str, cell: str, flags: dict[str, Any]) -> None:
        """A cell with ``flags`` ran study ``name`` of ``path`` to its end now."""
        if path is not None:
            self._ran[(os.path.abspath(path), name)] = (cell, dict(flags), time.time())

    def note(self, path: str | None, name: str | None, cell: str,
             flags: dict[str, Any] | None = None) -> str:
        """Where this very cell (and these ``flags``, where given: more trials asked are news)
        ran study ``name`` minutes ago, the words that say so; else ""."""
        if path is None or name is None:
            return ""
        body, ran_with, ended = self._ran.get((os.path.abspath(path), name), (None, None, 0.0))
        if body != cell or (flags is not None and flags != ran_with) \
                or time.time() - ended > RAN_JUST_NOW:
            return ""
        at = time.strftime("%H:%M:%S", time.localtime(ended))
        return (f"this cell ran it in this kernel, ending at {at}; running the cell again "
                f"cleared that run's output (its summary is above)")
