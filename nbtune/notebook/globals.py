"""The notebook values a %%tune body reads, and how each travels to the workers.

Small values travel with every trial (pickled with it); large ones go to the cluster once per
study and are shared by its trials. A value that cannot be sent is named before any trial runs.
"""
from __future__ import annotations

import builtins
import types
from typing import Any, Iterable, Mapping

from IPython.core.error import UsageError

from ..ported import CELL_NAMES, cell_note
from ..run.sending import named_value

_CODE = (types.ModuleType, types.FunctionType, type)  # travel by name or by value, never scattered


def notebook_values(ns: Mapping[str, Any], names: Iterable[str], threshold: int
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(small, large): the values of ``names`` in the notebook namespace ``ns``; large ones are
    over ``threshold`` bytes, or the largest of small ones that together pass it."""
    import cloudpickle
    from dask.sizeof import sizeof

    small: dict[str, Any] = {}
    large: dict[str, Any] = {}
    missing = [n for n in names if n not in ns and not hasattr(builtins, n)]
    if missing:
        which = (f"{missing[0]!r}, which is" if len(missing) == 1 else
                 f"{_listed(missing)}, which are")
        ported, others = cell_note(missing), [n for n in missing if n not in CELL_NAMES]
        it = "it" if len(others) == 1 else "them"  # a forgotten import read as a missing cell
        fix = f"run the cell that defines or imports {it} first, or import {it} in this cell"
        if ported is not None:  # another tool's name (Optuna's trial): what to write, first
            fix = ported + (f"; for {_listed(others)}, {fix}" if others else "")
        raise UsageError(f"%%tune: the cell uses {which} not defined in the notebook: {fix}")
    unsendable: list[tuple[str, Any, Exception]] = []
    for name in names:
        if name not in ns:
            continue  # a builtin
        value = ns[name]
        if isinstance(value, types.ModuleType):
            small[name] = value  # modules travel by name and are imported on the worker
            continue
        if sizeof(value) > threshold:
            large[name] = value
            continue
        try:
            cloudpickle.dumps(value)
        except Exception as exc:
            unsendable.append((name, value, exc))
            continue
        small[name] = value
    if unsendable:  # every one named at once: the next run should not find another
        shown = [named_value(name, value) for name, value, _ in unsendable]
        why = "; ".join(dict.fromkeys(str(exc) for _, _, exc in unsendable))  # each once
        one = len(unsendable) == 1
        raise UsageError(f"%%tune: the global{'' if one else 's'} {_listed(shown, quoted=False)} "
                         f"cannot be sent to the Dask workers ({why}); create "
                         f"{'it' if one else 'them'} inside the cell instead")
    sizes = {name: sizeof(value) for name, value in small.items() if not isinstance(value, _CODE)}
    total = sum(sizes.values())
    for name in sorted(sizes, key=sizes.get, reverse=True):  # many values just under it
        if total <= threshold:
            break
        large[name] = small.pop(name)
        total -= sizes[name]
    return small, large


def _listed(items: list[str], quoted: bool = True) -> str:
    """'a', 'b' and 'c' (``quoted``: each as its repr)."""
    shown = [repr(x) for x in items] if quoted else list(items)
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"

