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


def test_percentile_rule_cuts_where_numpy_nanpercentile_does():
    import math

    import numpy as np

    from nbtune.schedule import CONTINUE, STOP, PercentileScheduler

    rng = np.random.default_rng(1)
    for mode in ("max", "min"):
        s = PercentileScheduler(percentile=30.0, n_startup_trials=1)
        s.setup("v", mode, "epoch")
        peers = []
        for trial in range(60):
            s.on_trial_start(trial, {})
            v = float(rng.choice([np.nan, np.inf, -np.inf, *rng.normal(size=6)]))
            s.on_report(trial, {"epoch": 1, "v": v})
            s.on_trial_end(trial, "completed")
            peers.append(v)
            probe = 1000 + trial
            s.on_trial_start(probe, {})
            mine = float(rng.normal())
            with np.errstate(invalid="ignore"):
                p = np.nanpercentile(peers, 70.0 if mode == "max" else 30.0)
            expected = (CONTINUE if all(map(math.isnan, peers)) or math.isnan(p) else
                        STOP if (mine < p if mode == "max" else mine > p) else CONTINUE)
            assert s.on_report(probe, {"epoch": 1, "v": mine}) == expected
            s.on_trial_end(probe, "stopped")
