"""What every domain shares: checks of the numbers its constructor takes, and JSON values (a value
as a stored file gives it back, equality where ``True != 1``, a hashable stand-in)."""
from __future__ import annotations

import contextlib
import json
import math
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np

Rng = np.random.Generator


def _is_real(x: Any) -> bool:
    return isinstance(x, (numbers.Real, np.number)) and not isinstance(x, (bool, np.bool_))


def _is_int(x: Any) -> bool:
    return isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, (bool, np.bool_))


def _num(fn: str, label: str, x: Any) -> float:
    if not _is_real(x) or not math.isfinite(float(x)):
        raise ValueError(f"{fn} needs a finite number for {label}, got {label}={x!r}")
    return float(x)


def _integer(fn: str, label: str, x: Any) -> int:
    if _is_int(x) or (_is_real(x) and float(x).is_integer()):
        return int(x)
    raise ValueError(f"{fn} needs an integer for {label}, got {label}={x!r}")


def _np(o: Any) -> Any:
    if isinstance(o, (np.generic, np.ndarray)):
        return o.tolist()
    raise TypeError(type(o).__name__)


def canonical(what: str, v: Any) -> Any:
    """v as JSON gives it back (numpy -> Python, tuples -> lists); ValueError if not JSON-able."""
    try:
        return json.loads(json.dumps(v, allow_nan=False, default=_np))
    except (TypeError, ValueError):
        scipy = hasattr(v, "rvs") and hasattr(v, "dist")  # a frozen scipy.stats distribution
        hint = (f"; scipy.stats distributions ({v.dist.name}) go to SearchCV: nbtune.tune "
                "takes nbtune's (uniform, loguniform, randint, ...)" if scipy else "")
        raise ValueError(f"{what} must be JSON-serialisable and finite (str, int, float, bool, "
                         f"None, lists, dicts), got {v!r}{hint}") from None


def as_written(given: Any, plain: Any) -> Any:
    """``plain`` (``canonical`` of ``given``) with the tuples ``given`` holds, which JSON made
    lists, tuples again: a trial gets ``(64, 32)`` where the space says ``choice((64, 32), ...)``,
    though the study file stores it as a list."""
    if isinstance(given, tuple) and isinstance(plain, list) and len(given) == len(plain):
        return tuple(as_written(g, p) for g, p in zip(given, plain))
    if isinstance(given, list) and isinstance(plain, list) and len(given) == len(plain):
        return [as_written(g, p) for g, p in zip(given, plain)]
    if isinstance(given, dict) and isinstance(plain, dict):
        return {k: as_written(given.get(k), v) for k, v in plain.items()}
    return plain


@contextlib.contextmanager
def about(name: str) -> Iterator[None]:
    """Re-raise a ValueError naming the hyperparameter."""
    try:
        yield
    except ValueError as e:
        raise ValueError(f"hyperparameter {name!r}: {e}") from None


TUPLE = "__tuple__"  # the key of a tuple kept in JSON: (64, 32) is {"__tuple__": [64, 32]}


def holds_tuple(v: Any) -> bool:
    """Whether the value is or holds a tuple (which JSON makes a list)."""
    if isinstance(v, tuple):
        return True
    if isinstance(v, list):
        return any(map(holds_tuple, v))
    return isinstance(v, dict) and any(map(holds_tuple, v.values()))


def tag_tuples(v: Any) -> Any:
    """``v`` for JSON with its tuples kept: each one a one-key dict, :data:`TUPLE`."""
    if isinstance(v, tuple):
        return {TUPLE: [tag_tuples(x) for x in v]}
    if isinstance(v, list):
        return [tag_tuples(x) for x in v]
    if isinstance(v, dict):
        return {k: tag_tuples(x) for k, x in v.items()}
    return v


def untag_tuples(v: Any) -> Any:
    """The value :func:`tag_tuples` kept, its tuples tuples again."""
    if isinstance(v, dict):
        if v.keys() == {TUPLE} and isinstance(v[TUPLE], list):
            return tuple(untag_tuples(x) for x in v[TUPLE])
        return {k: untag_tuples(x) for k, x in v.items()}
    if isinstance(v, list):
        return [untag_tuples(x) for x in v]
    return v


def _same(a: Any, b: Any) -> bool:
    """Equality where True != 1 and a tuple equals the list JSON turns it into."""
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return isinstance(a, (bool, np.bool_)) and isinstance(b, (bool, np.bool_)) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:
        return False


def _unit(u: Any) -> float:
    if not _is_real(u) or math.isnan(float(u)):
        raise ValueError(f"unit value must be a number in [0, 1], got {u!r}")
    return min(max(float(u), 0.0), 1.0)


# types whose values JSON gives back unchanged (and finite floats: see _index)
_PLAIN = (str, int, bool, type(None))


def _key(v: Any, exact: bool = False) -> Any:
    """A hashable stand-in for a JSON value, equal where :func:`_same` says so (``1 == 1.0``,
    ``True != 1``), so that finite domains check and find values in linear time. ``exact``:
    an int and a float are two values (scikit-learn reads ``max_df=1`` as one document and
    ``max_df=1.0`` as all of them, and its grids keep both: first-day test, round 45)."""
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, (int, float)):
        return ("i" if exact and isinstance(v, int) else "n", v)
    if isinstance(v, str):
        return ("s", v)
    if isinstance(v, list):
        return ("l", tuple(_key(x, exact) for x in v))
    if isinstance(v, dict):
        return ("d", tuple(sorted((k, _key(x, exact)) for k, x in v.items())))
    return ("z",)  # None
