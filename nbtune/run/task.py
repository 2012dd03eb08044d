"""What runs on a Dask worker for one trial: call the user's function, capture its outcome."""
from __future__ import annotations

import functools
import os
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..caller import user_facing
from .channel import (TrialContext, TrialDiverged, TrialEnded, TrialPaused, TrialStopped,
                      activate, deactivate, install_verdict_handler)
from .metrics import clean_metrics
from ..contract.outcome import result_value
from ..trial import is_finite_number
from . import kept
from .halt import halting, shielded
from .cellcode import CELL_FILE
from .output import Capture
from .starts import announce_later
from .stream import sender
from .threads import cores_watched, torch_threads_kept
from . import worker_setup

TRIAL_KEY = "nbtune-trial"  # a trial task's Dask key: TRIAL_KEY-RUN-TRIAL-ATTEMPT

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class TrialSpec:
    """Everything a worker needs to run one trial besides the function and its config."""

    trial_id: int
    topic: str
    prefix: str
    resource: str
    wait_at: Sequence[float] | None
    verdict_timeout: float
    attempt: int = 1  # the loop's submission number: messages of an older one are ignored
    first_seq: int = 0  # reports made before the pause this run resumes from
    keep_checkpoint: bool = False  # return (outcome, checkpoint): the loop may pause the trial
    stream_output: bool = False  # send the trial's output as it is written (throttled)
    data_keys: tuple[tuple[str, str], ...] = ()  # (name, Dask key) of the scattered data
    may_split: bool = False  # its work may run as tasks of its own (nbtune.run.subtasks)
    report_to: str | None = None  # the study's listener (nbtune.run.stream); None: Dask events
    metric: str | None = None  # the study's: a trial whose value of it diverges ends there
    keep_at: str | None = None  # the study's checkpoint folder (nbtune.run.kept), if it has one
    folder: str | None = None  # the notebook's working folder, where its relative paths lead
    host: str | None = None  # the notebook's machine: only a worker there writes to keep_at
    # (None: every worker, the folder being shared)
    # (mode, the value of the best completed trial whose last checkpoint keep_at holds, None if
    # none yet) where keep_at keeps one: a completed trial that beats it keeps its own there
    keep_best: tuple[str, float | None] | None = None
    end_at: float | None = None  # the scheduler's max_t: a report past it ends the trial


class Outcome(dict):
    """A trial's outcome as it travels from the worker to the loop: a plain dict of a type of its
    own, so that Dask pickles it in one piece. distributed serializes a plain ``dict`` (or tuple)
    item by item, one frame per value, which cost about three times as much on the worker for
    this outcome (0.3 ms against 0.1 ms, distributed 2026.8) and as much again to read back; trials
    of milliseconds pay that for every trial."""

    __slots__ = ()




def _format_frame(frame: traceback.FrameSummary) -> str:
    """One frame as ``traceback`` writes it; a notebook cell's as JupyterLab names it:
    ``Cell In[12], line 4``."""
    cell = CELL_FILE.match(frame.filename)
    if cell is None:
        return traceback.format_list([frame])[0]
    where = "" if frame.name == "<module>" else f", in {frame.name}"
    code = f"    {frame.line.strip()}\n" if frame.line else ""
    return f"  Cell In[{cell.group(1)}], line {frame.lineno}{where}\n{code}"


class TrialFailed(Exception):
    """Raised in a trial to fail it with ``text`` as its error, word for word: a text formed
    elsewhere that already points at the user's code (a piece's traceback, the failed fits of a
    ``SearchCV`` candidate), which nbtune's own frame and type would only hide."""

    def __init__(self, text: str):
        super().__init__(text.strip().splitlines()[-1] if text.strip() else "the trial failed")
        self.text = text


class PieceFailed(TrialFailed):
    """Raised in a trial where a piece of its work, run as a task of its own
    (:mod:`nbtune.run.subtasks`), raised: ``text`` is that piece's traceback."""


_CAUSED = "\nThe above exception was the direct cause of the following exception:\n\n"
_DURING = "\nDuring handling of the above exception, another exception occurred:\n\n"


def user_traceback(exc: BaseException, _seen: frozenset = frozenset()) -> str:
    """The traceback text of ``exc`` without nbtune's own frames, so it points at the user's code
    (for a :class:`TrialFailed`, its text: a piece's traceback, say), after those of the
    exceptions it was raised from or while handling, as Python shows them: Lightning's teardown
    raised "Please call `iter(combined_loader)` first." while handling a DataLoader's "daemonic
    processes are not allowed to have children", and only the first was kept, with nbtune's hint
    for the second lost (first-day test, round 30)."""
    if isinstance(exc, TrialFailed):
        return exc.text
    seen = _seen | {id(exc)}
    before = ""
    if exc.__cause__ is not None and id(exc.__cause__) not in seen:
        before = user_traceback(exc.__cause__, seen) + _CAUSED
    elif (exc.__context__ is not None and not exc.__suppress_context__
          and id(exc.__context__) not in seen):
        before = user_traceback(exc.__context__, seen) + _DURING
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(_PACKAGE_DIR + os.sep)]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += [_format_frame(f) for f in frames]
    lines += traceback.format_exception_only(type(exc), exc)
    return before + "".join(lines)


def _where_relative(exc: Exception, folder: str | None) -> None:
    """Note on a file not found by a relative path, in a worker whose folder is not the
    notebook's (``folder``: a cluster started elsewhere), where it was looked for: a trial's
    ``pd.read_csv("data.csv")`` failed on a team's cluster with a bare FileNotFoundError (first-day
    test, round 33)."""
    name = getattr(exc, "filename", None)
    if not isinstance(exc, FileNotFoundError) or not isinstance(name, str) or not folder \
            or os.path.isabs(name) or os.path.realpath(os.getcwd()) == os.path.realpath(folder):
        return
    exc.add_note(f"nbtune: give an absolute path on a disk the workers share, or send the data "
                 f"with the study (with_parameters): {name!r} was looked for in the worker's "
                 f"folder, {os.getcwd()}, not the notebook's, {folder}")


_EXITED = ("(the trial raised {0}, which would end its worker process: nbtune records it as a "
           "failure instead; return or raise an exception to end a trial)\n")


def _clean_return(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        return clean_metrics(value, "the returned dict")
    try:
        return clean_metrics({"value": value}, "the returned value")["value"]
    except TypeError:
        shape = getattr(value, "shape", None)
        folds = (f" of shape {tuple(shape)} (cross_val_score's? return its .mean(), the folds' "
                 f"mean)" if shape is not None and len(shape) == 1 and shape[0] > 1 else "")
        raise TypeError(f"the trial function returned a {type(value).__name__}{folds}; return a "
                        "number, a dict of metrics, or nothing after calling report(...)") from None


class with_parameters:
    """Wrap a trial function with large data sent to the cluster once per study, not per trial.

    ``nbtune.tune(with_parameters(train, X=X, y=y), space)`` calls ``train(config, X=X, y=y)`` on
    the workers; the arrays are scattered once and shared by every trial (as Ray Tune's
    ``tune.with_parameters``).
    """

    @user_facing
    def __init__(self, fn: Callable[..., Any], *positional: Any, **data: Any):
        if not callable(fn):
            raise TypeError(f"with_parameters needs a function, got {type(fn).__name__}")
        if positional:  # Ray Tune takes them by name too; Python's own line named __init__
            raise TypeError(f"with_parameters(fn, X=X, y=y) takes the data by name, the names "
                            f"of {getattr(fn, '__name__', 'the function')}'s keywords; "
                            f"{len(positional)} value{'s were' if len(positional) > 1 else ' was'}"
                            " given by position")
        self.fn, self.data = fn, data

    def __call__(self, config: dict[str, Any], **data: Any) -> Any:
        return self.fn(config, **data)

    def __getstate__(self) -> dict:
        return {"fn": self.fn, "data": {}}  # the data travels separately, scattered


class PickledOnce:
    """A trial function pickled once per study (:meth:`of`). Each trial's task carries these
    bytes, and they stay bytes on their way through the Dask scheduler, so neither the notebook's
    submission nor the scheduler's hand-over to a worker pickles the function again: cloudpickle
    walks a notebook function's globals and every module loaded (about 0.8 ms a trial with 2,000
    modules, as many as a notebook with pandas and scikit-learn has), and a scheduler that runs
    in the notebook's process (a local cluster) did that once more. ``run_trial`` unpickles the
    function, a fresh copy for each trial as before, so no trial sees what another did to the
    objects the function captured."""

    __slots__ = ("blob",)

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> PickledOnce:
        from .cellcode import dumps

        return cls(dumps(fn))

    def load(self) -> Callable[..., Any]:
        """The function, a new copy at each call (the lines of the notebook cells its code
        came from go to this process's ``linecache``: see :mod:`nbtune.run.cellcode`)."""
        from .cellcode import loads

        return loads(self.blob)

    def __reduce__(self) -> tuple:
        return type(self), (self.blob,)


class Whole:
    """A with_parameters value sent to the workers in one piece: Dask serializes a list, tuple,
    set or dict item by item, one frame each, and scattering a list of 200,000 floats (or a
    text classifier's documents) took 17 s against 0.05 s for the same list inside this."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __reduce__(self) -> tuple:
        return (Whole, (self.value,))


COLLECTIONS = (list, tuple, set, frozenset, dict)  # what Dask serializes item by item


def whole(value: Any) -> Any:
    """``value`` as it is scattered: a builtin collection inside a :class:`Whole`."""
    return Whole(value) if type(value) in COLLECTIONS else value


def unwrapped(value: Any) -> Any:
    """A scattered value as the trial reads it: what :func:`whole` wrapped, unwrapped."""
    return value.value if isinstance(value, Whole) else value


# a pickled trial function up to this size travels inside each task; a larger one (one that
# holds a notebook's array) is sent to the workers once per study. Dask's client keeps its last
# 1,000 messages under 1 MB (distributed.admin.low-level-log-length), and the in-process
# scheduler its own to the workers: a 320 KB function in each trial's task held 12 MB more of
# the notebook's memory at each study of 20 trials (first-day test, round 22)
INLINE_BYTES = 16_384


def run_trial(pickled: PickledOnce, config: dict[str, Any], spec: TrialSpec,
              shared: dict[str, Any] | None = None, paused: tuple | None = None) -> Any:
    """Run ``fn(config)`` on this worker (``fn``: a fresh copy of the study's pickled trial
    function), streaming reports, and return the outcome as a plain dict.

    ``shared`` holds the scattered data of a :class:`with_parameters` function, passed as keywords.
    With ``spec.keep_checkpoint`` the result is ``(outcome, checkpoint)``: the loop keeps it on the
    cluster as a future and passes it back as ``paused`` when it resumes the trial, so that a
    checkpoint goes from worker to worker and never to the notebook.
    """
    from distributed import get_worker

    fn = pickled.load()
    unrestored = None
    if isinstance(paused, kept.Saved):  # resumed from the file an earlier run of the study kept
        paused, unrestored = paused.load()
    worker = get_worker()
    install_verdict_handler(worker)
    execution = uuid.uuid4().hex[:12]
    post = sender(worker, spec.report_to)  # one way for all its messages: they keep their order

    def send(topic: str, message: dict[str, Any]) -> None:  # what the trial says, after its start
        start.flush()
        post(topic, message)

    capture = Capture(send=lambda fields: send(spec.topic, ctx.message("output", **fields)),
                      stream=spec.stream_output, before=paused[0] if paused else None)
    ctx = TrialContext(topic=spec.topic, prefix=spec.prefix, trial_id=spec.trial_id,
                       execution=execution, resource=spec.resource, attempt=spec.attempt,
                       first_seq=spec.first_seq, restored=paused[1] if paused else None,
                       wait_at=spec.wait_at, verdict_timeout=spec.verdict_timeout,
                       send=send, reply_to=worker.address, delivery=post,
                       shield=functools.partial(shielded, spec.prefix, execution),
                       output=capture, data_keys=dict(spec.data_keys),
                       may_split=spec.may_split, keeper=_keeper(spec), metric=spec.metric,
                       end_at=spec.end_at)
    start = announce_later(functools.partial(post, spec.topic), ctx.message(
        "start", worker=worker.address, **({"unrestored": unrestored} if unrestored else {}),
        **({"log": [worker_setup.LOG, os.getpid()]} if worker_setup.LOG else {})))
    started = time.time()
    outcome = Outcome(state="completed", returned=None, error=None)
    token, routed = activate(ctx), capture.activate()
    try:
        # the study's end halts it; torch's threads, which it may set, are put back after it,
        # and a trial that ran more threads than its share is told
        with halting(spec.prefix, ctx.execution, spec.trial_id), \
                torch_threads_kept(capture.warn), \
                cores_watched(capture.warn, alone=lambda: worker.state.nthreads == 1
                              and not ctx.split):  # a split trial leaves its thread
            returned = (fn(dict(config), **{k: unwrapped(v) for k, v in shared.items()})
                        if shared else fn(dict(config)))
        outcome["returned"] = _clean_return(returned)
    except TrialEnded:  # a report past max_t: complete, its loop cut where no rung judges it
        pass
    except TrialPaused:
        outcome["state"] = "paused"
    except TrialStopped:  # by its scheduler, or halted
        outcome["state"] = "stopped"
    except TrialDiverged as exc:  # its metric blew up: nothing to gain from training on
        outcome.update(state="failed", error=f"TrialDiverged: {exc}")
    except Exception as exc:  # the user's code failed: record it, the study goes on
        _where_relative(exc, spec.folder)
        outcome.update(state="failed", error=user_traceback(exc))
    except (SystemExit, KeyboardInterrupt) as exc:  # would take the worker down with the trial
        outcome.update(state="failed", error=user_traceback(exc) + _EXITED.format(
            type(exc).__name__))
    finally:
        capture.deactivate(routed)
        deactivate(token)
    start.drop()  # unsent by now, it says nothing the outcome does not
    outcome.update(capture.result())
    outcome.update(reports=ctx.reports, first_seq=spec.first_seq, exec=ctx.execution,
                   worker=worker.address, started=started, finished=time.time(),
                   checkpointed=ctx.checkpoint is not None,  # what a resume would restore
                   unrestored=unrestored)
    keeper = ctx.keeper
    if outcome["state"] == "paused" and ctx.checkpoint is not None:
        if keeper is not None:
            at = ctx.checkpoint_seq  # the report that carried it: its level, its place
            keeper.write(at, ctx.reports[at - spec.first_seq - 1], ctx.checkpoint)
            why = keeper.unpicklable
        else:  # kept nowhere, but it may have to travel to the worker that resumes it
            why = kept.unpicklable(ctx.checkpoint)
        if why is not None:
            outcome["unmovable"] = why
        outcome["checkpoint_seq"] = ctx.checkpoint_seq  # the report it came with
    outcome["kept"] = keeper.written if keeper is not None else None
    if outcome["state"] == "completed" and ctx.checkpoint is not None and spec.keep_best:
        final = _keep_final(spec, ctx, outcome["returned"], keeper is not None)
        if final is not None:
            outcome["final"] = final
    if spec.keep_checkpoint or post.direct:
        _send_outcome(post, spec.topic, ctx, outcome)
    # whether its messages, "end" last, went straight: where the task's end reaches the loop
    # first, they are still on their way, and the loop waits for them (Completions._on_done)
    outcome["direct"] = post.direct
    if spec.keep_checkpoint:
        return outcome, ctx.checkpoint if outcome["state"] == "paused" else None
    return outcome


def _keeper(spec: TrialSpec) -> kept.Keeper | None:
    """What writes the trial's checkpoints to the study's folder (:mod:`nbtune.run.kept`),
    where this worker shares the notebook's disk (every worker, where the folder is shared:
    ``spec.host`` None); else None."""
    if spec.keep_at is None or (spec.host is not None and kept.this_host() != spec.host):
        return None
    return kept.Keeper(spec.keep_at, spec.trial_id, spec.resource)


def _keep_final(spec: TrialSpec, ctx: TrialContext, returned: Any,
                reachable: bool) -> bool | str | None:
    """A completed trial's last checkpoint, written to its final file where its value beats the
    best one kept (``spec.keep_best``): True once written, :data:`kept.HELD` where this
    worker holds it instead (it does not reach the study's folder), why it could not be kept
    (a text), or None where its value is not better."""
    mode, best = spec.keep_best
    value = result_value(returned, ctx.reports, spec.metric)
    if not is_finite_number(value) or (best is not None and not (
            value > best if mode == "max" else value < best)):
        return None
    if not reachable:  # fetched at the study's end, if it is still the best
        return kept.hold_final(spec.prefix, spec.trial_id, ctx.checkpoint)
    at = ctx.checkpoint_seq  # the report that carried it: its level
    index = at - spec.first_seq - 1
    level = ctx.reports[index].get(spec.resource) if 0 <= index < len(ctx.reports) else None
    return kept.keep_final(spec.keep_at, spec.trial_id, at, level, ctx.checkpoint)


def _send_outcome(post: Callable[[str, dict], None], topic: str, ctx: TrialContext,
                  outcome: dict[str, Any]) -> None:
    """Send the trial's outcome on the channel, where the loop reads it (it arrives before the
    task's end, mostly): for a trial whose result keeps its checkpoint on the cluster, so that no
    second task is needed to split the outcome from the checkpoint; for any trial that reports
    straight to the notebook, so that the loop need not fetch its result through the scheduler.
    Where it does not arrive first, the loop fetches the result (:func:`outcome_of` for a pair)."""
    try:
        post(topic, ctx.message("end", outcome=dict(outcome)))
    except Exception:
        pass


def outcome_of(result: tuple) -> dict[str, Any]:
    """The outcome half of a ``(outcome, checkpoint)`` result, where its "end" message did not
    reach the notebook."""
    return result[0]
