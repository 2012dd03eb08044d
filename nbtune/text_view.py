"""The view of a study outside a notebook: one progress line on a terminal, rewritten in place,
or in a log a line now and then, and the plain summary at the end (a script, a nightly job)."""
from __future__ import annotations

import sys
import time

from . import trial as T
from .tracker import Tracker

LOG_EVERY = 30.0  # seconds between two progress lines the text view writes to a log (no terminal)


class TextProgress(Tracker):
    """One progress line on a terminal (rewritten in place), or in a log (no terminal) the line
    every :data:`LOG_EVERY` seconds, and a plain summary at the end.

    With ``show_output`` the trials' lines are written above the progress line as they come."""

    writes_lines = True

    def __init__(self, *args, stream=None, **kwargs):
        kwargs.setdefault("interval", 1.0)
        super().__init__(*args, **kwargs)
        self.stream = stream if stream is not None else sys.stderr
        self.tty = getattr(self.stream, "isatty", lambda: False)()  # the line redrawn in place
        # when a log (no terminal) was last given the line: never, so the first redraw writes
        # one, that a nightly log shows the study started (check round 43: 30 s of nothing)
        self.logged = float("-inf")

    def line(self) -> str:
        """The progress line: trials, elapsed, counts, best."""
        _, label = self.progress()
        counts = T.counts_text(self.counts(), self.ended_as(), " ")
        lost = (self.connection() or self.stalled() or self.strained() or self.choosing()
                or self.long_running())
        return (f"nbtune {self.study.name}: {label} | {counts} | "
                + (f"{lost} | " if lost else "") + self.best_line())

    def _write_fresh(self) -> None:
        lines = []
        while self.fresh:
            lines.append(self.fresh.popleft())
        if lines:
            self.stream.write(("\r\x1b[2K" if self.tty else "") + "\n".join(lines) + "\n")

    def draw(self) -> None:
        self._write_fresh()
        if self.tty:
            self.stream.write("\r\x1b[2K" + self.line()[:200])
        elif time.monotonic() - self.logged >= LOG_EVERY:  # a log: a whole line now and then
            self.logged = time.monotonic()
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def finish(self) -> None:
        self._redraw()
        self._write_fresh()
        self.stream.write(("\n" if self.tty else "") + str(self.study.summary()) + "\n")
        self.stream.flush()
