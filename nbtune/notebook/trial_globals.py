"""The globals a ``%%tune`` trial's body runs in on a worker: those of the notebook code the
trial carries, holding the trial's values, as a notebook cell's ``dropout = 0.4`` then
``build()`` shares them with ``build``.

Each trial unpickles a copy of its own of that code (:func:`nbtune.run.cellcode.loads`), in
which cloudpickle gives the notebook's functions, and the methods of its classes (made anew for
the copy), one globals dict. The body runs in that dict, its values set there: whatever of the
notebook the body reaches sees them, however it reaches it (a helper calling a helper, a
factory of a class, a dict of them, an object's attribute), and no other trial does.
"""
from __future__ import annotations

import sys
import types
from typing import Any

# what nbtune gives the body, where the notebook's code reads a global of that name: theirs
OWN_NAMES = ("report", "get_checkpoint", "checkpoint")


def anchor(main: dict[str, Any]) -> types.FunctionType:
    """A function on the notebook's globals ``main``, for a trial to carry: in the trial's
    copy, its globals are those of the copy's notebook code (cloudpickle gives the functions
    of one globals dict one dict), even where the body calls none of the notebook's."""
    return types.FunctionType(_ANCHOR, main, "nbtune_anchor")


# compiled from text, not this file: a trial carries the lines of the files of its code
_ANCHOR = compile("def nbtune_anchor():\n    pass\n", "<nbtune anchor>", "exec").co_consts[0]


def with_notebook_code(ns: dict[str, Any], held: dict[str, Any] | None) -> dict[str, Any]:
    """The globals the body runs in: ``held``, the notebook code's in this trial's copy (the
    :func:`anchor`'s), given the body's ``ns`` (its config, the notebook values it reads, the
    data shared with it), as a cell shares the notebook's with the functions it calls: a
    helper ``build()`` of an earlier cell that read the global ``dropout`` had built every
    trial's model with the notebook's 0.2 (first-day test, round 50), and a helper reads what
    the body binds (``model = ...``), the body what a helper's ``global`` sets. ``ns`` itself
    where there is no such copy (the notebook's own globals: never changed by a trial). The
    names nbtune gives the body (:data:`OWN_NAMES`) stay the notebook's where its code reads
    them, and ``__name__`` stays ``"__main__"``."""
    if held is None or held is getattr(sys.modules.get("__main__"), "__dict__", None):
        return ns
    for name, value in ns.items():
        if name != "__name__" and not (name in OWN_NAMES and name in held):
            held[name] = value
    return held
