"""A fresh virtual environment built only from binder/ runs the demo's notebooks and what every
notebook imports (issue 3).

Binder (repo2docker) clones the repository, runs ``pip install -r binder/requirements.txt``, then
``binder/postBuild`` from the repository root, and opens the notebooks in a kernel of that
environment. tests/binder_env.py builds that environment (begun as the session begins, where this
test is collected); this test runs nbclient *inside* it, so the kernel (and the Dask workers it
starts) are the new venv's interpreter.
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import sys
import textwrap

import pytest

import binder_env
from binder_env import Steps


ROOT = pathlib.Path(__file__).resolve().parents[1]
# run whole in the Binder venv: the quickstart (the demo's first page) and the editor's, which
# has widgets of its own; the other notebooks run their imports there (4 minutes of the suite's
# 20 were these notebooks run again, each of which tests/test_notebooks.py runs whole), in one
# kernel (a kernel each cost 4 s more each)
WHOLE = ["01-quickstart.ipynb", "04-space-editor.ipynb"]
IMPORTS = "imports-of-the-others.ipynb"

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

    out, runs = pathlib.Path(sys.argv[1]), sys.argv[2:]
    results = {"kernel_argv": KernelSpecManager().get_kernel_spec("python3").argv,
               "notebooks": []}
    for run in runs:
        if run.startswith("imports:"):  # "imports:NAME:A,B": A's and B's import lines and
            _, name, of = run.split(":")  # %load_ext alone, a cell each, in one notebook NAME
            path, nb = pathlib.Path(name), nbformat.v4.new_notebook()
            for cell in (c for other in of.split(",")
                         for c in nbformat.read(other, as_version=4).cells):
                lines = [ln.strip() for ln in cell.source.splitlines() if IMPORT.match(ln)]
                if cell.cell_type == "code" and lines:
                    nb.cells.append(nbformat.v4.new_code_cell("\\n".join(lines)))
        else:
            path = pathlib.Path(run)
            nb = nbformat.read(path, as_version=4)
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


@pytest.mark.timeout(960)
def test_a_fresh_venv_built_from_binder_files_runs_the_notebooks(tmp_path, record_property):
    built = binder_env.built(tmp_path)
    repo, venv, bin_dir = built.repo, built.venv, built.bin_dir
    work = built.root / "notebooks"
    notebooks = sorted((repo / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks to run"
    assert set(WHOLE) <= {p.name for p in notebooks}
    shutil.copytree(repo / "notebooks", work, ignore=shutil.ignore_patterns("*.db*"))
    cfg = (venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg, cfg

    steps = Steps(built.env)
    runner, summary = built.root / "run_notebooks.py", built.root / "results.json"
    runner.write_text(RUNNER)
    # the Binder demo's notebooks run whole; the others' imports and %load_ext, which is what
    # the Binder image adds to the project's venv: tests/test_notebooks.py runs each whole
    others = ",".join(p.name for p in notebooks if p.name not in WHOLE)
    steps.run("notebooks", [str(bin_dir / "python"), str(runner), str(summary), *WHOLE,
                            f"imports:{IMPORTS}:{others}"], cwd=work, limit=300)

    results = json.loads(summary.read_text())
    per_nb = {r["name"]: r["seconds"] for r in results["notebooks"]}
    print(f"binder venv: {built.timings}, {steps.timings}, per notebook {per_nb}")
    record_property("binder_timings", {**built.timings, **steps.timings, **per_nb})

    assert [r["name"] for r in results["notebooks"]] == [*WHOLE, IMPORTS]
    project_prefix = pathlib.Path(sys.prefix).resolve()
    for r in results["notebooks"]:
        assert r["error"] is None and not r["error_outputs"], (
            f"{r['name']} failed in the Binder venv (executed copy: "
            f"{work / r['name'].replace('.ipynb', '.executed.ipynb')}):\n"
            f"{r['error'] or r['error_outputs']}")
        probe = r["probe"]
        assert probe, f"{r['name']}: the probe cell printed nothing"
        # The kernel was the fresh venv's interpreter, it saw none of the project's packages,
        # and it imports nbtune from the venv, where postBuild installed it.
        assert pathlib.Path(probe["prefix"]).resolve() == venv.resolve(), (
            probe, results["kernel_argv"])
        assert pathlib.Path(probe["executable"]).parent.resolve() == bin_dir.resolve(), probe
        leaked = [p for p in probe["path"] if p and (
            pathlib.Path(p).resolve().is_relative_to(project_prefix)
            or pathlib.Path(p).resolve() == ROOT)]
        assert not leaked, f"the kernel's sys.path reaches the project: {leaked}"
        assert pathlib.Path(probe["nbtune"]).resolve().is_relative_to(venv.resolve()), probe
    imported = json.loads((work / IMPORTS.replace(".ipynb", ".executed.ipynb")).read_text())
    assert len(imported["cells"]) > len(notebooks) - len(WHOLE), imported["cells"]
    assert (work / "nbtune.db").exists(), sorted(os.listdir(work))
    # the wheel's data files came with it: JupyterLab loads nbtune's extension, whose Apply
    # writes the space editor's lines into the cell (an editable install left it out)
    out, err = steps.run("jupyter labextension list",
                         [str(bin_dir / "jupyter"), "labextension", "list"], cwd=repo, limit=120)
    assert "nbtune-apply" in out + err, out + err
