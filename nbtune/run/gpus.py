"""The GPUs of this machine, as the embedded cluster sees them: one worker per GPU, pinned to it.

Detection asks ``nvidia-smi`` and honours ``CUDA_VISIBLE_DEVICES``. The environment variable
``NBTUNE_GPUS`` overrides it: ``0`` turns GPU workers off, ``N`` starts N of them (the first N
visible GPUs, or the devices ``0 .. N-1`` where fewer are detected).
"""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from typing import Mapping, Sequence

ENV_VAR = "NBTUNE_GPUS"
QUERY = ["nvidia-smi", "--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader"]


@dataclass(frozen=True)
class GPU:
    """One GPU as ``nvidia-smi`` lists it; ``device`` is what CUDA_VISIBLE_DEVICES names it by."""

    index: str
    uuid: str = ""
    name: str = ""
    memory: str = ""
    device: str = ""

    def __post_init__(self):
        if not self.device:
            object.__setattr__(self, "device", self.index)


_LIST_LINE = re.compile(r"^\s*GPU\s+(\d+):\s*(.*?)\s*\(UUID:\s*([^)]+)\)")


def parse_nvidia_smi(text: str) -> list[GPU]:
    """The GPUs in the output of ``nvidia-smi -L`` or of :data:`QUERY` (csv, no header).

    MIG devices (the indented ``MIG ...`` lines of ``-L``) are not listed: a worker is pinned to a
    whole GPU.
    """
    gpus = []
    for line in text.splitlines():
        match = _LIST_LINE.match(line)
        if match:
            gpus.append(GPU(index=match[1], name=match[2], uuid=match[3].strip()))
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].startswith("GPU-"):
            gpus.append(GPU(index=parts[0], uuid=parts[1],
                            name=parts[2] if len(parts) > 2 else "",
                            memory=parts[3] if len(parts) > 3 else ""))
    return gpus


def visible(gpus: Sequence[GPU], cuda_visible_devices: str | None) -> list[GPU]:
    """The GPUs ``CUDA_VISIBLE_DEVICES`` leaves visible, in its order (None: all of them).

    As CUDA does, entries are indices or (prefixes of) UUIDs and the list ends at the first entry
    that names no GPU; each GPU keeps the entry it was named by, to pin a worker to it.
    """
    if cuda_visible_devices is None:
        return list(gpus)
    out = []
    for entry in (e.strip() for e in cuda_visible_devices.split(",")):
        found = next((g for g in gpus if entry and (entry == g.index or (
            entry.startswith("GPU-") and g.uuid.startswith(entry)))), None)
        if found is None or any(g.index == found.index for g in out):
            break
        out.append(GPU(found.index, found.uuid, found.name, found.memory, device=entry))
    return out


def _run_nvidia_smi() -> str:
    try:
        done = subprocess.run(QUERY, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):  # no driver, no nvidia-smi
        return ""
    return done.stdout if done.returncode == 0 else ""


def detect_gpus(env: Mapping[str, str] | None = None) -> list[GPU]:
    """The GPUs this process may use: ``nvidia-smi``'s list, filtered by CUDA_VISIBLE_DEVICES."""
    env = os.environ if env is None else env
    return visible(parse_nvidia_smi(_run_nvidia_smi()), env.get("CUDA_VISIBLE_DEVICES"))


def gpu_devices(gpus: int | Sequence[str] | None = None,
                env: Mapping[str, str] | None = None) -> list[str]:
    """What to pin each GPU worker's CUDA_VISIBLE_DEVICES to, one entry per worker.

    ``gpus``: None (the ``NBTUNE_GPUS`` variable, else detection), a count, or the device names.
    """
    env = os.environ if env is None else env
    if gpus is None and env.get(ENV_VAR, "").strip():
        text = env[ENV_VAR].strip()
        try:
            gpus = int(text)
        except ValueError:
            raise ValueError(f"{ENV_VAR} must be a number of GPUs (0 turns GPU workers off), "
                             f"got {text!r}") from None
    if gpus is None:
        return [g.device for g in detect_gpus(env)]
    if isinstance(gpus, bool) or not isinstance(gpus, int):
        devices = [str(d) for d in gpus]
        if not all(devices):
            raise ValueError(f"gpus must name devices, got {list(gpus)!r}")
        return devices
    if gpus < 0:
        raise ValueError(f"gpus must be a number of GPUs >= 0, got {gpus}")
    found = [g.device for g in detect_gpus(env)] if gpus else []
    return found[:gpus] if len(found) >= gpus else [str(i) for i in range(gpus)]
