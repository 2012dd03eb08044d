"""The rows a model-based searcher learns from (nbtune.search.reports): kept in arrays that a report
changes in place, they always equal the rows made from scratch from every trial's reports."""
from __future__ import annotations

from collections import Counter

import numpy as np

from nbtune.search.reports import Reports, kept_levels


def from_scratch(reports: Reports) -> dict[int, list[tuple]]:
    """Each trial's rows (level, value; None for a failed trial's last value), by level."""
    out = {}
    for tid, trial in reports.trials.items():
        rows = [(lv, trial.levels.get(lv)) for lv in kept_levels(trial)]
        if trial.failed and rows:
            rows[-1] = (rows[-1][0], None)
        out[tid] = rows
    return out


def held(reports: Reports) -> dict[int, list[tuple]]:
    """Each trial's rows as the arrays hold them."""
    trials, levels, values, _ = reports.table()
    out: dict[int, list[tuple]] = {}
    for t, lv, v in zip(trials.tolist(), levels.tolist(), values.tolist()):
        out.setdefault(t, []).append((None if np.isnan(lv) else lv, None if np.isnan(v) else v))
    return {t: sorted(rows, key=lambda r: -1 if r[0] is None else r[0]) for t, rows in out.items()}


def test_rows_updated_in_place_equal_rows_made_from_scratch():
    """Random report streams: levels mostly rising, some out of order or repeated, some trials
    with no level, some failing; after every event the arrays hold exactly the rows a rebuild
    would make, every trial's encoding with its rows, and the counts per level match."""
    rng = np.random.default_rng(0)
    for stream in range(30):
        reports = Reports()
        last: dict[int, int] = {}
        versions = []
        for _ in range(300):
            tid = int(rng.integers(0, 12))
            x = np.array([tid, tid * 0.5])
            if tid in reports.trials and reports.trials[tid].failed:
                continue
            kind = rng.random()
            if kind < 0.04:
                reports.fail(tid, {"t": tid}, x)
            elif kind < 0.08 and tid not in last:
                reports.report(tid, {"t": tid}, x, None, float(rng.random()))
            else:
                level = last.get(tid, 0) + 1 if rng.random() < 0.85 else int(rng.integers(1, 30))
                last[tid] = max(last.get(tid, 0), level)
                value = float(rng.random()) if rng.random() < 0.95 else float("nan")
                reports.report(tid, {"t": tid}, x, level, value)
            versions.append(reports.version)
            assert held(reports) == {t: r for t, r in from_scratch(reports).items() if r}
            trials, levels, _, x = reports.table()
            if len(trials):
                assert np.array_equal(x[:, 0], trials.astype(float))
                assert np.all(np.diff(trials) >= 0)  # by trial id, then level
            numeric = Counter(lv for lv in levels.tolist() if not np.isnan(lv))
            assert reports.held_levels() == sorted(numeric)
            assert len(reports) == len(trials)
        assert versions == sorted(versions)  # a change bumps the version, never back


def test_the_resource_column_and_the_levels_a_pending_trial_reports_next():
    reports = Reports()
    x = np.zeros(1)
    reports.report(0, {}, x, 1, 0.5)
    assert reports.resource(np.array([1.0])) is None  # one level: nothing to model along it
    for level in (2, 3):
        reports.report(0, {}, x, level, 0.4)
    reports.report(1, {}, x, None, 0.3)  # a trial without levels sits at the highest held
    column = reports.resource(reports.table()[1])
    assert column.tolist() == [0.0, 0.25, 0.25]  # log3 / log81; None -> 3
    assert reports.next_level(2) == 1 and reports.next_level(0) == 3
    assert reports.acquisition_level(1) == 3 and reports.acquisition_level(2) is None


def test_the_table_does_not_depend_on_the_order_the_reports_came_in():
    """Three trials reporting levels 1 to 5, one after another or interleaved (a resumed study
    replays them one trial at a time): the same table."""
    def fed(order):
        reports = Reports()
        for tid, level in order:
            reports.report(tid, {}, np.array([float(tid)]), level, tid + level / 10)
        return reports.table()

    one_by_one = [(t, lv) for t in range(3) for lv in range(1, 6)]
    interleaved = [(t, lv) for lv in range(1, 6) for t in (2, 0, 1)]
    for a, b in zip(fed(one_by_one), fed(interleaved)):
        assert np.array_equal(a, b)
    assert fed(one_by_one)[1].tolist() == [1, 3, 5] * 3
