"""The magics' side of the cluster: ``%tune_cluster`` shows the cluster later ``%%tune`` cells
use, or switches it (an address, a Client or cluster object of the notebook, or nbtune's own)."""
from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from IPython.core.error import UsageError

from ..run.cluster import get_client
from ..run.embedded import release_idle, use_local
from ..run.workers import ClusterInfo, WorkerSetupError, describe
from ..typos import did_you_mean
from .options import parse_cluster_line

# Errors of nbtune's calls that mean "the request is wrong": shown as one line, never as a
# traceback.
REQUEST_ERRORS = (ValueError, TypeError, ConnectionError, LookupError, FileNotFoundError,
                  WorkerSetupError)


def switch_cluster(ns: Mapping[str, Any], line: str, current: Any) -> tuple[Any, ClusterInfo]:
    """``%tune_cluster LINE``: (the cluster later cells use, what it is), given the one they use
    now (``Tune.cluster``) and the notebook's names ``ns``; UsageError, one line, for a line
    that names no cluster nbtune can reach."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"%tune_cluster: cannot read the options ({exc})") from None
    target: Any = current
    try:
        if not words:
            client = get_client(target)
        elif words[0] == "local":
            args = parse_cluster_line(words[1:])
            client = use_local(args.workers, args.gpus, args.threads_per_gpu)
            target = None
        elif words[0].startswith("-"):  # read as an address: "missing port number"
            raise UsageError(f"%tune_cluster: {words[0]!r} is not an address or a name"
                             f"{did_you_mean(words[0].lstrip('-'), ['local'])}: give "
                             "`local`, a scheduler address (tcp://HOST:PORT) or the name "
                             "of a Client or cluster object")
        elif len(words) > 1:
            raise UsageError(f"%tune_cluster: unexpected {words[1]!r}: give one address or "
                             "name (options go after `local`)")
        elif words[0].isidentifier():
            target = _cluster_named(ns, words[0])
            client = get_client(target)
        else:
            target = words[0]
            client = get_client(target)
    except REQUEST_ERRORS as exc:
        raise UsageError(f"%tune_cluster: {exc}") from None
    if target is not None and release_idle():  # its workers would sit idle meanwhile
        print("nbtune: closed nbtune's local cluster, which no study uses now "
              "(`%tune_cluster local` starts it again)")
    return target, describe(client, kind="local" if target is None else "")


def _cluster_named(ns: Mapping[str, Any], name: str) -> Any:
    """The notebook's Client or cluster object called ``name``."""
    from distributed import Client

    if name not in ns:
        raise UsageError(f"%tune_cluster: {name!r} is not defined in the notebook: give a "
                         "scheduler address (tcp://HOST:PORT), `local`, or the name of a "
                         "Client or cluster object")
    value = ns[name]
    if not (isinstance(value, Client) or hasattr(value, "scheduler_address")):
        raise UsageError(f"%tune_cluster: {name!r} is a {type(value).__name__}, not a Dask "
                         "Client or cluster")
    return value
