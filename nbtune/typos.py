"""Naming a typo: the known word closest to a misspelt one (``difflib``), for one-line messages."""
from __future__ import annotations

import difflib
from typing import Any, Iterable

CUTOFF = 0.75  # how alike (difflib's ratio) a word must be to a known one to count as its typo


def closest(word: str, known: Iterable[str], cutoff: float = CUTOFF) -> str | None:
    """The known word ``word`` most likely misspells, or None when none is close."""
    found = difflib.get_close_matches(word, list(known), n=1, cutoff=cutoff)
    return found[0] if found else None


def did_you_mean(word: str, known: Iterable[str], cutoff: float = CUTOFF) -> str:
    """`` (did you mean 'x'?)`` for the known word closest to ``word``, else ``""``."""
    near = closest(word, known, cutoff)
    return f" (did you mean {near!r}?)" if near else ""


def hint(word: Any, known: Iterable[str], aliases: dict[str, str] | None = None) -> str:
    """`` (that is 'x' here)`` where ``word`` is another tool's name (``aliases``, keyed in lower
    case) for a known one, else :func:`did_you_mean`'s hint; ``""`` for a word not a string."""
    if not isinstance(word, str):
        return ""
    alias = (aliases or {}).get(word.lower())
    return f" (that is {alias!r} here)" if alias is not None else did_you_mean(word, known)


def one_of(what: str, name: Any, known: Iterable[str],
           aliases: dict[str, str] | None = None) -> str:
    """``name`` if it is one of ``known``; otherwise ValueError, one line: ``unknown {what}
    'nmae' (did you mean 'name'?); known: ...``. ``aliases``: other tools' names (lower case)
    for one of ``known``, named as such ("'gp' is 'bayesopt' here")."""
    known = tuple(known)
    if not isinstance(name, str) or name not in known:
        raise ValueError(f"unknown {what} {name!r}{hint(name, known, aliases)}; known: "
                         + ", ".join(repr(k) for k in known))
    return name
