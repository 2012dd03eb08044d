"""What a study checks on the workers before it starts, and what ``%tune_cluster`` shows of them."""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..caller import warn_note
from .cluster import get_client, is_embedded
from .held import held_workers
from .probe import PROBE, answer, differs, missing_nbtune, read
from .resources import (Capacity, check_resources, default_ask, thread_bound_note, worker_slots,
                        workers_of)


class WorkerSetupError(RuntimeError):
    """Some worker of the cluster cannot run nbtune's trials (it cannot import nbtune)."""


def probe_workers(client) -> dict[str, Any]:
    """Each worker's answer to the nbtune probe (:mod:`nbtune.run.probe`): a dict of its
    nbtune's version, folder and digest, or the exception its import raised."""
    answers = client.run(eval, PROBE, {}, on_error="return")
    return {address: read(got) for address, got in answers.items()}


def check_workers(client, version: str, able: set[str] | None = None) -> None:
    """Raise :class:`WorkerSetupError` where a worker that could run the study's trials (``able``;
    None: any) cannot import nbtune; warn where a worker's nbtune is another version or another
    copy than the notebook's (``version``), or where a worker that could not run them anyway
    cannot import it (one colleague's broken worker stopped every study on a shared cluster:
    first-day test, round 18)."""
    mine = {**answer(), "version": version}
    broken, aside, other = [], [], []
    for address, got in sorted(probe_workers(client).items()):
        if isinstance(got, BaseException):
            (broken if able is None or address in able else aside).append((address, got))
        elif differs(got, mine):
            other.append(f"{address} has {differs(got, mine)}")
    if broken:
        raise WorkerSetupError("; ".join(_cannot_import(a, e) for a, e in broken) + ": "
                               + _import_fix([e for _, e in broken], version))
    if aside:
        warn_note("; ".join(_cannot_import(a, e) for a, e in aside) + ": this study's trials do "
                  "not go there (it offers none of what they ask for), but studies that could "
                  "would not start; " + _import_fix([e for _, e in aside], version))
    if other:
        warn_note(f"the notebook has nbtune {version} from {mine['folder']} but worker "
                  + ", ".join(other) + f"; run the workers on the notebook's (pip install "
                  f"nbtune=={version} there, or the same PYTHONPATH) if trials fail or behave "
                  "otherwise")


def _cannot_import(address: str, exc: BaseException) -> str:
    return f"worker {address} cannot import nbtune ({type(exc).__name__}: {exc})"


def _import_fix(errors: list[BaseException], version: str) -> str:
    """What to do on workers whose nbtune did not import: install it where it is missing, else
    mend what its import raised (a dependency missing there, a broken install)."""
    if all(missing_nbtune(e) for e in errors):
        return f"pip install nbtune=={version} there, in the environment the workers run in"
    return ("mend that import there, in the environment the workers run in (`python -c \"import "
            "nbtune\"` on that machine shows the whole error)")


def connect(cluster: Any, security: Any, asked: Mapping[str, float] | None, version: str
            ) -> tuple[Any, Capacity, Mapping[str, float] | None]:
    """A study's client, once its workers are known able to run its trials (the resources asked
    for offered, nbtune importable on the workers that offer them), how many trials they run
    at once, and what each trial asks of them (:func:`~nbtune.run.resources.default_ask`)."""
    client = get_client(cluster, security=security)
    workers = workers_of(client)
    local = is_embedded(cluster)
    asked_by_user, asked = asked, default_ask(workers, asked, local)
    check_resources(workers, asked, local=local)
    check_workers(client, version, able={a for a, w in workers.items()
                                         if worker_slots(w["nthreads"], w["resources"], asked)})
    held = held_workers(client)
    held.prune(workers)
    capacity = Capacity(client, asked, held=held.workers, given=asked_by_user, local=local)
    capacity.set(workers)
    note = thread_bound_note(workers, asked)
    if note is not None:
        warn_note(note)
    return client, capacity, asked


@dataclass
class ClusterInfo:
    """A snapshot of a cluster: its address, dashboard and workers (text and HTML reprs), and
    each worker's nbtune as the probe found it (``nbtune``: address -> words; empty where not
    probed)."""

    address: str
    dashboard: str | None
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)
    kind: str = ""
    nbtune: dict[str, str] = field(default_factory=dict)
    # workers a trial of an ended study holds (address -> which), and how many of them nbtune
    # restarts now: "1 worker" alone was shown while the other restarted (first-day test, 67)
    held: dict[str, str] = field(default_factory=dict)
    restarting: int = 0

    @property
    def threads(self) -> int:
        """Threads over all workers."""
        return sum(w["nthreads"] for w in self.workers.values())

    def _sizes(self) -> str:
        """"1 worker, 2 threads": how many of each, in words."""
        n, threads = len(self.workers), self.threads
        sizes = f"{n} worker{'s' if n != 1 else ''}, {threads} thread{'s' if threads != 1 else ''}"
        if self.restarting:
            sizes += (f", and {self.restarting} restarting (nbtune restarts a worker that a trial "
                      f"of an ended study held)")
        return sizes

    def _rows(self) -> list[tuple[str, int, str, str, str]]:
        """(worker, threads, resources, memory, nbtune) per worker; the worker is its address,
        and the name it was given (``dask worker --name gpu1``) where it has one of its own;
        the memory its process uses, of its limit (the data a study sends is a copy on each:
        first-day test, round 21), and "paused" where Dask paused it for that."""
        def named(address: str, w: dict[str, Any]) -> str:
            name = w.get("name", "")
            own = name and name != address and not name.isdigit()  # LocalCluster's 0, 1, ...
            return f"{address} ({name})" if own else address

        def memory(w: dict[str, Any]) -> str:
            from dask.utils import format_bytes

            if not w.get("memory"):
                return "-"
            limit = f" of {format_bytes(w['memory_limit'])}" if w.get("memory_limit") else ""
            paused = ", paused" if w.get("status") == "paused" else ""
            return f"{format_bytes(w['memory'])}{limit}{paused}"

        def held(address: str) -> str:
            return f"; held: {self.held[address]}" if address in self.held else ""

        return [(named(address, w), w["nthreads"], ", ".join(
                    f"{k}={v:g}" for k, v in sorted(w["resources"].items())) or "-",
                 memory(w) + held(address), self.nbtune.get(address, "-"))
                for address, w in sorted(self.workers.items())]

    def __repr__(self) -> str:
        head = (f"nbtune cluster: {self.kind + ' ' if self.kind else ''}{self.address}, "
                f"{self._sizes()}")
        lines = [head, f"  dashboard: {self.dashboard or '-'}"]
        lines += [f"  {address}  threads={n}  resources: {res}  memory: {mem}"
                  + (f"  nbtune: {nb}" if self.nbtune else "")
                  for address, n, res, mem, nb in self._rows()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        link = (f'<a href="{e(self.dashboard)}" target="_blank">{e(self.dashboard)}</a>'
                if self.dashboard else "-")
        rows = "".join(f"<tr><td><code>{e(a)}</code></td><td>{n}</td><td>{e(r)}</td>"
                       f"<td>{e(mem)}</td>"
                       + (f"<td>{e(nb)}</td>" if self.nbtune else "") + "</tr>"
                       for a, n, r, mem, nb in self._rows())
        more = "<th>nbtune</th>" if self.nbtune else ""
        return (f"<div><b>nbtune cluster</b> {e(self.kind)} <code>{e(self.address)}</code>: "
                f"{e(self._sizes())}; dashboard {link}"
                f"<table><tr><th>worker</th><th>threads</th><th>resources</th><th>memory</th>{more}"
                f"</tr>{rows}"
                f"</table></div>")


def describe(client, kind: str = "") -> ClusterInfo:
    """A :class:`ClusterInfo` of the cluster ``client`` is connected to, each worker's nbtune
    probed: its version, and where it is not the notebook's, how it differs."""
    mine = answer()
    found = {}
    for address, got in probe_workers(client).items():
        if isinstance(got, BaseException):
            found[address] = f"cannot import it ({type(got).__name__}: {got})"
        elif got.get("version") != mine["version"]:
            found[address] = f"{got.get('version')} (the notebook has {mine['version']})"
        elif differs(got, mine):
            found[address] = f"{got['version']}, another copy ({got.get('folder')})"
        else:
            found[address] = got["version"]
    keeper = held_workers(client)
    return ClusterInfo(address=client.scheduler.address,
                       dashboard=getattr(client, "dashboard_link", None),
                       workers=workers_of(client), kind=kind, nbtune=found,
                       held={h.worker: f"trial {h.trial} of study {h.study!r}"
                             for h in keeper.trials()},
                       restarting=len(keeper.restarting))
