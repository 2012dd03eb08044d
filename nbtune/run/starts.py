"""A trial's start message, sent only where it tells the notebook something.

The notebook learns that a trial started from a "start" message on the report channel
(:mod:`nbtune.run.channel`): it records the trial's worker and start time, it tells a trial that
Dask ran again elsewhere (a new execution), and it tells a queued trial whose worker died before
it started (sent again without counting an attempt) from a running one (a retry). Most of what
the message costs is paid in the notebook process, whose scheduler and client handle each event;
on a small machine that process shares the CPUs with the workers, and for trials of a few
milliseconds the message and the row it writes were about a tenth of all the CPU a trial cost.

So a trial announces its start :data:`START_DELAY` seconds after it starts, or just before its
first other message (a report, its output, a piece's warnings), whichever comes first. A trial
that ends sooner without a message never sends it: its result carries its worker and start time.
What is given up: a trial that is silent for the first :data:`START_DELAY` seconds looks
unstarted to the notebook meanwhile, as a queued trial does. If it takes its worker down then,
it is sent again once without counting an attempt (``UNSTARTED_DEATHS`` in
:mod:`nbtune.run.completions`; a second such death counts); if the study ends then and it is the newest
trial, it is taken back, and a resumed study runs its config again.

One thread per worker process sends the messages that fall due; a trial only appends its message
to that thread's queue.
"""
from __future__ import annotations

import collections
import threading
import time
from typing import Any, Callable

START_DELAY = 0.25  # seconds a trial runs, silent, before its start message is sent

_cond = threading.Condition()
_due: collections.deque["StartNotice"] = collections.deque()  # in the order they fall due
_thread: threading.Thread | None = None


class StartNotice:
    """One execution's start message, held until it falls due or the trial sends another
    message, whichever is first; sent at most once."""

    __slots__ = ("_send", "_message", "due")

    def __init__(self, send: Callable[[dict[str, Any]], None], message: dict[str, Any],
                 due: float):
        self._send, self._message, self.due = send, message, due

    def flush(self) -> None:
        """Send the message now, unless it was sent or dropped. Under the lock: a message the
        trial sends after this call goes after the start message, never before it. Once sent
        or dropped it stays so: a trial's later reports pass without taking the lock."""
        if self._message is None:
            return
        with _cond:
            message, self._message = self._message, None
            if message is not None:
                self._send(message)

    def drop(self) -> None:
        """The trial ended before its start was announced: its result says what the message
        would have."""
        with _cond:
            self._message = None


def announce_later(send: Callable[[dict[str, Any]], None],
                   message: dict[str, Any]) -> StartNotice:
    """Hold ``message`` (a trial's start) for :data:`START_DELAY` seconds, then ``send`` it
    unless the returned notice was flushed or dropped before."""
    global _thread
    notice = StartNotice(send, message, time.monotonic() + START_DELAY)
    with _cond:
        _due.append(notice)
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_send_due, name="nbtune-start-notices",
                                       daemon=True)
            _thread.start()
        elif len(_due) == 1:
            _cond.notify()  # the thread sleeps without a deadline: it has one now
    return notice


def _send_due() -> None:
    """The sending thread: flush each notice when it falls due."""
    while True:
        with _cond:
            while not _due:
                _cond.wait()
            wait = _due[0].due - time.monotonic()
            if wait > 0:
                _cond.wait(wait)  # every notice appended meanwhile falls due later
                continue
            notice = _due.popleft()
        try:
            notice.flush()
        except Exception:  # the worker is closing: nobody left to tell
            pass
