"""The runtime interface: start a container from a spec, stop it, learn how it exited.

A backend (`process`, `bwrap`) implements `Runtime`. The `functions` service never knows
which backend runs its containers.
"""

from __future__ import annotations

import os
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

# Where a container's runtime makes its web endpoints' sockets (its web directory).
WEB_DIR_ENV = "KETCH_WEB_DIR"


class RuntimeUnavailable(Exception):
    """The chosen backend cannot run on this machine; the message says why and what to do."""


@dataclass
class Mount:
    """A host path made visible inside a container (backends that isolate honour these)."""

    source: str
    target: str
    read_only: bool = True
    object_id: str = ""     # the volume's id: a cluster node mounts a copy of it instead


@dataclass
class ContainerLaunch:
    """What a backend needs to start one container."""

    container_id: str
    env: dict[str, str]                 # the runtime adds nothing the caller did not ask for
    cpu: float = 0.125
    memory_mib: int = 128
    cpu_limit: float = 0.0
    memory_limit_mib: int = 0
    gpus: list[int] = field(default_factory=list)
    image_layers: list[str] = field(default_factory=list)  # image trees, lowest first
    python: str = ""                    # interpreter to run; "" for the server's own
    workdir: str = ""                   # inside the container; "" for the backend's default
    code_dir: str = ""                  # the app's unpacked code bundle: seen at /root
    ephemeral_disk_mib: int = 0         # 0: no bound on scratch space
    mounts: list[Mount] = field(default_factory=list)
    block_network: bool = False         # loopback only (backends that isolate honour it)
    # What the interpreter runs: the function runtime, or a sandbox's supervisor.
    entry: list[str] = field(default_factory=lambda: ["-m", "ketch._runtime"])
    node_id: str = ""                   # on a cluster, the node placement chose
    # Layers laid over the host system (no image_layers): a snapshot of a sandbox that had
    # no image (runtime/seed.py).
    seed_layers: list[str] = field(default_factory=list)
    # enable_memory_snapshot: the ContainerSpec a zygote loads once (serialized); b"": none
    snapshot: bytes = b""


class RunDir:
    """<data>/run, which only the server's user may enter: the Unix sockets it shares with
    containers. `server.sock` is the server's listener for them; `containers/<id>/` is one
    container's web directory, where its web endpoints listen for the gateway."""

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / "run"
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.path, 0o700)
        self.server_socket = self.path / "server.sock"
        self.containers = self.path / "containers"
        shutil.rmtree(self.containers, ignore_errors=True)  # a previous server's
        self.containers.mkdir(mode=0o700)

    def web_dir(self, container_id: str) -> Path:
        return self.containers / container_id

    def make_web_dir(self, container_id: str) -> Path:
        path = self.web_dir(container_id)
        path.mkdir(mode=0o700)
        return path

    def remove_web_dir(self, container_id: str):
        shutil.rmtree(self.web_dir(container_id), ignore_errors=True)


@dataclass
class ContainerExit:
    returncode: int | None              # None when killed by a signal
    signal: int | None = None
    oom_killed: bool = False
    memory_limit_mib: int = 0           # the limit it hit, when oom_killed
    lost: str = ""                      # on a cluster: why its node was lost

    def describe(self) -> str:
        if self.lost:
            return f"it was lost with its node: {self.lost}"
        if self.oom_killed:
            limit = f" at its limit of {self.memory_limit_mib} MiB" \
                if self.memory_limit_mib else ""
            return (f"it ran out of memory{limit} and was killed (OOM); raise the limit "
                    "with memory=(request, limit) or use less memory")
        if self.signal is not None:
            try:
                name = signal.Signals(self.signal).name
            except ValueError:
                name = f"signal {self.signal}"
            return f"it was killed by {name}"
        return f"it exited with code {self.returncode}"


OnLine = Callable[[str, str], None]           # (source "stdout"/"stderr", text)
OnExit = Callable[[ContainerExit], None]


class ContainerHandle(Protocol):
    pid: int


class Runtime(Protocol):
    name: str
    run: RunDir

    def container_address(self, tcp_address: str) -> str:
        """The server's address as its containers reach it (their KETCH_SERVER_ADDR), given
        the TCP address the host reaches it at."""
        ...

    async def start(self, launch: ContainerLaunch, on_line: OnLine, on_exit: OnExit
                    ) -> ContainerHandle: ...

    async def stop(self, handle: ContainerHandle, grace_s: float = 5.0) -> None: ...

    def kill(self, handle: ContainerHandle) -> None: ...

    def close(self) -> None:
        """At the server's stop, after its containers: what the backend keeps besides."""
        ...

    def mount_support(self) -> str:
        """Why volumes cannot be mounted into containers here ("" when they can)."""
        ...
