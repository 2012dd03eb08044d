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
            return rebuild, tuple(name if a == DYNAMIC else a for a in args)

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
    gives a copy of its own: the notebook's classes it carries too (:func:`_own_class`)."""
    fn, _ = _TrialUnpickler(io.BytesIO(blob)).load()
    return fn


class _TrialUnpickler(pickle.Unpickler):
    """Unpickles a trial function with classes of its own (see :func:`_own_class`)."""

    def find_class(self, module: str, name: str) -> Any:
        if name == "_make_skeleton_class" and module.startswith("cloudpickle"):
            return _own_class
        return super().find_class(module, name)


def _own_class(type_constructor: Any, name: str, bases: tuple, type_kwargs: dict,
               class_tracker_id: str | None, extra: Any) -> type:
    """A class of the notebook's that the trial carries, made anew for this copy of it.
    cloudpickle makes one per process (its id tracked) and gives it, at each unpickling, the
    methods of the copy unpickled last, on that copy's globals: two trials at once on a
    worker's threads read each other's values through a class's methods (check round 51),
    and a trial run in the notebook's own process rewrote the notebook's class. Pickled back
    to the notebook (an object of it in a result), it is the notebook's class again."""
    from cloudpickle import cloudpickle as cp

    cls = cp._make_skeleton_class(type_constructor, name, bases, type_kwargs, None, extra)
    if class_tracker_id is not None:  # its way back to the notebook: the tracked id
        with cp._DYNAMIC_CLASS_TRACKER_LOCK:
            cp._DYNAMIC_CLASS_TRACKER_BY_CLASS[cls] = class_tracker_id
    return cls
