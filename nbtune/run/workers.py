"""What a study checks on the workers before it starts, and what ``%tune_cluster`` shows of them."""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..caller import warn_note
from .cluster import get_client, is_embedded
from .held import held_workers
from .resources import Capacity, check_resources, default_ask, thread_bound_note, workers_of

# Evaluated on each worker by the builtin ``eval``: nothing of nbtune travels with the probe, so a
# worker that lacks nbtune answers with its ImportError instead of failing to unpickle it.
_PROBE = "__import__('nbtune').__version__"


class WorkerSetupError(RuntimeError):
    """Some worker of the cluster cannot run nbtune's trials (it cannot import nbtune)."""


def check_workers(client, version: str) -> None:
    """Raise :class:`WorkerSetupError` where a worker cannot import nbtune; warn where its version
    differs from ``version`` (the notebook's)."""
    answers = client.run(eval, _PROBE, {}, on_error="return")
    missing, other = [], []
    for address, answer in sorted(answers.items()):
        if isinstance(answer, BaseException):
            missing.append(f"worker {address} cannot import nbtune ({type(answer).__name__}: "
                           f"{answer})")
        elif answer != version:
            other.append(f"{address} has nbtune {answer}")
    if missing:
        raise WorkerSetupError("; ".join(missing) + f": pip install nbtune=={version} there, in "
                               "the environment the workers run in")
    if other:
        warn_note(f"the notebook has nbtune {version} but worker " + ", ".join(other) +
                  f"; install nbtune=={version} on the workers if trials fail")


def connect(cluster: Any, security: Any, asked: Mapping[str, float] | None, version: str
            ) -> tuple[Any, Capacity, Mapping[str, float] | None]:
    """A study's client, once its workers are known able to run its trials (nbtune importable,
    the resources asked for offered), how many trials they run at once, and what each trial
    asks of them (:func:`~nbtune.run.resources.default_ask`)."""
    client = get_client(cluster, security=security)
    check_workers(client, version)
    workers = workers_of(client)
    local = is_embedded(cluster)
    asked = default_ask(workers, asked, local)
    check_resources(workers, asked, local=local)
    held = held_workers(client)
    held.prune(workers)
    capacity = Capacity(client, asked, held=held.workers)
    capacity.set(workers)
    note = thread_bound_note(workers, asked)
    if note is not None:
        warn_note(note)
    return client, capacity, asked


@dataclass
class ClusterInfo:
    """A snapshot of a cluster: its address, dashboard and workers (text and HTML reprs)."""

    address: str
    dashboard: str | None
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)
    kind: str = ""

    @property
    def threads(self) -> int:
        """Threads over all workers."""
        return sum(w["nthreads"] for w in self.workers.values())

    def _sizes(self) -> str:
        """"1 worker, 2 threads": how many of each, in words."""
        n, threads = len(self.workers), self.threads
        return f"{n} worker{'s' if n != 1 else ''}, {threads} thread{'s' if threads != 1 else ''}"

    def _rows(self) -> list[tuple[str, int, str]]:
        """(worker, threads, resources) per worker; the worker is its address, and the name it
        was given (``dask worker --name gpu1``) where it has one of its own."""
        def named(address: str, w: dict[str, Any]) -> str:
            name = w.get("name", "")
            own = name and name != address and not name.isdigit()  # LocalCluster's 0, 1, ...
            return f"{address} ({name})" if own else address

        return [(named(address, w), w["nthreads"], ", ".join(
                    f"{k}={v:g}" for k, v in sorted(w["resources"].items())) or "-")
                for address, w in sorted(self.workers.items())]

    def __repr__(self) -> str:
        head = (f"nbtune cluster: {self.kind + ' ' if self.kind else ''}{self.address}, "
                f"{self._sizes()}")
        lines = [head, f"  dashboard: {self.dashboard or '-'}"]
        lines += [f"  {address}  threads={n}  resources: {res}"
                  for address, n, res in self._rows()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        link = (f'<a href="{e(self.dashboard)}" target="_blank">{e(self.dashboard)}</a>'
                if self.dashboard else "-")
        rows = "".join(f"<tr><td><code>{e(a)}</code></td><td>{n}</td><td>{e(r)}</td></tr>"
                       for a, n, r in self._rows())
        return (f"<div><b>nbtune cluster</b> {e(self.kind)} <code>{e(self.address)}</code>: "
                f"{e(self._sizes())}; dashboard {link}"
                f"<table><tr><th>worker</th><th>threads</th><th>resources</th></tr>{rows}"
                f"</table></div>")


def describe(client, kind: str = "") -> ClusterInfo:
    """A :class:`ClusterInfo` of the cluster ``client`` is connected to."""
    return ClusterInfo(address=client.scheduler.address,
                       dashboard=getattr(client, "dashboard_link", None),
                       workers=workers_of(client), kind=kind)
