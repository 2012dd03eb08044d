"""bayesopt's calls on the loop's thread or on a thread of their own (`make bench-thinking`).

A study of short trials under ASHA (stopping), two single-threaded workers, a fixed wall-clock
budget, with the same ``bayesopt`` searcher run three ways in the same process: its calls on the
loop's thread (``costly_suggest = False``, as nbtune did before 2026-12-04), on a thread of its own
with every free worker waiting for its suggestion (``draws_while_thinking = False``, as nbtune did
until 2026-12-04), and on its own thread drawing a random config for a free worker when its
suggestion is late, both with Python's thread switch interval left at its 5 ms (as nbtune did
until 2026-12-06) and shortened while the model thinks (the default since,
``nbtune.run.thinking.SWITCH_INTERVAL``), and with the process's BLAS left on its threads while
the model thinks (as nbtune did until 2026-12-07; ``nbtune.run.thinking.OneBlasThread``). Random
search, whose suggestions cost nothing, is the reference. Printed per epoch length: trials
started, epochs trained, seconds spent suggesting, the reports the loop handled while a suggestion
was being made (none on the loop's thread), the trials started with a random config while the
model was busy, the CPU seconds of this (the notebook's) process, and the best score. ``--burn``:
the epochs compute (on the workers' cores) rather than sleep, so CPU the notebook's process
spends is taken from them, on the cluster a notebook gets (``nbtune.run.local.local_cluster``,
where the BLAS threads' spinning showed: not on a bare ``LocalCluster``); ``--trials N``: each study runs N trials rather than ``--budget``
seconds (a trial budget: each suggestion is made after every event before it).

    python benchmarks/thinking.py [--budget 20 | --trials 120] [--epochs 0.005,0.04] [--burn]
"""
from __future__ import annotations

import argparse
import time

import nbtune
from nbtune.run import thinking
from nbtune.search.bayesopt import BayesOptSearcher


def trial(config):
    for epoch in range(1, 10):
        if config["burn"]:  # the epoch's seconds computed on the worker's core
            end = time.thread_time() + config["epoch_s"]
            while time.thread_time() < end:
                pass
        else:
            time.sleep(config["epoch_s"])
        nbtune.report(epoch=epoch, score=config["x"] * epoch + config["y"] - 0.1 * config["z"])


class Timed:
    """Wraps a searcher's ``suggest`` to note when it thought; counts reports made meanwhile."""

    def __init__(self, searcher):
        self.spans: list[tuple[float, float]] = []
        inner = searcher.suggest

        def suggest(index):
            start = time.monotonic()
            try:
                return inner(index)
            finally:
                self.spans.append((start, time.monotonic()))

        searcher.suggest = suggest


class Reports(nbtune.Observer):
    def __init__(self):
        self.times: list[float] = []

    def trial_reported(self, trial, report):
        self.times.append(time.monotonic())


def run(client, how: str, epoch_s: float, budget: float, burn: bool, trials: int | None) -> dict:
    space = {"x": nbtune.uniform(0, 1), "y": nbtune.uniform(0, 1), "z": nbtune.randint(0, 5),
             "epoch_s": nbtune.fixed(epoch_s), "burn": nbtune.fixed(burn)}
    searcher = "random"
    timed = None
    if how != "random":
        searcher = BayesOptSearcher(space, seed=0, mode="max")
        searcher.costly_suggest = how != "loop's thread"
        searcher.draws_while_thinking = how.startswith("own thread") and "waits" not in how
        timed = Timed(searcher)
    reports = Reports()
    default, limit = thinking.SWITCH_INTERVAL, thinking.OneBlasThread.limit
    thinking.SWITCH_INTERVAL = None if "5 ms" in how else default
    if "BLAS threads" in how:
        thinking.OneBlasThread.limit = lambda self: None
    cpu, wall = time.process_time(), time.monotonic()
    try:
        study = nbtune.tune(trial, space, metric="score", mode="max", searcher=searcher,
                            scheduler="asha", max_t=9, n_trials=trials,
                            max_time=None if trials else budget,
                            cluster=client, storage=None, progress=False, seed=0,
                            observers=[reports])
    finally:
        thinking.SWITCH_INTERVAL, thinking.OneBlasThread.limit = default, limit
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    spans = timed.spans if timed else []
    during = sum(any(a < t < b for a, b in spans) for t in reports.times)
    return {"trials": len(study.trials), "epochs": sum(len(t.reports) for t in study.trials),
            "suggesting": sum(b - a for a, b in spans), "during": during,
            "drawn": getattr(study.searcher, "quick_draws", 0), "cpu": cpu,
            "wall": wall, "best": study.best_value}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per study")
    parser.add_argument("--epochs", default="0.005,0.04", help="seconds per epoch, a list")
    parser.add_argument("--burn", action="store_true", help="epochs compute rather than sleep")
    parser.add_argument("--trials", type=int, default=None, help="trials per study (not --budget)")
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    from nbtune.run.local import local_cluster

    bare = dict(threads_per_worker=1, processes=True, dashboard_address=None)
    with (local_cluster(2) if args.burn else LocalCluster(n_workers=2, **bare)) as cluster, \
            Client(cluster) as client:
        print("| epoch (s) | searcher | seconds | trials | epochs | epochs / random's | seconds "
              "suggesting | reports handled while suggesting | random configs while busy | "
              "notebook CPU (s) | best |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for epoch_s in (float(e) for e in args.epochs.split(",")):
            base = None
            for how in ("random", "loop's thread", "own thread, waits",
                        "own thread, 5 ms switches", "own thread, BLAS threads", "own thread"):
                r = run(client, how, epoch_s, args.budget, args.burn, args.trials)
                base = base or r["epochs"]
                name = "random" if how == "random" else f"bayesopt, {how}"
                print(f"| {epoch_s} | {name} | {r['wall']:.1f} | {r['trials']} | {r['epochs']} | "
                      f"{r['epochs'] / base:.2f} | {r['suggesting']:.1f} | {r['during']} | "
                      f"{r['drawn']} | {r['cpu']:.1f} | {r['best']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
