"""Paused trials' checkpoints kept on disk: a study cut short resumes them where they paused.

While a study runs, a paused trial's checkpoint stays on the worker that ran it (a Dask future)
and goes from worker to worker when the trial resumes. It would die with the study: an interrupt
releases the futures, and a kernel's death takes a local cluster's workers along. So the worker
also writes it, as it pauses, to a file of the study's checkpoint folder (beside the study file:
``Storage.checkpoint_folder``); a resumed study finds each unfinished trial's file there and
resumes the trial from it, at the rung it paused at, instead of from its first epoch.

One file a trial, ``trial-ID.ckpt``, replaced whole at each pause: a first line of JSON (the
reports the trial had made, the level it paused at), which the notebook reads without unpickling
anything, then the checkpoint, pickled (cloudpickle: a class defined in the notebook travels by
value). Only a worker on the notebook's own machine writes one (another machine's disk is not the
notebook's folder); the loop deletes a trial's file once the trial ends for good.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import dataclass
from typing import Any

SUFFIX = ".ckpt"


def path_of(folder: str, trial_id: int) -> str:
    """The file that holds trial ``trial_id``'s checkpoint in ``folder``."""
    return os.path.join(folder, f"trial-{trial_id}{SUFFIX}")


def this_host() -> str:
    """The machine's name, as a worker compares it with the notebook's."""
    return socket.gethostname()


def save(folder: str, trial_id: int, seq: int, level: Any, checkpoint: Any) -> None:
    """Write the checkpoint of a trial paused after its ``seq``-th report, at ``level``
    (on the worker; raises what pickling or the disk raise). Written beside, then moved in
    place: a file is whole, or the previous one."""
    import cloudpickle

    os.makedirs(folder, exist_ok=True)
    target = path_of(folder, trial_id)
    partial = f"{target}.{os.getpid()}.part"
    header = json.dumps({"trial": trial_id, "seq": seq, "level": level})
    try:
        with open(partial, "wb") as out:
            out.write(header.encode() + b"\n")
            cloudpickle.dump(checkpoint, out)
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)


def header(folder: str, trial_id: int) -> dict[str, Any] | None:
    """What trial ``trial_id``'s file says of itself (``seq``: its reports, ``level``), or None
    where it has none, or one that cannot be read."""
    try:
        with open(path_of(folder, trial_id), "rb") as f:
            head = json.loads(f.readline())
    except (OSError, ValueError):
        return None
    return head if isinstance(head, dict) and isinstance(head.get("seq"), int) else None


def forget(folder: str | None, trial_id: int) -> None:
    """Delete trial ``trial_id``'s file, if it has one."""
    if folder is not None:
        with contextlib.suppress(OSError):
            os.remove(path_of(folder, trial_id))


def tidy(folder: str | None) -> None:
    """Remove the study's folder once it holds no checkpoint, and the file's folder of
    checkpoint folders once that is empty too."""
    if folder is None:
        return
    for empty in (folder, os.path.dirname(folder)):
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
        import cloudpickle

        try:
            with open(self.path, "rb") as f:
                f.readline()
                return (self.before, cloudpickle.load(f)), None
        except Exception as exc:  # gone, cut short, or a class this worker cannot import
            return (self.before, None), f"{type(exc).__name__}: {exc}"
