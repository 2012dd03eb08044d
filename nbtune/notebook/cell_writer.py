"""The kernel's side of nbtune's JupyterLab extension: writing a cell's new text into the cell.

No widget may rewrite a cell. The extension (``nbtune-apply``, shipped in the wheel) may: when a
``%%tune --edit`` cell runs, :func:`cell_writer` opens a comm (target :data:`TARGET`) naming the
cell being executed (JupyterLab sends its id with the execute request). The extension answers
``{"ready": true}`` when that cell is in a notebook it shows. Apply then sends
``{"write": n, "old": text, "new": text}``; the extension sets the cell's source to ``new`` only
if it still reads ``old`` (the cell is not run), and answers ``{"written": n}`` or
``{"failed": n, "reason": ...}``. Without the extension (classic Notebook, VS Code, a console)
nothing answers ``ready``, and the caller keeps its fallback.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["TARGET", "CellWriter", "cell_writer", "executing_cell"]

TARGET = "nbtune.apply"
# seconds a write waits for the extension's answer: a page reloaded since the cell ran holds no
# end of the channel, and Apply said "writing the new lines into the cell..." for good
# (first-day test, round 25); the extension answers in milliseconds
ANSWER_WITHIN = 5.0


def executing_cell(shell: Any) -> tuple[str, str] | None:
    """(the id, the exact text) of the notebook cell the kernel is executing; None outside a
    Jupyter kernel, or when the frontend sent no cell id."""
    kernel = getattr(shell, "kernel", None)
    try:
        parent = kernel.get_parent() if kernel is not None else None
    except Exception:  # an old or foreign kernel: no way to know the cell
        return None
    if not isinstance(parent, dict):
        return None
    cell_id = (parent.get("metadata") or {}).get("cellId")
    code = (parent.get("content") or {}).get("code")
    return (cell_id, code) if isinstance(cell_id, str) and isinstance(code, str) else None


class CellWriter:
    """One cell's channel to the extension; `ready` once the extension holds the cell.

    `text` is what the cell reads (as IPython saw it: ending with a newline); :meth:`write`
    asks for a new text and calls ``done(ok, reason)`` when the extension answers, or
    ``done(False, "")`` if the channel closes first, or no answer comes within
    :data:`ANSWER_WITHIN` seconds (the page was reloaded; an answer after that still calls
    ``done`` again with it)."""

    def __init__(self, comm: Any, text: str, trailing_newline: bool) -> None:
        self.comm, self.text, self.ready = comm, text, False
        self._newline = trailing_newline  # whether the cell itself ends with "\n"
        self._pending: dict[int, tuple[str, Callable[[bool, str], None]]] = {}
        self._seq = 0
        comm.on_msg(self._on_msg)
        comm.on_close(self._on_close)

    def _raw(self, text: str) -> str:
        """`text` as the cell holds it (IPython adds the final newline the cell may lack)."""
        return text if self._newline or not text.endswith("\n") else text[:-1]

    def write(self, new_text: str, done: Callable[[bool, str], None]) -> bool:
        """Ask the extension to replace the cell's text by `new_text`; False if it cannot be
        asked (not ready, or the channel closed), and then `done` is never called."""
        if not self.ready or self.comm is None:
            return False
        self._seq += 1
        self._pending[self._seq] = (new_text, done)
        self.comm.send({"write": self._seq, "old": self._raw(self.text),
                        "new": self._raw(new_text)})
        timer = threading.Timer(ANSWER_WITHIN, self._unanswered, (self._seq,))
        timer.daemon = True
        timer.start()
        return True

    def _unanswered(self, seq: int) -> None:
        pending = self._pending.get(seq)
        if pending is not None:  # nothing holds the other end, or it is slow: the fallback
            self.ready = False  # now, and the next Apply says it at once; an answer that
            pending[1](False, "")  # comes after all still counts (see _on_msg)

    def close(self) -> None:
        """Close the channel (a newer run of the cell opened its own)."""
        if self.comm is not None:
            comm, self.comm, self.ready = self.comm, None, False
            comm.close()

    def _on_msg(self, msg: dict) -> None:
        data = msg.get("content", {}).get("data") or {}
        if data.get("ready") is True:
            self.ready = True
            return
        seq = data.get("written", data.get("failed"))
        if seq not in self._pending:
            return
        self.ready = True  # an answer, however late: the page holds the cell
        new_text, done = self._pending.pop(seq)
        if "written" in data:
            self.text = new_text
            done(True, "")
        else:
            done(False, str(data.get("reason") or "the notebook could not write the cell"))

    def _on_close(self, msg: dict) -> None:  # the frontend has no such target, or went away
        self.comm, self.ready = None, False
        pending, self._pending = self._pending, {}
        for _, done in pending.values():
            done(False, "")


def cell_writer(shell: Any, source: str) -> tuple[str, CellWriter] | None:
    """(the cell id, a CellWriter) for the executing cell if the magic saw it as `source`
    (the cell's text, plus the newline IPython adds); None when it cannot be written."""
    cell = executing_cell(shell)
    if cell is None:
        return None
    cell_id, raw = cell
    newline = raw.endswith("\n")
    if (raw if newline else raw + "\n") != source:  # leading blank lines, a magic run by code
        return None
    try:
        from comm import create_comm  # ipywidgets' own channel to the frontend

        comm = create_comm(target_name=TARGET, data={"cell_id": cell_id, "version": 1})
    except Exception:  # no frontend to talk to: the fallback stays
        return None
    return cell_id, CellWriter(comm, source, newline)
