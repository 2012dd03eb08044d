"""How soon the first ``%%tune`` of a fresh kernel starts its first trial, with the local cluster
started in the background when nbtune loads (``Tune.warm_start``, the default) and without it.

Run with ``make bench``. Each round starts two real kernels (jupyter_client), loads nbtune in one
cell, waits ``--pause`` seconds (a person reading the next cell), then runs a ``%%tune`` cell and
prints the seconds from the cell's start to the first trial's start (``trial.started``), and to
the first line of the study's view. Rounds alternate the two, in the same run. Goal: with the
warm start, the first trial starts within 1 s of the cell's start.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import queue
import statistics
import tempfile
import time
from collections.abc import Iterator

from jupyter_client.manager import KernelManager

CELL = ("import time as _t\n"
        "_t0 = _t.time()\n"
        "get_ipython().run_cell_magic('tune', '--trials 4 --metric loss -o study --study s{i}', "
        "{body!r})\n"
        "print(repr((min(t.started for t in study.trials) - _t0, _t0)))\n")
TRIVIAL = ("", "x = uniform(0, 1)\nloss = x\n")  # (the loading cell's lines, the trial's body)
# a trial that needs scikit-learn on the workers, whose import is their first trial's (round 22)
SKLEARN = ("from sklearn.linear_model import LogisticRegression\n"
           "from sklearn.datasets import load_iris\n"
           "X, y = load_iris(return_X_y=True)\n",
           "c = loguniform(0.01, 10)\n"
           "loss = -LogisticRegression(C=c, max_iter=200).fit(X, y).score(X, y)\n")


def execute(kc, code: str, timeout: float = 120.0) -> tuple[str, float | None]:
    """Run ``code``; its stdout, and the wall time its first display arrived (None: none)."""
    msg_id = kc.execute(code)
    out, first, deadline = "", None, time.time() + timeout
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
        except queue.Empty:
            raise TimeoutError(code) from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream" and content["name"] == "stdout":
            out += content["text"]
        elif kind == "display_data" and first is None:
            first = time.time()
        elif kind == "error":
            raise RuntimeError(f"{content['ename']}: {content['evalue']}")
        elif kind == "status" and content["execution_state"] == "idle":
            return out, first


@contextlib.contextmanager
def kernel(folder: str) -> Iterator:
    """A fresh python3 kernel working in ``folder``: its client, ready; shut down after."""
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=folder)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


def one(folder: str, warm: bool, pause: float, i: int, trial: tuple[str, str] = TRIVIAL
        ) -> tuple[float, float]:
    """Seconds from the cell's start to its first trial's start, and to its first display."""
    with kernel(folder) as kc:
        execute(kc, f"%load_ext nbtune\n%config Tune.warm_start = {warm}\n"
                    f"%config Tune.storage = 'bench{i}.db'\n{trial[0]}")
        time.sleep(pause)
        out, shown = execute(kc, CELL.format(i=i, body=trial[1]))
        first_trial, t0 = ast.literal_eval(out.strip().splitlines()[-1])
        return first_trial, (shown - t0) if shown is not None else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pause", type=float, default=8.0,
                        help="seconds between loading nbtune and the %%tune cell")
    parser.add_argument("--sklearn", action="store_true",
                        help="trials that fit a scikit-learn model the loading cell imported")
    args = parser.parse_args()
    cells = SKLEARN if args.sklearn else TRIVIAL
    found: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as folder:
        for r in range(args.rounds):
            for warm in (r % 2 == 0, r % 2 != 0):  # interleaved, each first in turn
                found[warm].append(one(folder, warm, args.pause, sum(map(len, found.values())),
                                       cells))
                trial, shown = found[warm][-1]
                print(f"round {r + 1} warm_start={warm}: first trial after {trial:.2f} s, "
                      f"first display after {shown:.2f} s")
    med = {w: (statistics.median(t for t, _ in v), statistics.median(s for _, s in v))
           for w, v in found.items()}
    print(f"\nmedian seconds from the cell's start ({args.rounds} rounds, {args.pause:g} s after "
          f"%load_ext; {'scikit-learn' if args.sklearn else 'trivial'} trials):")
    print(f"  warm start on : first trial {med[True][0]:.2f} s, first display {med[True][1]:.2f} s")
    print(f"  warm start off: first trial {med[False][0]:.2f} s, first display "
          f"{med[False][1]:.2f} s")
    print(f"  ratio on/off (first trial): {med[True][0] / med[False][0]:.2f}; goal: on <= 1 s: "
          f"{'met' if med[True][0] <= 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
