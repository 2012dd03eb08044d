"""What the live panel costs a study: trivial trials with reports through ``nbtune.tune`` with the
panel on (``progress=LivePanel``) against the panel off, on the same cluster, in the same run.

Run with ``make bench``. Each trial reports 5 times, so the panel sees far more events than it may
redraw. Prints both rates, the ratio, and the redraws the panel made (goal: the panel costs under
5% of the study's wall time, i.e. a ratio >= 0.95).
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time

from distributed import Client

import nbtune
from nbtune.live import LivePanel
from nbtune.run.cluster import local_cluster
from overhead import parse_args  # benchmarks/ is on sys.path when this file runs


def reports_five(config):
    for epoch in range(1, 6):
        nbtune.report(epoch=epoch, score=config["x"] * epoch)
    return config["x"]


def run(client: Client, n: int, concurrency: int, folder: str, name: str,
        progress) -> tuple[float, int]:
    """Trials per second, and the panel's redraws (0 without it)."""
    t0 = time.perf_counter()
    study = nbtune.tune(reports_five, {"x": nbtune.uniform(0, 1)}, metric="score", mode="max",
                        n_trials=n, seed=0, cluster=client, concurrency=concurrency,
                        storage=os.path.join(folder, "bench.db"), study=name, progress=progress)
    elapsed = time.perf_counter() - t0
    assert len(study.completed) == n, study.counts()
    return n / elapsed, study.live.redraws if study.live is not None else 0


def main() -> None:
    args = parse_args(__doc__)
    concurrency = 2 * args.workers
    with local_cluster(args.workers) as cluster, Client(cluster) as client, \
            tempfile.TemporaryDirectory() as folder:
        run(client, 100, concurrency, folder, "warm", LivePanel)
        off, on, redraws = [], [], []
        for i in range(args.repeats):  # interleaved, so drifts in machine load hit both
            off.append(run(client, args.trials, concurrency, folder, f"off-{i}", False)[0])
            rate, drawn = run(client, args.trials, concurrency, folder, f"on-{i}", LivePanel)
            on.append(rate)
            redraws.append(drawn)
    a, b = statistics.median(off), statistics.median(on)
    print(f"trivial trials reporting 5 times, {args.workers} workers, concurrency {concurrency}, "
          f"{args.trials} trials x {args.repeats} runs (medians)")
    print(f"  panel off : {a:8.1f} trials/s ({5 * a:.0f} reports/s)")
    print(f"  panel on  : {b:8.1f} trials/s, {statistics.median(redraws):.0f} redraws per study")
    print(f"  ratio on / off : {b / a:6.3f}  (goal >= 0.95: the panel costs under 5%)")


if __name__ == "__main__":
    main()
