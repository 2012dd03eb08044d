"""Where a study's best trial sits at the edge of a range of its space, with trials piled there:
the better values may lie beyond the range, which no searcher can reach.

A model-based searcher pushed to a bound suggests it again and again (bayesopt put a learning
rate at 0.5, the top of its range, in four trials of SearchCV; first-day test, round 19), and
nothing on screen said so. The summary names such a range, for any searcher.
"""
from __future__ import annotations

from typing import Any

from . import trial as T
from .domains.ranges import Range
from .ranking import completed, fmt

NEAR = 0.01  # of a range's width on its own scale (log for log ranges): at its edge
PILED = 3  # trials at an edge, the best among them, before it is named
FEWEST = 5  # completed trials a study needs before its edges are judged
WIDE = 8  # integer ranges of fewer values than this are left alone (1..3 layers: a choice)


def edge_notes(study: Any) -> list[str]:
    """"lr: the best trial and 4 others sit at 0.5, the top of its range: better values may lie
    beyond it (widen the range)", one for each range of the space where the best trial and
    :data:`PILED` trials in all sit at one edge; [] where none does or too few completed."""
    done = completed(study)
    best = getattr(study, "best", None)
    if len(done) < FEWEST or best is None:
        return []
    ended = [t for t in list(study.trials) if t.state in T.FINISHED]
    notes = []
    for name, domain in study.space.items():
        if not isinstance(domain, Range) or (domain.integer and domain.hi - domain.lo + 1 < WIDE):
            continue
        side = _edge(domain, best.config.get(name))
        if side is None:
            continue
        at = sum(1 for t in ended if _edge(domain, t.config.get(name)) == side)
        if at < PILED:
            continue
        bound = domain.hi if side == "top" else domain.lo
        others = f"the best trial and {at - 1} other{'s' if at > 2 else ''}"
        notes.append(f"{name}: {others} sit at {fmt(bound)}, the {side} of its range: better "
                     f"values may lie beyond it (widen the range)")
    return notes


def _edge(domain: Range, value: Any) -> str | None:
    """"top" or "bottom" where ``value`` sits within :data:`NEAR` of that end of ``domain``."""
    if not T.is_finite_number(value) or not domain.lo <= value <= domain.hi:
        return None
    if domain.integer:
        return "top" if value == domain.hi else "bottom" if value == domain.lo else None
    u = domain.to_unit(value)  # on its own scale: a real range's ends are 0 and 1
    return "top" if u >= 1 - NEAR else "bottom" if u <= NEAR else None
