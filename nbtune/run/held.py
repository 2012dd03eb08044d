"""Workers still busy with a trial of a study that ended, and what the notebook does about them.

When a study ends, Dask takes its cancelled tasks off a worker's books at once, while the thread
that runs a trial goes on until the halt (:mod:`nbtune.run.halt`) reaches it. Where it cannot (a
long sleep or compiled call, code that swallows ``BaseException``), Dask would send the next
study's trial to that worker, where it waits behind the old one, even with another worker idle.

So the notebook keeps, per client, which workers hold such a trial (the halt's answer names them;
the worker announces their end on :data:`~nbtune.run.halt.HELD_TOPIC`), sends new trials only to
the other workers, and, where the study asked for it (nbtune's own cluster does by default),
restarts a worker that is still held after a grace period.
"""
from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from .halt import HELD_TOPIC, still_running

RESTART_AFTER = 10.0  # seconds before nbtune's own cluster restarts a worker a held trial keeps


@dataclass(frozen=True)
class HeldTrial:
    """A trial of an ended study whose thread still runs on ``worker``."""

    worker: str
    study: str
    trial: int
    execution: str
    since: float
    prefix: str = ""  # the study's run prefix on the workers

    def describe(self) -> str:
        """One phrase for the user: which trial keeps which worker."""
        return f"trial {self.trial} of study {self.study!r} still runs on worker {self.worker}"


class HeldWorkers:
    """The held trials on one client's cluster; thread-safe, fed by halts and worker events."""

    def __init__(self, client):
        self.client = client
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], HeldTrial] = {}  # (worker, execution) -> trial
        self.restarting: set[str] = set()  # workers nbtune restarts now (restart_later)
        # the latest ends heard: a thread that left just after its halt's wait announced its
        # end before the answer that named it held came, and its worker stayed apart until
        # nbtune restarted it, healthy (first-day check, round 68)
        self._released: collections.deque = collections.deque(maxlen=256)
        self._subscribed = False
        self._subscribe()  # before any halt: a trial that leaves just after it is heard of

    def _subscribe(self) -> None:
        if not self._subscribed:
            with contextlib.suppress(Exception):  # an older distributed: entries age out instead
                self.client.subscribe_topic(HELD_TOPIC, self._on_event)
                self._subscribed = True

    def _on_event(self, event: tuple[float, dict]) -> None:
        msg = event[1]
        if isinstance(msg, dict) and msg.get("held") is False:
            key = (msg.get("worker"), msg.get("execution"))
            with self._lock:
                self._held.pop(key, None)
                self._released.append(key)  # heard before the halt's answer came, maybe

    def add(self, study: str, answers: dict[str, list[dict[str, Any]]],
            prefix: str = "") -> list[HeldTrial]:
        """Record what a halt of run ``prefix`` answered (worker -> trials that did not stop);
        returns those not held already (a trial past its time, then its study's end: it was
        named twice) nor heard to end meanwhile."""
        self._subscribe()
        now = time.time()
        found = [HeldTrial(worker, study, int(t.get("trial", -1)), str(t.get("execution")), now,
                           prefix)
                 for worker, trials in sorted(answers.items()) for t in trials]
        with self._lock:
            new = [h for h in found if (h.worker, h.execution) not in self._held
                   and (h.worker, h.execution) not in self._released]
            for held in new:
                self._held[(held.worker, held.execution)] = held
        return new

    def recheck(self) -> None:
        """Ask the workers which held trials still run, and forget the others (an end whose
        event was lost, or came while nobody listened)."""
        by_worker: dict[str, list[list[str]]] = {}
        for held in self.trials():
            by_worker.setdefault(held.worker, []).append([held.prefix, held.execution])
        for worker, keys in by_worker.items():
            try:
                alive = self.client.run(still_running, keys, workers=[worker],
                                        on_error="ignore").get(worker)
            except Exception:  # unreachable: keep it held until it answers or leaves
                continue
            if not isinstance(alive, list):
                continue
            alive_keys = {tuple(k) for k in alive}
            with self._lock:
                for prefix, execution in keys:
                    if (prefix, execution) not in alive_keys:
                        self._held.pop((worker, execution), None)

    def trials(self) -> list[HeldTrial]:
        """The held trials now, oldest first."""
        with self._lock:
            return sorted(self._held.values(), key=lambda h: (h.since, h.worker))

    def workers(self) -> set[str]:
        """Addresses of the workers that a held trial keeps busy."""
        with self._lock:
            return {worker for worker, _ in self._held}

    def forget_worker(self, worker: str) -> None:
        """The worker left the cluster (restarted, or gone): nothing of it is held any more."""
        with self._lock:
            for key in [k for k in self._held if k[0] == worker]:
                del self._held[key]

    def prune(self, present: set[str] | Any) -> None:
        """Forget the held trials of workers that are no longer in the cluster."""
        for worker in self.workers() - set(present):
            self.forget_worker(worker)

    def restart_later(self, worker: str, after: float) -> None:
        """Restart ``worker`` in ``after`` seconds if a held trial still keeps it then."""
        def restart() -> None:
            self.recheck()  # an end whose event was lost: a healthy worker was restarted
            if worker not in self.workers():
                return
            # a local cluster's nanny logs in this process ("Worker process still alive after 4.0
            # seconds, killing", "Restarting worker"): lines of Dask's in whatever cell runs
            # then; the note at the study's end said this restart would come (round 41)
            nanny = logging.getLogger("distributed.nanny")
            level = nanny.level
            nanny.setLevel(logging.ERROR)
            self.restarting.add(worker)
            try:
                with contextlib.suppress(Exception):  # gone meanwhile, or no nanny to restart it
                    self.client.restart_workers([worker], timeout=60, raise_for_error=False)
            finally:
                nanny.setLevel(level)
                self.restarting.discard(worker)
            self.forget_worker(worker)

        timer = threading.Timer(after, restart)
        timer.daemon = True
        timer.name = f"nbtune-restart-{worker}"
        timer.start()


_lock = threading.Lock()
_registry: dict[str, HeldWorkers] = {}  # client id -> its held workers


def held_workers(client) -> HeldWorkers:
    """The :class:`HeldWorkers` of ``client``'s cluster (one per client, made on first use)."""
    key = str(getattr(client, "id", id(client)))
    with _lock:
        held = _registry.get(key)
        if held is None:
            held = _registry[key] = HeldWorkers(client)
        return held


def restart_delay(setting: Any, embedded: bool) -> float | None:
    """Seconds before a held worker is restarted: ``"auto"`` is :data:`RESTART_AFTER` on nbtune's
    own cluster and never (None) on a cluster of the user's, where a restart is theirs to decide."""
    if setting == "auto":
        return RESTART_AFTER if embedded else None
    if setting is None or setting is False:
        return None
    if isinstance(setting, bool) or not isinstance(setting, (int, float)) or setting < 0:
        raise ValueError(f"restart_held must be 'auto', None or a number of seconds >= 0, got "
                         f"{setting!r}")
    return float(setting)


def held_note(held: list[HeldTrial], restart: float | None | str = "",
              workers: int | None = None, when: str = "when its study ended") -> str:
    """What the user reads about held trials: when their study ends (``restart``: the seconds
    before nbtune restarts their workers, None for never) or, without it, as the next starts.
    ``workers``: how many the cluster has; where the held trials keep all of them, no "other
    workers" take the trials (it said so of a cluster whose two were both held: first-day
    test, round 41)."""
    what = "; ".join(h.describe() for h in held)
    every = workers is not None and len({h.worker for h in held}) >= workers
    if restart == "":
        if every:
            return (f"nbtune: {what}; every worker is held, so this study's trials wait until "
                    f"one is free (or restarted).")
        return f"nbtune: {what}; this study's trials go to the other workers until it ends."
    that = "that worker" if len({h.worker for h in held}) == 1 else "those workers"
    then = (f"; nbtune restarts {that} in {restart:g} s if it still runs" if restart is not None
            else f"; restart {that} yourself (client.restart_workers([...])), or let nbtune do "
            "it: nbtune.tune(..., restart_held=SECONDS), %config Tune.restart_held = SECONDS")
    return (f"nbtune: {what}: it did not stop {when}: it is inside a long call "
            f"that does not return to Python until it ends (a library's fit on large data, "
            f"most often; or code that catches BaseException); "
            + ("no worker is free for new trials until then" if every else
               "new trials go to the other workers until it ends") + f"{then}.")
