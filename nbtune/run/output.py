"""A trial's own output: what it writes to stdout and stderr and the warnings it raises.

``sys.stdout``, ``sys.stderr`` and ``warnings.showwarning`` belong to the whole worker process, and
a worker may run several trials at once in threads. :func:`install` replaces them once per process
with routers that send a write (or a warning) to the :class:`Capture` of the trial running in the
calling thread (a context variable), and to the real stream otherwise. So nothing a trial prints
reaches the process's own streams, which for nbtune's embedded cluster are the notebook kernel's:
Jupyter would show them in whatever cell runs at the time.

A capture is bounded (:class:`BoundedText`: the first and the last characters, with how many were
cut between them). The whole lines written since the last report travel with the next report; with
``stream=True`` they are also sent on their own, at most every ``STREAM_INTERVAL`` seconds.
"""
from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
import time
import warnings
from collections import deque
from typing import Any, Callable

from ..scoped import within
from .ignored import unignored
from .terminal import Terminal

HEAD = 2_000  # characters kept from the start of a trial's output
TAIL = 8_000  # and from its end
PENDING = 8_000  # characters of whole lines waiting for the next report, at most
MAX_WARNINGS = 50  # distinct warnings kept per trial
STREAM_INTERVAL = 0.5  # seconds between two output messages of a streaming trial

_active: contextvars.ContextVar["Capture | None"] = contextvars.ContextVar(
    "nbtune_output", default=None)


def cut_note(n: int) -> str:
    """The line that stands for ``n`` characters cut from the middle of an output."""
    return f"\n[... {n:,} characters cut ...]\n"


class BoundedText:
    """Text kept to its first ``head`` and last ``tail`` characters; ``cut`` counts the rest."""

    def __init__(self, head: int = HEAD, tail: int = TAIL, text: str = ""):
        self.head_limit, self.tail_limit = head, tail
        self.head = ""
        self._tail: deque[str] = deque()
        self._tail_len = 0
        self.cut = 0
        if text:
            self.write(text)

    def write(self, text: str) -> None:
        """Append ``text``."""
        if len(self.head) < self.head_limit:
            room = self.head_limit - len(self.head)
            self.head += text[:room]
            text = text[room:]
        if not text:
            return
        self._tail.append(text)
        self._tail_len += len(text)
        if self._tail_len > 2 * self.tail_limit:  # compact now and then, not on every write
            self._trim()

    def _trim(self) -> None:
        excess = self._tail_len - self.tail_limit
        if excess <= 0:
            return
        joined = "".join(self._tail)
        self._tail = deque([joined[excess:]])
        self._tail_len -= excess
        self.cut += excess

    def __len__(self) -> int:
        return len(self.head) + self._tail_len

    def text(self) -> str:
        """The text kept, with a line saying how much was cut from its middle."""
        self._trim()
        tail = "".join(self._tail)
        return self.head + (cut_note(self.cut) if self.cut else "") + tail


def warning_record(message: Any, category: type, filename: str, lineno: int) -> dict[str, Any]:
    """A warning as plain data: its category's name and module, its text, where it was raised."""
    return {"category": getattr(category, "__name__", str(category)), "message": str(message),
            "where": f"{filename}:{lineno}", "count": 1,
            "module": getattr(category, "__module__", None)}  # the class's (run/ignored.py)


def warning_key(record: dict[str, Any]) -> tuple[str, str]:
    """What makes two warnings the same one: category and text."""
    return record["category"], record["message"]


def merge_warnings(known: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    """Add ``new`` warning records to ``known`` in place, counting repeats."""
    index = {warning_key(r): r for r in known}
    for record in new:
        seen = index.get(warning_key(record))
        if seen is not None:
            seen["count"] += record.get("count", 1)
        elif len(known) < MAX_WARNINGS:
            known.append(dict(record))
            index[warning_key(record)] = known[-1]


class Capture:
    """The output of one execution of one trial, written from its thread."""

    def __init__(self, send: Callable[[dict[str, Any]], None] | None = None,
                 stream: bool = False, before: dict[str, Any] | None = None):
        before = before or {}
        self.text = BoundedText(text=before.get("output") or "")  # a resumed trial's earlier part
        self.warnings: list[dict[str, Any]] = [dict(w) for w in before.get("warnings") or ()]
        self._send, self.stream = send, stream and send is not None
        self._pending = BoundedText(head=0, tail=PENDING)  # whole lines not sent yet
        self._screen = Terminal()  # the lines still being written, as a terminal shows them
        self._new_warnings: list[dict[str, Any]] = []
        self._next_send = 0.0
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        """Keep ``text``; whole lines also wait for the next report (or stream message)."""
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            self._keep(self._screen.write(text))
            if self._screen.unfinished > PENDING:  # a line that never ends:
                self._keep(self._screen.lines(partial=True) + "\n")  # send it in pieces
        if self.stream and self._pending._tail_len and time.monotonic() >= self._next_send:
            self._send(self.take())
        return len(text)

    def _keep(self, lines: str) -> None:
        """Keep whole ``lines`` that left the screen: in the output, and for the next report."""
        if lines:
            self.text.write(lines)
            self._pending.write(lines)

    def warn(self, record: dict[str, Any]) -> None:
        """Keep a warning raised by the trial."""
        with self._lock:
            merge_warnings(self.warnings, [record])
            merge_warnings(self._new_warnings, [record])

    def take(self) -> dict[str, Any]:
        """The whole lines and warnings not sent yet, as message fields (empty when none)."""
        with self._lock:
            out: dict[str, Any] = {}
            self._keep(self._screen.lines())  # the lines above the cursor: none is redrawn now
            if len(self._pending):
                out["output"] = self._pending.text()
                self._pending = BoundedText(head=0, tail=PENDING)
            if self._new_warnings:
                out["warnings"], self._new_warnings = self._new_warnings, []
            self._next_send = time.monotonic() + STREAM_INTERVAL
            return out

    def result(self) -> dict[str, Any]:
        """For the trial's outcome: all its output and warnings, and the part not sent yet."""
        with self._lock:
            self._keep(self._screen.lines())
            tail = self._screen.lines(partial=True)  # its last lines, as they ended
            self.text.write(tail)
        rest = self.take()
        unsent = rest.get("output", "") + (tail + "\n" if tail else "")
        return {"output": self.text.text(), "warnings": self.warnings,
                "output_rest": {"output": unsent, "warnings": rest.get("warnings", [])}}

    def activate(self) -> contextvars.Token:
        """Route this thread's writes and warnings here."""
        install()
        # a catch-all "default" filter at the end changes no warning's fate, but changing the
        # filters clears the registries by which Python shows a warning once per place: so each
        # trial sees the warnings it raises, even those an earlier trial here raised already
        warnings.simplefilter("default", append=True)
        return _active.set(self)

    @staticmethod
    def deactivate(token: contextvars.Token) -> None:
        """Undo :meth:`activate`."""
        _active.reset(token)


class ThreadRouter:
    """Stands in for ``sys.stdout`` or ``sys.stderr``: a trial's thread writes to its capture."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: str) -> int:
        """To the calling thread's trial, else to the real stream."""
        capture = _active.get()
        if capture is not None:
            return capture.write(text)
        return self._stream.write(text) if self._stream is not None else len(text)

    def writelines(self, lines) -> None:
        """:meth:`write` each line."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Flush the real stream (a trial's capture needs none)."""
        if _active.get() is None and self._stream is not None:
            self._stream.flush()

    def isatty(self) -> bool:
        """False in a trial (its output is kept as text), else the real stream's answer."""
        if _active.get() is not None or self._stream is None:
            return False
        return self._stream.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


# The warning categories a trial's code keeps out of its record for a while (a thread's own, as
# the capture is): see muted().
_muted: contextvars.ContextVar[tuple[type, ...]] = contextvars.ContextVar("nbtune_muted",
                                                                          default=())


@contextlib.contextmanager
def muted(*categories: type):
    """Within it, the warnings of ``categories`` this thread raises are dropped, where
    ``warnings.catch_warnings`` would change the filters of every thread of the worker: SearchCV
    fits a rung's few iterations, whose ConvergenceWarning says to raise max_iter, which already
    is the search's (first-day test, round 20)."""
    with within(_muted, _muted.get() + categories):
        yield


def _show(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, _muted.get()):
        return
    capture = _active.get()
    if capture is not None and file is None:
        capture.warn(warning_record(message, category, filename, lineno))
    else:
        _original_show(message, category, filename, lineno, file, line)


_original_show = warnings.showwarning
_install_lock = threading.Lock()


def install() -> None:
    """Put the routers in place in this process (again, where something replaced them)."""
    global _original_show
    with _install_lock:
        for name in ("stdout", "stderr"):
            if not isinstance(getattr(sys, name), ThreadRouter):
                setattr(sys, name, ThreadRouter(getattr(sys, name)))
        if warnings.showwarning is not _show:
            _original_show = warnings.showwarning
            warnings.showwarning = _show


class TrialOutputs:
    """The loop's side: each running trial's output as its messages bring it, then its outcome's."""

    def __init__(self, observer: Any):
        self.observer = observer
        self._texts: dict[int, BoundedText] = {}

    def begin(self, trial: Any, fresh: bool) -> None:
        """The trial is submitted: a fresh attempt starts with no output, a resumed one keeps it."""
        self._texts.pop(trial.id, None)
        if fresh:
            trial.output, trial.warnings = "", []

    def add(self, trial: Any, fields: dict[str, Any]) -> None:
        """Take the ``output`` and ``warnings`` a message carries, and tell the observer."""
        text, new = fields.get("output") or "", unignored(fields.get("warnings") or [])
        if not text and not new:
            return
        if text:
            buffer = self._texts.get(trial.id)
            if buffer is None:
                buffer = self._texts[trial.id] = BoundedText(text=trial.output)
            buffer.write(text)
            trial.output = buffer.text()
        merge_warnings(trial.warnings, new)
        self.observer.trial_output(trial, text, new)

    def end(self, trial: Any, outcome: dict[str, Any]) -> None:
        """The trial's execution returned: its outcome holds the whole output, and what of it
        no message brought yet."""
        self.add(trial, outcome.get("output_rest") or {})
        self._texts.pop(trial.id, None)
        if "output" in outcome:
            trial.output, trial.warnings = outcome["output"], unignored(outcome.get("warnings")
                                                                        or [])
