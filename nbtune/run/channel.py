"""The report channel: metrics stream from a running trial to the loop, verdicts flow back.

This module is the trial's side (``report()``, the context of the trial a thread runs, the
verdicts a trial waits for); :mod:`nbtune.run.inbox` is the loop's, and :mod:`nbtune.run.stream`
the connection between them.

Trial -> loop: each message goes straight from the worker to a listener the study opens in the
notebook, or, where that is not (yet) possible, as a Dask event (``Worker.log_event``) through the
scheduler; see :mod:`nbtune.run.stream`. Neither costs the trial a round trip.

Loop -> trial: at a decision point (a rung) the trial waits on a ``threading.Event`` of its own
worker process, named for that one report. The loop sends the verdict back over the worker's
connection to the listener, or where the worker has none, straight to the worker (an RPC to the
handler :func:`install_verdict_handler` adds), which sets the event; the loop's thread never
waits for it. Where the notebook cannot reach a worker either way (a cluster behind a NAT that
only exposes its scheduler), the verdict takes the way every Dask client has, through the
scheduler (``Client.run`` on that one worker), for that worker from then on.

Elsewhere the trial does not wait; it only looks, at most once a second, at the study's stop
``Event``, which the loop sets when the whole study ends.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import numbers
import os
import threading
import time
from typing import Any, Callable, ContextManager, Sequence

from ..caller import NbtuneWarning, user_facing, warn
from .frameworks import SANITY_NOTE, in_sanity_check
from .metrics import clean_metrics

CONTINUE = "continue"
STOP = "stop"
PAUSE = "pause"
STOP_CHECK_INTERVAL = 1.0  # seconds between two looks at the study's stop flag


class TrialStopped(BaseException):
    """Raised inside trial code by ``report()`` when the scheduler stops the trial.

    A ``BaseException`` so that a broad ``except Exception`` in training code does not swallow it.
    """


class TrialDiverged(BaseException):
    """Raised inside trial code by ``report()`` when the study's metric, finite in the trial's
    earlier reports, is NaN or infinite: the trial diverged, and ends there, failed. A
    ``BaseException``, as :class:`TrialStopped` is."""


class TrialPaused(TrialStopped):
    """Raised inside trial code by ``report()`` when the scheduler pauses the trial at a rung.

    The trial may be resumed later, from the last ``checkpoint=`` it reported.
    """


class TrialEnded(TrialStopped):
    """Raised inside trial code by ``report()`` at the trial's first report past its scheduler's
    ``max_t``: the trial is complete there, as Ray Tune's and Syne Tune's schedulers end a trial
    at ``max_t``, and it is recorded completed, not stopped (what it trains past ``max_t`` no
    rung judges, and its worker is wanted for the next trial)."""


_current: contextvars.ContextVar["TrialContext | LocalContext | None"] = contextvars.ContextVar(
    "nbtune_trial", default=None)


def verdict_name(prefix: str, execution: str, seq: int) -> str:
    """The name of the verdict on report ``seq`` of an execution: unique in a cluster's life."""
    return f"{prefix}-{execution}-{seq}"


VERDICT_OP = "nbtune_verdict"  # the worker's handler of verdicts sent to it


class _Answer:
    """One verdict a trial thread of this process waits for."""

    __slots__ = ("event", "verdict")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.verdict: str | None = None


_answers: dict[str, _Answer] = {}  # verdict name -> its answer, while a trial here waits for it


def deliver_verdict(name: str, verdict: str) -> None:
    """Hand the verdict ``name`` to the trial thread of this worker process waiting for it (run on
    the worker's event loop, by its RPC handler or by ``Client.run``). A verdict nobody waits for
    any more (the trial gave up: its study ended) is dropped."""
    answer = _answers.get(name)
    if answer is not None and answer.verdict is None:
        answer.verdict = verdict
        answer.event.set()


def install_verdict_handler(worker) -> None:
    """Let ``worker`` take verdicts sent straight to it (idempotent; a dict entry, read by the
    worker's server for each message it receives)."""
    if VERDICT_OP not in worker.handlers:
        worker.handlers[VERDICT_OP] = deliver_verdict


class TrialContext:
    """The worker-side half of the channel for one execution of one trial."""

    def __init__(self, *, topic: str, prefix: str, trial_id: int, execution: str,
                 resource: str, attempt: int = 1, first_seq: int = 0, restored: Any = None,
                 wait_at: Sequence[float] | None, verdict_timeout: float,
                 send: Callable[[str, dict], None], reply_to: str,
                 delivery: Any = None,
                 shield: Callable[[], ContextManager[Any]] = contextlib.nullcontext,
                 output: Any = None, data_keys: dict[str, str] | None = None,
                 may_split: bool = False, keeper: Any = None, metric: str | None = None,
                 end_at: float | None = None):
        self.topic, self.prefix, self.trial_id, self.execution = topic, prefix, trial_id, execution
        self.resource, self.attempt = resource, attempt
        self.metric = metric  # the study's: a trial whose value of it diverges ends there
        self._finite = False  # whether it reported a finite value of the metric yet
        self.end_at = end_at  # the scheduler's max_t: a report past it ends the trial, complete
        self.wait_all = wait_at is None
        self.wait_at = frozenset(wait_at or ())
        self.verdict_timeout = verdict_timeout
        self._send = send
        # how its messages travel (stream.Post): told of each verdict, and of one that is late
        self._delivery = delivery
        self.reply_to = reply_to  # the address verdicts are sent to: this trial's worker
        self._shield = shield  # around report(): nbtune's own code, not to be halted half-way
        self.reports: list[dict[str, Any]] = []  # this execution's, numbered from first_seq + 1
        self.first_seq = first_seq  # reports the trial made before a pause it resumes from
        self.restored = restored  # the checkpoint this execution resumed from (None: fresh)
        self.checkpoint: Any = None  # the last checkpoint reported: kept on the worker
        self.checkpoint_seq = 0  # the number of the report that carried it
        self.keeper = keeper  # writes its checkpoints to disk as well (nbtune.run.kept)
        self._next_stop_check = time.monotonic() + STOP_CHECK_INTERVAL
        self.output = output  # the trial's Capture: its new lines travel with each report
        self.data_keys = data_keys or {}  # the Dask keys of the study's scattered data, by name
        self.may_split = may_split  # its work may run as tasks of its own (run/subtasks.py)
        self.split = False  # whether it did: its thread left the worker's pool for them

    def message(self, kind: str, **fields: Any) -> dict[str, Any]:
        """A channel message about this execution."""
        return {"kind": kind, "trial": self.trial_id, "attempt": self.attempt,
                "exec": self.execution, "time": time.time(), **fields}

    def report(self, metrics: dict[str, Any], checkpoint: Any = None) -> None:
        """Send one report; at a decision point wait for the verdict, stop or pause if told to."""
        with self._shield():
            self._report(metrics, checkpoint)

    def _report(self, metrics: dict[str, Any], checkpoint: Any) -> None:
        data = clean_metrics(metrics)
        self.reports.append(data)
        seq = self.first_seq + len(self.reports)
        if checkpoint is not None:
            self.checkpoint, self.checkpoint_seq = checkpoint, seq
        diverged = self._diverged(data)
        wait = not diverged and (self.wait_all or data.get(self.resource) in self.wait_at)
        extra = self.output.take() if self.output is not None else {}
        if wait:  # expected before it is asked for: the answer may come back at once
            name = verdict_name(self.prefix, self.execution, seq)
            _answers[name] = answer = _Answer()
            extra["reply"] = self.reply_to
        message = self.message("report", seq=seq, data=data, wait=wait, **extra)
        self._send(self.topic, message)
        if diverged:
            raise TrialDiverged(diverged)
        if wait:
            try:
                verdict = self._verdict(answer, message)
            finally:
                del _answers[name]
            if answer.verdict is not None and self._delivery is not None:
                self._delivery.answered(message)
            if verdict == PAUSE:
                raise TrialPaused()
            if verdict == STOP:
                raise TrialStopped()
        elif self._past_end(data):
            raise TrialEnded()
        elif time.monotonic() >= self._next_stop_check:
            self._next_stop_check = time.monotonic() + STOP_CHECK_INTERVAL
            if self._study_stopped():
                raise TrialStopped()
        if checkpoint is not None and self.keeper is not None:  # it goes on from this one
            self.keeper.reported(seq, data, checkpoint)

    def _past_end(self, data: dict[str, Any]) -> bool:
        """Whether this report's resource level is past the scheduler's max_t. The report at
        max_t itself does not end the trial: a loop that ends there runs its own code after
        the loop (a last evaluation, a saved model); only a loop that goes on is ended."""
        level = data.get(self.resource)
        return (self.end_at is not None and isinstance(level, numbers.Real)
                and not isinstance(level, bool) and level > self.end_at)

    def _diverged(self, data: dict[str, Any]) -> str | None:
        """Why the trial ends here, where this report's value of the study's metric is NaN or
        infinite after finite ones (a loss that blew up: the trial trained every epoch after it
        to fail at its end, or, under ASHA, ended "stopped" and left the summary's table
        without a word: first-day test, round 28); None otherwise. A metric that starts NaN (a
        score undefined at the first epochs) goes on."""
        value = data.get(self.metric) if self.metric is not None else None
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            return None
        if math.isfinite(value):
            self._finite = True
            return None
        if not self._finite:
            return None
        at = data.get(self.resource)
        where = f" at {self.resource} {at}" if at is not None else ""
        return (f"the metric {self.metric!r} was {value}{where}, after finite values: the trial "
                "diverged, and ended there")

    def _verdict(self, answer: _Answer, message: dict[str, Any]) -> str:
        deadline = time.monotonic() + self.verdict_timeout
        # in slices, so that a study that ended meanwhile frees this worker at once
        while not answer.event.wait(min(STOP_CHECK_INTERVAL,
                                        max(0.01, deadline - time.monotonic()))):
            if time.monotonic() >= deadline or self._study_stopped():
                return STOP  # nobody will use what this trial computes
            if self._delivery is not None:
                self._delivery.again(self.topic, message)
        return answer.verdict

    def _study_stopped(self) -> bool:
        from distributed import Event, get_client

        return Event(f"{self.prefix}-stop", client=get_client()).is_set()


class LocalContext:
    """The target of ``report()`` when trial code runs once in the notebook's own process."""

    restored = None  # a local run never resumes

    def __init__(self, on_report: Callable[[dict[str, Any]], None] | None = None):
        self.reports: list[dict[str, Any]] = []
        self.on_report = on_report
        self.checkpoint: Any = None

    def report(self, metrics: dict[str, Any], checkpoint: Any = None) -> None:
        """Keep the report (and show it); never stops."""
        data = clean_metrics(metrics)
        if checkpoint is not None:
            self.checkpoint = checkpoint
        self.reports.append(data)
        if self.on_report is not None:
            self.on_report(data)


@user_facing
def report(*values: Any, checkpoint: Any = None, **metrics: Any) -> None:
    """Report intermediate metrics from inside a trial, e.g. ``report(epoch=3, accuracy=0.91)``.

    At a scheduler's decision point this waits for the verdict and, when the trial is stopped or
    paused, raises :class:`TrialStopped` or :class:`TrialPaused` (let them propagate: nbtune records
    the trial's state). ``checkpoint=obj`` hands nbtune the state a paused trial resumes from
    (:func:`get_checkpoint` returns it then); it stays on the Dask worker and never travels to the
    notebook. One dict of them works too, ``report({"epoch": 3, "accuracy": 0.91})`` (Ray Tune's
    ``tune.report(metrics)``, and its ``metrics={...}``).
    """
    if not values and isinstance(metrics.get("metrics"), dict):  # Ray Tune 2's train.report
        values = (metrics.pop("metrics"),)                         # (metrics={...})
    if len(values) == 1 and isinstance(values[0], dict) and all(
            isinstance(k, str) for k in values[0]):
        metrics = {**values[0], **metrics}
    elif values:
        raise TypeError(f"report() takes each value by its name, report(epoch=N, accuracy=x), "
                        f"not {len(values)} value{'s' if len(values) > 1 else ''} without a name "
                        "(Optuna's trial.report(value, step) is report(epoch=step, "
                        "accuracy=value) here)")
    ctx = _current.get() or _the_only_trial("report()")
    if ctx is None:
        raise RuntimeError("report() was called outside a trial: call it from the function you "
                           "pass to nbtune.tune(...) or from a %%tune cell")
    if isinstance(checkpoint, (str, os.PathLike)) and os.path.isdir(checkpoint):
        warn(FOLDER_NOTE, NbtuneWarning)
    if in_sanity_check():
        warn(SANITY_NOTE, NbtuneWarning)
        return
    ctx.report(metrics, checkpoint)


# why a folder's path is no checkpoint (Ray Tune's Checkpoint.from_directory): one text for
# every trial, so that the summary counts them as one warning (a path in it made each its own),
# short enough for the summary's line of it
FOLDER_NOTE = ("checkpoint= is a folder's path: a resume gets the path back, not the files; pass "
               "the state (a dict)")


@user_facing
def get_checkpoint() -> Any:
    """The checkpoint a resumed trial reported before its pause; None on a fresh start."""
    ctx = _current.get() or _the_only_trial("get_checkpoint()")
    return None if ctx is None else ctx.restored


def trial_id() -> int | None:
    """The id of the trial this code runs in (Optuna's ``trial.number``: a per-trial seed, a
    file name of its own); None outside a trial and in ``%%tune --local``'s one run."""
    ctx = _current.get() or _the_only_trial("trial_id()")
    return ctx.trial_id if isinstance(ctx, TrialContext) else None


def current_trial() -> "TrialContext | None":
    """The trial this thread runs on a Dask worker, or None."""
    ctx = _current.get()
    return ctx if isinstance(ctx, TrialContext) else None


_active_lock = threading.Lock()
_active: dict[int, "TrialContext | LocalContext"] = {}  # the trials running in this process


def _the_only_trial(call: str) -> "TrialContext | LocalContext | None":
    """For a thread the trial started (threads do not inherit the trial's context): the trial
    this process runs, where it runs one; an error where it runs several."""
    with _active_lock:
        running = list(_active.values())
    if len(running) > 1:
        raise RuntimeError(f"{call} was called from a thread the trial started, while this worker "
                           f"runs {len(running)} trials at once, so nbtune cannot tell whose it "
                           f"is: call {call} from the trial's own thread, or start the thread in "
                           "the trial's context (ctx = contextvars.copy_context(); "
                           "threading.Thread(target=ctx.run, args=(work,)))")
    return running[0] if running else None


def activate(ctx: "TrialContext | LocalContext") -> contextvars.Token:
    """Make ``ctx`` the target of ``report()`` in this thread."""
    with _active_lock:
        _active[id(ctx)] = ctx
    return _current.set(ctx)


def deactivate(token: contextvars.Token) -> None:
    """Undo :func:`activate`."""
    ctx = _current.get()
    with _active_lock:
        _active.pop(id(ctx), None)
    _current.reset(token)
