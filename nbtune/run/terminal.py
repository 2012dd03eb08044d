"""A trial's output as a terminal would show it once its redraws settle.

Progress bars redraw their line in place: Keras's steps back over it (``\\b``), tqdm returns to
its start (``\\r``), rich (Lightning's bar) erases it (``ESC[2K``) and moves the cursor up
(``ESC[1A``) to redraw the lines above, all of it in colours (``ESC[1m``). Kept as written, a
trial's output was those frames: 956 escape codes and 4,602 backspaces in one summary, the
output's 10,000 characters filled with redraws and most epochs' lines cut (first-day test,
round 30). :class:`Terminal` plays the writes on a small screen instead: what leaves it is each
line's last state, without colours, and a line is given up only once it has scrolled out of
reach of the cursor, or is asked for (:meth:`Terminal.lines`).
"""
from __future__ import annotations

import re

# How many lines above the cursor a redraw may still reach: rich's live display redraws the
# lines it drew (a bar and its metrics), tqdm and Keras their one line.
REACH = 8

_TOKEN = re.compile(r"\x1b\[([0-9;?]*)[ -/]*([@-~])|\x1b[@-Z\\-_]|\r\n|[\r\n\b]|[^\x1b\r\n\b]+")


class Terminal:
    """A screen of a few lines that writes play on (see the module)."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = [[]]
        self.row = self.col = 0

    def write(self, text: str) -> str:
        """Play ``text``; returns the whole lines that left the screen (each ends with a
        newline)."""
        if not any(c in text for c in "\r\b\x1b") and self.col == len(self.rows[self.row]):
            head, newline, rest = text.partition("\n")  # the common case: plain lines
            self.rows[self.row].extend(head)
            self.col += len(head)
            if newline:
                for line in rest.split("\n"):
                    self._down()
                    self.rows[self.row].extend(line)
                    self.col = len(line)
            return self._scrolled()
        for match in _TOKEN.finditer(text):
            token = match.group(0)
            if token in ("\n", "\r\n"):
                self._down()
            elif token == "\r":
                self.col = 0
            elif token == "\b":
                self.col = max(0, self.col - 1)
            elif token[0] != "\x1b":
                self._put(token)
            elif match.group(2) is not None:
                self._control(match.group(1), match.group(2))
        return self._scrolled()

    def lines(self, partial: bool = False) -> str:
        """The lines above the cursor, given up now; with ``partial``, the screen's other lines
        too, the cursor's own (where it holds text) without a newline, as it was written."""
        done, self.rows, self.row = self.rows[:self.row], self.rows[self.row:], 0
        text = "".join(_line(r) for r in done)
        if partial:
            below = [_line(r) for r in self.rows]
            text += "".join(below)[:-1] if any(r for r in self.rows) else ""
            self.rows, self.col = [[]], 0
        return text

    @property
    def unfinished(self) -> int:
        """The characters of the cursor's line, which no newline has ended yet."""
        return len(self.rows[self.row])

    def _put(self, chars: str) -> None:
        line = self.rows[self.row]
        if self.col > len(line):
            line.extend(" " * (self.col - len(line)))
        line[self.col:self.col + len(chars)] = chars
        self.col += len(chars)

    def _down(self) -> None:
        self.row += 1
        self.col = 0
        if self.row == len(self.rows):
            self.rows.append([])

    def _control(self, params: str, final: str) -> None:
        """The CSI sequences of progress bars; colours and the rest change no text."""
        n = int(params) if params.isdigit() else None
        line = self.rows[self.row]
        if final == "K":  # erase in line: to its end, from its start, or all of it
            if n in (None, 0):
                del line[self.col:]
            elif n == 1:
                line[:self.col] = " " * min(self.col, len(line))
            else:
                line.clear()
        elif final == "J":  # erase in display: below the cursor, or all of it
            del line[self.col:]
            del self.rows[self.row + 1:]
            if n == 2:
                for above in self.rows[:self.row]:
                    above.clear()
        elif final in "AF":  # cursor up (F: to the start of the line)
            self.row = max(0, self.row - (n or 1))
            self.col = 0 if final == "F" else self.col
        elif final in "BE":  # cursor down, as far as the last line drawn
            self.row = min(self.row + (n or 1), len(self.rows) - 1)
            self.col = 0 if final == "E" else self.col
        elif final == "G":  # to a column
            self.col = max(0, (n or 1) - 1)

    def _scrolled(self) -> str:
        """The lines out of the cursor's reach, given up."""
        if self.row <= REACH:
            return ""
        out, self.rows = self.rows[:self.row - REACH], self.rows[self.row - REACH:]
        self.row = REACH
        return "".join(_line(r) for r in out)


def _line(chars: list[str]) -> str:
    return "".join(chars).rstrip() + "\n"
