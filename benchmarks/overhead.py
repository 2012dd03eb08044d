"""Overhead of nbtune's loop: trivial trials per second through ``nbtune.tune`` (storage on)
against a bare ``distributed.as_completed`` loop on the same cluster, in the same run.

The bare loop keeps two tasks per worker in flight (one runs, one waits in the worker's queue);
nbtune runs at its defaults (no ``concurrency``, as a user runs it) and, for reference, with
``concurrency`` set to the bare loop's. Run with ``make bench``. Prints the rates and their
ratios (goal: nbtune at its defaults >= 0.8 of the bare loop).
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


def nbtune_loop(client: Client, n: int, concurrency: int | None, folder: str, i: int) -> float:
    """Trials per second through nbtune.tune with SQLite storage (``concurrency`` None: its
    default, what the workers run at once and one queued on each)."""
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
        concurrency = 2 * args.workers  # the bare loop keeps a task queued on each worker
        bare_loop(client, 100, concurrency)  # warm up every path
        nbtune_loop(client, 100, None, folder, 98)
        nbtune_loop(client, 100, concurrency, folder, 99)
        bare, default, fixed = [], [], []
        for i in range(args.repeats):  # interleaved, so drifts in machine load hit all
            bare.append(bare_loop(client, args.trials, concurrency))
            default.append(nbtune_loop(client, args.trials, None, folder, 2 * i))
            fixed.append(nbtune_loop(client, args.trials, concurrency, folder, 2 * i + 1))
    b, d, f = (statistics.median(x) for x in (bare, default, fixed))
    print(f"trivial trials, {args.workers} workers, {args.trials} trials x {args.repeats} runs "
          "(medians)")
    print(f"  bare as_completed loop, {concurrency} in flight : {b:8.1f} trials/s")
    print(f"  nbtune.tune + SQLite, defaults      : {d:8.1f} trials/s   ratio {d / b:5.2f}  "
          "(goal >= 0.80)")
    print(f"  nbtune.tune + SQLite, concurrency {concurrency} : {f:8.1f} trials/s   ratio "
          f"{f / b:5.2f}")


if __name__ == "__main__":
    main()
