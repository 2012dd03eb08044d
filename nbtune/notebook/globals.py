"""The notebook values a %%tune body reads, and how each travels to the workers.

Small values travel with every trial (pickled with it); large ones go to the cluster once per
study and are shared by its trials. A value that cannot be sent is named before any trial runs.
"""
from __future__ import annotations

import builtins
import types
from typing import Any, Iterable, Mapping

from IPython.core.error import UsageError

_CODE = (types.ModuleType, types.FunctionType, type)  # travel by name or by value, never scattered


def notebook_values(ns: Mapping[str, Any], names: Iterable[str], threshold: int
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(small, large): the values of ``names`` in the notebook namespace ``ns``; large ones are
    over ``threshold`` bytes, or the largest of small ones that together pass it."""
    import cloudpickle
    from dask.sizeof import sizeof

    small: dict[str, Any] = {}
    large: dict[str, Any] = {}
    for name in names:
        if name not in ns:
            if hasattr(builtins, name):
                continue
            raise UsageError(f"%%tune: the cell uses {name!r}, which is not defined in the "
                             "notebook: run the cell that defines it first")
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
            raise UsageError(f"%%tune: the global {name!r} ({type(value).__name__}) cannot be "
                             f"sent to the Dask workers ({exc}); create it inside the cell "
                             "instead") from None
        small[name] = value
    sizes = {name: sizeof(value) for name, value in small.items() if not isinstance(value, _CODE)}
    total = sum(sizes.values())
    for name in sorted(sizes, key=sizes.get, reverse=True):  # many values just under it
        if total <= threshold:
            break
        large[name] = small.pop(name)
        total -= sizes[name]
    return small, large
