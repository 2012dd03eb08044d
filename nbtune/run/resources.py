"""How many trials the cluster's workers can run at once, given what each trial asks for.

A worker runs a trial when it has a free thread and, for every resource the trial asks for
(``GPU=0.25``), enough of it left; so the cluster's slots are the sum over its workers of
``min(threads, floor(offered / asked))`` over the asked resources.
"""
from __future__ import annotations

import functools
import math
import time
from typing import Any, Callable, Iterable, Mapping

_EPS = 1e-9  # 1 / 0.1 is 9.999...: a worker offering GPU=1 hosts ten trials asking GPU=0.1


def worker_info(client) -> dict[str, dict[str, Any]]:
    """The scheduler's record of each worker, by address, asked now. Not
    ``client.scheduler_info(n_workers=-1)["workers"]``: before distributed 2026.11 that
    returned the client's cached copy, which Dask's own refresh every 2 s (of the cluster's
    totals alone: no workers) can replace between the fetch and the return, and a cluster of
    two workers read as none (a make test run): a paused trial whose checkpoint cannot move
    was sent to any worker, as if its own had left."""
    address = getattr(client.scheduler, "address", None)
    if _asks_count() and address not in _LISTS_ALL:
        try:
            return dict(client.sync(client.scheduler.identity, n_workers=-1).get("workers") or {})
        except TypeError:  # a scheduler before distributed 2025 takes no n_workers: it lists
            _LISTS_ALL.add(address)  # them all, and is asked so from then on (once a second)
    return dict(client.sync(client.scheduler.identity).get("workers") or {})


_LISTS_ALL: set[str | None] = set()  # schedulers whose identity() lists every worker unasked


@functools.cache
def _asks_count() -> bool:
    """Whether this distributed's scheduler takes ``n_workers`` (2025 on): an older one logs
    the refused call as an ERROR with its traceback (a script's log under distributed 2024.8),
    so it is not asked so where the client's own version lacks it."""
    import inspect

    from distributed import Client

    return "n_workers" in inspect.signature(Client.scheduler_info).parameters



def workers_of(client) -> dict[str, dict[str, Any]]:
    """Each worker's threads, resources, status ("running", "paused", ...) and memory (its
    process's, and its limit: 0 for none), by address, as the scheduler knows them now."""
    return {address: {"nthreads": int(w.get("nthreads", 1)),
                      "resources": dict(w.get("resources") or {}),
                      "name": str(w.get("name", "")),
                      "status": str(w.get("status", "running")),
                      "memory": int((w.get("metrics") or {}).get("memory") or 0),
                      "memory_limit": int(w.get("memory_limit") or 0)}
            for address, w in worker_info(client).items()}


def paused_line(workers: Mapping[str, Mapping[str, Any]]) -> str:
    """Where Dask paused workers for their memory, a line that says so; else "". A paused
    worker starts no trial, and Dask's logs in the cell were the only sign of it (first-day
    test, round 21)."""
    paused = {a: w for a, w in workers.items() if w.get("status") == "paused"}
    if not paused:
        return ""
    from dask.utils import format_bytes  # imported where a study runs

    address, w = max(paused.items(), key=lambda item: item[1].get("memory", 0))
    used = (f"its process uses {format_bytes(w['memory'])} of its "
            f"{format_bytes(w['memory_limit'])} memory limit" if w.get("memory_limit")
            else "its memory passed Dask's pause threshold")
    who = (f"worker {address} is paused" if len(paused) == 1 else
           f"{len(paused)} workers are paused ({address} the fullest)")
    return (f"{who}: {used}, past the share (80% by default) at which Dask pauses a worker, "
            "and it starts no trial until it frees memory (its nanny restarts it at 95%): give "
            "the workers more memory, or hold less in each trial")


def worker_slots(nthreads: int, offered: Mapping[str, float],
                 asked: Mapping[str, float] | None) -> int:
    """How many trials asking ``asked`` one worker with these threads and resources runs at once."""
    slots = nthreads
    for name, amount in (asked or {}).items():
        if amount > 0:
            slots = min(slots, math.floor(offered.get(name, 0) / amount + _EPS))
    return max(0, slots)


def slots(workers: Mapping[str, Mapping[str, Any]], asked: Mapping[str, float] | None) -> int:
    """Trials asking ``asked`` that ``workers`` (as :func:`workers_of` gives them) run at once."""
    return sum(worker_slots(w["nthreads"], w["resources"], asked) for w in workers.values())


def default_ask(workers: Mapping[str, Mapping[str, Any]],
                asked: Mapping[str, float] | None, local: bool = False
                ) -> Mapping[str, float] | None:
    """What a trial asks for: ``asked``, or, where it asks for nothing and the cluster has both
    GPU workers and workers offering ``CPU`` (nbtune's own cluster on a GPU machine), one CPU, so
    that it runs on a CPU worker and leaves the GPU workers to the trials that asked for a GPU;
    likewise where every worker offers ``CPU`` (a cluster whose GPU workers have not joined yet:
    a trial sent in the second before a look-up saw them ran on them, first-day test, round 34).
    On nbtune's own cluster (``local``) a CPU ask is read as it is meant there: ``cpu`` is
    ``CPU`` (and ``gpu`` ``GPU``), and one CPU, which every trial has (a worker thread), asks
    nothing of workers that offer none (Ray Tune's ``{"cpu": 1}``, ported: "no worker offers
    CPU=1", first-day test, round 16)."""
    if asked and local:
        offered = {name for w in workers.values() for name in w["resources"]}
        ask = {}
        for name, amount in asked.items():
            if name.lower() == "cpu":
                if "CPU" not in offered and amount <= 1:
                    continue
                name = "CPU"
            elif name.lower() == "gpu":
                name = "GPU"
            ask[name] = amount
        asked = ask or None
    if asked:
        return asked
    offered = [set(w["resources"]) for w in workers.values()]
    if any("CPU" in o for o in offered) and (any("GPU" in o for o in offered)
                                             or all("CPU" in o for o in offered)):
        return {"CPU": 1.0}
    return asked


def _amount(value: float) -> str:
    return f"{value:g}"


def _amounts(asked: Mapping[str, float], sep: str = ", ") -> str:
    """``GPU=1, MEM=16`` (with ``sep=","``: as ``dask worker --resources`` takes them)."""
    return sep.join(f"{k}={_amount(v)}" for k, v in asked.items())


NO_LOCAL_GPU = ("nbtune's local cluster starts a GPU worker for each GPU that nvidia-smi lists, "
                "and it lists none here: drop --gpus, set NBTUNE_GPUS=N (or `%tune_cluster local "
                "--gpus N`) where this machine has GPUs that nvidia-smi does not show, or use a "
                "cluster with GPU workers (`%tune_cluster tcp://HOST:8786`)")


def check_resources(workers: Mapping[str, Mapping[str, Any]],
                    asked: Mapping[str, float] | None, local: bool = False) -> int:
    """The slots for ``asked``; raises ValueError, naming what the workers offer, where no worker
    can run a single such trial (the study would otherwise wait for ever). ``local``: the
    workers are nbtune's own cluster, where a GPU is not for the user to add with ``dask worker``.
    A cluster with no workers yet (scaled to zero, or coming up) is waited for, whatever the
    trials ask, as Dask queues tasks for workers to come: a GPU study was refused there, where
    a CPU study waited (first-day test, round 33)."""
    n = slots(workers, asked)
    if n > 0 or not asked or (not workers and not local):
        return n
    wanted, flag = _amounts(asked), _amounts(asked, ",")
    if local and "GPU" in asked and not any("GPU" in w["resources"] for w in workers.values()):
        raise ValueError(f"no worker offers {wanted}: {NO_LOCAL_GPU}")
    if local and "CPU" in asked and not any("CPU" in w["resources"] for w in workers.values()):
        raise ValueError(f"no worker offers {wanted}: nbtune's local cluster runs one trial on "
                         "each worker, with its share of the cores for BLAS and OpenMP threads; "
                         "for trials that use more cores, start fewer workers (`%tune_cluster "
                         "local --workers N`; in a script, cluster=nbtune.run.cluster."
                         "local_cluster(N)) and drop the CPU from resources")
    offers = {address: w["resources"] for address, w in sorted(workers.items())}
    most = {k: max((w["resources"].get(k, 0) for w in workers.values()), default=0)
            for k in asked}
    if all(most.values()):  # offered, in smaller amounts than asked
        drop = " or ask for at most " + _amounts(most)
    else:
        drop = " or drop --gpus" if set(asked) == {"GPU"} else " or ask for less"
    near = {k: name for k in asked for w in workers.values() for name in w["resources"]
            if name != k and name.lower() == k.lower()}
    case = "".join(f" (a worker offers {name!r}: resource names are case-sensitive)"
                   for name in dict.fromkeys(near.values()))
    raise ValueError(f"no worker offers {wanted}: the workers offer {offers}{case}; start "
                     f"workers with `dask worker ... --resources {flag}`"
                     f"{drop}")


def thread_bound_note(workers: Mapping[str, Mapping[str, Any]],
                      asked: Mapping[str, float] | None) -> str | None:
    """A note where the workers' threads, not their resources, limit how many trials share them
    (``GPU=0.25`` on a one-thread GPU worker runs one trial at a time, not four)."""
    if not asked:
        return None
    by_resource = sum(worker_slots(10**9, w["resources"], asked) for w in workers.values()
                      if worker_slots(w["nthreads"], w["resources"], asked))
    n = slots(workers, asked)
    if by_resource <= n:
        return None
    return (f"the workers' resources allow {by_resource} trials at once but their threads only "
            f"{n}: give the workers that offer {', '.join(asked)} more threads (`dask worker "
            f"--nthreads N`, or `%tune_cluster local --threads-per-gpu N`)")


class Capacity:
    """The loop's slots while a study runs: :func:`slots` of the workers there are now, looked up
    at most once a second, so that workers that join are used and those that leave are not
    waited for. Never below 1: with no worker able to run a trial now, one waits in Dask's queue.

    ``held`` gives the workers that a trial of an ended study still keeps busy (see
    :mod:`nbtune.run.held`): their threads are not counted. ``able`` is how many of the other
    workers can run such a trial (the loop queues one more trial on each).

    ``asked`` is what each trial asks of the workers. Given what the user asked (``given``, and
    ``local`` for nbtune's own cluster), it is decided again from the workers at each look-up
    (:func:`default_ask`): a study that started before the GPU workers joined asked nothing,
    and its CPU trials later ran on the GPU workers (first-day test, round 33). Once the trials
    ask for a CPU they keep asking for it."""

    def __init__(self, client, asked: Mapping[str, float] | None, every: float = 1.0,
                 held: Callable[[], set[str]] | None = None,
                 given: Mapping[str, float] | None = None, local: bool = False):
        self.client, self.asked, self.every = client, asked, every
        self.given, self.local = given, local
        self.held = held or set
        self.value, self.at = 1, float("-inf")
        self.now: int | None = None  # the slots as last looked up, 0 included
        self.workers: dict[str, dict[str, Any]] = {}  # as last looked up
        self.seen_at: float | None = None  # when (time.monotonic()) they were
        self.able = 0  # the free workers that can run such a trial
        self.after_loss = False  # the client lost its scheduler since workers were last seen

    def set(self, workers: Mapping[str, Mapping[str, Any]]) -> int:
        """Take the slots of ``workers`` (as looked up by the caller) as the capacity now."""
        self.workers, self.seen_at = dict(workers), time.monotonic()
        if workers:
            self.after_loss = False
        if not self.asked:  # asked for nothing yet: a GPU worker that joined changes that
            self.asked = default_ask(workers, self.given, self.local)
        held = self.held()  # and a worker paused for its memory starts nothing either
        free = {a: w for a, w in workers.items()
                if a not in held and w.get("status", "running") != "paused"}
        self.now = slots(free, self.asked)
        self.value, self.at = max(1, self.now), time.monotonic()
        self.able = sum(1 for w in free.values()
                        if worker_slots(w["nthreads"], w["resources"], self.asked))
        return self.value

    def starved(self) -> str:
        """What the study waits for where no worker there is now can run one of its trials (the
        only GPU worker left, a scheduler restarted without its workers), in a line for its
        views; "" where one can. The study waited in silence, its panel saying "1/1 slots busy"
        (first-day test, round 10)."""
        if self.now is None or self.now > 0:
            return ""
        paused = paused_line(self.workers)
        if paused:
            return paused
        if not self.workers and self.after_loss:  # round 18: said nowhere
            return ("the scheduler is back without workers (Dask's workers leave with their "
                    f"scheduler): start them again (`dask worker {self._address()}`), or stop "
                    "the study")
        if not self.workers:
            flag = f" --resources {_amounts(self.asked, ',')}" if self.asked else ""
            return ("the cluster has no workers now: the study waits for one (`dask worker "
                    f"{self._address()}{flag}`), or stop it")
        if self.asked and not slots(self.workers, self.asked):
            return (f"no worker offers {_amounts(self.asked)} now: the study waits for one "
                    f"(`dask worker SCHEDULER_ADDRESS --resources {_amounts(self.asked, ',')}`), "
                    "or stop it")
        return ("every worker is busy with a trial of an ended study that did not stop: the "
                "study waits for them")

    def _address(self) -> str:
        """The scheduler's address, for the command that starts a worker for it."""
        address = getattr(getattr(self.client, "scheduler", None), "address", None)
        return address or "SCHEDULER_ADDRESS"

    def left(self, trials: Iterable[Any], heard: Mapping[int, float]) -> list[Any]:
        """The running ``trials`` whose worker has left the cluster (a lookup since their start
        was ``heard``, by trial id, finds it gone): Dask runs them again on another worker, and
        meanwhile they wait (a killed worker's trial read "running" for good on a user's
        cluster)."""
        if self.seen_at is None:
            return []
        return [t for t in trials if t.worker is not None and t.worker not in self.workers
                and heard.get(t.id, self.seen_at) < self.seen_at]

    def paused(self) -> str:
        """:func:`paused_line` of the workers as last looked up, where some can still run the
        study's trials (where none can, :meth:`starved` says it)."""
        return paused_line(self.workers) if self.now else ""

    def __call__(self) -> int:
        if time.monotonic() - self.at >= self.every:
            if getattr(self.client, "status", "running") not in ("running", "newly-created"):
                # reconnecting: a lookup would wait for the scheduler, up to Dask's connect
                # timeout, and the panel that asked froze (first-day test, round 18)
                self.after_loss, self.at = True, time.monotonic()
                return self.value
            try:
                self.set(workers_of(self.client))
            except Exception:  # the scheduler did not answer this time: keep the last count
                self.at = time.monotonic()
        return self.value
