"""The magics' side of the space editor: ``%tune_space``, ``%%tune --edit`` and ``--space NAME``.

The editor itself (and so ipywidgets) is imported only when one is opened.
"""
from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from ..space import Space, as_space
from .cell import CellError, ParsedCell, parse_cell


def space_named(ns: Mapping[str, Any], name: str, who: str, editor: bool = True) -> Any:
    """The space bound to `name` in the notebook: a Space (from a Space, a dict or an editor's
    current rows), or the SpaceEditor itself when `editor`; UsageError saying what is wrong."""
    from .space_editor import SpaceEditor

    if not name.isidentifier() or name not in ns:
        raise UsageError(f"{who}: {name!r} is not defined in the notebook: bind a nbtune.Space "
                         "or a dict name -> domain to it first")
    obj = ns[name]
    try:
        if isinstance(obj, SpaceEditor):
            return obj if editor else obj.space
        if isinstance(obj, Mapping):
            return as_space(obj)
    except ValueError as exc:
        raise UsageError(f"{who}: {name!r} does not hold a valid space: {exc}") from None
    raise UsageError(f"{who}: {name!r} holds a value of type {type(obj).__name__}, not a space: "
                     "give a nbtune.Space, a dict name -> domain, or a SpaceEditor")


def with_space(parsed: ParsedCell, space: Space, name: str) -> ParsedCell:
    """The cell with the notebook's space first, then its own space lines (no name twice)."""
    twice = [k for k in parsed.names if k in space]
    if twice:
        raise UsageError(f"%%tune: hyperparameter {twice[0]!r} is declared both in the cell and "
                         f"in --space {name}: remove the cell's line or the entry of {name}")
    joined = Space({**space, **parsed.space})
    return dataclasses.replace(parsed, space=joined, names=list(joined),
                               free_names=[n for n in parsed.free_names if n not in joined])


def open_space_editor(shell: InteractiveShell, line: str) -> Any:
    """``%tune_space [NAME]``: an editor of NAME's space (empty without NAME); Apply binds the
    edited space to NAME (without it ``space``, or the first free of ``space_2``, ...), as a
    dict when NAME held a dict."""
    from .space_editor import SpaceEditor

    words = line.split()
    if len(words) > 1:
        raise UsageError("%tune_space: give one name at most, e.g. `%tune_space space`")
    taken = ""
    if not words:  # a free name: `space` held the notebook's own, which Apply replaced
        name, current = "space", None  # without a word (first-day test, round 66)
        n = 1
        while name in shell.user_ns:
            n += 1
            name = f"space_{n}"
        if n > 1:
            taken = (f"Apply binds `{name}`: `space` is the notebook's already (%tune_space "
                     "space edits it)")
    else:
        name, current = words[0], space_named(shell.user_ns, words[0], "%tune_space")
        if isinstance(current, SpaceEditor):
            return current
    as_dict = isinstance(shell.user_ns.get(name), dict)

    def bind(editor: SpaceEditor) -> str:
        space = editor.space
        shell.user_ns[name] = dict(space) if as_dict else space
        return f"applied: `{name}` holds the edited space (use it with %%tune --space {name})"

    editor = SpaceEditor(current, on_apply=bind)
    if taken:
        editor.say(taken)
    return editor


def _removed_but_read(source: str, parsed: ParsedCell, ns: Mapping[str, Any]) -> str | None:
    """The line for hyperparameters whose rows the editor removed from the cell ``source``
    while its body, ``parsed``, still reads them (and the notebook defines no such name);
    None where there are none."""
    try:
        opened = parse_cell(source.split("\n", 1)[1], need_space=False).names
    except CellError:
        return None
    gone = [n for n in opened if n not in parsed.space and n in parsed.free_names and n not in ns]
    if not gone:
        return None
    names = ", ".join(repr(n) for n in gone)
    return (f"the body reads {names}, whose row{'s were' if len(gone) > 1 else ' was'} removed "
            f"from the space: add {'them' if len(gone) > 1 else 'it'} back, or take "
            f"{'them' if len(gone) > 1 else 'it'} out of the body")


def _writer(magics: Any, source: str) -> Any:
    """The channel to nbtune's JupyterLab extension for the executing cell (see cell_writer),
    closing the one an earlier run of the same cell opened; None where there is none."""
    from .cell_writer import cell_writer

    found = cell_writer(magics.shell, source)
    if found is None:
        return None
    cell_id, writer = found
    old = magics._writers.pop(cell_id, None)
    if old is not None:
        old.close()
    magics._writers[cell_id] = writer
    return writer


def _writes_at_once(shell: InteractiveShell) -> bool:
    """Whether set_next_input takes effect at once (a terminal or a plain shell). A Jupyter
    kernel sends it with the reply to the cell being executed, and a button click is no cell."""
    return type(shell).set_next_input is InteractiveShell.set_next_input


AGAIN = "applied: run this cell again (Shift+Enter) to write the new lines into it"


def edit_cell(magics: Any, line: str, args: Any, cell: str) -> Any:
    """``%%tune --edit``: the editor of the cell's space lines. Apply rewrites them: in
    JupyterLab with nbtune's extension at once, in the cell itself; in another kernel frontend
    when the cell runs next. Run applies and starts the study with the line's other flags."""
    from .space_editor import SpaceEditor

    if args.space is not None:
        raise UsageError(f"%%tune: --edit edits this cell's space lines; to edit the space in "
                         f"{args.space!r}, run %tune_space {args.space}")
    shell = magics.shell
    source = f"%%tune {line}".rstrip() + "\n" + cell
    applied = magics._applied.pop(cell, None)
    if applied is not None:  # Apply was pressed in a kernel: this run's reply rewrites the cell
        shell.set_next_input(applied, replace=True)
        source, cell = applied, applied.split("\n", 1)[1]  # the cell as it now reads
    writer = _writer(magics, source) if applied is None else None
    now = {"source": source, "cell": cell}  # what the cell reads, once the extension wrote it

    def write(editor: SpaceEditor) -> str:
        if editor.cell_text == now["source"]:
            return "the cell already has these lines"
        if _writes_at_once(shell):
            shell.set_next_input(editor.cell_text, replace=True)
            return "applied: the cell's space lines are rewritten"
        text, key = editor.cell_text, now["cell"]
        magics._applied[key] = text  # the fallback, until the extension says it wrote the cell

        def done(ok: bool, reason: str) -> None:
            if ok:
                if magics._applied.get(key) == text:
                    del magics._applied[key]
                now["source"], now["cell"] = text, text.split("\n", 1)[1]
                editor.say("applied: the new lines are written into the cell")
            elif magics._applied.get(key) != text:  # a later Apply took its place
                return
            elif reason:  # the extension left the cell alone; running it may not match now
                # and it is dropped: it rewrote the cell, unasked, when the cell next read as
                # it had (first-day test, round 66)
                del magics._applied[key]
                editor.say(f"not written: {reason}; copy the lines below into it", error=True)
            else:
                editor.say(AGAIN)
            editor.written(ok, reason)

        editor.write_pending = True  # before the write: its answer sets it back
        if writer is not None and writer.write(text, done):
            return "applied: writing the new lines into the cell..."
        editor.write_pending = False
        return AGAIN

    def run(editor: SpaceEditor) -> Any:
        run_args = copy.copy(args)
        run_args.edit = False
        body = editor.cell_text.split("\n", 1)[1]
        parsed = magics._parse(run_args, body)
        removed = _removed_but_read(source, parsed, shell.user_ns)
        if removed:  # it said "not defined in the notebook: run the cell that defines or
            # imports it" of a row the editor had removed (first-day test, round 66)
            raise UsageError(f"%%tune: {removed}")
        start = magics._prepare(run_args, parsed, body)

        def go() -> Any:
            start()
            return shell.user_ns.get(run_args.out or magics.out)

        return go

    try:  # the cell's mistakes as its run names them: a misspelt primitive's line
        parse_cell("\n" + cell, need_space=False, defined=shell.user_ns)  # (`unifrom(0, 1)`)
        return SpaceEditor.from_cell(source, on_apply=write, on_run=run)  # was the body's, and
    except CellError as exc:  # the editor opened empty: "the space is empty: add a row"
        raise UsageError(f"%%tune: {exc}") from None
