"""Tasks of a trial's own: a trial that splits its work (``SearchCV``'s folds) runs the pieces
as Dask tasks, so that they spread over the workers that are free, and waits for them.

Only where threads will be free: the loop lets a trial split when the study has fewer trials
left to send than the workers have threads (a grid of three candidates on eight threads, or the
last trials of a study). While trials keep every thread busy, pieces would only add their round
trips (measured: about 10% fewer candidates in the same time on two saturated workers).

While it waits the trial holds no worker thread: it leaves the worker's thread pool
(``distributed.secede``) the first time it sends a piece, and never takes a thread again. What it
does itself afterwards is bookkeeping (averaging scores, reporting, waiting for a rung's verdict),
so the worker's threads do the pieces, never more at once than the worker has. The pieces go
before every trial waiting in a queue (a higher Dask priority), the oldest trial's first, so a
good candidate finishes as soon as the free threads allow instead of behind new candidates.

A piece reads the study's scattered data by its key (:class:`~nbtune.run.task.with_parameters`),
so nothing is sent again. That dependency would tie every piece to the workers that hold the
data, which is the trial's own (Dask's memory manager drops the copies that idle workers fetched
for earlier trials): both folds of a trial queued there while the other worker sat idle, until
work stealing moved one, seconds later or not at all. So each batch of pieces asks the scheduler
once which workers have a thread free, and names one worker for each piece: the trial's own
first (its thread left the pool), then the free ones, in turn. Dask fetches the data there, and
may still move a piece whose worker got busy (the name is a preference, not a restriction).
A trial that holds Dask resources (a GPU) runs its pieces itself: its
thread keeps the resource while it waits, and a piece asking for the same one could wait for
ever, so the loop never lets such a trial split. Each piece is halted with its study, as a
trial is (:mod:`nbtune.run.halt`).

A piece's function and arguments travel pickled by :func:`~nbtune.run.cellcode.dumps`, as bytes
the scheduler does not open; only the data's futures are Dask's to resolve. The scheduler runs
in the notebook's process with the embedded cluster and unpickles what a worker submits: a
class the user defined (an estimator in a cell, pickled by value) was then unpickled there, and
cloudpickle, finding the class already in that process, set its methods to the copies, whose
code it names ``<dynamic-code>``: the user's own class lost its source lines for the rest of
the session (first-day test, round 9).
"""
from __future__ import annotations

import uuid
from typing import Any, Callable, Sequence

from .cellcode import dumps, loads
from .channel import TrialStopped, current_trial
from .halt import TrialHalted, halting
from .output import Capture
from .task import PieceFailed, unwrapped, user_traceback

# Dask priority of a trial's pieces: above every queued trial (priority -trial id), the oldest
# trial's pieces first
PIECE_PRIORITY = 1 << 40
POLL = 0.2  # seconds between two looks at a halt while the trial waits for its pieces
# the pieces' keys start with this, so that Dask's task prefix of pieces is not the trials' one
# ("nbtune"): the scheduler places tasks by the mean duration of their prefix, and the trials'
# (a trial may last milliseconds) made it put every piece of a trial on one worker
PIECE_KEY = "nbtune_piece"


class Subtasks:
    """The running trial's way to run pieces of its work as tasks of their own."""

    def __init__(self, client: Any, data: dict[str, Any], prefix: str, execution: str,
                 trial_id: int, output: Capture | None = None):
        self.client, self.data = client, data  # data: the scattered values' futures, by name
        self.prefix, self.execution, self.trial_id = prefix, execution, trial_id
        self.output = output  # the trial's capture, which the pieces' output joins
        self._seceded = False
        self._places: list[str] = []  # where this batch's next pieces go, in turn
        self._sent = 0  # pieces of this batch sent so far
        self._nthreads: dict[str, int] | None = None  # by worker, asked once

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` as a task of its own; futures among the arguments (such as
        :attr:`data`'s) are resolved on the worker that runs it. Returns its future."""
        from distributed import Future

        futures: list[Any] = []

        def hold(value: Any) -> Any:  # a future's place in the pickled call: its index
            if not isinstance(value, Future):
                return value
            futures.append(value)
            return _Slot(len(futures) - 1)

        call = dumps((fn, [hold(a) for a in args], {k: hold(v) for k, v in kwargs.items()}))
        if not self._seceded:
            from distributed import secede

            secede()  # this thread leaves the pool: the pieces get its place
            self._seceded = True
            ctx = current_trial()
            if ctx is not None:  # its process runs other tasks beside it from now on
                ctx.split = True
        if not self._places:
            self._places = self._free_workers()
        where = self._places[self._sent % len(self._places)]
        self._sent += 1
        name = f"{self.execution}-{uuid.uuid4().hex[:8]}"
        return self.client.submit(_piece, self.prefix, name, self.trial_id, call, *futures,
                                  key=f"{PIECE_KEY}-{self.prefix}-{name}", pure=False,
                                  priority=PIECE_PRIORITY - self.trial_id, workers=[where],
                                  allow_other_workers=True)

    def _free_workers(self) -> list[str]:
        """This worker, then every other one with a thread that no task holds, by the
        scheduler's count now (one round trip per batch of pieces)."""
        from distributed import get_worker

        worker = get_worker()
        own = worker.get_current_task()  # the trial: it left its thread to the pieces
        processing = self.client.processing()
        if self._nthreads is None or not processing.keys() <= self._nthreads.keys():
            self._nthreads = self.client.nthreads()
        free = [address for address, keys in processing.items() if address != worker.address
                and sum(key != own for key in keys) < self._nthreads.get(address, 1)]
        return [worker.address, *free]

    def gather(self, futures: Sequence[Any]) -> list[Any]:
        """The pieces' results, in order, waiting in short slices so that a halt of the study
        reaches this thread. A piece that raised raises :class:`PieceFailed` here, with its
        traceback; one halted with the study halts the trial. What the pieces printed and
        warned joins the trial's own output, in the pieces' order."""
        from distributed import wait

        while True:
            try:
                wait(futures, timeout=POLL)
                break
            except TimeoutError:
                continue
        results = [f.result() for f in futures]
        self._places, self._sent = [], 0  # the next batch looks again
        for _, _, printed in results:
            if self.output is not None and printed:
                if printed["output"]:
                    self.output.write(printed["output"])
                for record in printed["warnings"]:
                    self.output.warn(record)
        for state, value, _ in results:
            if state == HALTED:
                raise TrialHalted()
            if state == FAILED:
                raise PieceFailed(value)
        return [value for _, value, _ in results]


DONE, FAILED, HALTED = "done", "failed", "halted"


class _Slot:
    """The place of a future's value in a piece's pickled call: the index of the value
    among those Dask resolved."""

    def __init__(self, index: int) -> None:
        self.index = index


def _piece(prefix: str, name: str, trial_id: int, call: bytes,
           *resolved: Any) -> tuple[str, Any, dict[str, Any] | None]:
    """Run one piece on a worker, halted with its study: (DONE, its value, its output), (FAILED,
    the traceback, its output) or (HALTED, None, None). It never raises, so that a worker does not
    log a failed task for what its trial reports. ``call`` is the pickled (function, arguments,
    keyword arguments), whose futures' values Dask resolved into ``resolved``."""
    fn, args, kwargs = loads(call)

    def value(held: Any) -> Any:
        return unwrapped(resolved[held.index]) if isinstance(held, _Slot) else held

    args, kwargs = [value(a) for a in args], {k: value(v) for k, v in kwargs.items()}
    capture = Capture()
    token = capture.activate()
    try:
        with halting(prefix, name, trial_id):  # the study's end halts it, as it halts trials
            value = fn(*args, **kwargs)
    except TrialStopped:
        return HALTED, None, None
    except Exception as exc:
        return FAILED, user_traceback(exc), capture.result()
    finally:
        Capture.deactivate(token)
    return DONE, value, capture.result()


def subtasks() -> Subtasks | None:
    """The running trial's :class:`Subtasks`, or None where its work stays in its thread: outside
    a trial on a Dask worker, where the loop did not let it split (no threads to spare, or Dask
    resources), and for a trial without scattered data (each piece would carry the data)."""
    ctx = current_trial()
    if ctx is None or not ctx.may_split or not ctx.data_keys:
        return None
    from distributed import Future, get_client

    client = get_client()
    data = {name: Future(key, client=client) for name, key in ctx.data_keys.items()}
    return Subtasks(client, data, ctx.prefix, ctx.execution, ctx.trial_id, ctx.output)
