"""Search methods compared in simulated time on every learning-curve table (``make bench-sim``).

Methods: random search with full training (FIFO), ASHA (stopping), ASHA (promotion), asynchronous
Hyperband (ASHA with every bracket), synchronous Hyperband, and the median rule, all with nbtune's
random searcher; BOHB's KDE searcher with ASHA (stopping) ("kde+asha"); and, where Optuna imports
(``make peers-env``, then ``.venv-peers/bin/python benchmarks/simulated.py``), Optuna's TPESampler
seeded with the study's seed, with ASHA ("optuna-tpe+asha"), up to 32 workers only (Optuna's
TPE costs about 70 ms a suggestion once a study holds 2,500 trials: minutes a study at 256).
``--methods`` runs some of them (names as printed, comma-separated). ``--models`` adds the
model-based searchers of ``models()``: ``bayesopt`` with FIFO, with ASHA (stopping), with ASHA
judging by the model as well as by rank, and with asynchronous Hyperband, up to 32 workers
(``make bench-sim-models``: seconds a study, so fewer seeds).

Each runs on every table of nbtune/data with 2, 8, 32 and 256 simulated workers
and 20 seeds. The budget is simulated time, counted in full curves: with C the median seconds one
config of the table takes to its last level, a study gets ``{2: 32, 8: 12, 32: 4, 256: 1}[W] * C``
seconds with W workers (about the same number of levels trained for 8 to 256 workers).

Per cell (table, method, workers), over the seeds:

- normalised regret at time t: ``|best - seen(t)| / |best - typical|``, ``seen(t)`` the best value
  reported at any level by time t, ``best`` the table's best value, ``typical`` the median of the
  table's last-level values (1: no better than a typical config, 0: the table's best);
- time to within 1%: the first simulated second a report is within 1% of ``best``
  (``|best - seen| <= 0.01 |best|``; ``--within 0.002`` for 0.2%), the fraction of seeds that
  get there, and how many trials
  had started by then (median over the seeds that got there). Each table's heading gives the
  share of its configs that get within 1% at some level: where it is large, random search gets
  there within its first few trials, before a model has the observations to suggest anything.

Prints one markdown table per table, the methods ranked by their mean regret over time (the area
under the median regret curve, divided by the budget: how good the study was all along, not only
at its end), and writes a plot of median regret against time per table to
benchmarks/figures/sim-NAME.png.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import nbtune  # noqa: E402
from nbtune.schedule import rung_levels  # noqa: E402
from nbtune.sim import load_table, table_names  # noqa: E402

BUDGET = {2: 32, 8: 12, 32: 4, 256: 1}  # full curves of simulated time per study
GRID = 60  # points of the regret curves


def optuna_imports() -> bool:
    try:
        import optuna  # noqa: F401
    except ImportError:
        return False
    return True


def methods(max_t: int) -> dict[str, dict]:
    """Searcher and scheduler options per method; async Hyperband gets one bracket per rung
    level; "max_workers": the most workers a method runs with."""
    peers = {"optuna-tpe+asha": {"searcher": "optuna", "scheduler": "asha", "max_workers": 32}}
    return {"random (fifo)": {"scheduler": None},
            "asha stopping": {"scheduler": "asha"},
            "asha promotion": {"scheduler": "asha", "type": "promotion"},
            "async hyperband": {"scheduler": "asha", "brackets": len(rung_levels(max_t))},
            "sync hyperband": {"scheduler": "hyperband"},
            "median": {"scheduler": "median"},
            "kde+asha": {"searcher": "kde", "scheduler": "asha"},
            **(peers if optuna_imports() else {}),
            **{name: {**options, "model": True} for name, options in models(max_t).items()
               if optuna_imports() or not options.get("needs_optuna")}}


def models(max_t: int) -> dict[str, dict]:
    """The model-based methods: bayesopt with FIFO and with ASHA (stopping; and promotion, as
    MOBSTER's pause-and-resume variant), its joint model over
    (config, level) a Matern (the default) or MOBSTER's exponential decay; with ASHA judging
    by the model's prediction of max_t as well as by rank ("judge model"); with a third of its
    suggestions random (BOHB's share, a hedge against a model that settles too soon); and with
    asynchronous Hyperband's brackets (a hedge where early ranks mislead). And kde's variants:
    its model over every trial ranked by the rung it reached ("depth", as Optuna's TPE ranks
    pruned trials) rather than at one level, and under asynchronous Hyperband's brackets. And
    nbtune's own TPE (``tpe``, Optuna's TPE rebuilt) with ASHA and with brackets that rank their
    own trials (as Optuna's Hyperband pruner runs them), beside Optuna's TPE in those brackets.
    bayesopt models its values' ranks (``warp="copula"``, its default since 2026-12-03); the
    "plain values" methods model them standardised (``warp="none"``), with FIFO and ASHA.

    bayesopt costs tens of milliseconds a suggestion (a GP over hundreds of reports, every
    config of the table scored): seconds a study, 10 to 30 times a random one, so only with
    --models (``make bench-sim-models``), up to 32 workers."""
    bo = {"searcher": "bayesopt", "max_workers": 32}
    return {"bayesopt (fifo)": {**bo, "scheduler": None},
            "bayesopt+asha": {**bo, "scheduler": "asha"},
            "bayesopt+asha promotion": {**bo, "scheduler": "asha", "type": "promotion"},
            "bayesopt+asha (no reach)": {**bo, "scheduler": "asha",
                                         "searcher_options": {"reach": False}},
            "bayesopt+asha promotion (no reach)": {**bo, "scheduler": "asha",
                                                   "type": "promotion",
                                                   "searcher_options": {"reach": False}},
            **{f"bayesopt+asha ({k})": {**bo, "scheduler": "asha",
                                        "searcher_options": {"resource_kernel": k}}
               for k in ("exp-decay-sum", "exp-decay")},
            "bayesopt (fifo) plain values": {**bo, "scheduler": None,
                                             "searcher_options": {"warp": "none"}},
            "bayesopt+asha plain values": {**bo, "scheduler": "asha",
                                           "searcher_options": {"warp": "none"}},
            "bayesopt+asha (judge model)": {**bo, "scheduler": "asha", "judge": "model"},
            "bayesopt (fifo) cost aware": {**bo, "scheduler": None,
                                           "searcher_options": {"cost_aware": True}},
            "bayesopt+asha cost aware": {**bo, "scheduler": "asha",
                                         "searcher_options": {"cost_aware": True}},
            "bayesopt+asha (a third random)": {**bo, "scheduler": "asha",
                                               "searcher_options": {"random_fraction": 1 / 3}},
            "bayesopt+asha (a third random while stalled)": {
                **bo, "scheduler": "asha",
                "searcher_options": {"random_fraction": 1 / 3, "random_when": "stalled"}},
            "bayesopt+hyperband": {**bo, "scheduler": "asha",
                                   "brackets": len(rung_levels(max_t))},
            "kde+asha (depth)": {"searcher": "kde", "scheduler": "asha",
                                 "searcher_options": {"ranking": "depth"}},
            "kde+hyperband": {"searcher": "kde", "scheduler": "asha",
                              "brackets": len(rung_levels(max_t))},
            "kde+hyperband (depth)": {"searcher": "kde", "scheduler": "asha",
                                      "brackets": len(rung_levels(max_t)),
                                      "searcher_options": {"ranking": "depth"}},
            "tpe+asha": {"searcher": "tpe", "scheduler": "asha"},
            "tpe+hyperband (own rungs)": {"searcher": "tpe", "scheduler": "asha",
                                          "brackets": len(rung_levels(max_t)),
                                          "rung_system_per_bracket": True},
            "optuna-tpe+hyperband (own rungs)": {"searcher": "optuna", "scheduler": "asha",
                                                 "brackets": len(rung_levels(max_t)),
                                                 "rung_system_per_bracket": True,
                                                 "max_workers": 32, "needs_optuna": True}}


class BestSeen(nbtune.Observer):
    """The best metric reported so far, at each simulated second it improved."""

    def __init__(self, metric: str, mode: str):
        self.metric, self.sign = metric, 1.0 if mode == "max" else -1.0
        self.times, self.values, self.started, self.best = [], [], [], -np.inf
        self.clock, self.n_started = None, 0

    def study_started(self, info):
        self.clock = info["clock"]

    def trial_started(self, trial):
        self.n_started += 1

    def trial_reported(self, trial, report):
        v = report.get(self.metric)
        if isinstance(v, float) and np.isfinite(v) and self.sign * v > self.best:
            self.best = self.sign * v
            self.times.append(self.clock())
            self.values.append(v)
            self.started.append(self.n_started)


def regret_curve(seen: BestSeen, grid: np.ndarray, best: float, typical: float) -> np.ndarray:
    """Normalised regret at each time of ``grid`` (1 before the first report)."""
    out = np.ones(len(grid))
    if seen.times:
        idx = np.searchsorted(seen.times, grid, side="right") - 1
        vals = np.asarray(seen.values)[np.maximum(idx, 0)]
        out = np.where(idx >= 0, np.abs(best - vals) / abs(best - typical), 1.0)
    return np.minimum(out, 1.0)


def time_to(seen: BestSeen, best: float, within: float = 0.01) -> tuple[float, int] | None:
    """(simulated seconds, trials started by then) at the first report within ``within`` of
    best (a fraction of it)."""
    for t, v, n in zip(seen.times, seen.values, seen.started):
        if abs(best - v) <= within * abs(best):
            return t, n
    return None


def one_study(name: str, w: int, max_time: float, seed: int, options: dict,
              grid: np.ndarray, within: float = 0.01) -> tuple[np.ndarray, tuple[float, int] | None]:
    """One simulated study: its regret curve on ``grid``, and its time to within 1% with the
    trials started by then."""
    table = load_table(name)  # loaded once per process
    last = table.values[:, -1]
    best, typical = table.best_value, float(np.median(last[np.isfinite(last)]))
    seen = BestSeen(table.metric, table.mode)
    nbtune.simulate(table, n_workers=w, max_time=max_time, seed=seed, observers=[seen], **options)
    return regret_curve(seen, grid, best, typical), time_to(seen, best, within)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="*", help="tables (default: every one in nbtune/data)")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--workers", default="2,8,32,256")
    parser.add_argument("--figures", default=str(HERE / "figures"))
    parser.add_argument("--methods", default=None, help="comma-separated (default: all)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="processes running studies side by side (default 2)")
    parser.add_argument("--within", type=float, default=0.01,
                        help="the time-to column's threshold, a fraction of the table's best "
                        "(default 0.01: within 1%%)")
    parser.add_argument("--models", action="store_true",
                        help="also the model-based methods of models() (seconds a study)")
    args = parser.parse_args()
    wanted = None if args.methods is None else [m.strip() for m in args.methods.split(",")]
    workers = [int(w) for w in args.workers.split(",")]
    names = args.tables or table_names()
    if not optuna_imports():
        print("optuna-tpe+asha: skipped, Optuna does not import here (make peers-env, then run "
              "this with .venv-peers/bin/python)", flush=True)
    Path(args.figures).mkdir(exist_ok=True)
    t_start = time.perf_counter()
    for name in names:
        table = load_table(name)
        curve_seconds = float(np.median(table.seconds.sum(axis=1)))
        jobs = []  # (method, workers, options, max_time, grid) per cell
        for w in workers:
            max_time = BUDGET.get(w, 4) * curve_seconds
            for method, options in methods(table.max_t).items():
                options = dict(options)
                options.pop("needs_optuna", None)
                if (wanted is not None and method not in wanted) \
                        or w > options.pop("max_workers", w) \
                        or (options.pop("model", False) and not args.models):
                    continue
                jobs.append((method, w, options, max_time, np.linspace(0, max_time, GRID)))
        # every study of the table side by side, in --jobs processes; results in order
        results = iter(Parallel(n_jobs=args.jobs)(
            delayed(one_study)(name, w, max_time, seed, options, grid, args.within)
            for method, w, options, max_time, grid in jobs for seed in range(args.seeds)))
        cells: dict[tuple[str, int], dict] = {}
        for method, w, options, max_time, grid in jobs:
            curves, firsts = zip(*(next(results) for _ in range(args.seeds)))
            times = [None if f is None else f[0] for f in firsts]
            reached = [f for f in firsts if f is not None]
            cells[method, w] = {
                "grid": grid, "median": np.median(curves, axis=0),
                "final": float(np.median([c[-1] for c in curves])),
                "area": float(np.mean(np.median(curves, axis=0))),
                "time": statistics.median([t if t is not None else np.inf for t in times]),
                "fraction": len(reached) / len(times),
                "started": statistics.median(n for _, n in reached) if reached else None}
        report(table.name, table, cells, workers, curve_seconds, args.seeds, args.within)
        plot(table.name, table, cells, workers, Path(args.figures) / f"sim-{table.name}.png")
    print(f"\n{time.perf_counter() - t_start:.0f} s in all", flush=True)


def report(name, table, cells, workers, curve_seconds, seeds, within=0.01) -> None:
    values = np.where(np.isfinite(table.values), table.values, np.inf)
    near = np.mean((np.abs(table.best_value - values) <= within * abs(table.best_value))
                   .any(axis=1))
    print(f"\n### {name}: {len(table)} configs, {table.metric} ({table.mode}), best "
          f"{table.best_value:.4f}; one full curve {curve_seconds:.2f} s (median); {seeds} seeds; "
          f"{near:.1%} of the configs within {within:.1%} at some level")
    print(f"| workers | rank | method | mean regret over time | median final regret | "
          f"median time to {within:.1%} (s) | seeds within {within:.1%} | trials started by then |")
    print("|---|---|---|---|---|---|---|---|")
    for w in workers:
        ranked = sorted((m for m, ww in cells if ww == w),
                        key=lambda m: (cells[m, w]["area"], cells[m, w]["final"]))
        for rank, m in enumerate(ranked, start=1):
            c = cells[m, w]
            t = "never" if not np.isfinite(c["time"]) else f"{c['time']:.1f}"
            n = "-" if c["started"] is None else f"{c['started']:.0f}"
            print(f"| {w} | {rank} | {m} | {c['area']:.4f} | {c['final']:.4f} | {t} | "
                  f"{c['fraction']:.2f} | {n} |")
    sys.stdout.flush()


def plot(name, table, cells, workers, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(workers), figsize=(4 * len(workers), 3.4), squeeze=False)
    for ax, w in zip(axes[0], workers):
        for m, ww in cells:
            if ww == w:
                c = cells[m, w]
                ax.plot(c["grid"], np.maximum(c["median"], 1e-4), label=m)
        ax.set_yscale("log")
        ax.set_title(f"{name}, {w} workers")
        ax.set_xlabel("simulated seconds")
    axes[0][0].set_ylabel("median normalised regret")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    main()
