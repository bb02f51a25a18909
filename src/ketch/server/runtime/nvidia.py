"""What an isolated container needs to use the NVIDIA GPUs assigned to it: their device
nodes, the driver's shared device nodes, the driver's user-space libraries and tools, and
the GPUs' UUIDs (so `CUDA_VISIBLE_DEVICES` names exactly the assigned devices however the
driver numbers what it can see inside).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess

# Inside the container, the driver's files appear here.
LIB_DIR = "/opt/ketch/nvidia/lib"
BIN_DIR = "/opt/ketch/nvidia/bin"

_SHARED_NODES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools",
                 "/dev/nvidia-modeset")
# The driver's user-space half, as the NVIDIA container toolkit lists it.
_LIB_RE = re.compile(r"^lib(cuda|nvidia-[a-z0-9-]+|nvcuvid|nvoptix|cudadebugger)\.so[.0-9]*$")
_TOOLS = ("nvidia-smi", "nvidia-debugdump", "nvidia-persistenced", "nvidia-cuda-mps-control",
          "nvidia-cuda-mps-server")


def device_nodes(indexes: list[int]) -> list[str]:
    nodes = [f"/dev/nvidia{i}" for i in indexes]
    return [n for n in nodes + list(_SHARED_NODES) if os.path.exists(n)]


@functools.lru_cache(maxsize=1)
def driver_libraries() -> tuple[str, ...]:
    """Paths of the driver's libraries on this machine, from the linker cache."""
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    found = {}
    for line in out.splitlines():
        name, _, path = line.strip().partition(" => ")
        name, _, flags = name.partition(" ")
        if _LIB_RE.match(name) and "64" in flags:  # the 64-bit build, not the 32-bit one
            found.setdefault(name, path.strip())
    return tuple(sorted(found.values()))


@functools.lru_cache(maxsize=1)
def driver_tools() -> tuple[str, ...]:
    return tuple(p for p in (shutil.which(t) for t in _TOOLS) if p)


@functools.lru_cache(maxsize=1)
def gpu_uuids() -> tuple[str, ...]:
    """UUIDs by GPU index, from nvidia-smi; empty when unknown."""
    if not shutil.which("nvidia-smi"):
        return ()
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=uuid", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(line.strip() for line in out.splitlines() if line.strip())


def visible_devices(indexes: list[int]) -> str:
    """The value for CUDA_VISIBLE_DEVICES: UUIDs where known, else indexes."""
    uuids = gpu_uuids()
    if uuids and all(i < len(uuids) for i in indexes):
        return ",".join(uuids[i] for i in indexes)
    return ",".join(str(i) for i in indexes)


def bwrap_args(indexes: list[int]) -> list[str]:
    """bubblewrap arguments that bind the assigned GPUs and the driver in."""
    args: list[str] = []
    for node in device_nodes(indexes):
        args += ["--dev-bind", node, node]
    for lib in driver_libraries():
        args += ["--ro-bind", lib, f"{LIB_DIR}/{os.path.basename(lib)}"]
    for tool in driver_tools():
        args += ["--ro-bind", tool, f"{BIN_DIR}/{os.path.basename(tool)}"]
    return args


def container_env(indexes: list[int], env: dict[str, str]) -> dict[str, str]:
    """env with the GPU variables a container of these GPUs needs."""
    out = dict(env)
    out["CUDA_VISIBLE_DEVICES"] = visible_devices(indexes)
    out["NVIDIA_VISIBLE_DEVICES"] = out["CUDA_VISIBLE_DEVICES"]
    out["LD_LIBRARY_PATH"] = ":".join(p for p in (LIB_DIR, env.get("LD_LIBRARY_PATH")) if p)
    out["PATH"] = ":".join(p for p in (env.get("PATH"), BIN_DIR) if p)
    return out
