"""The notebook's modules imported on the embedded cluster's workers before the first trial needs
them.

A trial function unpickled on a worker imports the modules of what it uses (scikit-learn's
``MLPClassifier``: about 2 s here), so the first study of a kernel waited 1.2-2.2 s for its
first trial, and every later one 0.05 s (first-day test, round 22). After each cell, the
notebook's values name their modules (``np``: numpy; ``MLPClassifier``:
sklearn.neural_network._multilayer_perceptron; ``X_train``: numpy); those not sent yet are
imported on each worker of the embedded cluster while the notebook goes on: a task per worker,
forgotten once sent (it runs on a worker thread, not the worker's event loop). Libraries that
only draw or display (matplotlib, ipywidgets, ...) and Python's own modules are left out.
"""
from __future__ import annotations

import sys
import threading
import types
import uuid
from typing import Any, Iterable, Mapping

from .resources import worker_info

# packages of the notebook's display, not of its trials: their import would cost each worker
# memory for nothing
DISPLAY_ONLY = frozenset({"IPython", "ipykernel", "ipywidgets", "jupyter_client", "traitlets",
                          "matplotlib", "seaborn", "plotly", "bokeh", "altair", "nbtune",
                          "tqdm", "zmq", "tornado", "__main__", "builtins"})
KEY = "nbtune-import"  # the Dask key of an import task: KEY-<uuid>


def modules_of(namespace: Mapping[str, Any]) -> set[str]:
    """The modules that the values of ``namespace`` (a notebook's globals) come from, less
    Python's own and the display's (:data:`DISPLAY_ONLY`); names starting with "_" are
    IPython's history (``_``, ``_i3``, ``_3``) and are left out."""
    found = set()
    for name, value in list(namespace.items()):
        if name.startswith("_"):
            continue
        if isinstance(value, types.ModuleType):
            module = value.__name__
        elif isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
            module = getattr(value, "__module__", None)
        else:
            module = getattr(type(value), "__module__", None)
        if not isinstance(module, str):
            continue
        top = module.partition(".")[0]
        if top in DISPLAY_ONLY or top in sys.stdlib_module_names:
            continue
        found.add(module)
    return found


def import_quietly(names: Iterable[str], environ: Mapping[str, str | None] | None = None
                   ) -> None:
    """On a worker: take the kernel's ``environ`` changes first (a library reads its own at
    import: KERAS_BACKEND), then import these modules; one that fails is the first trial's to
    say."""
    import importlib

    from .embedded import environ_told

    environ_told(dict(environ or {}))
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass


class Preimports:
    """What the embedded cluster's workers were sent to import, and the sending."""

    def __init__(self) -> None:
        self.sent: set[str] = set()
        self.client_id: str | None = None
        self._lock = threading.Lock()

    def after_cell(self, namespace: Mapping[str, Any]) -> None:
        """After a cell: send the namespace's new modules to the embedded cluster's workers,
        once it runs; while it starts in the background, once its start ends (a thread waits
        for it)."""
        from .embedded import _embedded, embedded_started, embedded_starting

        if embedded_started():
            self.send(_embedded["client"], namespace)
        elif embedded_starting():
            starting = _embedded.get("warming")
            threading.Thread(target=self._after_start, args=(starting, namespace), daemon=True,
                             name="nbtune-preimport").start()

    def _after_start(self, starting: threading.Thread | None, namespace: Mapping) -> None:
        from .embedded import _embedded, embedded_started

        if starting is not None:
            starting.join()
        if embedded_started():
            self.send(_embedded["client"], namespace)

    def send(self, client: Any, namespace: Mapping[str, Any]) -> list[str]:
        """Send the modules of ``namespace`` not sent yet to every worker of ``client``; the
        modules sent."""
        from distributed import fire_and_forget

        from .embedded import _embedded, environ_changes

        with self._lock:
            if client.id != self.client_id:  # another cluster: its workers have none of them
                self.client_id, self.sent = client.id, set()
            new = sorted(modules_of(namespace) - self.sent)
            # the cell may have set what a library reads as it is imported (KERAS_BACKEND)
            environ = environ_changes() if client is _embedded.get("client") else {}
            if not new and not environ:
                return []
            try:
                workers = list(worker_info(client))
                fire_and_forget([client.submit(import_quietly, new, environ, workers=[address],
                                               allow_other_workers=False, pure=False,
                                               key=f"{KEY}-{uuid.uuid4().hex}")
                                 for address in workers])
            except Exception:  # the cluster is closing: the trials import what they need
                return []
            self.sent.update(new)
            return new
