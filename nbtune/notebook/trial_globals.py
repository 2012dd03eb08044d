"""The globals a ``%%tune`` trial's body runs in on a worker: the notebook's own functions it
calls, copied for this trial onto globals that hold its config's values
(:func:`with_notebook_code`), as a notebook cell's ``dropout = 0.4`` then ``build()`` reads
them."""
from __future__ import annotations

import functools
import sys
import types
from typing import Any

from ..run.channel import get_checkpoint, report


def with_notebook_code(ns: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """``ns`` with the notebook's functions the body reads bound, for this trial, to globals
    that hold its config's values, as a notebook cell's ``dropout = 0.4`` then ``build()``
    does: a helper ``build()`` of an earlier cell that read the global ``dropout`` built every
    trial's model with the notebook's 0.2 while the space line set the trial's in the body
    alone, and the study credited values no trial used (first-day test, round 50); one that
    calls ``report`` by its bare name found none. A decorator's wrapper around one
    (``@torch.no_grad()``, ``functools.wraps``, two stacked), a ``functools.partial`` of one,
    a short list, tuple or dict of them and a default argument get the copy too, and a helper
    calling a helper by name (check round 52).

    Each function is copied onto a dict of its own globals for this trial, never changed in
    place: cloudpickle hands a class of the notebook to every trial of a worker's process once,
    its methods on the globals of the first trial that brought it, and two trials at once on a
    worker's threads read each other's values through them (check round 51). So a class's
    methods read the notebook's values, as before (``%%tune`` warns of one that reads a
    hyperparameter: :func:`~nbtune.notebook.cell_checks.class_reads_space`); only the space's
    names are the trial's (a notebook global the helpers read under a name nbtune gives the
    body, ``report``, ``checkpoint``, stays theirs)."""
    bound: dict[int, dict[str, Any]] = {}  # id of the globals the functions came with -> theirs
    originals: dict[int, dict[str, Any]] = {}  # id of those globals -> them
    copies: dict[int, Any] = {}  # id of a function -> its copy for this trial

    def copied(fn: Any) -> Any:
        held = fn.__globals__
        if id(held) not in bound:
            originals[id(held)] = held
            mine = bound[id(held)] = dict(held)
            mine.update(config)  # also a name the space alone defines (round 52)
            mine.setdefault("report", report)
            mine.setdefault("get_checkpoint", get_checkpoint)
            for key, value in held.items():  # a helper calling a helper: the copy, by name
                if key not in config:
                    mine[key] = rebound(value)
        if id(fn) not in copies:
            copies[id(fn)] = fn  # a function in its own closure (a recursive decorator's)
            copy = copies[id(fn)] = _copied(fn, bound[id(held)], cells(fn))
            if fn.__defaults__:  # def train(loss_fn=my_loss): the copy (round 52)
                copy.__defaults__ = tuple(rebound(d) for d in fn.__defaults__)
            if fn.__kwdefaults__:
                copy.__kwdefaults__ = {k: rebound(d) for k, d in fn.__kwdefaults__.items()}
        return copies[id(fn)]

    def cells(fn: Any) -> tuple | None:  # its closure, a notebook function's cell copied
        inner = _wrapped(fn)
        return None if not inner else tuple(
            types.CellType(rebound(c.cell_contents)) if i in inner else c
            for i, c in enumerate(fn.__closure__))

    def rebound(value: Any, depth: int = 0) -> Any:
        if _notebook_function(value):
            return copied(value)
        if isinstance(value, functools.partial) and _reaches(value.func):
            return functools.partial(rebound(value.func), *value.args, **value.keywords)
        if _wrapped(value):  # a decorator's wrapper: its own code and globals, copies inside
            return _copied(value, value.__globals__, cells(value))
        if depth == 0 and type(value) in (list, tuple, dict) and len(value) <= MANY:
            # MODELS = {"mlp": build_mlp}, callbacks = [...]: a new one holding the copies
            items = value.items() if isinstance(value, dict) else enumerate(value)
            if id(value) not in copies and any(_reaches(v) or isinstance(value, dict) and
                                               _reaches(k) for k, v in items):
                if isinstance(value, tuple):
                    copies[id(value)] = tuple(rebound(v, 1) for v in value)
                else:  # kept before it is filled: a function in it reads it (round 52)
                    copy = copies[id(value)] = type(value)()
                    if isinstance(value, dict):
                        # {build: "mlp"}: a key the body looks up by the function, its copy
                        copy.update({rebound(k, 1): rebound(v, 1) for k, v in value.items()})
                    else:
                        copy.extend(rebound(v, 1) for v in value)
            return copies.get(id(value), value)  # one copy: the body's and the helpers' own
        return value

    for name, value in list(ns.items()):
        ns[name] = rebound(value)
    if len(bound) != 1:
        return ns
    # the body runs in its functions' globals, this trial's copy of them, as a cell runs in
    # the notebook's: a helper reads what the body binds (`model = ...` then `n_params()` read
    # the notebook's model: check round 52), and the body what a helper's `global` sets
    (held_id, mine), = bound.items()
    held = originals[held_id]
    for name, value in ns.items():
        if name != "__name__" and not (name in OWN_NAMES and name in held):
            mine[name] = value
    return mine


def _notebook_function(value: Any) -> bool:
    """Whether ``value`` is a function of the notebook's own code carried by value to this
    worker: its globals are cloudpickle's copy of the notebook's (``__name__`` ``__main__``),
    not a module's (a decorator's wrapper names ``__main__`` as its module, functools.wraps
    copies it) nor the notebook's own (in the kernel)."""
    if not isinstance(value, types.FunctionType):
        return False
    held = value.__globals__
    return held.get("__name__") == "__main__" and held is not getattr(
        sys.modules.get("__main__"), "__dict__", None)


MANY = 100  # a list, tuple or dict longer than this holds data, not functions: left as it is
# what nbtune gives the body, where the notebook's functions read a global of that name: theirs
OWN_NAMES = ("report", "get_checkpoint", "checkpoint")


def _reaches(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is a notebook function or wraps one (see :func:`_wrapped`)."""
    return _notebook_function(value) or bool(_wrapped(value, depth)) or (
        isinstance(value, functools.partial) and depth < 3 and _reaches(value.func, depth + 1))


def _wrapped(value: Any, depth: int = 0) -> set[int]:
    """The places in a function's closure that hold a notebook function, or a wrapper of one:
    a decorator's wrapper (``torch.no_grad()``'s, one of ``functools.wraps``) around it, two
    decorators stacked; none otherwise."""
    if not isinstance(value, types.FunctionType) or not value.__closure__ or depth > 3:
        return set()
    found = set()
    for i, cell in enumerate(value.__closure__):
        try:
            if _reaches(cell.cell_contents, depth + 1):
                found.add(i)
        except ValueError:  # a cell not filled yet
            continue
    return found


def _copied(fn: Any, globals_: dict[str, Any], closure: tuple | None = None) -> Any:
    """``fn`` on other globals (and closure cells): its code, defaults and attributes."""
    copy = types.FunctionType(fn.__code__, globals_, fn.__name__, fn.__defaults__,
                              fn.__closure__ if closure is None else closure)
    copy.__kwdefaults__, copy.__qualname__ = fn.__kwdefaults__, fn.__qualname__
    copy.__module__, copy.__doc__ = fn.__module__, fn.__doc__
    copy.__annotations__ = fn.__annotations__
    copy.__dict__.update(fn.__dict__)
    return copy
