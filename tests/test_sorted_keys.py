"""The sorted keys behind the rung schedulers' rankings, against a plain sorted list."""
from __future__ import annotations

import random

from nbtune.schedule import sorted_keys
from nbtune.schedule.sorted_keys import SortedKeys


def test_sorted_keys_insert_remove_rank_and_index_like_a_sorted_list(monkeypatch):
    monkeypatch.setattr(sorted_keys, "LOAD", 4)  # small blocks: many splits and empty blocks
    rng = random.Random(0)
    keys, plain = SortedKeys(), []
    for step in range(3000):
        if plain and rng.random() < 0.4:
            key = rng.choice(plain)
            keys.remove(key)
            plain.remove(key)
        else:
            key = (rng.randint(0, 1), rng.randint(-50, 50) / 7, rng.randint(0, 30))
            keys.add(key)
            plain.append(key)
            plain.sort()
        assert len(keys) == len(plain)
        if plain:
            k = rng.randrange(len(plain))
            assert keys[k] == plain[k] and keys[-1] == plain[-1]
            probe = (rng.randint(0, 1), rng.randint(-50, 50) / 7, rng.randint(0, 30))
            assert keys.rank(probe) == sum(p < probe for p in plain)
    assert list(keys) == plain
    try:
        keys.remove((5, 0.0, 0))
    except KeyError:
        pass
    else:
        raise AssertionError("removing an absent key must raise KeyError")
