"""A trial function pickled with the names and lines of the code it carries by value.

cloudpickle (3.1 and later) names every code object it pickles by value ``<dynamic-code>``, so
a failed trial's traceback read ``File "<dynamic-code>", line 3, in score`` for a helper the
user defined in a notebook cell, with no line of code, and a line number counted from the
function's first line. :func:`dumps` keeps each code object's file name (a notebook cell's as
``<notebook cell [N]>``, which the trial's traceback writes ``Cell In[N], line L`` as IPython
does) and carries the lines of those files with the function; :func:`loads` puts them in the
worker's ``linecache``, where ``traceback`` finds them.
"""
from __future__ import annotations

import functools
import io
import linecache
import pickle
import re
import types
from typing import Any

from ..caller import ipython_shell
from .hints import by_name_line

CELL_NAME = "<notebook cell [{}]>"  # see nbtune.run.task._format_frame
# the file names of a notebook cell's code on a worker: a %%tune cell's body
# (notebook/trialfn.cell_filename) and a notebook function's cell (CELL_NAME); group 1, its number
CELL_FILE = re.compile(r"<(?:tune|notebook) cell \[(\d+)\]>\Z")
DYNAMIC = "<dynamic-code>"  # cloudpickle's name for all of them
MOST_LINES = 5_000  # a file's lines carried at most (a notebook cell, a script)


def _cell_number(filename: str) -> str | None:
    """The execution count IPython gives the cell compiled under ``filename`` (``In[N]``), where
    this process is an IPython shell that compiled it."""
    named = getattr(getattr(ipython_shell(), "compile", None), "format_code_name", None)
    label = named(filename) if callable(named) else None
    if not label or label[0] != "Cell":
        return None
    return label[1][3:-1] if label[1].startswith("In[") else None


def _pickler_class() -> type:
    import cloudpickle

    class CellPickler(cloudpickle.Pickler):
        """cloudpickle's Pickler, keeping code objects' file names and noting their lines."""

        def __init__(self, file: Any) -> None:
            super().__init__(file)
            self.sources: dict[str, list[str]] = {}

        def reducer_override(self, obj: Any) -> Any:
            if not isinstance(obj, types.CodeType):
                found = super().reducer_override(obj)
                if found is NotImplemented and _by_name_in_main(obj):
                    raise ByName(by_name_line(obj.__qualname__))
                return found
            rebuild, args = self.dispatch_table[types.CodeType](obj)
            name = self._name(obj.co_filename)
            # cloudpickle 3.0 keeps the file name as it is, 3.1 writes DYNAMIC in its place
            return rebuild, tuple(name if isinstance(a, str) and a in (DYNAMIC, obj.co_filename)
                                  else a for a in args)

        def _name(self, filename: str) -> str:
            number = _cell_number(filename)
            name = CELL_NAME.format(number) if number is not None else filename
            if name not in self.sources:
                lines = linecache.getlines(filename)
                self.sources[name] = lines if len(lines) <= MOST_LINES else []
            return name

    return CellPickler


class ByName(TypeError):
    """An object of the notebook that would reach the workers by its name alone (see
    :func:`_by_name_in_main`): the trials would all fail to find it."""


def _by_name_in_main(obj: Any) -> bool:
    """Whether pickle sends ``obj`` by its name in the notebook's ``__main__`` (a
    ``functools.lru_cache`` wrapper of a notebook function): the workers' ``__main__`` has no
    such name, and every trial failed on "Can't get attribute" (check round 53)."""
    if getattr(obj, "__module__", None) != "__main__" or isinstance(obj, type) \
            or not isinstance(getattr(obj, "__qualname__", None), str):
        return False
    try:
        return isinstance(obj.__reduce_ex__(pickle.DEFAULT_PROTOCOL), str)
    except Exception:  # it cannot be pickled at all: pickle says so
        return False


class _Sources:
    """Pickled after the function: by then the pickler knows the files its code came from."""

    def __init__(self, pickler: Any) -> None:
        self.pickler = pickler

    def __reduce__(self) -> tuple:
        return _install, ({k: v for k, v in self.pickler.sources.items() if v},)


def _install(sources: dict[str, list[str]]) -> None:
    """Put the carried lines in this process's ``linecache``: a cell's always (another kernel's
    cell of that number may have been there), a file's where this process cannot read it."""
    for name, lines in sources.items():
        if name.startswith("<") or not linecache.getlines(name):
            linecache.cache[name] = (sum(map(len, lines)), None, lines, name)


def dumps(fn: Any) -> bytes:
    """``fn`` pickled by cloudpickle, with its code's file names and lines (see the module)."""
    buffer = io.BytesIO()
    pickler = _pickler_class()(buffer)
    pickler.dump((fn, _Sources(pickler)))
    return buffer.getvalue()


def loads(blob: bytes) -> Any:
    """The function :func:`dumps` pickled; the lines it carries go to ``linecache``. Each call
    gives a copy of its own: the notebook's classes it carries too (:class:`_Unpickler`)."""
    fn, _ = _Unpickler(io.BytesIO(blob), own_classes=True).load()
    return fn


def load_kept(file: Any) -> Any:
    """What a trial pickled (its checkpoint), unpickled from ``file``; a class of the
    notebook's that this process has already (the notebook's own, in the notebook) is taken as
    it is. cloudpickle gave that class the methods pickled with the objects, on the trial's
    globals: reading study.best_checkpoint made the notebook's ``Net`` read the best trial's
    dropout, and every trial of the next study with it (check round 54)."""
    return _Unpickler(file, own_classes=False).load()


class _Unpickler(pickle.Unpickler):
    """cloudpickle's unpickling, with the notebook's classes (carried by value) made anew
    (``own_classes``: a trial's copy of its code) or, where this process has the class
    already, that class untouched (objects coming home).

    cloudpickle makes one class per process for each of them (tracked by an id), and gives it,
    at each unpickling, the methods just unpickled, on their globals: two trials at once on a
    worker's threads read each other's values through a class's methods (check round 51), a
    trial run in the notebook's own process rewrote the notebook's class, and so did a
    checkpoint read in the notebook (round 54). A class made anew keeps the tracked id for its
    way back: pickled home, it is the notebook's class again."""

    def __init__(self, file: Any, own_classes: bool) -> None:
        super().__init__(file)
        self.own_classes = own_classes
        self.kept: set[int] = set()  # ids of the classes this process had: left as they are

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("cloudpickle"):
            if name == "_make_skeleton_class":
                return functools.partial(self._skeleton, name, 4)
            if name == "_make_skeleton_enum":
                return functools.partial(self._skeleton, name, 5)
            if name == "_class_setstate":
                return self._setstate
        return super().find_class(module, name)

    def _skeleton(self, maker: str, at: int, *args: Any) -> type:
        """cloudpickle's ``maker`` called with ``args``, whose ``at``-th is the class's id."""
        from cloudpickle import cloudpickle as cp

        make, tracker_id = getattr(cp, maker), args[at]
        if self.own_classes:
            cls = make(*args[:at], None, *args[at + 1:])
            if tracker_id is not None:  # its way back to the notebook: the tracked id
                with cp._DYNAMIC_CLASS_TRACKER_LOCK:
                    cp._DYNAMIC_CLASS_TRACKER_BY_CLASS[cls] = tracker_id
            return cls
        with cp._DYNAMIC_CLASS_TRACKER_LOCK:
            had = cp._DYNAMIC_CLASS_TRACKER_BY_ID.get(tracker_id)
        cls = make(*args)
        if had is not None and cls is had:
            self.kept.add(id(cls))
        return cls

    def _setstate(self, obj: Any, state: Any) -> Any:
        from cloudpickle import cloudpickle as cp

        if id(obj) in self.kept:
            return obj
        return cp._class_setstate(obj, state)
