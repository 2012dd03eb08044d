"""nbtune beside Optuna and Syne Tune: every method on real tasks, same budget, same workers.

Tasks (peers_tasks.py, the data and models of tasks.py): ``sgd-mlp`` (27 epochs of an sgd
``MLPClassifier``, target 0.80 validation accuracy), ``sgd-mlp-heldout`` (the same model and space
on a data set nbtune was never tuned on, target 0.60) and ``hgb`` (81 boosting iterations of a
``HistGradientBoostingClassifier``, target 0.87). Every study gets the same wall-clock budget and
2 worker processes; studies run one after another, never two at once.

Methods:
- nbtune, through ``nbtune.tune`` on a local Dask cluster of single-threaded workers:
  ``nbtune-random`` (full training), ``nbtune-asha`` (stopping), ``nbtune-asha-promotion`` (the
  model kept as checkpoint), and ASHA (stopping) with ``searcher="bayesopt"``, ``"kde"`` (BOHB's
  model) and ``"optuna"`` (Optuna's TPE through nbtune's adapter): ``nbtune-bayesopt``,
  ``nbtune-kde``, ``nbtune-optuna``; ``nbtune-bayesopt-promotion`` is bayesopt under the
  promotion type (MOBSTER's pause-and-resume), ``nbtune-bayesopt-hyperband`` under asynchronous
  Hyperband (ASHA with a bracket per rung level, a hedge like Optuna's Hyperband pruner's);
  ``nbtune-kde-depth`` is kde ranking every trial by the rung it reached (``ranking="depth"``).
  Run only when ``--methods`` names them (``BY_NAME_ONLY``), variants for one question each:
  ``nbtune-bayesopt-hyperband-own-rungs`` (each bracket ranks its own trials, as Optuna's pruner
  does), ``nbtune-bayesopt-judge`` (``judge="model"``: the model's prediction at max_t can keep a
  trial its rank would stop), ``nbtune-bayesopt-hedged`` (a third of the suggestions random, BOHB's
  share), ``nbtune-bayesopt-stalled-hedge`` (that third only while the best value has stalled,
  ``random_when="stalled"``), ``nbtune-bayesopt-plain`` (the model on the values standardised,
  ``warp="none"``; ``warp="copula"``, the values' ranks, is the default),
  ``nbtune-bayesopt-cost`` (``cost_aware=True``: expected improvement per predicted second),
  ``nbtune-tpe`` and ``nbtune-tpe-hyperband-own-rungs`` (nbtune's TPE, under ASHA and in brackets
  that rank their own trials), ``nbtune-asha-pasha`` and ``nbtune-bayesopt-pasha`` (progressive
  ASHA, ``type="pasha"``, with the random searcher and with bayesopt).
  ASHA: grace 1, eta 3, max_t the task's levels.
- ``optuna-tpe-hb``: Optuna's own ``TPESampler`` + ``HyperbandPruner(min_resource=1,
  max_resource=max_t, reduction_factor=3)`` in worker processes sharing a JournalStorage
  (peers_optuna.py).
- ``syne-asha``, ``syne-bohb``: Syne Tune's ``ASHA`` and ``BOHB`` with its ``LocalBackend``
  (peers_syne.py).

Every method's time is that of the worker at the end of each level, from the study's start; a
level ending after the budget is not counted. Figures per method and task, over seeds: median
best (best validation accuracy at any level), best per seed, seconds to the task's target, trials
started, levels trained; and for nbtune's methods the time to the best peer's median best, as a
fraction of the budget (the median over seeds; "never" when most seeds never reach it). Then, for
each choice of the space (hidden layers, batch size), the share of each method's levels trained
with each value (Optuna's and nbtune's methods; an epoch's cost depends on the batch size).

Needs Optuna and Syne Tune, which nbtune never depends on: run with ``make bench-peers``
(the ``.venv-peers`` environment). ``--budget 120 --seeds 0,1,2`` (the defaults) is the target
configuration; options narrow the methods, tasks and seeds. ``--save FILE`` appends each finished
study to FILE (JSON lines) and skips the studies FILE already holds, so a run of hours that was
stopped continues where it stopped, and its tables cover every study saved.
"""
from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"  # before scikit-learn loads: one thread per worker, everywhere

import argparse
import json
import math
import statistics
import tempfile
import time
from dataclasses import dataclass, field

import cloudpickle
from distributed import Client

import nbtune
from nbtune.run.cluster import local_cluster
from nbtune.schedule import rung_levels
from nbtune.search.bayesopt import BayesOptSearcher

import peers_optuna
import peers_syne
import peers_tasks
import tasks
from early_stopping import wait_idle

cloudpickle.register_pickle_by_value(peers_tasks)  # the Dask workers need not find benchmarks/

SPACES = {"sgd-mlp": tasks.SPACE, "sgd-mlp-heldout": tasks.SPACE, "hgb": tasks.HGB_SPACE}
NBTUNE = {
    "nbtune-random": dict(),
    "nbtune-asha": dict(scheduler="asha"),
    "nbtune-asha-promotion": dict(scheduler="asha", type="promotion"),
    "nbtune-bayesopt": dict(scheduler="asha", searcher="bayesopt"),
    "nbtune-bayesopt-promotion": dict(scheduler="asha", type="promotion", searcher="bayesopt"),
    "nbtune-bayesopt-hyperband": dict(scheduler="asha", searcher="bayesopt", brackets="all"),
    "nbtune-bayesopt-hyperband-own-rungs": dict(scheduler="asha", searcher="bayesopt",
                                                brackets="all", rung_system_per_bracket=True),
    "nbtune-bayesopt-judge": dict(scheduler="asha", searcher="bayesopt", judge="model"),
    "nbtune-bayesopt-hedged": dict(scheduler="asha", searcher="bayesopt",
                                   searcher_options={"random_fraction": 1 / 3}),
    "nbtune-bayesopt-stalled-hedge": dict(scheduler="asha", searcher="bayesopt",
                                          searcher_options={"random_fraction": 1 / 3,
                                                            "random_when": "stalled"}),
    "nbtune-bayesopt-plain": dict(scheduler="asha", searcher="bayesopt",
                                  searcher_options={"warp": "none"}),
    "nbtune-bayesopt-cost": dict(scheduler="asha", searcher="bayesopt",
                                 searcher_options={"cost_aware": True}),
    # bayesopt as it ran until 2026-12-04: a free worker waits for the model's suggestion even
    # where suggestions outlast the trials (no random config drawn while the model is busy)
    "nbtune-bayesopt-waits": dict(scheduler="asha", searcher="bayesopt"),
    "nbtune-kde": dict(scheduler="asha", searcher="kde"),
    "nbtune-kde-depth": dict(scheduler="asha", searcher="kde",
                             searcher_options={"ranking": "depth"}),
    "nbtune-optuna": dict(scheduler="asha", searcher="optuna"),
    # Optuna's own setup rebuilt in nbtune (its TPE, brackets that rank their own trials), and
    # nbtune's TPE-style searcher in the same brackets: which part of Optuna's setup wins
    "nbtune-optuna-hyperband-own-rungs": dict(scheduler="asha", searcher="optuna",
                                              brackets="all", rung_system_per_bracket=True),
    "nbtune-kde-hyperband-own-rungs": dict(scheduler="asha", searcher="kde", brackets="all",
                                           rung_system_per_bracket=True),
    "nbtune-kde-depth-hyperband-own-rungs": dict(scheduler="asha", searcher="kde",
                                                 searcher_options={"ranking": "depth"},
                                                 brackets="all", rung_system_per_bracket=True),
    # nbtune's own TPE (Optuna's rebuilt): under plain ASHA, and in those brackets
    "nbtune-tpe": dict(scheduler="asha", searcher="tpe"),
    "nbtune-tpe-hyperband-own-rungs": dict(scheduler="asha", searcher="tpe", brackets="all",
                                           rung_system_per_bracket=True),
    # progressive ASHA: the promotion type whose top level rises only while its ranks move
    "nbtune-asha-pasha": dict(scheduler="asha", type="pasha"),
    "nbtune-bayesopt-pasha": dict(scheduler="asha", type="pasha", searcher="bayesopt"),
}
PEERS = ["optuna-tpe-hb", "syne-asha", "syne-bohb"]
METHODS = [*NBTUNE, *PEERS]
# variants for one question each, run by name (--methods), not in the default run
BY_NAME_ONLY = {"nbtune-bayesopt-hyperband-own-rungs", "nbtune-bayesopt-judge",
                "nbtune-bayesopt-hedged", "nbtune-bayesopt-stalled-hedge",
                "nbtune-optuna-hyperband-own-rungs", "nbtune-kde-hyperband-own-rungs",
                "nbtune-kde-depth-hyperband-own-rungs", "nbtune-tpe",
                "nbtune-tpe-hyperband-own-rungs", "nbtune-bayesopt-plain",
                "nbtune-bayesopt-cost", "nbtune-bayesopt-waits", "nbtune-asha-pasha",
                "nbtune-bayesopt-pasha"}


def peer_space(space: dict) -> dict[str, tuple]:
    """nbtune's space as (kind, arguments) per name, which peers_optuna and peers_syne translate
    into their own primitives."""
    out = {}
    for name, d in space.items():
        kind = type(d).__name__
        if kind == "choice":
            out[name] = ("choice", tuple(d.values))
        elif kind in ("uniform", "loguniform", "randint", "lograndint"):
            out[name] = (kind, (d.lo, d.hi))
        else:
            raise ValueError(f"{name}: no peer mapping for {kind}")
    return out


@dataclass
class Run:
    """One study: its start, every (time, level, value) its workers reported, trials started, and
    the levels trained within the budget by each value of each choice of the space
    (``levels_by["batch_size"]["16"]``). A point may carry its trial's choices as a fourth
    element, which is counted into ``levels_by`` and dropped."""

    budget: float
    t0: float
    points: list = field(default_factory=list)
    trials: int = 0
    levels_by: dict = field(default_factory=dict)
    quick_draws: int = 0  # trials started with a random config while the model was busy

    def __post_init__(self) -> None:
        kept = [p for p in self.points if p[0] - self.t0 <= self.budget]
        for point in kept:
            for name, value in (point[3] if len(point) > 3 else {}).items():
                by = self.levels_by.setdefault(name, {})
                by[str(value)] = by.get(str(value), 0) + 1
        self.points = sorted((at - self.t0, level, value) for at, level, value, *_ in kept)

    @property
    def best(self) -> float:
        return max((v for _, _, v in self.points if v == v), default=float("nan"))

    def time_to(self, target: float) -> float | None:
        return next((t for t, _, v in self.points if v == v and v >= target), None)


def choice_names(space: dict) -> list[str]:
    """The names of the space's choices: the levels trained are counted by their values."""
    return [name for name, d in space.items() if type(d).__name__ == "choice"]


class Log(nbtune.Observer):
    """Every report's worker time, level, accuracy and the trial's choices; trials started (not
    retries, resumes)."""

    def __init__(self, choices: list[str]) -> None:
        self.points, self.trials, self.choices = [], 0, choices

    def trial_created(self, trial) -> None:
        if trial.attempts == 1 and not trial.reports:
            self.trials += 1

    def trial_reported(self, trial, report) -> None:
        self.points.append((report["at"], report["epoch"], report["accuracy"],
                            {name: trial.config[name] for name in self.choices}))


def nbtune_trial(config: dict, task: str, data: dict) -> float:
    """One trial: level by level, each reported with its worker time and the model as checkpoint."""
    resumed = nbtune.get_checkpoint()
    model, first = (resumed["model"], resumed["epoch"] + 1) if resumed else (None, 1)
    value = float("nan")
    for level, value, model in peers_tasks.levels(task, config, data, model, first):
        nbtune.report(epoch=level, accuracy=value, at=time.time(),
                      checkpoint={"model": model, "epoch": level})
    return value


def run_nbtune(client: Client, method: str, task: str, data: dict, seed: int, budget: float,
               folder: str) -> Run:
    options = dict(NBTUNE[method])
    if "scheduler" in options:
        options.update(max_t=peers_tasks.MAX_T[task], grace_period=1, reduction_factor=3)
        if options.get("brackets") == "all":  # asynchronous Hyperband: a bracket per rung level
            options["brackets"] = len(rung_levels(options["max_t"], options["grace_period"],
                                                  options["reduction_factor"]))
    log = Log(choice_names(SPACES[task]))
    t0 = time.time()
    BayesOptSearcher.draws_while_thinking = not method.endswith("-waits")
    try:
        study = nbtune.tune(nbtune.with_parameters(nbtune_trial, task=task, data=data),
                            SPACES[task], metric="accuracy", mode="max", n_trials=None,
                            max_time=budget, seed=seed, cluster=client,
                            storage=os.path.join(folder, "bench.db"), observers=[log], **options)
    finally:
        BayesOptSearcher.draws_while_thinking = True
    wait_idle(client)
    return Run(budget, t0, log.points, log.trials,
               quick_draws=study.settings.get("searcher_quick_draws", 0))


def run_one(client: Client, method: str, task: str, seed: int, budget: float, workers: int,
            data_path: str, data: dict, folder: str) -> Run:
    if method in NBTUNE:
        return run_nbtune(client, method, task, data, seed, budget, folder)
    space = peer_space(SPACES[task])
    if method == "optuna-tpe-hb":
        t0, points, trials = peers_optuna.run(task, space, seed, budget, workers, data_path,
                                              folder)
    else:
        t0, points, trials = peers_syne.run(method, task, space, seed, budget, workers,
                                            data_path, folder)
    return Run(budget, t0, points, trials)


def _save(path: str, task: str, method: str, seed: int, run: Run) -> None:
    with open(path, "a") as f:
        f.write(json.dumps({"task": task, "method": method, "seed": seed, "budget": run.budget,
                            "points": run.points, "trials": run.trials,
                            "levels_by": run.levels_by,
                            "quick_draws": run.quick_draws}) + "\n")


def _load(path: str, budget: float) -> dict[tuple, Run]:
    """The studies saved in ``path`` with this budget, by (task, method, seed)."""
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                if row["budget"] == budget:  # points are kept relative to the study's start
                    out[row["task"], row["method"], row["seed"]] = Run(
                        budget, 0.0, [tuple(p) for p in row["points"]], row["trials"],
                        row.get("levels_by", {}), row.get("quick_draws", 0))
    return out


def _seconds(t: float | None) -> str:
    return "never" if t is None else f"{t:.0f}"


def _median_time(times: list[float | None]) -> float:
    return statistics.median(math.inf if t is None else t for t in times)


def table(task: str, results: dict[str, list[Run]], budget: float) -> list[str]:
    """The markdown table of one task, and the line on nbtune against the best peer."""
    target = peers_tasks.TARGET[task]
    medians = {m: statistics.median(r.best for r in runs) for m, runs in results.items()}
    peers = {m: v for m, v in medians.items() if m in PEERS and v == v}
    best_peer = max(peers, key=peers.get) if peers else None
    head = f"time to {best_peer}'s median best" if best_peer else "time to the best peer's"
    lines = [f"| method | median best | best per seed | time to {target} (s) | trials started "
             f"| levels trained | {head}: fraction of budget (s per seed) |",
             "|---|---|---|---|---|---|---|"]
    for method, runs in results.items():
        to_peer = "-"
        if best_peer and method in NBTUNE:
            times = [r.time_to(peers[best_peer]) for r in runs]
            frac = _median_time(times) / budget
            to_peer = (f"{'never' if math.isinf(frac) else f'{frac:.2f}'} "
                       f"({', '.join(_seconds(t) for t in times)})")
        lines.append(
            f"| {method} | {medians[method]:.4f} | {', '.join(f'{r.best:.4f}' for r in runs)} | "
            f"{', '.join(_seconds(r.time_to(target)) for r in runs)} | "
            f"{sum(r.trials for r in runs)} | {sum(len(r.points) for r in runs)} | {to_peer} |")
    drawn = [f"{m} {', '.join(str(r.quick_draws) for r in runs)}"
             for m, runs in results.items() if any(r.quick_draws for r in runs)]
    if drawn:
        lines.append(f"\nTrials started with a random config while the model was busy, per "
                     f"seed: {'; '.join(drawn)}.")
    if best_peer:
        reach = [m for m in results if m in NBTUNE and
                 _median_time([r.time_to(peers[best_peer]) for r in results[m]]) <= budget / 2]
        lines.append(f"\nBest peer: {best_peer}, median best {peers[best_peer]:.4f}. nbtune "
                     f"methods reaching it in at most half the budget (median over seeds): "
                     f"{', '.join(reach) if reach else 'none'}.")
    return lines


def levels_by_table(task: str, results: dict[str, list[Run]]) -> list[str]:
    """Per choice of the task's space, the share of each method's levels (over its seeds) trained
    with each value: what a method's levels cost depends on the configs it chose (a batch of 16
    takes several times as long an epoch as one of 128). Methods that did not record them are
    left out."""
    lines = []
    for name in choice_names(SPACES[task]):
        values = [str(v) for v in SPACES[task][name].values]
        rows = []
        for method, runs in results.items():
            counts = [sum(r.levels_by.get(name, {}).get(v, 0) for r in runs) for v in values]
            if sum(counts):
                rows.append(f"| {method} | " + " | ".join(f"{c / sum(counts):.2f}" for c in counts)
                            + f" | {sum(counts)} |")
        if rows:
            lines += ["", f"Levels trained by {name} (share of the method's levels):", "",
                      f"| method | {' | '.join(values)} | levels |",
                      "|---|" + "---|" * (len(values) + 1)] + rows
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per study")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tasks", default="sgd-mlp,sgd-mlp-heldout,hgb")
    parser.add_argument("--methods",
                        default=",".join(m for m in METHODS if m not in BY_NAME_ONLY))
    parser.add_argument("--save", help="append each study to this JSON-lines file; skip those "
                        "it holds")
    args = parser.parse_args()
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds takes integers separated by commas, got {args.seeds!r}")
    methods, task_names = args.methods.split(","), args.tasks.split(",")
    for given, known, what in ((methods, METHODS, "methods"),
                               (task_names, list(SPACES), "tasks")):
        unknown = sorted(set(given) - set(known))
        if unknown:
            parser.error(f"unknown {what} {unknown}; known: {', '.join(known)}")
    results = {t: {m: [] for m in methods} for t in task_names}
    saved = _load(args.save, args.budget) if args.save else {}
    with local_cluster(args.workers) as cluster, Client(cluster) as client, \
            tempfile.TemporaryDirectory() as folder:
        client.run(peers_tasks.warm)  # as the Optuna workers do before their clock starts
        paths, datas = {}, {}
        for task in task_names:  # made once, before any clock starts
            paths[task] = os.path.join(folder, f"{task}.npz")
            peers_tasks.save_data(task, paths[task])
            datas[task] = peers_tasks.load_data(paths[task])
        for seed in seeds:  # interleaved: each seed runs every task and method, one at a time
            for task in task_names:
                for method in methods:
                    run = saved.get((task, method, seed))
                    if run is None:
                        run = run_one(client, method, task, seed, args.budget, args.workers,
                                      paths[task], datas[task], folder)
                        if args.save:
                            _save(args.save, task, method, seed, run)
                    results[task][method].append(run)
                    to = run.time_to(peers_tasks.TARGET[task])
                    print(f"seed {seed} {task} {method:22s} best {run.best:.4f}  to "
                          f"{peers_tasks.TARGET[task]}: {_seconds(to)}{'' if to is None else ' s'}"
                          f"  trials {run.trials}  levels {len(run.points)}", flush=True)
    for task in task_names:
        print(f"\n### {task}: {args.workers} workers, {args.budget:.0f} s per study, seeds "
              f"{args.seeds}\n")
        print("\n".join(table(task, results[task], args.budget)
                        + levels_by_table(task, results[task])))


if __name__ == "__main__":
    main()
