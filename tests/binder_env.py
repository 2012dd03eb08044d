"""The Binder environment tests/test_binder.py runs the notebooks in: a fresh virtual environment
built only from binder/, as Binder (repo2docker) builds it.

Binder clones the repository, runs ``pip install -r binder/requirements.txt``, then
``binder/postBuild`` from the repository root. :func:`build` does the same with nothing from the
project's own venv: a new venv from the base interpreter (no system site-packages), and a copy of
the repository without build outputs. pip's cache is used, so a second build mostly reinstalls
cached wheels.

The build is a minute of pip, mostly on one core, while the suite's first files (scikit-learn's
Gaussian processes, one thread) leave the other idle: where the Binder test is among the tests
collected, tests/conftest.py starts it in a thread as the session begins (:func:`prebuild`), and
the test takes it (:func:`built`), about 50 s sooner than building it there.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import pytest

from kernels import kernel_environ

ROOT = pathlib.Path(__file__).resolve().parents[1]
# What a fresh clone would not have: the project's venv, build outputs, databases, caches.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
    ".pytest_cache", ".ruff_cache", "*.db", "*.db-wal", "*.db-shm", "dask-worker-space",
    "test-artifacts", ".ipynb_checkpoints")
BUDGET_S = 600  # each part (the build; the notebooks run in it) ends within this, its own output
# said, under the test's timeout mark


def base_python() -> str:
    """The interpreter the project's venv was made from (not the venv's own python)."""
    exe = getattr(sys, "_base_executable", None)
    venv = pathlib.Path(sys.prefix).resolve() if sys.prefix != sys.base_prefix else None
    if not exe or not os.path.exists(exe) \
            or venv and pathlib.Path(exe).resolve().is_relative_to(venv):
        exe = str(pathlib.Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}")
    return exe


def _tail(text: str | None, n: int = 3000) -> str:
    text = text or ""
    return text if len(text) <= n else "..." + text[-n:]


class Steps:
    """Runs each step in its own process group, with the time left of the budget as its limit."""

    def __init__(self, env: dict[str, str]):
        self.env, self.started, self.timings = env, time.monotonic(), {}

    def run(self, name: str, args: list[str], *, cwd: pathlib.Path, limit: float):
        left = BUDGET_S - (time.monotonic() - self.started)
        timeout = max(1.0, min(limit, left))
        t0 = time.monotonic()
        proc = subprocess.Popen(args, cwd=cwd, env=self.env, text=True, start_new_session=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the step and what it started: kernels, workers
            out, err = proc.communicate()
            pytest.fail(f"{name} took over {timeout:.0f}s ({' '.join(args)})\n"
                        f"--- stderr tail ---\n{_tail(err)}\n--- stdout tail ---\n{_tail(out)}")
        self.timings[name] = round(time.monotonic() - t0, 1)
        assert proc.returncode == 0, (
            f"{name} failed with exit status {proc.returncode} ({' '.join(args)})\n"
            f"--- stderr tail ---\n{_tail(err)}\n--- stdout tail ---\n{_tail(out)}")
        return out, err


@dataclass
class Built:
    """A Binder environment: its folder, the repository copy it was installed from, and the
    environment its programs run with."""

    root: pathlib.Path  # holds repo/, venv/ and what the test writes
    env: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def repo(self) -> pathlib.Path:
        return self.root / "repo"

    @property
    def venv(self) -> pathlib.Path:
        return self.root / "venv"

    @property
    def bin_dir(self) -> pathlib.Path:
        return self.venv / "bin"


def build(root: pathlib.Path) -> Built:
    """Build the Binder environment in ``root``, as Binder does, from the working tree as it is
    now (uncommitted edits included: postBuild's `pip install .` builds from the copy, not in
    the repository other people work in)."""
    shutil.copytree(ROOT, root / "repo", ignore=NOT_IN_A_CLONE, symlinks=True)
    venv = root / "venv"
    project_prefix = pathlib.Path(sys.prefix).resolve()
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep)
            if p and not pathlib.Path(p).resolve().is_relative_to(project_prefix)]
    env = {k: v for k, v in kernel_environ().items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER", "IPYTHON", "CONDA",
                                "PIP_USER", "PIP_TARGET", "PIP_PREFIX", "PIP_REQUIRE_VIRTUALENV",
                                "MPLBACKEND"))}
    env.update({
        "PATH": os.pathsep.join([str(venv / "bin"), *path]),
        "VIRTUAL_ENV": str(venv),
        # Kernel specs, Jupyter and IPython configuration from this build only: a python3 kernel
        # spec in the user's data dir would otherwise come before the venv's own.
        "JUPYTER_DATA_DIR": str(root / "jupyter-data"),
        "JUPYTER_CONFIG_DIR": str(root / "jupyter-config"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(root / "ipython"),
        "PYTHONNOUSERSITE": "1",
    })
    built = Built(root, env)
    steps = Steps(env)
    steps.run("python -m venv", [base_python(), "-m", "venv", str(venv)], cwd=root, limit=120)
    python = str(built.bin_dir / "python")
    # --no-compile: byte-compiling every installed module (Binder's build does) took 30 of the
    # step's 75 s here, for modules the notebooks never import; the ones they do compile as read
    steps.run("pip install -r binder/requirements.txt",
              [python, "-m", "pip", "install", "--progress-bar", "off", "--no-compile",
               "-r", "binder/requirements.txt"], cwd=built.repo, limit=500)
    steps.run("binder/postBuild", ["bash", "binder/postBuild"], cwd=built.repo, limit=300)
    built.timings = steps.timings
    return built


class _Prebuild(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="binder-prebuild", daemon=True)
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="nbtune-binder-"))
        self.result: Built | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = build(self.root)
        except BaseException as exc:  # pytest.fail's Failed too: raised again in the test
            self.error = exc


_prebuild: _Prebuild | None = None


def prebuild() -> None:
    """Start building the Binder environment in a thread (the session's start)."""
    global _prebuild
    if _prebuild is None:
        _prebuild = _Prebuild()
        _prebuild.start()


def built(tmp_path: pathlib.Path) -> Built:
    """The Binder environment: the one :func:`prebuild` started, once it is done, else built
    now in ``tmp_path``."""
    if _prebuild is None:
        return build(tmp_path)
    _prebuild.join(BUDGET_S + 60)
    if _prebuild.is_alive():
        pytest.fail(f"the Binder environment's build, begun as the session began, took over "
                    f"{BUDGET_S + 60} s")
    if _prebuild.error is not None:
        raise _prebuild.error
    assert _prebuild.result is not None
    return _prebuild.result


def cleanup() -> None:
    """Remove what :func:`prebuild` built (the session's end)."""
    if _prebuild is not None and not _prebuild.is_alive():
        shutil.rmtree(_prebuild.root, ignore_errors=True)
