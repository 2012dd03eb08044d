"""Cost of one ``bayesopt`` suggestion against the number of observations its model holds (50, 500,
5,000), and against the start cost of a trial: a bare Dask submit-and-result round trip of a
trivial function on a LocalCluster, measured in the same run.

Run with ``make bench-bayesopt``. Prints, per size, the median time the driver's thread spends
on an event at a refit point (the kernel's hyperparameters are fitted on the searcher's own
thread, so this is what a report that sets off a fit makes the loop wait), how long that fit
takes on its thread, and the time of a suggestion made as in a study on two workers (just after
a trial ended, so on rows that changed, with the other trial running), with its ratio to the
trial start. Goal: bounded (5,000 observations cost about what 500 do), the loop never waiting
for a fit, and a suggestion well under a trial's start.
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


def costs(n: int, repeat: int) -> tuple[float, float, float]:
    """Median seconds, with n observations held, of: the event at a refit point on the driver's
    thread (what a report that sets off a fit makes the loop wait); that fit, on the searcher's
    fitting thread, from the event to its end; and a suggestion just after a trial's end, with
    another trial running (the fit it uses ended)."""
    from nbtune.search.gp import refit_point

    s = fed(n)
    s._kernels.wait()  # the fits its feeding set off have ended
    space, rng = nbtune.Space(SPACE), np.random.default_rng(1)
    event, fit, suggestion = [], [], []
    i = n
    for _ in range(repeat):
        point = s._kernels.events + 1
        while point != refit_point(point, s.refit_every):
            point += 1
        while True:  # feed observations up to the next refit point, timing the event there
            config = space.sample(rng)
            s.on_trial_start(i, config)
            t0 = time.perf_counter()
            s.on_trial_end(i, config, "completed", loss(config) + rng.normal(0, 0.01))
            t1 = time.perf_counter()
            i += 1
            if s._kernels.events == point:
                break
        event.append(t1 - t0)
        s._kernels.wait()
        fit.append(time.perf_counter() - t0)
        # as in a study on two workers: one trial runs (a fantasy) while another ends and its
        # worker asks for the next config, so the rows changed since the last suggestion
        running, ending = space.sample(rng), space.sample(rng)
        s.on_trial_start(i, running)
        s.on_trial_start(i + 1, ending)
        s.on_trial_end(i + 1, ending, "completed", loss(ending) + rng.normal(0, 0.01))
        t0 = time.perf_counter()
        s.suggest(i + 2)
        suggestion.append(time.perf_counter() - t0)
        s.on_trial_end(i, running, "completed", loss(running) + rng.normal(0, 0.01))
        i += 3
    return statistics.median(event), statistics.median(fit), statistics.median(suggestion)


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
    print("observations  event at a refit point (ms)  fit, on its thread (ms)  "
          "suggestion (ms)  suggestion / trial start")
    for n in args.sizes:
        event, fit, suggestion = costs(n, args.repeat)
        print(f"{n:>12}  {event * 1e3:>27.1f}  {fit * 1e3:>23.1f}  {suggestion * 1e3:>15.1f}  "
              f"{suggestion / start:>23.2f}")


if __name__ == "__main__":
    main()
