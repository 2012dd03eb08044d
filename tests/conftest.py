"""Shared fixtures: one real Dask LocalCluster (worker processes) for the session."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def client():
    """A Client on a small real LocalCluster: 2 worker processes, one thread each."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
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
