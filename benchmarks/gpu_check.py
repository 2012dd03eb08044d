"""nbtune's GPU paths on a machine with NVIDIA GPUs: the check benchmarks/README.md describes.

Run from the repository root: ``python benchmarks/gpu_check.py [OUT_DIR [EPOCHS]]``. It drives ``%%tune``
through a real IPython shell on the embedded LocalCluster (GPUs detected by ``nvidia-smi``), with a
trial that trains a small PyTorch model on CUDA:

- ``--gpus 1``: each trial on a GPU worker, one at a time per GPU;
- ``--gpus 0.25``: four trials sharing each GPU at once;
- no ``--gpus``: trials on CPU workers, which see no GPU;
- ``--gpus 0.25 --searcher bayesopt --scheduler asha``: the model-based searcher, on its own
  thread in the notebook, feeding ASHA, which stops trials on the shared GPU at its rungs;
- the same with ``--max-time 30``: a time budget, under which a model slower than the trials
  thinks one suggestion ahead and an idle worker gets a random config meanwhile (counted);
- ``NBTUNE_GPUS=0`` turns GPU workers off.

Each trial appends what it saw (worker, ``CUDA_VISIBLE_DEVICES``, device count, start and end
times, peak memory of its process) to ``OUT_DIR/trials.jsonl``; a thread samples ``nvidia-smi``
meanwhile. ``OUT_DIR/summary.json`` holds per run: trials per minute, the most trials running at
once, GPU memory per trial. Without a GPU it still runs on the CPU (PyTorch is needed), to try it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from IPython.core.interactiveshell import InteractiveShell

# (flags, trials, study name) of each run; {epochs} is the trials' full length
RUNS = [("--gpus 1", 8, "gpus-1"), ("--gpus 0.25", 12, "gpus-quarter"), ("", 4, "no-gpus"),
        ("--gpus 0.25 --searcher bayesopt --scheduler asha --max-t {epochs}", 24,
         "gpus-quarter-bayesopt-asha"),
        ("--gpus 0.25 --searcher bayesopt --scheduler asha --max-t {epochs} --max-time 30", 2000,
         "gpus-quarter-bayesopt-asha-timed")]


def run_label(flags: str) -> str:
    """How a run is named in the log and the summary."""
    return flags.strip() or "no --gpus"

SETUP = """\
import json, os, time
LOG = {log!r}
"""

BODY = """\
lr    = loguniform(1e-4, 3e-2)
width = choice(512, 1024, 2048)

import torch
start = time.time()
dev = "cuda" if torch.cuda.is_available() else "cpu"
if dev == "cuda":
    torch.cuda.reset_peak_memory_stats()
g = torch.Generator(device=dev).manual_seed(0)
X = torch.randn(32768 if dev == "cuda" else 2048, 128, device=dev, generator=g)
y = torch.sin(X @ torch.randn(128, 1, device=dev, generator=g))
model = torch.nn.Sequential(torch.nn.Linear(128, width), torch.nn.ReLU(),
                            torch.nn.Linear(width, width), torch.nn.ReLU(),
                            torch.nn.Linear(width, 1)).to(dev)
opt = torch.optim.Adam(model.parameters(), lr=lr)
epoch = 0
try:  # a trial ASHA stops ends inside report(): it is logged all the same
    for epoch in range(1, {epochs} + 1):
        for i in range(0, len(X), 1024):
            batch_loss = torch.nn.functional.mse_loss(model(X[i:i + 1024]), y[i:i + 1024])
            opt.zero_grad()
            batch_loss.backward()
            opt.step()
        loss = batch_loss.item()
        report(loss=loss, epoch=epoch)
finally:
    with open(LOG, "a") as f:
        f.write(json.dumps(dict(
            run={run!r}, pid=os.getpid(), visible=os.environ.get("CUDA_VISIBLE_DEVICES"),
            device=dev, device_count=torch.cuda.device_count(), start=start, end=time.time(),
            epochs=epoch,
            peak_mib=torch.cuda.max_memory_allocated() / 2**20 if dev == "cuda" else 0.0))
            + "\\n")
"""


class GpuSampler(threading.Thread):
    """Samples ``nvidia-smi``'s memory use and utilisation of each GPU twice a second."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[tuple[float, list[tuple[float, float]]]] = []
        self.done = threading.Event()

    def run(self):
        query = ["nvidia-smi", "--query-gpu=memory.used,utilization.gpu",
                 "--format=csv,noheader,nounits"]
        while not self.done.wait(0.5):
            try:
                text = subprocess.run(query, capture_output=True, text=True, timeout=10).stdout
            except (OSError, subprocess.SubprocessError):
                return
            gpus = [tuple(float(v) for v in line.split(",")) for line in text.splitlines()
                    if line.strip()]
            self.samples.append((time.time(), gpus))

    def during(self, start: float, end: float) -> dict:
        rows = [gpus for t, gpus in self.samples if start <= t <= end and gpus]
        if not rows:
            return {}
        return {"gpu_memory_used_mib_max": max(sum(m for m, _ in g) for g in rows),
                "gpu_utilization_pct_mean": sum(sum(u for _, u in g) / len(g) for g in rows)
                / len(rows)}


def most_at_once(rows: list[dict]) -> int:
    """The most trials whose [start, end] overlap at one instant."""
    events = sorted([(r["start"], 1) for r in rows] + [(r["end"], -1) for r in rows],
                    key=lambda e: (e[0], e[1]))
    now = best = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def main(out: Path, epochs: int) -> int:
    out.mkdir(parents=True, exist_ok=True)
    log = out / "trials.jsonl"
    for old in [log, *out.glob("gpu.db*")]:  # a run starts afresh in its folder
        old.unlink(missing_ok=True)
    from nbtune.run.gpus import detect_gpus, gpu_devices

    summary: dict = {"detected": [vars(g) for g in detect_gpus()], "pinned": gpu_devices()}
    env = dict(os.environ, NBTUNE_GPUS="0")
    summary["NBTUNE_GPUS=0"] = subprocess.run(
        [sys.executable, "-c", "from nbtune.run.gpus import gpu_devices; print(gpu_devices())"],
        env=env, capture_output=True, text=True).stdout.strip()
    print("GPUs:", summary["detected"], "| workers pinned to", summary["pinned"], "| NBTUNE_GPUS=0 ->", summary["NBTUNE_GPUS=0"], flush=True)

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nbtune")
    shell.run_cell(SETUP.format(log=str(log)))
    info = shell.run_line_magic("tune_cluster", "")
    summary["cluster"] = str(info)
    print(info, flush=True)
    sampler = GpuSampler()
    sampler.start()
    for flags, n, name in RUNS:
        flags = flags.format(epochs=epochs)
        run = run_label(flags)
        cell = (f"%%tune --trials {n} --metric loss --mode min {flags} --storage "
                f"{out / 'gpu.db'} --study {name} -o s\n")
        cell += BODY.format(epochs=epochs, run=run)
        print(f"\n== {run}: {n} trials", flush=True)
        start = time.time()
        result = shell.run_cell(cell)
        wall = time.time() - start
        study = shell.user_ns.get("s")
        rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        rows = [r for r in rows if r["run"] == run]
        record = {
            "ok": result.success, "wall_s": round(wall, 1),
            "counts": study.counts() if study is not None else None,
            "workers": sorted({t.worker or "?" for t in study.trials}) if study else [],
            "trials_per_minute": round(len(rows) / wall * 60, 1),
            "epochs_trained": sum(r["epochs"] for r in rows),
            "searcher_observations": study.settings.get("searcher_observations") if study else None,
            "random_while_busy": study.settings.get("searcher_quick_draws") if study else None,
            "most_at_once": most_at_once(rows),
            "seen": sorted({(r["device"], r["visible"], r["device_count"]) for r in rows}),
            "peak_mib_per_process": sorted({round(r["peak_mib"]) for r in rows}),
            **sampler.during(start, start + wall),
        }
        summary[run] = record
        print(json.dumps(record, indent=1, default=str), flush=True)
    sampler.done.set()
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    ok = all(summary[run_label(f.format(epochs=epochs))]["ok"] for f, _, _ in RUNS)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "gpu-check"),
                  int(sys.argv[2]) if len(sys.argv) > 2 else 6))
