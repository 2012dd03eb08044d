"""What a study sends to every worker before its first trial (a ``with_parameters`` function's
data, a trial function that closes over a notebook's large array), checked against the workers'
memory limits, said while it travels, and kept there for the next study.

The data is broadcast to every worker, but Dask's active memory manager drops the copies no task
waits for, down to one: a copy lost with its worker (killed, or restarted by its nanny), or with
a restarted scheduler, is sent again from the notebook's values (:meth:`Sending.send_again`, called
by the loop before its next trial; a study that read notebook arrays ended there: first-day test,
round 55). Data that does not fit a worker's memory limit paused the workers, which their nannies
restarted, and the cell waited for ever with nothing but Dask's logs on its stderr (round 21).

A tuning session is many studies on one ``X_train``, and each sent it again (5.7 s for 610 MiB,
round 21). What the last study sent stays on the workers, known by its content, and a study
that sends the same finds it there (:class:`Sending`). The content is Dask's token of it: a
hash of an array's bytes (0.3 s for 610 MiB), exact, so a changed array is sent again. Kept:
arrays, pandas objects and sparse matrices of :data:`KEPT_FROM` bytes and more, whose token is
cheap, and a large trial function's bytes. Only the last study's data stays, and no longer than
the notebook holds an object of that content: a study with other data releases it first.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import sys
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

from .resources import worker_info
from .task import INLINE_BYTES, PickledOnce, whole, with_parameters

# Dask pauses a worker whose memory passes this share of its limit (distributed.worker.memory.pause)
PAUSE_SHARE = 0.8
# ... and data past this share of it leaves the trials little room: said, not refused
TIGHT_SHARE = 0.5
SAID_FROM = 32 * 2**20  # bytes sent past which the views say so while it travels


KEPT_FROM = 2**20  # data of this size and more stays on the workers for the next study
FUNCTION = "the trial function"  # its name among the sizes sent, where its bytes travel apart


@dataclass
class _Kept:
    future: Any  # Dask's future of the value on the workers
    nbytes: int
    owners: int = 0  # the notebook's objects of this content still alive (where weakref reaches)
    serial: int = field(default_factory=lambda: next(_serials))  # this entry, not an earlier
    # one of the same content: an object tied to that one does not count for this one


_serials = itertools.count()


_lock = threading.Lock()
_kept: dict[str, _Kept] = {}  # by token: what the last study sent, on the client _kept_by
_kept_by: str | None = None


def _token(value: Any) -> str | None:
    """``value``'s content token, where it is of a kind kept between studies; else None."""
    import numpy as np

    pandas, sparse = sys.modules.get("pandas"), sys.modules.get("scipy.sparse")
    if isinstance(value, np.ndarray):
        kept = value.dtype != object  # an object array's token pickles every element
    elif pandas is not None and isinstance(value, (pandas.DataFrame, pandas.Series,
                                                   pandas.Index)):
        kept = True
    else:
        kept = sparse is not None and sparse.issparse(value)
    if not kept:
        return _torch_token(value)
    from dask.base import tokenize

    return f"{type(value).__name__}-{tokenize(value)}"


def _tensors(value: Any) -> tuple | None:
    """The PyTorch tensors ``value`` is (one tensor) or holds (a ``TensorDataset``); None for
    anything else, or where torch was never imported."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    dataset = getattr(getattr(torch.utils, "data", None), "TensorDataset", None)
    tensors = (value.tensors if dataset is not None and type(value) is dataset
               else (value,) if isinstance(value, torch.Tensor) else ())
    return tensors if tensors and all(isinstance(t, torch.Tensor) for t in tensors) else None


def _torch_token(value: Any) -> str | None:
    """The content token of a PyTorch tensor in memory (dense, no gradient), or of a
    ``TensorDataset`` of such, by their values as numpy sees them (Dask has no token of its own
    for a tensor: a rerun of the cell sent 293 MiB again, 3.5 s, where a numpy array was kept:
    first-day test, round 28); None for anything else."""
    from dask.base import tokenize

    tensors = _tensors(value)
    if tensors is None:
        return None
    import torch

    arrays = []
    for t in tensors:
        if t.device.type != "cpu" or t.layout != torch.strided or t.requires_grad:
            return None
        try:
            arrays.append((str(t.dtype), t.numpy()))
        except (TypeError, RuntimeError):  # a dtype numpy lacks (bfloat16), a conjugate view
            return None
    return f"{type(value).__name__}-{tokenize(arrays)}"


def _size(value: Any, sizeof: Callable[[Any], int]) -> int:
    """Bytes of ``value`` in memory: Dask's ``sizeof``, and the tensors' own count for PyTorch
    tensors and ``TensorDataset``s (Dask counted a tensor of 293 MiB as 80 bytes)."""
    tensors = _tensors(value)
    if tensors is not None:
        return sum(t.element_size() * t.nelement() for t in tensors)
    return int(sizeof(value))


def _forget(client_id: str, token: str, serial: int) -> None:
    """An object of the kept content was collected in the notebook: once none is left, the
    workers' copy goes (a weakref finalizer, run on whichever thread collects). ``serial``: the
    entry the object was tied to (the same content sent again later is another entry)."""
    with _lock:
        entry = _kept.get(token) if _kept_by == client_id else None
        if entry is not None and entry.serial == serial:
            entry.owners -= 1
            if entry.owners <= 0:
                del _kept[token]


def forget_kept() -> None:
    """Release what the last study left on the workers for the next one."""
    global _kept_by
    with _lock:
        _kept.clear()
        _kept_by = None


class Sending:
    """One study's sending: what it finds on the workers already, what it sends (:attr:`sizes`,
    by name, for :func:`check_fits` and :func:`sending_line`), and, once :meth:`send` is
    called, the futures of it all.

    ``fn``: the trial function as given (a ``with_parameters`` function's data is sent);
    ``pickled``: its bytes, which travel apart where they pass :data:`INLINE_BYTES`."""

    def __init__(self, client: Any, fn: Any, pickled: Any = None) -> None:
        from dask.sizeof import sizeof

        self.client = client
        self.data = dict(getattr(fn, "data", None) or {}) if isinstance(fn, with_parameters) \
            else {}
        sizes = {name: _size(value, sizeof) for name, value in self.data.items()}
        self.tokens = {name: (_token(value) if sizes[name] >= KEPT_FROM else None)
                       for name, value in self.data.items()}
        self.pickled = pickled
        if isinstance(pickled, PickledOnce) and len(pickled.blob) > INLINE_BYTES:
            from dask.hashing import hash_buffer_hex

            self.tokens[FUNCTION] = f"PickledOnce-{hash_buffer_hex(pickled.blob)}"
            sizes[FUNCTION] = len(pickled.blob)
        self._nbytes = dict(sizes)
        if sizes.get(FUNCTION, KEPT_FROM) < KEPT_FROM:  # sent apart, yet no data to speak of:
            del sizes[FUNCTION]  # the lines of the file it was defined in, which it carries
        with _lock:
            kept = dict(_kept) if _kept_by == client.id else {}
        self.found = {name: kept[token].future for name, token in self.tokens.items()
                      if token in kept and held(kept[token].future)}
        self.sizes = {name: n for name, n in sizes.items() if name not in self.found}
        wanted = set(self.tokens.values())
        self.freed = sum(entry.nbytes for token, entry in kept.items() if token not in wanted)

    def send(self) -> tuple[dict[str, Any], Any]:
        """Send what the workers lack; the data's futures by name, and what each trial's task
        carries (the function's bytes, or a future of them). What is kept for the next study is
        this study's, and only this: the last study's other data is released first."""
        global _kept_by
        with _lock:
            if _kept_by != self.client.id:
                _kept.clear()
            _kept_by = self.client.id
            for token in set(_kept) - set(self.tokens.values()):
                del _kept[token]
        sent = _scatter(self.client, {name: value for name, value in self.data.items()
                                      if name not in self.found})
        shared = {name: self.found[name] if name in self.found else sent[name]
                  for name in self.data}  # in the order the user gave
        carried = self.pickled  # small: inside each trial's task
        if FUNCTION in self.found:
            carried = self.found[FUNCTION]
        elif FUNCTION in self.tokens:  # every task carried the whole array through the scheduler,
            # and Dask warned of a large graph at each: sent once, to every worker
            try:
                carried = self.client.scatter(self.pickled, hash=False, broadcast=True)
            except Exception:  # Dask's scatter fails where every worker is paused: inside
                if len(self.pickled.blob) > KEPT_FROM:  # each task, as smaller ones went before
                    raise  # (one of MBs in each task made Dask warn of a large graph at each)
                del self.tokens[FUNCTION]
        with _lock:
            if _kept_by == self.client.id:
                for name, token in self.tokens.items():
                    if token is None:
                        continue
                    future = carried if name == FUNCTION else shared[name]
                    entry = _kept.setdefault(token, _Kept(future, self._nbytes[name]))
                    if name != FUNCTION and self._owned(name, token, entry.serial):
                        entry.owners += 1
        return shared, carried

    def send_again(self, names: list[str]) -> dict[str, Any]:
        """Send the data of these ``names`` again, from the notebook's values, where the cluster
        lost it; the new futures by name, which the next study finds in the place of the lost
        ones. TimeoutError where no worker is there to take it."""
        sent = _scatter(self.client, {name: self.data[name] for name in names})
        with _lock:
            if _kept_by == self.client.id:
                for name, future in sent.items():
                    entry = _kept.get(self.tokens.get(name) or "")
                    if entry is not None:
                        entry.future = future
        return sent

    def _owned(self, name: str, token: str, serial: int) -> bool:
        """Tie the kept copy to the notebook's object, where weakref reaches it: an array's
        own, for a view (``frame.values``, ``X[:1000]`` are new objects at each call)."""
        import numpy as np

        owner = self.data[name]
        while isinstance(owner, np.ndarray) and isinstance(owner.base, np.ndarray):
            owner = owner.base
        try:
            weakref.finalize(owner, _forget, self.client.id, token, serial)
        except TypeError:  # not weakly referenced (kept until a study sends other data)
            return False
        return True


def held(future: Any) -> bool:
    """Whether the cluster holds what ``future`` sent or computed (a value that is not a
    future, such as a :class:`~nbtune.run.kept.Saved`, always is)."""
    return getattr(future, "status", "finished") == "finished"


def memory_limits(client: Any) -> dict[str, tuple[int, int]]:
    """Each worker's memory limit in bytes (0: none) and the memory its process uses now, by
    address, as the scheduler knows them."""
    return {a: (int(w.get("memory_limit") or 0),
                int((w.get("metrics") or {}).get("memory") or 0))
            for a, w in worker_info(client).items()}


def check_fits(limits: dict[str, tuple[int, int]], sizes: dict[str, int],
               freed: int = 0) -> str | None:
    """ValueError, one line, where what is sent does not fit in a worker's room under its
    memory limit (Dask pauses a worker past :data:`PAUSE_SHARE` of the limit; the worker's
    process uses some of it already); a note where it takes more than :data:`TIGHT_SHARE` of
    that room; else None. ``limits``: :func:`memory_limits`; ``freed``: bytes each worker's
    process uses now that are released before the sending (the last study's other data)."""
    total = sum(sizes.values())
    rooms = {a: (PAUSE_SHARE * limit - max(used - freed, 0), limit, max(used - freed, 0))
             for a, (limit, used) in limits.items() if limit}
    if not total or not rooms:
        return None
    address, (room, limit, used) = min(rooms.items(), key=lambda item: item[1][0])
    what = f"{_names(sizes)}: {size_text(total)}"
    where = f"{size_text(limit)} on {address}, whose process uses {size_text(used)}"
    if total > room:
        raise ValueError(
            f"the data sent with the trials ({what}) does not fit the workers' memory limit "
            f"({where}; each worker holds a copy, and Dask pauses a worker at "
            f"{PAUSE_SHARE:.0%} of its limit): give the workers more memory "
            "(LocalCluster(memory_limit=...), dask worker --memory-limit ...), or send less "
            "(a float32 copy, fewer rows or columns)")
    if total > TIGHT_SHARE * room:
        return (f"the data sent with the trials ({what}) takes {total / room:.0%} of the room "
                f"under the workers' memory limit ({where}): a trial that copies it may pass "
                "the limit, and Dask's nanny restarts a worker there")
    return None


def sending_line(sizes: dict[str, int], n_workers: int) -> str | None:
    """"sending X_train, X_val (610 MiB) to 2 workers ...", for the views while it travels,
    where it is large enough to take a while (:data:`SAID_FROM`); else None."""
    total = sum(sizes.values())
    if total < SAID_FROM:
        return None
    return (f"sending {_names(sizes)} ({size_text(total)}) to {n_workers} "
            f"worker{'s' if n_workers != 1 else ''} ...")


def _names(sizes: dict[str, int]) -> str:
    return ", ".join(sizes)


def size_text(n: float) -> str:
    """"610.35 MiB": Dask's own words for a size."""
    from dask.utils import format_bytes  # Dask is imported where a study runs, not before

    return format_bytes(n)


# Dask's loggers that write a value that cannot be pickled, whole (an array's printout), in about
# 60 lines of ERROR and CRITICAL, before _scatter names it (first-day test, round 21)
SERIALIZING_LOGS = ("distributed.protocol.pickle", "distributed.protocol.core",
                    "distributed.comm.utils")


@contextlib.contextmanager
def _quiet(*names: str):
    """Within it, these loggers write nothing."""
    loggers = [logging.getLogger(name) for name in names]
    before = [lg.disabled for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        yield
    finally:
        for lg, was in zip(loggers, before):
            lg.disabled = was


def _scatter(client: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Send a :class:`with_parameters` function's data to the cluster; futures by name.

    Each value gets a key of its own (a dict given to ``scatter`` would be keyed by its names, and
    two studies sending data of the same name, such as the same notebook global, would overwrite
    and release each other's). Each goes to every worker (a worker that joins later fetches from
    another); TimeoutError where there is none.
    """
    if not data:
        return {}
    try:
        with _quiet(*SERIALIZING_LOGS):  # a value that cannot travel is this function's one line
            return dict(zip(data, client.scatter([whole(v) for v in data.values()],
                                                 hash=False, broadcast=True)))
    except TimeoutError:  # Dask's "No valid workers found": none to take it now
        raise
    except Exception as exc:
        import cloudpickle

        for name, value in data.items():  # name the value that cannot travel
            try:
                cloudpickle.dumps(value)
            except Exception as why:
                raise TypeError(f"{named_value(name, value)} cannot be sent to the Dask "
                                f"workers ({why}); create it inside the trial instead") from None
        raise TypeError(f"the data given to with_parameters cannot be sent to the Dask workers: "
                        f"{exc}") from None


def named_value(name: str, value: Any) -> str:
    """"'table' (lock)": a value by its name and its type's; where the two are alike, the type
    with its module, "'lock' (_thread.lock)" (it read "'lock' (lock)": first-day test, round
    33)."""
    kind = type(value)
    shown = kind.__qualname__
    if shown.lower() == name.lower() and kind.__module__ not in ("builtins", "__main__"):
        shown = f"{kind.__module__}.{shown}"
    return f"{name!r} ({shown})"
