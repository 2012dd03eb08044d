"""Overhead of nbtune's loop: trivial trials per second through ``nbtune.tune`` (storage on)
against a bare ``distributed.as_completed`` loop on the same cluster, in the same run.

Run with ``make bench``. Prints both rates and their ratio (goal: nbtune >= 0.8 of the bare loop).
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from distributed import Client, LocalCluster, as_completed

import nbtune


def trivial(config):
    return config["x"]


def bare_loop(client: Client, n: int, concurrency: int) -> float:
    """Trials per second of a hand-written adaptive loop: submit, as_completed, resubmit."""
    import numpy as np

    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    futures = [client.submit(trivial, {"x": float(rng.uniform())}, pure=False)
               for _ in range(concurrency)]
    submitted = len(futures)
    ac = as_completed(futures)
    for future in ac:
        future.result()
        if submitted < n:
            ac.add(client.submit(trivial, {"x": float(rng.uniform())}, pure=False))
            submitted += 1
    return n / (time.perf_counter() - t0)


def nbtune_loop(client: Client, n: int, concurrency: int, folder: str, i: int) -> float:
    """Trials per second through nbtune.tune with SQLite storage."""
    t0 = time.perf_counter()
    study = nbtune.tune(trivial, {"x": nbtune.uniform(0, 1)}, metric="x", n_trials=n, seed=i,
                        cluster=client, concurrency=concurrency,
                        storage=os.path.join(folder, "bench.db"), study=f"bench-{i}")
    elapsed = time.perf_counter() - t0
    assert len(study.completed) == n, study.counts()
    return n / elapsed


def parse_args(doc: str) -> argparse.Namespace:
    """The options the trials-per-second benchmarks share: trials, repeats, workers."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    return parser.parse_args()


def main() -> None:
    args = parse_args(__doc__)
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client, \
            tempfile.TemporaryDirectory() as folder:
        concurrency = 2 * args.workers  # keep a task queued on each worker in both loops
        bare_loop(client, 100, concurrency)  # warm up both paths
        nbtune_loop(client, 100, concurrency, folder, 99)
        bare, tuned = [], []
        for i in range(args.repeats):  # interleaved, so drifts in machine load hit both
            bare.append(bare_loop(client, args.trials, concurrency))
            tuned.append(nbtune_loop(client, args.trials, concurrency, folder, i))
    b, t = statistics.median(bare), statistics.median(tuned)
    print(f"trivial trials, {args.workers} workers, concurrency {concurrency}, "
          f"{args.trials} trials x {args.repeats} runs (medians)")
    print(f"  bare as_completed loop : {b:8.1f} trials/s")
    print(f"  nbtune.tune + SQLite   : {t:8.1f} trials/s")
    print(f"  ratio nbtune / bare    : {t / b:8.2f}  (goal >= 0.80)")


if __name__ == "__main__":
    main()
