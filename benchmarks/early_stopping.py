"""Early stopping on a real task: nbtune's ASHA against random search with full training.

The ``sgd-mlp`` task of tasks.py: scikit-learn's ``MLPClassifier`` (solver sgd, one ``partial_fit``
per epoch, at most 27 epochs) on a 20,000-row ``make_classification`` set, tuned over learning
rate, alpha, hidden layers, batch size and momentum, with validation accuracy as the metric. Every method
gets the same wall-clock budget and the same workers, for several seeds, in one run.

Methods:
- ``random``: a bare ``distributed.as_completed`` loop, random configs, every trial trained to 27
  epochs (the baseline, as the peers measured it). It draws the same configs, in the same order,
  as nbtune's random searcher with the same seed, so the methods differ only in what they do
  with them.
- ``asha``: ``nbtune.tune(..., scheduler="asha", max_t=27)`` (stopping type, grace 1, eta 3).
- ``asha-promotion``: the promotion type, the trial's model kept as its checkpoint on the worker.
- ``asha-pasha``: progressive ASHA (``type="pasha"``), the promotion type whose top level rises
  only while the two top rungs rank their trials otherwise.
- ``nbtune-random``: ``nbtune.tune`` with the default FIFO scheduler (full training).

``--task digits-mlp`` runs the same methods on tasks.py's digits MLP instead (its own space and
hidden layers; an epoch costs about 25 ms of CPU, an eighth of an sgd-mlp epoch, so per-trial
costs weigh eight times as much; target 0.95). ``--task sgd-mlp-small`` runs the sgd-mlp task's
model and space on 4,000 rows of its generator (an epoch about 40 ms of CPU; target 0.70).

``--replay`` measures what the study's own machinery costs, apart from which configs it trains:
after each nbtune study the bare loop trains the same configs for the same epochs (ASHA's choices,
replayed in the order its trials were created) and prints the time that takes against the
study's budget. ASHA's rungs keep other configs than random search trains (an epoch at batch
size 16 costs several times one at 128), so its epochs against the bare random loop's mix two
things; against its own work replayed they measure only the time lost.

Run with ``make bench-early-stopping`` (about 12 minutes with the defaults; ``make bench`` runs
one 40 s study of each method). Prints, per method, the median best accuracy, the time to reach
the target accuracy for each seed, the trials started and epochs trained (the bare loop's trials
still running at the deadline count their epochs until then), the CPU time the epochs themselves
took (fit and score, measured in the trial's thread: the work done, whatever the configs' mix;
an epoch at batch size 16 costs several times one at 128, and ASHA keeps other configs than
random search trains), the workers' busy share (time
inside trials over workers x budget, from the times the workers stamp: what idle gaps between
trials cost), the ratio of ASHA's epochs trained to random search's, and the ratio of ASHA's
median time to target against random search's.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import cloudpickle
import numpy as np
from distributed import Client, as_completed

import nbtune
from nbtune.run.cluster import local_cluster

import tasks
from tasks import (DIGITS_HIDDEN, DIGITS_SPACE, EPOCHS, HIDDEN, SPACE,  # noqa: F401
                   digits_data, make_data, make_model, small_data)

# task -> its data, space, hidden layers by name and default target accuracy
TASKS = {"sgd-mlp": (make_data, SPACE, HIDDEN, 0.80),
         "sgd-mlp-small": (small_data, SPACE, HIDDEN, 0.70),
         "digits-mlp": (digits_data, DIGITS_SPACE, DIGITS_HIDDEN, 0.95)}

cloudpickle.register_pickle_by_value(tasks)  # the workers need not find benchmarks/ on their path


def train(config, X_train, y_train, X_val, y_val, hidden=HIDDEN, on_epoch=None):
    """Train one configuration epoch by epoch; resumes from a checkpointed model when given one."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    resumed = nbtune.get_checkpoint()
    if resumed is not None:
        clf, first = resumed["model"], resumed["epoch"] + 1
    else:
        clf, first = make_model(config, hidden=hidden), 1
    classes = np.unique(y_train)
    best = 0.0
    for epoch in range(first, EPOCHS + 1):
        cpu = time.thread_time()
        clf.partial_fit(X_train, y_train, classes=classes)
        accuracy = float(clf.score(X_val, y_val))
        cpu = time.thread_time() - cpu  # the epoch's own cost, whatever else the machine runs
        best = max(best, accuracy)
        if on_epoch is not None:  # the bare loop: no nbtune inside the trial
            on_epoch(epoch, accuracy, cpu)
        else:
            nbtune.report(epoch=epoch, accuracy=accuracy, train_cpu=cpu,
                          checkpoint={"model": clf, "epoch": epoch})
    return best


class Trace(nbtune.Observer):
    """Every (seconds since the start, validation accuracy) seen, the work done, and when each
    worker ran a trial (Unix times, as the workers stamp them)."""

    def __init__(self):
        self.t0, self.points, self.epochs, self.trials = time.time(), [], 0, 0
        self.train_cpu = 0.0  # CPU seconds the epochs themselves took (fit and score)
        self.spans: list[tuple[float, float]] = []  # (start, end) of each trial's run
        self._open: dict[int, float] = {}  # trial -> when its current run started
        self.work: dict[int, list] = {}  # trial -> [config, epochs reported]
        self.replay: tuple[float, float] | None = None  # bare_replay's figures for this work

    def busy_share(self, workers: int, budget: float) -> float:
        """The share of the workers' time inside trials, from the first start to the budget's
        end: 1.0 means no worker ever waited between trials or for a verdict's round trip
        (time waiting inside a trial counts as busy; it is measured on its own elsewhere)."""
        end = self.t0 + budget
        inside = sum(max(0.0, min(f, end) - max(s, self.t0)) for s, f in self.spans)
        return inside / (workers * budget)

    def seen(self, at: float, accuracy: float, cpu: float) -> None:
        self.epochs += 1
        self.train_cpu += cpu
        if np.isfinite(accuracy):
            self.points.append((at - self.t0, accuracy))

    def trial_created(self, trial):
        if trial.attempts == 1 and not trial.reports:  # not a retry, not a resume
            self.trials += 1

    def trial_reported(self, trial, report):
        self.seen(time.time(), report.get("accuracy", float("nan")), report.get("train_cpu", 0.0))
        self.work.setdefault(trial.id, [trial.config, 0])[1] += 1

    def trial_started(self, trial):  # each run of it: a paused trial starts again when resumed
        self._open[trial.id] = trial.started

    def trial_finished(self, trial):  # paused, stopped, completed...: the run is over
        started = self._open.pop(trial.id, None)
        if started is not None and trial.finished is not None:
            self.spans.append((started, trial.finished))

    @property
    def best(self) -> float:
        return max((acc for _, acc in self.points), default=0.0)

    def time_to(self, target: float) -> float | None:
        return min((t for t, acc in self.points if acc >= target), default=None)


def scatter(client: Client, data: dict) -> dict:
    """``data`` on every worker, each value under a key of its own: a dict given to Dask's
    ``scatter`` is keyed by its names, and the next loop's data of the same names was released
    with the last loop's futures ("lost dependencies")."""
    return dict(zip(data, client.scatter(list(data.values()), broadcast=True, hash=False)))


def bare_random(client: Client, data: dict, seed: int, budget: float, space: dict) -> Trace:
    """Random search with full training on a hand-written as_completed loop."""
    trace = Trace()
    searcher = nbtune.RandomSearcher(nbtune.Space(space), seed=seed)  # nbtune's configs, in order
    shared = scatter(client, data)
    deadline = trace.t0 + budget

    def submit():
        config = searcher.suggest(trace.trials)
        trace.trials += 1
        return client.submit(_bare_trial, config, shared, pure=False)

    def take(future) -> None:
        started, curve, ended = future.result()  # (Unix time, accuracy, CPU s) per epoch
        for at, accuracy, cpu in curve:
            if at <= deadline:
                trace.seen(at, accuracy, cpu)
        trace.spans.append((started, ended))

    live = {submit() for _ in range(len(client.nthreads()))}
    ac = as_completed(list(live), with_results=False)
    for future in ac:
        live.discard(future)
        take(future)
        if time.time() >= deadline:
            break
        new = submit()
        live.add(new)
        ac.add(new)
    for future in live:  # the trials running at the deadline: their epochs until then count
        take(future)
    return trace


def wait_idle(client: Client) -> None:
    """Wait until no worker still runs a cancelled trial (Dask cannot stop a running thread)."""
    def busy(dask_worker):
        return len(dask_worker.active_threads)

    while any(client.run(busy).values()):
        time.sleep(0.25)


class _Enough(Exception):
    """A replayed trial trained the epochs it was given."""


def _bare_trial(config, data, epochs=EPOCHS):
    """(start, the (Unix time, accuracy) of each epoch, end) of ``epochs`` epochs at most: a
    config whose training diverges (scikit-learn raises) keeps the epochs it trained, as nbtune
    records a failed trial's."""
    started, curve = time.time(), []

    def on_epoch(epoch, accuracy, cpu):
        curve.append((time.time(), accuracy, cpu))
        if len(curve) >= epochs:
            raise _Enough

    try:
        train(config, **data, on_epoch=on_epoch)
    except Exception:
        pass
    return started, curve, time.time()


def bare_replay(client: Client, data: dict, work: list[tuple[dict, int]]) -> tuple[float, float]:
    """The work an nbtune study did (each trial's config and the epochs it trained, in the order
    the trials were created; a paused trial's segments as one) on the bare loop, one trial per
    worker as ``bare_random`` keeps: (seconds from the first submission to the last result, the
    workers' time inside trials divided by their number: the same work perfectly balanced)."""
    shared = scatter(client, data)
    todo = iter(work)
    t0, inside = time.time(), 0.0

    def submit():
        item = next(todo, None)
        return None if item is None else client.submit(_bare_trial, item[0], shared, item[1],
                                                       pure=False)

    live = [f for f in (submit() for _ in range(len(client.nthreads()))) if f is not None]
    ac = as_completed(live, with_results=False)
    for future in ac:
        started, _, ended = future.result()
        inside += ended - started
        new = submit()
        if new is not None:
            ac.add(new)
    return time.time() - t0, inside / len(client.nthreads())


def nbtune_run(client: Client, data: dict, seed: int, budget: float, folder: str, space: dict,
               **options) -> Trace:
    trace = Trace()
    nbtune.tune(nbtune.with_parameters(train, **data), space, metric="accuracy", mode="max",
                n_trials=None, max_time=budget, seed=seed, cluster=client,
                storage=os.path.join(folder, "bench.db"), observers=[trace], **options)
    return trace


METHODS = {
    "random": None,
    "asha": dict(scheduler="asha", max_t=EPOCHS, grace_period=1, reduction_factor=3),
    "asha-promotion": dict(scheduler="asha", type="promotion", max_t=EPOCHS, grace_period=1,
                           reduction_factor=3),
    "asha-pasha": dict(scheduler="asha", type="pasha", max_t=EPOCHS, grace_period=1,
                       reduction_factor=3),
    "nbtune-random": dict(),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per study")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--task", default="sgd-mlp", choices=list(TASKS))
    parser.add_argument("--target", type=float, default=None,
                        help="accuracy to reach (default: 0.80 on sgd-mlp, 0.95 on digits-mlp)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--methods", default="random,asha")
    parser.add_argument("--replay", action="store_true",
                        help="after each nbtune study, train the same configs for the same "
                             "epochs on the bare loop, and print how long that takes")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; known: {', '.join(METHODS)}")
    load, space, hidden, target = TASKS[args.task]
    if args.target is None:
        args.target = target
    data = {**load(), "hidden": hidden}
    results: dict[str, list[Trace]] = {m: [] for m in methods}
    with local_cluster(args.workers) as cluster, Client(cluster) as client, \
            tempfile.TemporaryDirectory() as folder:
        for seed in seeds:  # interleaved: each seed runs every method, one after another
            for method in methods:
                if METHODS[method] is None:
                    trace = bare_random(client, data, seed, args.budget, space)
                else:
                    trace = nbtune_run(client, data, seed, args.budget, folder, space,
                                       **METHODS[method])
                results[method].append(trace)
                wait_idle(client)
                to = trace.time_to(args.target)
                print(f"seed {seed} {method:15s} best {trace.best:.4f}  "
                      f"to {args.target}: {'never' if to is None else f'{to:.0f} s'}  "
                      f"trials {trace.trials}  epochs {trace.epochs}  training CPU "
                      f"{trace.train_cpu:.1f} s  workers busy "
                      f"{trace.busy_share(args.workers, args.budget):.3f}", flush=True)
                if args.replay and METHODS[method] is not None:
                    work = [trace.work[t] for t in sorted(trace.work)]
                    trace.replay = bare_replay(client, data, work)
                    wait_idle(client)
                    print(f"seed {seed} {method:15s} the same work on the bare loop: "
                          f"{trace.replay[0]:.1f} s ({trace.replay[1]:.1f} s balanced) of "
                          f"{args.budget:.0f} s", flush=True)
    print(f"\n{args.task}, {args.workers} workers, {args.budget:.0f} s per study, "
          f"seeds {args.seeds}, "
          f"target {args.target}")
    print("| method | median best | time to target (s) | trials started | epochs trained | "
          "training CPU (s) | workers busy |")
    print("|---|---|---|---|---|---|---|")
    medians = {}
    for method, traces in results.items():
        times = [t.time_to(args.target) for t in traces]
        medians[method] = statistics.median(t if t is not None else float("inf") for t in times)
        shown = ", ".join("never" if t is None else f"{t:.0f}" for t in times)
        print(f"| {method} | {statistics.median(t.best for t in traces):.4f} | {shown} | "
              f"{sum(t.trials for t in traces)} | {sum(t.epochs for t in traces)} | "
              f"{sum(t.train_cpu for t in traces):.1f} | {statistics.median(t.busy_share(args.workers, args.budget) for t in traces):.3f} |")
    for method, traces in results.items():
        if args.replay and METHODS[method] is not None:
            took = sum(t.replay[0] for t in traces) / (args.budget * len(traces))
            balanced = sum(t.replay[1] for t in traces) / (args.budget * len(traces))
            print(f"{method}: the bare loop trains the same configs for the same epochs in "
                  f"{took:.2f} of the budget ({balanced:.2f} with the workers balanced); 0.95 "
                  "would mean 5% of the study's time lost to its own machinery")
    if "random" in medians:
        epochs = sum(t.epochs for t in results["random"])
        cpu = sum(t.train_cpu for t in results["random"])
        for method, traces in results.items():
            if method != "random" and epochs:
                print(f"{method}: epochs trained {sum(t.epochs for t in traces) / epochs:.2f} of "
                      "random search's in the same time (goal >= 0.95); their training CPU "
                      f"{sum(t.train_cpu for t in traces) / cpu:.2f} of random search's")
        for method, median in medians.items():
            if method == "random":
                continue
            if not np.isfinite(medians["random"]):
                reached = "never" if not np.isfinite(median) else f"{median:.0f} s"
                print(f"{method}: median time to {args.target} is {reached}; random search's "
                      "median never reached it (goal <= 0.33 of random search's)")
            else:
                print(f"{method}: median time to {args.target} is "
                      f"{median / medians['random']:.2f} of random search's (goal <= 0.33)")


if __name__ == "__main__":
    main()
