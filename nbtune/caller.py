"""Where nbtune's warnings point: the first frame outside the nbtune package.

A warning about what a person asked for belongs on their line (``nbtune.tune(...)``,
``search.fit(X, y)``), however many of nbtune's own calls lie between. Counting those calls in
each ``stacklevel`` breaks silently when a layer is added; this finds the line instead, as
Python 3.12's ``warnings.warn(skip_file_prefixes=...)`` does (nbtune supports 3.11).

A study run in the background (``tune(..., background=True)``, ``%%tune --background``) runs on
a thread of nbtune's own, where no frame of the user's is left to point at: it notes the user's
line when it starts (:func:`call_site`) and its thread gives its warnings there
(:func:`warnings_at`).

An error nbtune raises on purpose about what a person asked for (a ``raise`` of nbtune's own,
reaching them through a public entry point marked :func:`user_facing`) is theirs to mend, not
nbtune's code to read: in IPython and Jupyter it shows as their own lines and the message, with
nbtune's frames left out. Any other error (a bug, an error of their code or of a library) shows
as Python shows it.
"""
from __future__ import annotations

import contextlib
import functools
import linecache
import os
import sys
import threading
import traceback
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class Site(NamedTuple):
    """A line of the user's code that called into nbtune: a frame's file, line and globals."""
    filename: str
    lineno: int
    module_globals: dict[str, Any]


_thread = threading.local()  # .site: where this thread's warnings point, when not at its stack


def inside_nbtune(filename: str) -> bool:
    """Whether a code object's file name lies in nbtune's package. Compared normalised: a module
    imported through a relative ``sys.path`` entry (``sys.path.insert(0, "..")``) keeps a file
    name such as ``/home/me/work/../nbtune/nbtune/tune.py``; names such as ``<tune cell [3]>``
    are no files."""
    return not filename.startswith("<") and os.path.abspath(filename).startswith(PACKAGE)


def user_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn`` in the function that calls this: the warning is
    reported at the first frame outside nbtune (the user's call, or a library's, such as
    scikit-learn's ``cross_val_score`` calling ``SearchCV.fit``), or at the outermost frame
    where nbtune's own code is the whole stack."""
    frame = sys._getframe(1)  # the function that calls warnings.warn: stacklevel 1
    level = 1
    while frame.f_back is not None and inside_nbtune(frame.f_code.co_filename):
        frame = frame.f_back
        level += 1
    return level


def call_site() -> Site:
    """The line :func:`user_stacklevel` would point a warning at, from where this is called."""
    frame = sys._getframe(1)
    while frame.f_back is not None and inside_nbtune(frame.f_code.co_filename):
        frame = frame.f_back
    return Site(frame.f_code.co_filename, frame.f_lineno, frame.f_globals)


@contextlib.contextmanager
def warnings_at(site: Site) -> Iterator[None]:
    """Within this block, this thread's :func:`warn` calls point at ``site``."""
    before = getattr(_thread, "site", None)
    _thread.site = site
    try:
        yield
    finally:
        _thread.site = before


class NbtuneWarning(UserWarning):
    """nbtune's own note about a study a person asked for: a metric minimised that looks
    maximised, trials a scheduler could not judge, a warm start that dropped dimensions, workers
    of another version. A blanket ``warnings.filterwarnings("ignore")`` (common in notebooks, to
    quiet a library's warnings) does not hide these; ``warnings.filterwarnings("ignore",
    category=nbtune.NbtuneWarning)`` does."""


def warn_note(message: str) -> None:
    """Warn with :class:`NbtuneWarning` at the user's line (as :func:`warn`), shown even where
    the filter that catches it is a blanket ignore (one aimed at no category, message or module
    of nbtune's): the trials' own warnings are gathered in the study's panel and summary, so
    such a filter is meant for the libraries', and would hide what is wrong with the study."""
    site = getattr(_thread, "site", None) or call_site()
    if _blanket_ignored(message, site):
        warnings.showwarning(NbtuneWarning(message), NbtuneWarning, site.filename, site.lineno)
    else:
        warn(message, NbtuneWarning)


def _blanket_ignored(message: str, site: Site) -> bool:
    """Whether the first of ``warnings.filters`` that matches an :class:`NbtuneWarning` with
    ``message`` at ``site`` ignores it without naming it: category ``Warning`` or
    ``UserWarning``, any message, any module and line (``filterwarnings("ignore")``,
    ``-W ignore``). A filter aimed at the message, the module or the line is taken as meant."""
    module = site.module_globals.get("__name__") or site.filename
    for action, text, category, place, lineno in warnings.filters:
        if not issubclass(NbtuneWarning, category) or (text is not None
                                                       and not text.match(message)):
            continue
        if (place is not None and not place.match(module)) or (lineno and lineno != site.lineno):
            continue
        return (action == "ignore" and not issubclass(category, NbtuneWarning) and text is None
                and place is None and not lineno)
    return False


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` at the user's line: the first frame outside nbtune, or, on a thread
    inside :func:`warnings_at`, the site it names."""
    site = getattr(_thread, "site", None)
    if site is None:
        warnings.warn(message, category, stacklevel=user_stacklevel())
        return
    registry = site.module_globals.setdefault("__warningregistry__", {})
    module = site.module_globals.get("__name__")  # a cell's globals (%%tune's) may have none,
    named = {} if module is None else {"module": module}  # and module=None drops the warning
    warnings.warn_explicit(message, category, site.filename, site.lineno, registry=registry,
                           module_globals=site.module_globals, **named)


F = TypeVar("F", bound=Callable[..., Any])
E = TypeVar("E", bound=BaseException)


def user_facing(func: F) -> F:
    """Mark a public entry point (``tune``, ``SearchCV.fit``, a space primitive, ...): an error
    nbtune raises on purpose inside it (:func:`raised_on_purpose`) renders, in IPython, as the
    caller's frames and the message only (IPython's ``_render_traceback_`` hook); it is raised
    unchanged, so ``except`` clauses, scripts and pytest see what they always saw."""
    @functools.wraps(func)
    def entry(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if raised_on_purpose(exc) or _called_wrongly(exc):
                shown_as_users(exc)
            raise
    return entry  # type: ignore[return-value]


def _called_wrongly(exc: BaseException) -> bool:
    """Whether ``exc`` is Python's TypeError for arguments the entry point does not take
    (``study.plot.history(metric="loss")``), given by the user's own call: the error is theirs,
    raised before any of nbtune's code ran."""
    tb = exc.__traceback__
    if not isinstance(exc, TypeError) or tb is None or tb.tb_next is not None:
        return False
    caller = tb.tb_frame.f_back
    return caller is not None and not inside_nbtune(caller.f_code.co_filename)


def raised_on_purpose(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by a ``raise`` statement in nbtune's own code: a message
    written for the user, not a bug (which fails elsewhere than on a ``raise`` line) nor an error
    of their code or a library's (raised outside nbtune, however nbtune passes it on)."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename
    return inside_nbtune(filename) and \
        linecache.getline(filename, tb.tb_lineno).lstrip().startswith("raise ")


# the standard library's machinery of nbtune's own ``with`` blocks: a frame of it sat between
# the user's line and the message (``contextlib.py, in __exit__``: first-day test, round 16)
_WITH_MACHINERY = os.path.abspath(contextlib.__file__)


def without_nbtune(tb: types.TracebackType | None) -> types.TracebackType | None:
    """``tb`` less its entries in nbtune's code, and in :mod:`contextlib`, whose frames nbtune's
    ``with`` blocks leave (``tb`` itself where nothing else is left)."""
    kept = []
    entry = tb
    while entry is not None:
        filename = entry.tb_frame.f_code.co_filename
        if not inside_nbtune(filename) and os.path.abspath(filename) != _WITH_MACHINERY:
            kept.append(entry)
        entry = entry.tb_next
    if not kept:
        return tb
    out = None
    for entry in reversed(kept):
        out = types.TracebackType(out, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return out


def shown_as_users(exc: E) -> E:
    """``exc``, which IPython renders from the user's frames on: what :func:`user_facing` does
    to an error raised on purpose, and what an error raised where no entry point wraps the call
    needs, an attribute's lookup (``nbtune.Tuner``, ``study.get_best_result``: first-day test,
    round 17)."""
    exc._render_traceback_ = types.MethodType(_render_without_nbtune, exc)  # type: ignore
    return exc


def missing_name(message: str, depth: int = 2) -> Exception:
    """The error for a module attribute that is not there, ``message`` kept: an AttributeError,
    or an ImportError where the caller ``depth`` frames up runs ``from nbtune import name``.
    Python turns an AttributeError raised there into a bare "cannot import name" and drops its
    message (``from nbtune import Tuner`` lost the Ray Tune note: first-day test, round 17);
    an ImportError it lets through."""
    import dis

    frame = sys._getframe(depth)
    importing = frame.f_code.co_code[frame.f_lasti] == dis.opmap["IMPORT_FROM"]
    return shown_as_users(ImportError(message, name="nbtune") if importing
                          else AttributeError(message))


def from_the_body(exc: BaseException, filename: str) -> None:
    """Have IPython render ``exc``, raised by a cell body that nbtune ran in this process
    (``%%tune --local``, compiled under ``filename``), from the body's first line on, less
    nbtune's own frames: five frames of the magic came before the user's line (first-day test,
    round 11). Raised unchanged, as :func:`user_facing` leaves it."""
    exc._render_traceback_ = types.MethodType(
        lambda self: _render_without_nbtune(self, start=filename), exc)


def ipython_shell() -> Any:
    """The IPython shell this process runs (a kernel's, a terminal's), else None: a script."""
    ipython = sys.modules.get("IPython")  # imported by IPython itself where it runs
    return ipython.get_ipython() if ipython is not None else None


def _render_without_nbtune(exc: BaseException, start: str | None = None) -> list[str]:
    tb = exc.__traceback__
    if start is not None:  # from the first frame of that file on; none: the message alone
        while tb is not None and tb.tb_frame.f_code.co_filename != start:
            tb = tb.tb_next
    tb = without_nbtune(tb)
    shell = ipython_shell()
    if shell is None:
        return traceback.format_exception(type(exc), exc, tb)
    # every frame given: they start at the user's (IPython 8 skipped the first by default)
    return shell.InteractiveTB.structured_traceback(type(exc), exc, tb, tb_offset=0)
