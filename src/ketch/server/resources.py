"""The machine's resources — CPU, memory, NVIDIA GPUs — and what containers have reserved.

A container starts only when its request fits what is left. A request larger than the
whole machine is not refused: the function exists, and its calls wait, saying why (`unmet`),
until a node that can meet it runs them, or fail after its startup timeout.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field

from .._timing import STOP_GRACE_S
from ..proto import ketch_pb2 as pb

ROOM_WAIT_S = STOP_GRACE_S + 2.0   # evicted containers exit within their stop grace


def _memory_mib() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError):
        return 8192


def _nvidia_gpus() -> list[str]:
    """GPU model names by index, from nvidia-smi; empty when there is none."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[\s_:-]+", name.upper()) if w]


def parse_gpu(gpu: str) -> list[tuple[str, int]]:
    """'H100:2' → [('H100', 2)]; 'H100,A100' → alternatives, each with its count."""
    choices = []
    for part in gpu.split(","):
        kind, _, count = part.strip().partition(":")
        choices.append((kind.strip().upper(), int(count) if count else 1))
    return choices


@dataclass
class Reservation:
    cpu: float
    memory_mib: int
    gpus: list[int] = field(default_factory=list)
    node_id: str = ""               # on a cluster, the node it holds them on


class MachineResources:
    """What this machine has, and what starting and running containers hold of it."""

    def __init__(self, cpu: float | None = None, memory_mib: int | None = None,
                 gpus: list[str] | None = None):
        self.cpu = float(cpu if cpu is not None else (os.cpu_count() or 1))
        self.memory_mib = int(memory_mib if memory_mib is not None else _memory_mib())
        self.gpus = gpus if gpus is not None else _nvidia_gpus()
        self.cpu_used = 0.0
        self.memory_used = 0
        self.gpus_used: set[int] = set()

    def _matching(self, kind: str) -> list[int]:
        if kind in ("ANY", ""):
            return list(range(len(self.gpus)))
        # Whole words of the model name: "A100-80GB" matches "NVIDIA A100-SXM4-80GB", but
        # "A10" must not match an A100, nor "L4" an L40S.
        wanted = set(_words(kind))
        return [i for i, name in enumerate(self.gpus) if wanted <= set(_words(name))]

    def unmet(self, res: pb.Resources) -> str | None:
        """Why this request can never be met on this machine ("waits for 1× H100: this
        machine has none"), or None when it fits once enough is free."""
        if res.cpu_request > self.cpu:
            return (f"waits for cpu={res.cpu_request:g}: this machine has {self.cpu:g} "
                    "CPUs")
        if res.memory_request_mib > self.memory_mib:
            return (f"waits for memory={res.memory_request_mib} MiB: this machine has "
                    f"{self.memory_mib} MiB")
        if res.gpu:
            choices = parse_gpu(res.gpu)
            if not any(len(self._matching(kind)) >= n for kind, n in choices):
                wanted = " or ".join(f"{n}× {'any GPU' if kind == 'ANY' else kind}"
                                     for kind, n in choices)
                counts: dict[str, int] = {}
                for name in self.gpus:
                    counts[name] = counts.get(name, 0) + 1
                have = ", ".join(f"{n}× {name}" for name, n in counts.items()) or "none"
                return f"waits for {wanted}: this machine has {have}"
        return None

    def reserve(self, res: pb.Resources, image_id: str = "") -> Reservation | None:
        """Reserves the request if it fits now; None when it must wait. (`image_id`
        matters on a cluster, where a node holding the image's layers comes first.)"""
        gpus = self._fit(res, self.cpu_used, self.memory_used, self.gpus_used)
        if gpus is None:
            return None
        self.cpu_used += res.cpu_request
        self.memory_used += res.memory_request_mib
        self.gpus_used.update(gpus)
        return Reservation(res.cpu_request, res.memory_request_mib, gpus)

    def fitting(self, res: pb.Resources, n: int) -> int:
        """How many of `n` containers with this request would fit now (reserves nothing)."""
        cpu, memory, gpus_used = self.cpu_used, self.memory_used, set(self.gpus_used)
        for fitted in range(n):
            gpus = self._fit(res, cpu, memory, gpus_used)
            if gpus is None:
                return fitted
            cpu += res.cpu_request
            memory += res.memory_request_mib
            gpus_used.update(gpus)
        return n

    def _fit(self, res: pb.Resources, cpu_used: float, memory_used: int,
             gpus_used: set[int]) -> list[int] | None:
        """The GPUs the request would take on top of what is used, or None if it does not
        fit."""
        if cpu_used + res.cpu_request > self.cpu + 1e-9:
            return None
        if memory_used + res.memory_request_mib > self.memory_mib:
            return None
        if not res.gpu:
            return []
        for kind, n in parse_gpu(res.gpu):
            free = [i for i in self._matching(kind) if i not in gpus_used]
            if len(free) >= n:
                return free[:n]
        return None

    def release(self, r: Reservation):
        self.cpu_used = max(0.0, self.cpu_used - r.cpu)
        self.memory_used = max(0, self.memory_used - r.memory_mib)
        self.gpus_used.difference_update(r.gpus)


async def reserve_soon(resources, res: pb.Resources, within_s: float = ROOM_WAIT_S):
    """Reserves `res` once room comes, within `within_s`: for a request that stopped idle
    containers to make room, whose reservations end as they exit (their stop grace).
    None if the room did not come."""
    deadline = time.monotonic() + within_s
    while (reservation := resources.reserve(res)) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return reservation
