"""PASHA (``type="pasha"``) against ASHA's promotion type, in simulated time.

For each table and seed, a study of each type on the same simulated workers and trial budget;
the config each study chose (``study.best``) is looked up in the table at ``max_t``, as a user
would train it in full afterwards. Prints, per table, the medians over the seeds of that value,
the levels trained and the simulated seconds to the study's end, with PASHA's ratio to the
promotion type's, and the top levels PASHA reached.

    python benchmarks/pasha.py [TABLE ...] [--seeds 10] [--workers 4] [--trials 200]
"""
from __future__ import annotations

import argparse
import warnings

import numpy as np

import nbtune


def run(table: str, kind: str, seed: int, workers: int, trials: int) -> tuple:
    """(the chosen config's value at max_t, levels trained, simulated seconds, top level)."""
    study = nbtune.simulate(table, scheduler="asha", type=kind, n_workers=workers,
                            n_trials=trials, seed=seed)
    values, _ = nbtune.sim.load_table(table).curve(study.best.config)
    resource = study.settings["resource"]
    trained = sum(max((r[resource] for r in t.reports), default=0) for t in study.trials)
    return (float(values[-1]), trained, max(t.finished for t in study.trials),
            study.scheduler.top_level())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="*", default=["sgd-mlp", "sgd-mlp-noisy", "hgb",
                                                      "digits-mlp"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args()
    warnings.simplefilter("ignore", nbtune.NbtuneWarning)
    print("| table | type | chosen config's value at max_t | levels trained | simulated "
          "seconds | top levels reached |")
    print("|---|---|---|---|---|---|")
    for table in args.tables:
        medians = {}
        for kind in ("promotion", "pasha"):
            rows = [run(table, kind, seed, args.workers, args.trials)
                    for seed in range(args.seeds)]
            medians[kind] = [float(np.median([r[i] for r in rows])) for i in range(3)]
            tops = ", ".join(str(x) for x in sorted({r[3] for r in rows}))
            value, trained, seconds = medians[kind]
            print(f"| {table} | {kind} | {value:.4f} | {trained:,.0f} | {seconds:.1f} | {tops} |")
        (v0, t0, s0), (v1, t1, s1) = medians["promotion"], medians["pasha"]
        print(f"| {table} | pasha / promotion | {v1 - v0:+.4f} | {t1 / t0:.2f} | "
              f"{s1 / s0:.2f} | |")


if __name__ == "__main__":
    main()
