"""Does the simulator tell the truth? ASHA (promotion) on the sgd-mlp task, real and simulated.

Real: ``nbtune.tune`` with ``scheduler="asha", type="promotion"`` on the sgd-mlp task of tasks.py,
2 workers, 120 s, as benchmarks/early_stopping.py runs it. It measures the start overhead: the
median seconds from a submission (``trial_created``) to the worker starting it (``trial_started``).
Simulated: ``nbtune.simulate`` on the sgd-mlp table with 2 workers, 120 simulated seconds, that
start overhead, the same seed. Printed per seed: trials per rung and the time to 0.80; then the
same again "paced": with the simulated budget scaled so that it trains as many epochs as the real
run did (the table's seconds were measured at another moment of a shared machine's load), its
time to 0.80 scaled back to real seconds.

    python benchmarks/fidelity.py --seeds 0,1,2
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import nbtune  # noqa: E402
from distributed import Client  # noqa: E402
from early_stopping import EPOCHS, SPACE, Trace, make_data, train, wait_idle  # noqa: E402
from nbtune.run.cluster import local_cluster  # noqa: E402

OPTIONS = dict(scheduler="asha", type="promotion", max_t=EPOCHS, grace_period=1,
               reduction_factor=3)


class Overhead(Trace):
    """A Trace that also times each submission until a worker starts it."""

    def __init__(self):
        super().__init__()
        self.created: dict[int, float] = {}
        self.waits: list[float] = []

    def trial_created(self, trial):
        super().trial_created(trial)
        self.created[trial.id] = time.time()

    def trial_started(self, trial):
        if trial.id in self.created:
            self.waits.append(time.time() - self.created.pop(trial.id))


class SimTrace(nbtune.Observer):
    """(simulated second, accuracy) of every report."""

    def __init__(self):
        self.points = []

    def study_started(self, info):
        self.clock = info["clock"]

    def trial_reported(self, trial, report):
        self.points.append((self.clock(), report["accuracy"]))

    def time_to(self, target):
        return min((t for t, a in self.points if a >= target), default=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--target", type=float, default=0.80)
    parser.add_argument("--table", default="sgd-mlp")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    table = nbtune.sim.load_table(args.table)
    data = make_data()
    rows = []
    with local_cluster(2) as cluster, Client(cluster) as client, \
            tempfile.TemporaryDirectory() as folder:
        for seed in seeds:
            trace = Overhead()
            real = nbtune.tune(nbtune.with_parameters(train, **data), SPACE, metric="accuracy",
                               mode="max", n_trials=None, max_time=args.budget, seed=seed,
                               cluster=client, storage=os.path.join(folder, "f.db"),
                               observers=[trace], progress=False, **OPTIONS)
            wait_idle(client)
            overhead = statistics.median(trace.waits)
            sim_trace = SimTrace()
            # restrict=False: the simulation draws the real run's configs (same searcher, same
            # seed) and looks each up by nearest neighbour, so the two runs differ only in time
            sim = nbtune.simulate(table, n_workers=2, max_time=args.budget, seed=seed,
                                  start_overhead=overhead, observers=[sim_trace],
                                  restrict=False, **OPTIONS)
            sim_epochs = sum(len(t.reports) for t in sim.trials)
            # the pace this machine gave the real run, against the table's: the simulated
            # budget that trains as many epochs as the real run did
            scale = trace.epochs / sim_epochs
            paced_trace = SimTrace()
            paced = nbtune.simulate(table, n_workers=2, max_time=args.budget * scale, seed=seed,
                                    start_overhead=overhead * scale, observers=[paced_trace],
                                    restrict=False, **OPTIONS)
            paced_to = paced_trace.time_to(args.target)
            rows.append((seed, overhead, real.scheduler.rung_counts(), trace.time_to(args.target),
                         sim.scheduler.rung_counts(), sim_trace.time_to(args.target),
                         trace.epochs, sim_epochs, scale, paced.scheduler.rung_counts(),
                         None if paced_to is None else paced_to / scale))
            print(rows[-1], flush=True)
    print(f"\n2 workers, {args.budget:.0f} s, table {table.name} ({len(table)} configs)")
    print("| seed | start overhead (s) | real: trials per rung | simulated | paced simulation | "
          f"real: time to {args.target} (s) | simulated | paced | real epochs | simulated | "
          "pace |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for seed, overhead, rc, rt, sc, st, re, se, scale, pc, pt in rows:
        show = lambda c: ", ".join(f"{k}: {v}" for k, v in c.items())
        fmt = lambda t: "never" if t is None else f"{t:.1f}"
        print(f"| {seed} | {overhead:.3f} | {show(rc)} | {show(sc)} | {show(pc)} | {fmt(rt)} | "
              f"{fmt(st)} | {fmt(pt)} | {re} | {se} | {scale:.2f} |")


if __name__ == "__main__":
    main()
