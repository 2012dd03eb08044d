"""The extension's life in a shell: ``%load_ext nbtune`` registers the magics and, in a kernel,
starts the embedded cluster in the background once the loading cell has run; the kernel's exit
closes that cluster first; ``%unload_ext nbtune`` takes it all back."""
from __future__ import annotations

import sys
import threading
from typing import Any

from .. import background
from ..tracker import in_notebook
from ..run.cluster import close_clients, is_embedded, set_default_cluster
from ..run.embedded import warm_up
from ..run.interrupts import stop_resource_tracker
from ..run.preimport import Preimports
from ..paths import set_default_file
from .magic import Tune


def load(shell) -> None:
    """Register the magics and their configuration with ``shell`` (idempotent); in a kernel,
    the local cluster starts in the background once the loading cell has run (see
    ``Tune.warm_start``)."""
    if any(isinstance(c, Tune) for c in shell.configurables):
        return
    magics = Tune(shell=shell)
    shell.register_magics(magics)  # also makes it a configurable: %config Tune
    shell.observe(_close_on_exit, names="exit_now")
    if in_notebook():
        _warm_after_cell(shell, magics)
        _preimport_after_cells(shell, magics)


def _warm_after_cell(shell, magics: Tune) -> None:
    """Once the current cell has run (its ``%config Tune...`` lines applied), start the embedded
    cluster in the background, where it is the one the studies will use."""
    def warm(result=None) -> None:
        shell.events.unregister("post_run_cell", warm)
        if magics.warm_start and not shell.exit_now:
            if is_embedded(magics.cluster):
                try:
                    warm_up()
                except KeyboardInterrupt:
                    interrupted(result, "the local cluster's start was interrupted: nothing "
                                "started, and the first study starts it")
                    return
            _importing[:] = [threading.Thread(target=_import_views, daemon=True,
                                              name="nbtune-imports")]
            _importing[0].start()

    shell.events.register("post_run_cell", warm)
    magics._warm_hook = warm  # taken back by unload if the cell never ends


def _preimport_after_cells(shell, magics: Tune) -> None:
    """After each cell, the embedded cluster's workers import the modules of the notebook's new
    values (see :mod:`nbtune.run.preimport`), where the studies run there and the cluster
    starts ahead of them (``%config Tune.warm_start``)."""
    preimports = Preimports()

    def preimport(result=None) -> None:
        if magics.warm_start and is_embedded(magics.cluster) and not shell.exit_now:
            try:
                preimports.after_cell(shell.user_ns)
            except KeyboardInterrupt:
                interrupted(result, "the workers' import of the notebook's modules was "
                            "interrupted: each trial imports them itself")

    shell.events.register("post_run_cell", preimport)  # after the warm-up's: it sees the start
    magics._preimport_hook = preimport


def interrupted(result: Any, what: str) -> None:
    """A Stop that landed in one of nbtune's hooks after a cell: the cell it ran after is
    failed with it (``result``, IPython's ExecutionResult), so that Run All stops there as it
    would have a moment earlier, and one line says what the interrupt cut (first-day test,
    round 67: IPython caught the interrupt in the hook, printed "Error in callback ...", and
    Run All went on, its study and all)."""
    if result is not None and result.success:
        result.error_in_exec = KeyboardInterrupt()
    print(f"KeyboardInterrupt: nbtune: {what}", file=sys.stderr)


_importing: list[threading.Thread] = []  # the thread of _import_views, joined at exit


def _import_views() -> None:
    """Import what the first study's panel needs (matplotlib takes about a second)."""
    import ipywidgets  # noqa: F401
    from matplotlib.backends import backend_agg  # noqa: F401

    from .. import plots  # noqa: F401


def _close_on_exit(change) -> None:
    """The kernel is shutting down or restarting: its background studies stop as interrupted,
    then nbtune's cluster closes (waiting for a start under way), so that its nannies do not
    restart the workers the kernel's shutdown terminates, then the resource tracker its workers
    used (which would hold up the exit)."""
    if change["new"]:
        for thread in _importing:  # an import cut by the exit could hold a lock it needs
            thread.join(timeout=10)
        background.stop_all()
        close_clients()
        stop_resource_tracker()


def unload(shell) -> None:
    """Remove what :func:`load` registered."""
    shell.unobserve(_close_on_exit, names="exit_now")
    for magics in shell.configurables:
        for hook in (getattr(magics, "_warm_hook", None),
                     getattr(magics, "_preimport_hook", None)):
            if isinstance(magics, Tune) and hook in shell.events.callbacks["post_run_cell"]:
                shell.events.unregister("post_run_cell", hook)
    table = shell.magics_manager.magics
    table["cell"].pop("tune", None)
    for name in ("tune_studies", "tune_show", "tune_cluster", "tune_space", "%tune"):
        table["line"].pop(name, None)
    shell.configurables[:] = [c for c in shell.configurables if not isinstance(c, Tune)]
    set_default_file(None)  # load_study and the others read nbtune.db again
    set_default_cluster(None)  # and nbtune.tune runs on nbtune's own cluster
