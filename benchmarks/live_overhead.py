"""What the live panel costs a study, in a real kernel as a notebook runs it: trivial trials with
reports through ``nbtune.tune`` with the panel (``progress="auto"``, which a kernel shows as the
live panel) against the panel off (``progress=False``), on the same cluster, in the same kernel.

Run with ``make bench``. Each trial reports 5 times, so the panel sees far more events than it may
redraw. A shown panel ends by giving its place to the study's summary (an HTML table and an
image); a notebook without the panel shows the same summary when its cell ends with ``study``, so
the panel-off runs display it too ("off, then the summary"), and the goal compares with those:
the panel costs under 5% of the study's wall time, a ratio >= 0.95. Panel-off runs that display
nothing are timed too ("off, nothing shown"), for the summary's own cost.

The kernel is a real one (jupyter_client); its widget messages go out on its iopub channel to
this process, which stands where the browser would.
"""
from __future__ import annotations

import json
import os
import tempfile
import time

from distributed import Client

import nbtune
from first_cell import execute, kernel  # benchmarks/ is on sys.path when this file runs
from overhead import parse_args

HERE = os.path.dirname(os.path.abspath(__file__))
ARMS = ("off", "summary", "on")  # panel off; off, then the summary shown; the panel


def reports_five(config):
    for epoch in range(1, 6):
        nbtune.report(epoch=epoch, score=config["x"] * epoch)
    return config["x"]


def run(client: Client, n: int, concurrency: int, name: str, arm: str) -> str:
    """One study in the kernel (this function runs there): a JSON line with its trials per
    second, from the call's start to the last display, and the panel's redraws and images (0
    without it)."""
    from IPython.display import display

    t0 = time.perf_counter()
    study = nbtune.tune(reports_five, {"x": nbtune.uniform(0, 1)}, metric="score", mode="max",
                        n_trials=n, seed=0, cluster=client, concurrency=concurrency,
                        storage="bench.db", study=name,
                        progress="auto" if arm == "on" else False)
    if arm == "summary":
        display(study)  # what a cell that ends with `study` shows
    elapsed = time.perf_counter() - t0
    assert len(study.completed) == n, study.counts()
    live = study.live
    return json.dumps({"rate": n / elapsed, "redraws": live.redraws if live else 0,
                       "images": live.pace.images if live else 0})


def measure(kc, arm: str, n: int, concurrency: int, name: str) -> dict:
    out, _ = execute(kc, f"print(live_overhead.run(client, {n}, {concurrency}, {name!r}, "
                         f"{arm!r}))", timeout=600)
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    import statistics

    args = parse_args(__doc__)
    concurrency = 2 * args.workers
    found: dict[str, list[dict]] = {arm: [] for arm in ARMS}
    with tempfile.TemporaryDirectory() as folder, kernel(folder) as kc:
        execute(kc, f"import sys; sys.path.insert(0, {HERE!r})\n"
                    "import live_overhead\n"
                    "from distributed import Client\n"
                    "from nbtune.run.cluster import local_cluster\n"
                    f"cluster = local_cluster({args.workers}); client = Client(cluster)\n")
        for arm in ARMS:  # warm every path: imports, matplotlib's fonts (an image is drawn
            measure(kc, arm, args.trials, concurrency, f"warm-{arm}")  # only after ~2.5 s)
        for i in range(args.repeats):  # interleaved, each arm first in turn
            for arm in ARMS[i % 3:] + ARMS[:i % 3]:
                found[arm].append(measure(kc, arm, args.trials, concurrency, f"{arm}-{i}"))
        execute(kc, "client.close(); cluster.close()")
    rate = {arm: statistics.median(r["rate"] for r in runs) for arm, runs in found.items()}
    redraws = statistics.median(r["redraws"] for r in found["on"])
    images = statistics.median(r["images"] for r in found["on"])
    print(f"trivial trials reporting 5 times, in a kernel, {args.workers} workers, concurrency "
          f"{concurrency}, {args.trials} trials x {args.repeats} runs (medians)")
    print(f"  panel off, nothing shown  : {rate['off']:8.1f} trials/s ({5 * rate['off']:.0f} "
          "reports/s)")
    print(f"  panel off, then the summary: {rate['summary']:8.1f} trials/s")
    print(f"  panel on (its summary last): {rate['on']:8.1f} trials/s, {redraws:.0f} redraws "
          f"and {images:.0f} images of the curves per study")
    print(f"  ratio on / off then summary : {rate['on'] / rate['summary']:6.3f}  (goal >= 0.95: "
          "the panel costs under 5%)")
    print(f"  ratio on / off, nothing shown: {rate['on'] / rate['off']:6.3f}")


if __name__ == "__main__":
    main()
