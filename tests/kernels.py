"""Kernels started by the tests as Jupyter starts them.

pytest puts ``PYTEST_CURRENT_TEST`` in the environment, a kernel started from a test inherits it,
and ipykernel then leaves its file descriptors 1 and 2 unwatched: what a C library, or a process
sharing the kernel's streams (a worker of its local cluster), writes to them no longer reaches
the cell, as it does in JupyterLab. A test that asserts what a cell shows starts its kernel with
:func:`kernel_environ`, so that it sees what a user would see.
"""
from __future__ import annotations

import os

PYTEST_VARIABLE = "PYTEST_CURRENT_TEST"  # ipykernel watches no fd where this is set


def kernel_environ(**changes: str) -> dict[str, str]:
    """This process's environment, with ``changes``, less pytest's variable."""
    env = {**os.environ, **changes}
    env.pop(PYTEST_VARIABLE, None)
    return env
