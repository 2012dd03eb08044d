"""Regenerate nbtune's learning-curve tables (nbtune/data/*.npz) by real training.

``make tables`` runs this niced, one process, one BLAS/OpenMP thread. Each task of tasks.py trains
its configs (drawn by nbtune's random searcher from the task's space with the task's seed) one
after another; each finished curve is appended to ``build/tables/NAME.jsonl`` at once, so a run
that is stopped continues where it stopped when started again. When every config of a task is
done, its table is written to ``nbtune/data/NAME.npz`` with the command, versions and date.

    python benchmarks/make_tables.py                 # every table, cheapest first
    python benchmarks/make_tables.py sgd-mlp         # one table
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import nbtune  # noqa: E402
from nbtune.sim.tables import DATA, Table  # noqa: E402
from tasks import TASKS, Task  # noqa: E402

LOOKUP = ("1-nearest neighbour: same value of every finite dimension first, then the smallest "
          "Euclidean distance in the unit-cube encoding of the numeric ones")


def _done(path: Path) -> dict[int, dict]:
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a stop
            out[row["i"]] = row
    return out


def _train(task: Task, config: dict, data: dict, i: int) -> dict:
    values, seconds = task.curve(config, data, task.seed)
    return {"i": i, "values": [None if not np.isfinite(v) else float(v) for v in values],
            "seconds": [float(s) for s in seconds]}


def build(task: Task, n: int, work: Path, out: Path, jobs: int) -> Path | None:
    """Train the task's configs not yet done; write its table when all ``n`` are."""
    from joblib import Parallel, delayed

    space = nbtune.Space(task.space)
    searcher = nbtune.RandomSearcher(space, seed=task.seed)
    configs = [searcher.suggest(i) for i in range(n)]
    partial = work / f"{task.name}.jsonl"
    done = _done(partial)
    todo = [i for i in range(n) if i not in done]
    print(f"{task.name}: {len(done)} of {n} curves done, {len(todo)} to train", flush=True)
    if todo:
        data = task.data()
        t0 = time.time()
        with open(partial, "a") as f, Parallel(n_jobs=jobs) as parallel:
            for k in range(0, len(todo), 10):
                chunk = todo[k:k + 10]
                for row in parallel(delayed(_train)(task, configs[i], data, i) for i in chunk):
                    f.write(json.dumps(row) + "\n")
                    done[row["i"]] = row
                f.flush()
                rate = (time.time() - t0) / (k + len(chunk))
                print(f"  {task.name}: {len(done)}/{n} ({rate:.2f} s per curve)", flush=True)
    rows = [done[i] for i in range(n)]
    values = np.array([[np.nan if v is None else v for v in r["values"]] for r in rows])
    seconds = np.array([r["seconds"] for r in rows])
    import sklearn

    meta = {"description": task.description, "n_configs": n, "seed": task.seed,
            "lookup": LOOKUP, "command": f"nice -n 19 python benchmarks/make_tables.py {task.name}"
            f" --n {n}  (make tables)", "date": time.strftime("%Y-%m-%d"),
            "versions": {"nbtune": nbtune.__version__, "scikit-learn": sklearn.__version__,
                         "numpy": np.__version__, "python": platform.python_version()},
            "machine": f"{os.cpu_count()} cores, shared; one process, one thread",
            "clock": "seconds are the process CPU time of each level (one thread), so load from "
                     "other work on the machine does not inflate them",
            "seconds_total": float(seconds.sum())}
    table = Table(task.name, space, configs, task.levels, values, seconds,
                  np.full(n, task.seed), task.metric, task.mode, task.resource, meta)
    path = out / f"{task.name}.npz"
    table.save(path)
    print(f"{task.name}: wrote {path} ({path.stat().st_size / 1e6:.2f} MB, best "
          f"{task.metric} {table.best_value:.4f})", flush=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"tables to build (default: {', '.join(TASKS)})")
    parser.add_argument("--n", type=int, help="configs per table (default: the task's own)")
    parser.add_argument("--jobs", type=int, default=1, help="processes (the machine is shared)")
    parser.add_argument("--work", default=str(ROOT / "build" / "tables"))
    parser.add_argument("--out", default=str(DATA))
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in TASKS]
    if unknown:
        parser.error(f"unknown tables {unknown}; known: {', '.join(TASKS)}")
    from threadpoolctl import threadpool_limits

    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    with threadpool_limits(1):
        for name in args.names or list(TASKS):
            build(TASKS[name], args.n or TASKS[name].n_configs, work, out, args.jobs)


if __name__ == "__main__":
    main()
