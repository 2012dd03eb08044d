"""Cost of one ``bayesopt`` suggestion against the number of observations its model holds (50, 500,
5,000), and against the start cost of a trial: a bare Dask submit-and-result round trip of a
trivial function on a LocalCluster, measured in the same run.

Run with ``make bench-bayesopt``. Prints, per size, the median time of a suggestion that refits
the kernel's hyperparameters and of one between refits, and their ratios to the 50-observation
suggestion and to the trial start. Goal: bounded (5,000 observations cost about what 500 do), and
a suggestion between refits well under a trial's start.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import nbtune
from nbtune.search import BayesOptSearcher

SPACE = {"lr": nbtune.loguniform(1e-4, 1e-1), "dropout": nbtune.uniform(0.0, 0.5),
         "hidden": nbtune.choice(32, 64, 128), "layers": nbtune.randint(1, 4),
         "momentum": nbtune.uniform(0.8, 0.99), "batch": nbtune.grid(32, 64, 128, 256)}


def loss(config: dict) -> float:
    return ((np.log10(config["lr"]) + 2.5) ** 2 + (config["dropout"] - 0.2) ** 2
            + 0.1 * (config["hidden"] != 64) + 0.05 * config["layers"])


def fed(n: int, seed: int = 0) -> BayesOptSearcher:
    """A searcher holding n observations of random configs."""
    s = BayesOptSearcher(SPACE, seed=seed)
    space = nbtune.Space(SPACE)
    rng = np.random.default_rng(seed)
    for i in range(n):
        config = space.sample(rng)
        s.on_trial_start(i, config)
        s.on_trial_end(i, config, "completed", loss(config) + rng.normal(0, 0.01))
    return s


def suggestion_times(n: int, repeat: int) -> tuple[float, float]:
    """Median seconds of a suggestion that refits the kernel, and of one that does not."""
    s = fed(n)
    refit, reuse = [], []
    for r in range(repeat):
        s._fit = None  # the next suggestion fits the hyperparameters again
        t0 = time.perf_counter()
        s.suggest(n + 2 * r)
        refit.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        s.suggest(n + 2 * r + 1)
        reuse.append(time.perf_counter() - t0)
    return statistics.median(refit), statistics.median(reuse)


def trial_start(repeat: int) -> float:
    """Median seconds of a trivial Dask submit and result on a one-worker LocalCluster."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.submit(abs, -1, pure=False).result()  # warm
        times = []
        for i in range(repeat):
            t0 = time.perf_counter()
            client.submit(abs, -i, pure=False).result()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500, 5000])
    args = parser.parse_args()
    start = trial_start(20)
    print(f"trial start (bare Dask submit + result): {start * 1e3:.1f} ms")
    base = None
    print("observations  refit (ms)  between refits (ms)  refit/first  between/trial start")
    for n in args.sizes:
        refit, reuse = suggestion_times(n, args.repeat)
        base = base or refit
        print(f"{n:>12}  {refit * 1e3:>10.1f}  {reuse * 1e3:>19.1f}  {refit / base:>11.2f}  "
              f"{reuse / start:>19.2f}")


if __name__ == "__main__":
    main()
