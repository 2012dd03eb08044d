"""``make demo``: execute the quickstart notebook headless in a real kernel and print the result."""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import nbtune


def main(argv: list[str] | None = None) -> nbtune.Study:
    """Run notebooks/01-quickstart.ipynb in a fresh kernel (nbclient); print its best trial."""
    import nbformat
    from nbclient import NotebookClient

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", default="notebooks/01-quickstart.ipynb")
    parser.add_argument("--save", help="write the executed notebook here (default: beside its "
                                       "study file, in build/demo/)")
    args = parser.parse_args(argv)
    path = pathlib.Path(args.notebook).resolve()
    workdir = pathlib.Path("build/demo").resolve()  # a fresh study every run
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in workdir.glob("nbtune.db*"):
        stale.unlink()
    nb = nbformat.read(path, as_version=4)
    t0 = time.time()
    print(f"nbtune demo: executing {path.name} in a new kernel ...", flush=True)
    # the kernel's log at ERROR: ipykernel's "running over TCP without encryption" was the
    # first thing a newcomer read (a kernel on this machine, for this demo; round 25)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   extra_arguments=["--IPKernelApp.log_level=ERROR"],
                   resources={"metadata": {"path": str(workdir)}}).execute()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("name") == "stdout" and "nbtune" in out.get("text", ""):
                print(out["text"].rstrip())
    saved = pathlib.Path(args.save) if args.save else workdir / path.name
    nbformat.write(nb, saved)
    study = nbtune.load_study("quickstart", storage=workdir / "nbtune.db")
    print(f"\nnbtune demo: notebook ran in {time.time() - t0:.1f} s; {study!r}, kept in "
          f"{workdir / 'nbtune.db'}")
    print(f"best trial #{study.best.id}: accuracy={study.best_value:.4f} {study.best.config}")
    # what to do next: a newcomer had to guess where JupyterLab was (first-day test, round 20)
    jupyter = os.path.relpath(pathlib.Path(sys.executable).parent / "jupyter")
    print(f"the executed notebook, with its outputs: {os.path.relpath(saved)}\n"
          f"next: open the notebooks in JupyterLab, 01-quickstart.ipynb first: "
          f"{jupyter} lab notebooks/")
    return study


if __name__ == "__main__":
    main()
