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


SEPARATORS = "-_. "
_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEYS = {k: (row, col + (0.0, 0.0, 0.25, 0.75)[row])
         for row, keys in enumerate(_ROWS) for col, k in enumerate(keys)}


def _neighbours(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are keys side by side on a QWERTY keyboard (a slip of a finger),
    in any case."""
    ka, kb = _KEYS.get(a.lower()), _KEYS.get(b.lower())
    if ka is None or kb is None or ka == kb:
        return a != b and a.lower() == b.lower()  # the same key, shifted
    return abs(ka[0] - kb[0]) <= 1 and abs(ka[1] - kb[1]) <= 1.0


def _doubled(long: str, short: str) -> bool:
    """Whether ``long`` is ``short`` with one of its letters typed twice (``lrr``, ``llr``)."""
    return len(long) == len(short) + 1 and any(
        long[:i] + long[i + 1:] == short and long[i].isalpha()
        and (long[i] == long[i - 1] if i else long[i] == long[1])
        for i in range(len(long)))


def one_typo(word: str, known: str) -> bool:
    """Whether ``word`` is ``known`` with one typo: a letter struck for its neighbour on the
    keyboard (``mlo`` for ``mlp``, not ``cnn`` for ``rnn``), added or dropped inside the name,
    or two neighbours swapped (``mpl`` for ``mlp``); of a two-letter name, only a letter typed
    twice (``lrr`` for ``lr``: others are names of their own). Not a name that adds or drops an end
    (``space-2``, ``slowkill`` beside ``space``, ``slow``), nor one that changes, adds or drops a
    digit or a separator (``nightly-2026-12-06``, ``model_v2`` beside ``-05``, ``_v1``): those
    are new names, a date, a version or a counter (first-day tests, rounds 39 and 40: a nightly
    job's second night was refused as a typo of its first, and a new model ``cnn`` as one of
    ``rnn``)."""
    if word == known or min(len(word), len(known)) < 2:
        return False
    if min(len(word), len(known)) == 2:  # `lrr` for the notebook's `lr` (round 62): of a
        return _doubled(word, known) or _doubled(known, word)  # two-letter name, only this
    if len(word) == len(known):
        diff = [i for i, (a, b) in enumerate(zip(word, known)) if a != b]
        if len(diff) == 1:
            a, b = word[diff[0]], known[diff[0]]
            return (not (a.isdigit() or b.isdigit() or a in SEPARATORS or b in SEPARATORS)
                    and _neighbours(a, b))
        return (len(diff) == 2 and diff[1] == diff[0] + 1
                and word[diff[0]] == known[diff[1]] and word[diff[1]] == known[diff[0]])
    if abs(len(word) - len(known)) != 1:
        return False
    long, short = (word, known) if len(word) > len(known) else (known, word)
    for i, c in enumerate(long):
        if long[:i] + long[i + 1:] == short:
            return 0 < i < len(long) - 1 and not c.isdigit() and c not in SEPARATORS
    return False


def meant_key(word: str, seen: Iterable[str]) -> str | None:
    """The reported key that ``word`` most likely names: a typo of it, or a word it shortens
    (``acc`` for ``accuracy``, a Ray Tune habit); None where none is likely."""
    seen = list(seen)
    near = closest(word, seen)
    if near is None and len(word) >= 2:
        longer = [k for k in seen if k.lower().startswith(word.lower())]
        near = longer[0] if len(longer) == 1 else None
    return near


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
