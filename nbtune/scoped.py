"""A :class:`~contextvars.ContextVar` set for the span of a ``with`` block, and set back after:
how nbtune's callers tell what they call about the call (``SearchCV`` tells ``tune`` that it
says its own resume note, that its study starts in the caller's thread, what it measured)."""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Any, Iterator


@contextlib.contextmanager
def within(var: ContextVar, value: Any) -> Iterator[None]:
    """``var`` holds ``value`` within the block, and what it held before after it."""
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)
