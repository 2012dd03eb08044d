"""How the simulator scales: 1,000 simulated workers, 100,000 trials, and the cost per decision.

Runs ``nbtune.simulate`` on the power-law curves (max_t 27) with 1,000 workers until 100,000
trials were created, for each scheduler named, and times every call the simulator makes into the
scheduler (``on_report``, ``next_action``, ...) and the searcher (``suggest``). Prints the wall time
of each study and the mean microseconds per call in each tenth of the study, so a cost that grows
with the trials seen shows as a rising row.

    python benchmarks/sim_scale.py                       # asha, asha-promotion, median
    python benchmarks/sim_scale.py --trials 20000 asha
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nbtune  # noqa: E402
from nbtune.sim import PowerLawCurves  # noqa: E402

METHODS = {"asha": ("asha", {"max_t": 27}),
           "asha-promotion": ("asha", {"max_t": 27, "type": "promotion"}),
           "median": ("median", {}), "fifo": (None, {})}


def timed(obj, names, costs, counter):
    """Wrap ``obj``'s methods ``names`` so that each call's seconds land in ``costs``."""
    for name in names:
        method = getattr(obj, name)

        def wrapper(*args, _method=method, _name=name, **kwargs):
            t = time.perf_counter()
            out = _method(*args, **kwargs)
            costs[_name][counter[0]].append(time.perf_counter() - t)
            return out

        setattr(obj, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("methods", nargs="*", default=["asha", "asha-promotion", "median"])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1000)
    args = parser.parse_args()
    box = PowerLawCurves(max_t=27, noise=0.01)
    tenth = args.trials // 10
    for method in args.methods:
        name, options = METHODS[method]
        scheduler = nbtune.schedule.make_scheduler(name, **options)
        searcher = nbtune.RandomSearcher(box.space, seed=0, mode="max")
        costs: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        counter = [0]
        timed(scheduler, ["on_report", "next_action", "on_trial_start", "on_trial_end"], costs,
              counter)
        timed(searcher, ["suggest"], costs, counter)
        suggest = searcher.suggest

        def counting(index, _suggest=suggest):
            counter[0] = min(index // tenth, 9)
            return _suggest(index)

        searcher.suggest = counting
        t = time.perf_counter()
        study = nbtune.simulate(box, scheduler=scheduler, searcher=searcher,
                                n_workers=args.workers, n_trials=args.trials, seed=0)
        wall = time.perf_counter() - t
        reports = sum(len(tr.reports) for tr in study.trials)
        print(f"\n{method}: {len(study.trials)} trials, {reports} reports, "
              f"{args.workers} workers, {wall:.1f} s wall ({wall / reports * 1e6:.1f} us per "
              f"report, everything included); simulated "
              f"{max(tr.finished for tr in study.trials):.0f} s")
        print("| call | " + " | ".join(f"{(k + 1) * 10}%" for k in range(10)) + " |")
        print("|---|" + "---|" * 10)
        for call, by_tenth in costs.items():
            means = [sum(by_tenth[k]) / len(by_tenth[k]) * 1e6 if by_tenth[k] else float("nan")
                     for k in range(10)]
            print(f"| {call} (us) | " + " | ".join(f"{m:.1f}" for m in means) + " |", flush=True)


if __name__ == "__main__":
    main()
