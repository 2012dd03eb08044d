"""Optuna's side of peers.py: TPESampler + HyperbandPruner in worker processes sharing one storage.

Each worker process (started, with its data loaded, before the study's clock starts) runs
``study.optimize`` on one Optuna study in a JournalStorage file until the deadline. A trial
reports every level with ``trial.report`` and ends when ``trial.should_prune()`` says so, at its
last level, or at the deadline (the level in progress then is finished, but a report after the
deadline is not counted, for every method alike). Threads (``n_jobs``) are not used: they would
share one interpreter lock between the two workers.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import time
from typing import Any

import peers_tasks


def suggest(trial: Any, space: dict[str, tuple]) -> dict[str, Any]:
    """A config from ``trial.suggest_*``, ``space`` mapping a name to (kind, arguments)."""
    config = {}
    for name, (kind, args) in space.items():
        if kind == "choice":
            config[name] = trial.suggest_categorical(name, list(args))
        elif kind in ("uniform", "loguniform"):
            config[name] = trial.suggest_float(name, *args, log=kind == "loguniform")
        elif kind in ("randint", "lograndint"):
            config[name] = trial.suggest_int(name, *args, log=kind == "lograndint")
        else:
            raise ValueError(f"no Optuna primitive for {kind!r}")
    return config


def _worker(task: str, space: dict, data_path: str, storage_path: str, study_name: str,
            seed: int, index: int, log_path: str, ready: Any, go: Any, start: Any) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = peers_tasks.load_data(data_path)
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(storage_path))
    max_t = peers_tasks.MAX_T[task]
    study = optuna.load_study(
        study_name=study_name, storage=storage,
        # each process its own seed: two samplers with one seed would propose the same configs
        sampler=optuna.samplers.TPESampler(seed=seed * 1000 + index),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_t,
                                              reduction_factor=3))
    peers_tasks.warm()
    ready.set()
    go.wait()
    deadline = float(start.value)
    with open(log_path, "w") as log:
        def objective(trial: Any) -> float:
            config = suggest(trial, space)
            choices = {name: config[name] for name, (kind, _) in space.items() if kind == "choice"}
            best = float("nan")
            for level, value, _ in peers_tasks.levels(task, config, data):
                at = time.time()
                log.write(json.dumps([at, level, value, choices]) + "\n")
                if value == value:  # not NaN
                    trial.report(value, level)
                    best = value if best != best else max(best, value)
                if at >= deadline:
                    raise optuna.TrialPruned()  # cut at the deadline
                if value == value and trial.should_prune():
                    raise optuna.TrialPruned()
            if best != best:
                raise optuna.TrialPruned()  # diverged: no value to tell
            return value

        study.optimize(objective, timeout=max(deadline - time.time(), 0.0),
                       catch=(Exception,))


def run(task: str, space: dict[str, tuple], seed: int, budget: float, workers: int,
        data_path: str, folder: str) -> tuple[float, list[tuple[float, int, float, dict]], int]:
    """One Optuna study: (start time, [(time, level, value, the trial's choices)] of every report,
    trials started)."""
    import optuna

    storage_path = os.path.join(folder, f"optuna-{task}-{seed}.log")
    study_name = f"{task}-{seed}"
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(storage_path))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name=study_name, storage=storage, direction="maximize")
    ctx = multiprocessing.get_context("spawn")  # the parent runs Dask's threads: no fork
    deadline, go = ctx.Value("d", 0.0), ctx.Event()
    procs, readies, logs = [], [], []
    for index in range(workers):
        ready, log_path = ctx.Event(), os.path.join(folder, f"optuna-{task}-{seed}-{index}.jsonl")
        p = ctx.Process(target=_worker, args=(task, space, data_path, storage_path, study_name,
                                              seed, index, log_path, ready, go, deadline))
        p.start()
        procs.append(p)
        readies.append(ready)
        logs.append(log_path)
    for ready in readies:
        ready.wait()
    t0 = time.time()
    deadline.value = t0 + budget
    go.set()
    for p in procs:
        p.join()
    points = []
    for log_path in logs:
        with open(log_path) as f:
            points += [tuple(json.loads(line)) for line in f]
    trials = len(optuna.load_study(study_name=study_name, storage=storage).trials)
    return t0, points, trials

