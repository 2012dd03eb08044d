"""Shared fixtures: one real Dask LocalCluster (worker processes) for the session, and a real
IPython InteractiveShell with nbtune loaded."""
from __future__ import annotations

import pytest


def _one_blas_thread() -> None:
    """This process's BLAS (numpy's and scipy's OpenBLAS, OpenMP) on one thread. Its matrices
    are small (the searchers' models, scikit-learn's refits), and while the tests' workers,
    kernels or the Binder build kept the other core busy, OpenBLAS's second thread spun for it:
    the model-based searchers' tests took three times as long. The processes the tests start
    (Dask workers, kernels) are not touched."""
    import importlib

    from threadpoolctl import threadpool_limits

    for name in ("numpy", "scipy.linalg", "sklearn.gaussian_process"):  # loaded, then limited
        importlib.import_module(name)

    threadpool_limits(1)


_one_blas_thread()

# The files that take longest, begun first where pytest-xdist runs the suite (`pytest -n 2`:
# two processes, a file each at a time): begun last, the notebooks' file ran alone for minutes
# at the end. Their order otherwise, and the order of the tests within each, stay as collected.
SLOWEST_FIRST = ("test_notebooks.py", "test_browser.py", "test_binder.py", "test_clusters.py",
                 "test_interrupt.py", "test_costs.py", "test_sklearn.py", "test_faults.py")


def pytest_collection_finish(session):
    """The Binder test's environment, built while the first tests run (tests/binder_env.py),
    where that test is to run in this process."""
    if not hasattr(session.config, "workerinput") and not session.config.option.collectonly \
            and any(item.path.name == "test_binder.py" for item in session.items):
        import binder_env

        binder_env.prebuild()


def pytest_sessionfinish(session):
    import sys

    if "binder_env" in sys.modules:
        sys.modules["binder_env"].cleanup()


def pytest_collection_modifyitems(config, items):
    if not hasattr(config, "workerinput"):  # not a pytest-xdist worker: as collected
        return
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable



@pytest.fixture(scope="session")
def client():
    """A Client on a small real LocalCluster: 2 worker processes, one thread each."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address="127.0.0.1:0")
    c = Client(cluster, set_as_default=False)
    yield c
    from nbtune.run.cluster import close_clients

    close_clients()  # clients nbtune opened for this cluster's address go first
    c.close()
    cluster.close()


@pytest.fixture
def db(tmp_path):
    """Path of a fresh SQLite study file."""
    return str(tmp_path / "studies.db")


@pytest.fixture(scope="module")
def ip():
    """The process's InteractiveShell with ``%load_ext nbtune`` run."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nbtune")
    return shell


# notebook names the magic tests bind; removed after each of them
BOUND = ("study", "best", "lr", "hidden", "space", "sp", "ed", "x", "_")


@pytest.fixture
def shell(ip, client, db):
    """The shell with nbtune loaded, the test cluster and a fresh storage file configured."""
    ip.run_line_magic("config", f"Tune.cluster = {client.scheduler.address!r}")
    ip.run_line_magic("config", f"Tune.storage = {db!r}")
    yield ip
    ip.run_line_magic("config", "Tune.storage = 'nbtune.db'")  # load_study's default follows it
    ip.run_line_magic("config", "Tune.cluster = None")  # and nbtune.tune's follows this one
    for name in BOUND:
        ip.user_ns.pop(name, None)


def _called_from(monkeypatch, shell) -> None:
    import importlib

    module = importlib.import_module("nbtune.tune")  # the package's name is the function's
    monkeypatch.setattr(module, "ipython_shell", lambda: shell)


@pytest.fixture(autouse=True)
def as_in_a_notebook(monkeypatch):
    """``nbtune.tune`` called as from a notebook, in every test that does not ask for
    :func:`as_in_a_script`: an interrupted study, or one with failures and no completed trial,
    is returned. (Otherwise which it is would hang on whether an earlier test of the session
    made an IPython shell: from then on every call is a notebook's. A real script's is tested
    in a subprocess, tests/test_script_stops.py.)"""
    _called_from(monkeypatch, object())


@pytest.fixture
def as_in_a_script(as_in_a_notebook, monkeypatch):
    """``nbtune.tune`` called as from a script: such a study raises, carrying the study."""
    _called_from(monkeypatch, None)
