"""What the simulator runs trials on: a blackbox gives a config's learning curve and its cost.

A blackbox answers one question, :meth:`Blackbox.curve`: for a config, the metric at every
resource level and the seconds each level takes. Tables of real training
(:class:`nbtune.sim.tables.Table`) and parametric curves (:mod:`nbtune.sim.curves`) are both
blackboxes, so the simulator never special-cases either.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..domains import Domain, fixed
from ..space import Space, as_space


class Blackbox:
    """A learning-curve oracle over a space: metric and seconds per resource level."""

    name = "blackbox"

    def __init__(self, space: Space | Mapping[str, Any], metric: str, mode: str, resource: str,
                 levels: Any):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.space, self.metric, self.mode, self.resource = as_space(space), metric, mode, resource
        self.levels = np.asarray(levels, dtype=np.int64)

    @property
    def max_t(self) -> int:
        """The last resource level (a trial that runs to its end reports it)."""
        return int(self.levels[-1])

    def curve(self, config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """The metric at each level of :attr:`levels`, and the seconds each level costs."""
        raise NotImplementedError

    @property
    def best_value(self) -> float:
        """The best metric value any config reaches at any level (the limit of a target)."""
        raise NotImplementedError

    def check_space(self, space: Space | Mapping[str, Any]) -> Space:
        """``space`` when every config it can draw lies in this blackbox's space, else a
        ValueError naming the first hyperparameter that does not."""
        space = as_space(space)
        mine = self.space
        missing = [k for k in mine.unit_names if k not in space]
        extra = [k for k in space if k not in mine]
        if missing or extra:
            what = (f"lacks {', '.join(map(repr, missing))}" if missing
                    else f"has {', '.join(map(repr, extra))}, which the table does not")
            raise ValueError(f"the space does not match the table {self.name!r}: it {what}; the "
                             f"table's space is {mine!r} (leave space=None to use it)")
        for k, dom in space.items():
            if not _within(dom, mine[k]):
                raise ValueError(f"the space does not match the table {self.name!r}: "
                                 f"hyperparameter {k!r} is {dom!r}, outside the table's "
                                 f"{mine[k]!r}; narrow it to the table's domain")
        return space


def _within(dom: Domain, table: Domain) -> bool:
    """Whether every value ``dom`` draws is a value of ``table``."""
    if dom.values is not None:
        try:
            for v in dom.values:
                table.validate(v)
        except ValueError:
            return False
        return True
    if isinstance(table, fixed) or table.values is not None:
        return False
    lo, hi = getattr(dom, "lo", None), getattr(dom, "hi", None)
    try:
        table.validate(lo)
        table.validate(hi)
    except ValueError:
        return False
    return True
