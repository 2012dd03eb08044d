"""A fresh virtual environment built only from binder/ runs the demo's notebooks and what every
notebook imports (issue 3).

Binder (repo2docker) clones the repository, runs ``pip install -r binder/requirements.txt``, then
``binder/postBuild`` from the repository root, and opens the notebooks in a kernel of that
environment. This test does the same with nothing from the project's own venv: a new venv from the
base interpreter (no system site-packages), a copy of the repository without build outputs, and
nbclient run *inside* the new venv, so the kernel (and the Dask workers it starts) are the new
venv's interpreter. pip's cache is used, so a second run mostly reinstalls cached wheels.
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from kernels import kernel_environ


ROOT = pathlib.Path(__file__).resolve().parents[1]
# run whole in the Binder venv: the quickstart (the demo's first page) and the editor's, which
# has widgets of its own; the other notebooks run their imports there (4 minutes of the suite's
# 20 were these notebooks run again, each of which tests/test_notebooks.py runs whole)
WHOLE = {"01-quickstart.ipynb", "04-space-editor.ipynb"}
BUDGET_S = 870  # stay under the timeout mark below, so a slow step fails with its own output
# What a fresh clone would not have: the project's venv, build outputs, databases, caches.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
    ".pytest_cache", ".ruff_cache", "*.db", "*.db-wal", "*.db-shm", "dask-worker-space",
    "test-artifacts", ".ipynb_checkpoints")

PROBE = "NBTUNE-BINDER-PROBE "  # also in RUNNER
# Runs with the fresh venv's python: executes each notebook in its own python3 kernel, a probe cell
# first (where the kernel's interpreter is, and where nbtune would be imported from), and writes
# one JSON summary. Execution stops at a notebook's first error, which is recorded.
RUNNER = textwrap.dedent('''
    import json, pathlib, re, sys, time, traceback

    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    MARK = "NBTUNE-BINDER-PROBE "
    PROBE = (
        "import importlib.util, json, sys\\n"
        "print(%r + json.dumps({'prefix': sys.prefix, 'executable': sys.executable,"
        " 'path': sys.path, 'nbtune': importlib.util.find_spec('nbtune').origin}))" % MARK)

    IMPORT = re.compile(r"\\s*(import\\s|from\\s+\\S+\\s+import\\s|%load_ext\\s)")

    out, paths = pathlib.Path(sys.argv[1]), [pathlib.Path(p) for p in sys.argv[2:]]
    results = {"kernel_argv": KernelSpecManager().get_kernel_spec("python3").argv,
               "notebooks": []}
    for path in paths:
        whole = not path.name.startswith("imports:")
        path = path if whole else pathlib.Path(path.name.split(":", 1)[1])
        nb = nbformat.read(path, as_version=4)
        if not whole:  # its import lines and %load_ext alone
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.source = "\\n".join(ln.strip() for ln in cell.source.splitlines()
                                             if IMPORT.match(ln))
        nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE))
        started, error = time.monotonic(), None
        try:
            NotebookClient(nb, timeout=300, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
        except BaseException as exc:  # CellExecutionError, DeadKernelError, a cell timeout, ...
            error = "".join(traceback.format_exception_only(type(exc), exc))[-4000:]
        nbformat.write(nb, path.with_suffix(".executed.ipynb"))
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        text = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
        probe = [ln.split(MARK, 1)[1] for ln in text.splitlines() if MARK in ln]
        results["notebooks"].append({
            "name": path.name,
            "seconds": round(time.monotonic() - started, 1),
            "error": error,
            "error_outputs": [f"{o['ename']}: {o['evalue']}" for o in outputs
                              if o.output_type == "error"],
            "probe": json.loads(probe[0]) if probe else None,
        })
    out.write_text(json.dumps(results, indent=1))
''')
assert PROBE in RUNNER


def _base_python() -> str:
    """The interpreter the project's venv was made from (not the venv's own python)."""
    exe = getattr(sys, "_base_executable", None)
    venv = pathlib.Path(sys.prefix).resolve() if sys.prefix != sys.base_prefix else None
    if not exe or not os.path.exists(exe) or venv and pathlib.Path(exe).resolve().is_relative_to(venv):
        exe = str(pathlib.Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}")
    return exe


def _tail(text: str | None, n: int = 3000) -> str:
    text = text or ""
    return text if len(text) <= n else "..." + text[-n:]


class _Steps:
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


@pytest.mark.timeout(900)
def test_a_fresh_venv_built_from_binder_files_runs_the_notebooks(tmp_path, record_property):
    repo, venv, work = tmp_path / "repo", tmp_path / "venv", tmp_path / "notebooks"
    # A clone's view of the working tree (uncommitted edits included): postBuild's `pip install .`
    # then builds from the copy, not in the repository other people work in.
    shutil.copytree(ROOT, repo, ignore=NOT_IN_A_CLONE, symlinks=True)
    notebooks = sorted((repo / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks to run"
    shutil.copytree(repo / "notebooks", work, ignore=shutil.ignore_patterns("*.db*"))

    bin_dir = venv / "bin"
    project_prefix = pathlib.Path(sys.prefix).resolve()
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep)
            if p and not pathlib.Path(p).resolve().is_relative_to(project_prefix)]
    env = {k: v for k, v in kernel_environ().items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER", "IPYTHON", "CONDA", "PIP_USER",
                                "PIP_TARGET", "PIP_PREFIX", "PIP_REQUIRE_VIRTUALENV", "MPLBACKEND"))}
    env.update({
        "PATH": os.pathsep.join([str(bin_dir), *path]),
        "VIRTUAL_ENV": str(venv),
        # Kernel specs, Jupyter and IPython configuration from this test only: a python3 kernel
        # spec in the user's data dir would otherwise come before the venv's own.
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "PYTHONNOUSERSITE": "1",
    })
    steps = _Steps(env)

    steps.run("python -m venv", [_base_python(), "-m", "venv", str(venv)], cwd=tmp_path, limit=120)
    python = bin_dir / "python"
    cfg = (venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg, cfg

    # --no-compile: byte-compiling every installed module (Binder's build does) took 30 of the
    # step's 75 s here, for modules the notebooks never import; the ones they do compile as read
    steps.run("pip install -r binder/requirements.txt",
              [str(python), "-m", "pip", "install", "--progress-bar", "off", "--no-compile",
               "-r", "binder/requirements.txt"], cwd=repo, limit=600)
    steps.run("binder/postBuild", ["bash", "binder/postBuild"], cwd=repo, limit=300)

    runner, summary = tmp_path / "run_notebooks.py", tmp_path / "results.json"
    runner.write_text(RUNNER)
    # the Binder demo's notebooks run whole; the others' imports and %load_ext, which is what
    # the Binder image adds to the project's venv: tests/test_notebooks.py runs each whole
    steps.run("notebooks", [str(python), str(runner), str(summary),
                            *[p.name if p.name in WHOLE else f"imports:{p.name}"
                              for p in notebooks]], cwd=work, limit=600)

    results = json.loads(summary.read_text())
    total = round(time.monotonic() - steps.started, 1)
    per_nb = {r["name"]: r["seconds"] for r in results["notebooks"]}
    print(f"binder venv: {steps.timings}, per notebook {per_nb}, total {total}s")
    record_property("binder_timings", {**steps.timings, **per_nb, "total": total})

    assert [r["name"] for r in results["notebooks"]] == [p.name for p in notebooks]
    for r in results["notebooks"]:
        assert r["error"] is None and not r["error_outputs"], (
            f"{r['name']} failed in the Binder venv (executed copy: "
            f"{work / r['name'].replace('.ipynb', '.executed.ipynb')}):\n"
            f"{r['error'] or r['error_outputs']}")
        probe = r["probe"]
        assert probe, f"{r['name']}: the probe cell printed nothing"
        # The kernel was the fresh venv's interpreter, it saw none of the project's packages, and it
        # imports nbtune from the venv, where postBuild installed it.
        assert pathlib.Path(probe["prefix"]).resolve() == venv.resolve(), (probe, results["kernel_argv"])
        assert pathlib.Path(probe["executable"]).parent.resolve() == bin_dir.resolve(), probe
        leaked = [p for p in probe["path"] if p and (
            pathlib.Path(p).resolve().is_relative_to(project_prefix)
            or pathlib.Path(p).resolve() == ROOT)]
        assert not leaked, f"the kernel's sys.path reaches the project: {leaked}"
        assert pathlib.Path(probe["nbtune"]).resolve().is_relative_to(venv.resolve()), probe
    assert (work / "nbtune.db").exists(), sorted(os.listdir(work))
    # the wheel's data files came with it: JupyterLab loads nbtune's extension, whose Apply
    # writes the space editor's lines into the cell (an editable install left it out)
    out, err = steps.run("jupyter labextension list",
                         [str(bin_dir / "jupyter"), "labextension", "list"], cwd=repo, limit=120)
    assert "nbtune-apply" in out + err, out + err
