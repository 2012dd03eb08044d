"""A study's way onto its cluster: its client, what its workers run at once, and its data sent.

:func:`nbtune.tune` does this before the study's loop starts, in the caller's thread, so that a
wrong address or an unmet resource is one line in the cell. A background study on nbtune's own
cluster while that cluster still starts (the cell right after ``%load_ext nbtune``) does it on
its own thread instead: its cell returned only once the cluster was up, 4 to 18 s on a loaded
machine where the README said at once (first-day test, round 58). Nothing the user typed can
fail there that was not checked before; meanwhile its view reads :class:`Starting` for the
workers' capacity, and says the cluster is starting, and its ``stop()`` is kept for its loop
(:class:`StopLater`). A resumed study, one that asks for resources, a script's (its exit closed
the cluster before it stopped the study) and SearchCV's (:func:`starts_now`) connect at once.
"""
from __future__ import annotations

import contextlib
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .caller import warn_note
from .live import StartingNotice, starting_notice
from .run.cluster import is_embedded
from .run.embedded import tell_environ
from .run.sending import Sending, check_fits, memory_limits, sending_line
from .run.workers import connect
from .scoped import within

if TYPE_CHECKING:
    from .run.loop import Loop


@dataclass
class Connected:
    """A study's client, its workers' :class:`~nbtune.run.resources.Capacity`, what each trial
    asks of them, and its data on the workers (``shared``; ``carried``: what each trial's
    task carries)."""

    client: Any
    capacity: Any
    asked: Any
    send_again: Callable
    shared: dict[str, Any]
    carried: Any


def connect_and_send(cluster: Any, security: Any, resources: Any, trial_fn: Any, pickled: Any,
                     version: str, progress: Any = None,
                     notice: StartingNotice | None = None, says: bool = True
                     ) -> tuple[Connected, StartingNotice | None]:
    """Connect to ``cluster`` and send the trials' function and data to every worker; where the
    sending takes a while, a line says so (``says``: shown in the caller's cell, in the place of
    ``notice``, the line shown while the cluster started)."""
    client, capacity, asked = connect(cluster, security, resources, version)
    if is_embedded(cluster):  # what the notebook set since its workers started
        tell_environ(client)
    sending = Sending(client, trial_fn, pickled)  # every worker gets a copy, before any trial
    sizes = sending.sizes  # what is not on the workers already, from the last study
    tight = check_fits(memory_limits(client), sizes, sending.freed)
    if tight is not None:
        warn_note(tight)
    line = sending_line(sizes, len(capacity.workers))
    if line is not None and says:  # seconds to a minute of a blank cell (first-day test, 21)
        if notice is not None:
            notice.say(line)
        else:
            notice = starting_notice(progress, line)
    shared, carried = sending.send()  # before the study is written: may fail
    return Connected(client, capacity, asked, sending.send_again, shared, carried), notice


class Starting:
    """What a view reads for the workers' capacity while the study's cluster starts: no slot,
    and ``line`` for what the study waits for; the cluster's own capacity once it is up."""

    def __init__(self, line: str):
        self.line = line
        self.capacity: Any = None

    def __call__(self) -> int:
        return self.capacity() if self.capacity is not None else 0

    def starved(self) -> str:
        return self.capacity.starved() if self.capacity is not None else self.line

    def paused(self) -> str:
        return self.capacity.paused() if self.capacity is not None else ""


class StopLater:
    """A background study's ``stop()``: its loop's, or, while the loop is not made yet (its
    cluster starting), kept for the loop once it is."""

    def __init__(self, loop: Loop | None):
        self.loop, self.reason = loop, None
        self._lock = threading.Lock()

    def took(self, loop: Loop) -> Loop:
        with self._lock:
            self.loop = loop
            if self.reason is not None:
                loop.request_stop(self.reason)
        return loop

    def __call__(self, reason: str = "stopped") -> None:
        with self._lock:
            if self.loop is None:
                self.reason = self.reason or reason
                return
        self.loop.request_stop(reason)


# a background study connects on its own thread while nbtune's cluster starts (SearchCV, which
# waits for its study, raises what a start meets in its caller's thread instead)
_STARTS_LATER: ContextVar[bool] = ContextVar("nbtune_starts_later", default=True)


def starts_later() -> bool:
    """Whether a background study may connect on its own thread (see :func:`starts_now`)."""
    return _STARTS_LATER.get()


@contextlib.contextmanager
def starts_now():
    """Within it, tune() connects before it returns, even for a background study."""
    with within(_STARTS_LATER, False):
        yield
