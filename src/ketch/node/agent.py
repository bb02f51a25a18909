"""The ketch node agent: one per Ray node, a detached Ray actor pinned to its node, that
starts and stops the node's containers through the same runtime backends the server uses
on one machine, and reports the node's capacity and every container's output and exit.

The server calls it (start, stop, kill: one Ray actor call each, ~1 ms once the actor
exists); what happens on the node comes back through `events`, a long poll the server
keeps open. The agent reuses `ketch.server.runtime` rather than copying it: a backend is
the same code on every node, and the arrow points one way (the runtime imports no agent).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..server.runtime import ContainerExit, ContainerLaunch, Mount, make_runtime
from .sandbox_ops import SandboxOps

# An events call returns after this long with nothing, so the server sees a live agent.
EVENTS_POLL_S = 5.0
# Output lines kept for a server that lags (exits are always kept): bounded memory.
MAX_PENDING_LINES = 20_000


def _gpu_models() -> list[str]:
    """The node's NVIDIA GPUs by model name; empty where there is none."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def node_capacity(ray_resources: dict) -> dict:
    """CPU, memory and GPUs as Ray was told them on this node (`ray start --num-cpus`,
    `--memory`, `--num-gpus`, `accelerator_type:MODEL`). GPU models come from nvidia-smi
    where it answers, else from the accelerator_type resource Ray declares."""
    gpus = _gpu_models()
    n_gpus = int(ray_resources.get("GPU", 0))
    if len(gpus) != n_gpus:
        kinds = [k.split(":", 1)[1] for k in ray_resources if k.startswith("accelerator_type:")]
        gpus = [kinds[0] if kinds else "GPU"] * n_gpus
    return {"cpu": float(ray_resources.get("CPU", 0)),
            "memory_mib": int(ray_resources.get("memory", 0) // (1024 * 1024)),
            "gpus": gpus}


class NodeAgent:
    """Wrapped by the server as a Ray actor; async methods run on the actor's loop."""

    def __init__(self, node_id: str, runtime: str, data_dir: str = "", namespace: str = ""):
        self.node_id = node_id
        root = Path(data_dir or os.environ.get("KETCH_NODE_DIR") or
                    Path(tempfile.gettempdir()) / f"ketch-node-{node_id[:12]}")
        if namespace:   # another server's agent on this node: a directory of its own
            root = root / f"ns-{namespace}"
        root.mkdir(parents=True, exist_ok=True)
        self.runtime = make_runtime(runtime, root)
        self.root = root
        self.transfer = None               # NodeTransfer: layers, code, volumes, relays
        self.server_id = ""
        self.handles: dict[str, object] = {}
        self.seq = 0
        self.pending: list[tuple] = []     # (seq, event dict), oldest first
        self.lines = 0
        self.changed = asyncio.Event()
        self.sandboxes = SandboxOps(root, self.runtime, self.handles,
                                    lambda: self.transfer.cache if self.transfer else None)

    async def hello(self, server_id: str, ray_resources: dict, transfer: dict | None = None
                    ) -> dict:
        """A server takes this agent over; containers a previous server started here are
        killed (that server's inputs are retried or resumed from its store). `transfer`
        (server address, node credential, relay secret, node IP) sets up the node's cache
        and relays; the reply names the web relay's port."""
        if server_id != self.server_id:
            for handle in self.handles.values():
                self.runtime.kill(handle)
            self.handles.clear()
            self.pending.clear()
            self.server_id = server_id
            if self.transfer is not None:
                await self.transfer.close()
                self.transfer = None
        relay_port = 0
        if transfer:
            from .transfer import NodeTransfer
            if self.transfer is None:
                self.transfer = NodeTransfer(
                    self.root / "xfer", transfer["server_address"], transfer["node_token"],
                    self.node_id, transfer["relay_secret"], self.runtime.run.server_socket,
                    self.runtime.run.web_dir)
                self.relay_port = await self.transfer.start(transfer["ip"])
            relay_port = self.relay_port
        return {"node_id": self.node_id, "pid": os.getpid(), "relay_port": relay_port,
                **node_capacity(ray_resources)}

    def transfer_stats(self) -> dict:
        """Layer and code pulls this node made (one per key, once cached)."""
        return self.transfer.stats() if self.transfer is not None else {}

    async def start(self, fields: dict) -> int:
        cid = fields["container_id"]
        if self.transfer is not None:
            fields = await self.transfer.localize(fields)
        fields = dict(fields, mounts=[Mount(**m) for m in fields.get("mounts", [])])
        launch = ContainerLaunch(**fields)
        handle = await self.runtime.start(
            launch, lambda source, text: self._line(cid, source, text),
            lambda exit: self._exited(cid, exit))
        self.handles[cid] = handle
        return handle.pid

    async def stop(self, container_id: str, grace_s: float):
        handle = self.handles.get(container_id)
        if handle is not None:
            await self.runtime.stop(handle, grace_s=grace_s)

    def kill(self, container_id: str):
        handle = self.handles.get(container_id)
        if handle is not None:
            self.runtime.kill(handle)

    # A sandbox's directory operations and snapshots on this node (sandbox_ops.py).
    async def sandbox_layer(self, what: str, sandbox_id: str, source: str, path: str) -> dict:
        return await self.sandboxes.layer(what, sandbox_id, source, path)

    def sandbox_read(self, staged_id: str, offset: int, length: int) -> bytes:
        return self.sandboxes.read(staged_id, offset, length)

    def sandbox_drop(self, staged_id: str):
        self.sandboxes.drop(staged_id)

    async def sandbox_mount(self, what: str, sandbox_id: str, path: str, keys: list[str]
                            ) -> dict:
        return await self.sandboxes.mount(what, sandbox_id, path, keys)

    async def sandbox_unmount(self, what: str, sandbox_id: str, path: str, layer: str
                              ) -> dict:
        return await self.sandboxes.unmount(what, sandbox_id, path, layer)

    async def events(self, after: int) -> tuple[int, list[dict]]:
        """Events newer than `after` (the server's last seen), waiting a while for one."""
        self.pending = [e for e in self.pending if e[0] > after]
        self.lines = sum(1 for _, e in self.pending if e["kind"] == "line")
        if not self.pending:
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), EVENTS_POLL_S)
            except asyncio.TimeoutError:
                pass
        return self.seq, [e for s, e in self.pending if s > after]

    def _push(self, event: dict):
        self.seq += 1
        self.pending.append((self.seq, event))
        self.changed.set()

    def _line(self, cid: str, source: str, text: str):
        if self.lines >= MAX_PENDING_LINES:
            return
        self.lines += 1
        self._push({"kind": "line", "container_id": cid, "source": source, "text": text})

    def _exited(self, cid: str, exit: ContainerExit):
        self.handles.pop(cid, None)
        if self.transfer is not None:
            self.transfer.finished(cid)
        self._push({"kind": "exit", "container_id": cid, "returncode": exit.returncode,
                    "signal": exit.signal, "oom_killed": exit.oom_killed,
                    "memory_limit_mib": exit.memory_limit_mib})
