"""The trials' warnings that the notebook ignores: ``warnings.filterwarnings("ignore", ...)`` in a
notebook quiets a library there, and a study's trials run that library on Dask's workers, whose
filters are their own. A record of a warning a trial raised
(:func:`nbtune.run.output.warning_record`) reaches the loop, in the notebook's process, and
:func:`ignored` asks that process's filters about it as Python would have, had the trial raised
it there: the first filter that matches the
warning's category, message, module and line decides, and only ``"ignore"`` drops it. The
filters are read when each warning arrives, so a filter set while a study runs counts from then.

A sklearn ``ConvergenceWarning`` ignored in the notebook still filled the panel and the summary,
"raised by 15 of 20 trials" (first-day test, round 24).
"""
from __future__ import annotations

import os
import sys
import warnings
from typing import Any

from .cellcode import CELL_FILE


def ignored(record: dict[str, Any]) -> bool:
    """Whether this process's warning filters ignore the warning ``record`` describes."""
    category = _category(record)
    text = record.get("message", "")
    filename, _, line = record.get("where", "").rpartition(":")
    lineno = int(line) if line.isdigit() else 0
    module = _module(filename)
    for action, message, kind, mod, ln in list(warnings.filters):
        if ((message is None or message.match(text)) and _is_kind(category, record, kind)
                and (mod is None or mod.match(module)) and (ln == 0 or ln == lineno)):
            return action == "ignore"
    return False


def unignored(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``records`` that this process's filters do not ignore."""
    return [r for r in records if not ignored(r)]


def _category(record: dict[str, Any]) -> type | None:
    """The warning's class where this process has its module loaded (a filter can name it only
    then), else None."""
    module = sys.modules.get(record.get("module") or "builtins")
    found = getattr(module, record.get("category", ""), None)
    return found if isinstance(found, type) and issubclass(found, Warning) else None


def _is_kind(category: type | None, record: dict[str, Any], kind: type) -> bool:
    if category is not None:
        return issubclass(category, kind)
    return kind is Warning or kind.__name__ == record.get("category")


def _module(filename: str) -> str:
    """The module name Python's filters match for code in ``filename``: a notebook cell's is
    ``__main__``; a file under ``sys.path`` is named by its path there; else, as Python does for
    an unknown module, the file name without ``.py``."""
    if CELL_FILE.match(filename):
        return "__main__"
    for root in sorted((p for p in sys.path if p), key=len, reverse=True):
        if filename.startswith(root.rstrip(os.sep) + os.sep):
            parts = os.path.splitext(filename[len(root.rstrip(os.sep)) + 1:])[0].split(os.sep)
            if parts[-1] == "__init__":
                parts.pop()
            return ".".join(parts)
    return filename[:-3] if filename.lower().endswith(".py") else filename
