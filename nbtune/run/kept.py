"""Paused trials' checkpoints kept on disk: a study cut short resumes them where they paused.

While a study runs, a paused trial's checkpoint stays on the worker that ran it (a Dask future)
and goes from worker to worker when the trial resumes. It would die with the study: an interrupt
releases the futures, and a kernel's death takes a local cluster's workers along. So the worker
also writes it, as it pauses, to a file of the study's checkpoint folder (beside the study file:
``Storage.checkpoint_folder``); a resumed study finds each unfinished trial's file there and
resumes the trial from it, at the rung it paused at, instead of from its first epoch.

A trial that is not paused would lose its training as well: so a running trial's latest
checkpoint is written too, at most every :data:`KEEP_EVERY` seconds (a trial shorter than that
writes none); a resume takes it up from there, as it does a paused one.

One file a trial, ``trial-ID.ckpt``, replaced whole at each write: a first line of JSON (the
reports the trial had made, its level), which the notebook reads without unpickling anything,
then the checkpoint, pickled (cloudpickle: a class defined in the notebook travels by value).
Only a worker on the notebook's own machine writes one (another machine's disk is not the
notebook's folder); the loop deletes a trial's file once the trial ends for good.

The best completed trial's last checkpoint is kept after the study (``study.best_checkpoint``):
a trial that completes with a value better than the best kept when it was sent writes it to
``trial-ID.final.ckpt`` (the same form), and the loop deletes the one it beats
(:meth:`nbtune.run.keeping.Keeping._heard_final`): a study holds one such file, its best's. A
worker on another machine holds it pickled in its process instead (:func:`hold_final`), and
the study's end fetches the best one's to the notebook's folder and lets go of the rest.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

SUFFIX = ".ckpt"
KEEP_EVERY = 60.0  # seconds between two writes of a running trial's checkpoint, at most


FINAL = ".final"  # trial-ID.final.ckpt: a completed trial's last checkpoint, kept as the best


def path_of(folder: str, trial_id: int, final: bool = False) -> str:
    """The file that holds trial ``trial_id``'s checkpoint in ``folder`` (``final``: the last
    one of a completed trial, kept while it is the study's best)."""
    return os.path.join(folder, f"trial-{trial_id}{FINAL if final else ''}{SUFFIX}")


@functools.lru_cache(maxsize=1)
def this_host() -> str:
    """The machine's name, as a worker compares it with the notebook's (asked once a process:
    each trial asks)."""
    return socket.gethostname()


def pickled(checkpoint: Any) -> bytes | str:
    """The checkpoint pickled as a file holds it (and as Dask sends it to another worker), or
    why it cannot be: then it can neither be kept nor leave the worker that holds it."""
    import cloudpickle

    try:
        return cloudpickle.dumps(checkpoint)
    except Exception as exc:  # a lock, an open file, a generator
        return f"{type(exc).__name__}: {exc}"


def unpicklable(checkpoint: Any) -> str | None:
    """Why ``checkpoint`` cannot be pickled, else None."""
    data = pickled(checkpoint)
    return data if isinstance(data, str) else None


def pickled_half(pair: tuple) -> tuple[bytes | str | None, int]:
    """On the worker that holds a paused trial's ``(outcome, checkpoint)``: the checkpoint
    pickled (:func:`pickled`; None without one) and the number of the report it came with (0:
    none), for the notebook to keep where the worker could not (another machine's)."""
    outcome, checkpoint = pair
    data = None if checkpoint is None else pickled(checkpoint)
    return data, outcome.get("checkpoint_seq", 0)


def save(folder: str, trial_id: int, seq: int, level: Any, data: bytes,
         final: bool = False) -> None:
    """Write the checkpoint (``data``, :func:`pickled`) of a trial after its ``seq``-th report,
    at ``level`` (on the worker; raises what the disk raises). Written beside, then moved in
    place: a file is whole, or the previous one. ``final``: a completed trial's last one."""
    os.makedirs(folder, exist_ok=True)
    target = path_of(folder, trial_id, final)
    partial = f"{target}.{os.getpid()}.part"
    header = json.dumps({"trial": trial_id, "seq": seq, "level": level})
    try:
        with open(partial, "wb") as out:
            out.write(header.encode() + b"\n")
            out.write(data)
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)


class Keeper:
    """On the worker, one execution of a trial: writes its checkpoint to its file at its pause
    (:meth:`write`), and while it runs, with a report, once :data:`KEEP_EVERY` seconds passed
    since its start or its last write (:meth:`reported`). ``written``: True once a write
    succeeded, the error of the last that failed, else None; ``unpicklable``: why the last
    checkpoint could not be pickled, else None."""

    def __init__(self, folder: str, trial_id: int, resource: str):
        self.folder, self.trial_id, self.resource = folder, trial_id, resource
        self.due = time.monotonic() + KEEP_EVERY
        self.written: bool | str | None = None
        self.last = 0  # the report whose checkpoint the file holds now
        self.unpicklable: str | None = None

    def reported(self, seq: int, report: dict[str, Any], checkpoint: Any) -> None:
        """A report with ``checkpoint`` (the trial's ``seq``-th), which the trial goes on from."""
        if time.monotonic() >= self.due:
            self.write(seq, report, checkpoint)

    def write(self, seq: int, report: dict[str, Any], checkpoint: Any) -> None:
        """Write ``checkpoint``, the state the trial had at its ``seq``-th report ``report``
        (at its pause, or due while it runs)."""
        if seq == self.last and self.written is True:
            return  # written as it reported
        self.due = time.monotonic() + KEEP_EVERY
        data = pickled(checkpoint)
        self.unpicklable = data if isinstance(data, str) else None
        if self.unpicklable is not None:
            self.written = self.unpicklable
            return
        try:
            save(self.folder, self.trial_id, seq, report.get(self.resource), data)
        except OSError as exc:  # a full disk, a folder that cannot be made
            self.written = f"{type(exc).__name__}: {exc}"
        else:
            self.written, self.last = True, seq


def keep_final(folder: str, trial_id: int, seq: int, level: Any, checkpoint: Any) -> bool | str:
    """On the worker, a trial that completed with a value better than the best kept: write its
    last checkpoint (that of its ``seq``-th report, at ``level``) to its final file. True once
    written, else why not (it cannot be pickled, or the disk refused it)."""
    data = pickled(checkpoint)
    if isinstance(data, str):
        return data
    try:
        save(folder, trial_id, seq, level, data, final=True)
    except OSError as exc:  # a full disk, a folder that cannot be made
        return f"{type(exc).__name__}: {exc}"
    return True


HELD = "held"  # a final checkpoint held by the worker (another machine's): hold_final
_held: dict[tuple[str, int], bytes] = {}  # on such a worker: (study run, trial) -> its pickle


def hold_final(prefix: str, trial_id: int, checkpoint: Any) -> str:
    """On a worker of another machine than the study's folder, a trial that completed with a
    value better than the best kept: hold its last checkpoint, pickled, in this process for the
    study's end to fetch (:func:`take_final`). :data:`HELD`, or why it cannot be pickled."""
    data = pickled(checkpoint)
    if isinstance(data, str):
        return data
    _held[prefix, trial_id] = data
    return HELD


def take_final(prefix: str, trial_id: int | None) -> bytes | None:
    """On each worker at the study run ``prefix``'s end: the pickled final checkpoint of trial
    ``trial_id`` where this worker holds it (else None), letting go of all the run's others."""
    data = _held.pop((prefix, trial_id), None) if trial_id is not None else None
    for key in [key for key in _held if key[0] == prefix]:
        del _held[key]
    return data


def finals(folder: str | None) -> list[int]:
    """The trials whose final checkpoint ``folder`` holds (:func:`keep_final`)."""
    tail = FINAL + SUFFIX
    try:
        names = os.listdir(folder) if folder is not None else []
    except OSError:  # no folder: none kept yet
        return []
    return sorted(int(name[len("trial-"):-len(tail)]) for name in names
                  if name.startswith("trial-") and name.endswith(tail)
                  and name[len("trial-"):-len(tail)].isdigit())


def load(path: str) -> Any:
    """The checkpoint a file holds (its header skipped), unpickled; raises what reading or
    unpickling it raises."""
    from .cellcode import load_kept

    with open(path, "rb") as f:
        f.readline()
        return load_kept(f)


def header(folder: str, trial_id: int, final: bool = False) -> dict[str, Any] | None:
    """What trial ``trial_id``'s file (``final``: its final one) says of itself (``seq``: its
    reports, ``level``), or None where it has none, or one that cannot be read."""
    try:
        with open(path_of(folder, trial_id, final), "rb") as f:
            head = json.loads(f.readline())
    except (OSError, ValueError):
        return None
    return head if isinstance(head, dict) and isinstance(head.get("seq"), int) else None


def rename_final(folder: str, trial_id: int) -> None:
    """Trial ``trial_id``'s file becomes its final one (a paused trial ended completed)."""
    with contextlib.suppress(OSError):
        os.replace(path_of(folder, trial_id), path_of(folder, trial_id, final=True))


def forget(folder: str | None, trial_id: int, final: bool = False) -> None:
    """Delete trial ``trial_id``'s file (``final``: its final one), if it has one."""
    if folder is not None:
        with contextlib.suppress(OSError):
            os.remove(path_of(folder, trial_id, final))


def tidy(folder: str | None, ended: set[int], shared: bool = False) -> None:
    """Delete the files of trials ``ended`` for good that are still there (a trial whose worker
    died after a write), then remove the study's folder once it holds no checkpoint, and the
    file's folder of checkpoint folders once that is empty too (not a ``shared`` folder the
    user named: ``checkpoints=``)."""
    if folder is None:
        return
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            number = name[len("trial-"):-len(SUFFIX)]
            if name.endswith(SUFFIX) and number.isdigit() and int(number) in ended:
                forget(folder, int(number))
    for empty in (folder,) if shared else (folder, os.path.dirname(folder)):
        try:
            os.rmdir(empty)
        except OSError:  # not empty, or gone
            return


@dataclass(frozen=True)
class Saved:
    """What a trial restored from its file resumes from, as a task's ``paused`` argument (in
    place of the future of its ``(outcome, checkpoint)``): read on the worker that runs it."""

    path: str
    before: dict[str, Any]  # the trial's output and warnings so far, which its run goes on from

    def load(self) -> tuple[tuple[dict[str, Any], Any], str | None]:
        """((earlier output, checkpoint), None), or, where the file is not there (a worker on
        another machine) or cannot be read, ((earlier output, None), why): the trial then starts
        from its beginning, and the loop says why."""
        try:
            return (self.before, load(self.path)), None
        except Exception as exc:  # gone, cut short, or a class this worker cannot import
            return (self.before, None), f"{type(exc).__name__}: {exc}"
