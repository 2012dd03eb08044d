"""How a study's costs grow with its size: N = 1,000, 3,000 and 10,000 trials of 20 reports each.

Run with ``make bench``. No cluster: each size runs in a fresh process that feeds a synthetic
study's events (created, started, 20 reports, finished: what the loop emits) to the observers a
real study has, the :class:`StorageRecorder` (SQLite) and the :class:`LivePanel` (its widgets are
built outside a kernel too), then measures:

- the process's memory growth (RSS) over the study, and per trial;
- the SQLite file's size;
- ``study.to_dataframe()`` and ``load_study()`` times;
- the study's summary image (every trial's learning curve), which a notebook cell waits for at
  the study's end;
- one redraw of the panel (everything but the curves) and one draw of its learning-curves image.

Prints a table and the growth ratio of each measure per trial against the smallest N: a ratio
near 1 grows linearly, above it worse than linearly; the panel's redraw should stay flat (its
ratio against N near 1/N).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

SIZES = (1_000, 3_000, 10_000)
REPORTS = 20


def rss() -> int:
    """This process's resident memory, in bytes."""
    import psutil

    return psutil.Process().memory_info().rss


def best_of(fn, repeat: int = 5) -> float:
    """The shortest of ``repeat`` timed calls of ``fn``, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def one(n: int, folder: str) -> dict[str, float]:
    """Feed a study of ``n`` trials to the observers and measure it (in this process)."""
    import gc

    import numpy as np
    import nbtune
    from nbtune import trial as T
    from nbtune.live import LivePanel
    from nbtune.contract.events import Broadcast
    from nbtune.space import as_space
    from nbtune.recorder import StorageRecorder
    from nbtune.storage import Storage

    space = as_space({"lr": nbtune.loguniform(1e-4, 1e-1), "hidden": nbtune.choice(32, 64, 128),
                      "dropout": nbtune.uniform(0, 0.5)})
    path = os.path.join(folder, f"scale{n}.db")
    db = Storage(path)
    db.create_study("scale", space.to_json(), "loss", "min", {"resource": "epoch",
                                                                "n_trials": n})
    study = nbtune.Study("scale", space, "loss", "min", trials=[], storage=path,
                         settings={"resource": "epoch", "n_trials": n})
    study.started_at = time.time()  # a running study, as nbtune.tune sets it
    panel = LivePanel(study, n_trials=n, concurrency=2)
    observer = Broadcast([StorageRecorder(db, "scale"), panel])  # no study_started: no timer
    gc.collect()
    before = rss()
    rng, nprng = random.Random(0), np.random.default_rng(0)
    t0 = time.perf_counter()
    for i in range(n):
        trial = T.Trial(i, space.sample(nprng), state=T.RUNNING, attempts=1,
                        created=time.time())
        study.trials.append(trial)
        observer.trial_created(trial)
        trial.worker, trial.started = "tcp://127.0.0.1:1", time.time()
        observer.trial_started(trial)
        scale = rng.random()
        for epoch in range(1, REPORTS + 1):
            report = {"epoch": epoch, "loss": scale / epoch + rng.random() * 0.01}
            trial.reports.append(report)
            observer.trial_reported(trial, report)
        trial.state, trial.value, trial.finished = T.COMPLETED, trial.reports[-1]["loss"], \
            time.time()
        observer.trial_finished(trial)
    feed = time.perf_counter() - t0
    gc.collect()
    grown = rss() - before

    # the panel of the running study, as its timer redraws it: a few trials changed since the last
    # redraw; the first calls import and build what later ones reuse: not counted
    panel.draw()
    panel._draw_curves(force=True)
    last = study.trials[-1]

    def redraw_after_a_report() -> None:
        panel.trial_reported(last, last.reports[-1])  # the panel alone: storage not counted
        panel.draw()

    redraw = best_of(redraw_after_a_report)  # the curves image at its own, slower, pace
    curves = best_of(lambda: panel._draw_curves(force=True))
    to_df = best_of(study.to_dataframe)
    summary = best_of(lambda: study.summary().png(), repeat=3)  # a cell waits for it at the end
    assert len(study.to_dataframe()) == n
    db.close()
    size = os.path.getsize(path) + sum(os.path.getsize(path + s) for s in ("-wal",)
                                       if os.path.exists(path + s))
    load = best_of(lambda: nbtune.load_study("scale", storage=path))
    loaded = nbtune.load_study("scale", storage=path)
    assert len(loaded.trials) == n and len(loaded.trials[-1].reports) == REPORTS
    return {"n": n, "feed_s": feed, "rss_mb": grown / 2**20, "file_mb": size / 2**20,
            "to_dataframe_s": to_df, "load_study_s": load, "redraw_s": redraw,
            "curves_s": curves, "summary_s": summary}


COLUMNS = (("feed_s", "feed (s)"), ("rss_mb", "RSS growth (MiB)"), ("file_mb", "file (MiB)"),
           ("to_dataframe_s", "to_dataframe (s)"), ("load_study_s", "load_study (s)"),
           ("summary_s", "summary image (s)"), ("redraw_s", "redraw (s)"),
           ("curves_s", "curves image (s)"))
PER_TRIAL = 6  # the first columns grow with the trials; the redraws' cost must not


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                        default=list(SIZES))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.folder)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for n in args.sizes:  # a fresh process each: memory grown is the study's alone
            out = subprocess.run([sys.executable, __file__, "--one", str(n), "--folder", folder],
                                 check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(f"N = {n}: done", flush=True)
    print(f"\n{REPORTS} reports per trial\n")
    print("| trials | " + " | ".join(label for _, label in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for row in rows:
        print(f"| {row['n']:,} | " + " | ".join(f"{row[k]:.3g}" for k, _ in COLUMNS) + " |")
    base = rows[0]
    print(f"\ngrowth per trial against N = {base['n']:,} (1.0: linear; redraw and curves: flat "
          "is 1.0 for the cost itself)")
    for row in rows[1:]:
        k = row["n"] / base["n"]
        per_trial = ", ".join(f"{label} {row[key] / base[key] / k:.2f}"
                              for key, label in COLUMNS[:PER_TRIAL] if base[key] > 0)
        flat = ", ".join(f"{label} {row[key] / base[key]:.2f}"
                         for key, label in COLUMNS[PER_TRIAL:])
        print(f"  N = {row['n']:,} (x{k:g}): per trial: {per_trial}; per redraw: {flat}")


if __name__ == "__main__":
    main()
