"""A sandbox's directory operations and snapshots when it runs on a cluster node (--ray,
the head's node included): the server asks that node's agent (node/sandbox_ops.py) to run
the same operations there, over the agent's Ray channel, as it starts containers.

A new layer's tree comes back as a tar the agent packed: the server reads it in chunks,
a few in flight, bounded by the size the node announced (itself bounded), hashes what
arrives and compares it with the node's claim, unpacks it with the checks a node's own
pulls have (nothing outside the layer, no device but overlayfs' whiteouts), and keeps it
in its content-addressed store under the hash it computed. An image to mount is pulled
to the node by its layers' keys, as for a container's start.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import shutil
import time
from pathlib import Path

from ...node.layer_cache import MAX_LAYER_BYTES, launch_keys
from ...node.unpack import unpack_layer
from ..errors import ServiceError
from .model import SandboxRecord

log = logging.getLogger("ketch.server")

CHUNK = 4 * 1024 * 1024   # each a Ray object: a few in flight fit a small object store
WINDOW = 4
NODE_CHECK_S = 1.0        # how often a pending call looks at its node's state
# The node runs a helper (bounded by its 300 s), packs, maybe pulls layers first.
OP_TIMEOUT_S = 600.0
READ_TIMEOUT_S = 60.0


def on_node_for(runtime, store) -> "OnNode | None":
    """The node side of a cluster runtime's sandboxes; None on one machine."""
    nodes = getattr(runtime, "nodes", None)
    return OnNode(nodes, store) if runtime.root is None and nodes is not None else None


class OnNode:
    def __init__(self, nodes, store, max_bytes: int = MAX_LAYER_BYTES):
        self.nodes = nodes        # cluster.nodes.ClusterResources
        self.store = store        # images.layers.LayerStore
        self.max_bytes = max_bytes

    def _node(self, what: str, sb: SandboxRecord):
        node = self.nodes.nodes.get(getattr(sb.handle, "node_id", ""))
        if node is None or node.state != "alive":
            where = node.describe() if node is not None else "node"
            why = f" ({node.lost_because})" if node is not None and node.lost_because else ""
            raise ServiceError(f"{what}: sandbox {sb.id}'s {where} is not alive{why}",
                               "execution")
        return node

    async def _ask(self, what: str, node, method: str, *args, timeout: float = OP_TIMEOUT_S):
        """The agent's reply; a node declared lost meanwhile (by Ray, or its silent agent)
        ends the wait at once, as does the agent's own failure."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            reply = asyncio.wrap_future(getattr(node.agent, method).remote(*args).future())
            while not reply.done():
                await asyncio.wait({reply}, timeout=min(NODE_CHECK_S, timeout))
                if not reply.done() and node.state != "alive":
                    reply.cancel()
                    raise RuntimeError("the node was declared lost")
                if not reply.done() and loop.time() > deadline:
                    reply.cancel()
                    raise ServiceError(f"{what}: {node.describe()} did not answer within "
                                       f"{timeout:g} s", "timeout")
            reply = reply.result()
        except ServiceError:
            raise
        except Exception as exc:   # the agent or its node died mid-operation
            why = f": {node.lost_because}" if node.lost_because else ""
            raise ServiceError(f"{what}: {node.describe()} was lost during the operation "
                               f"({type(exc).__name__}{why}); the sandbox is gone with it",
                               "execution") from None
        if not isinstance(reply, dict) or "error" not in reply:
            return reply["ok"] if isinstance(reply, dict) else reply
        message = f"on {node.describe()}: {reply.get('message', '')}"
        if reply["error"] == "lookup":
            raise LookupError(message)
        if reply["error"] == "value":
            raise ValueError(message)
        raise ServiceError(message, reply.get("code") or "execution")

    async def new_layer(self, what: str, sb: SandboxRecord, source: str, path: str,
                        title: str) -> str:
        node = self._node(what, sb)
        started = time.monotonic()
        staged = await self._ask(what, node, "sandbox_layer", what, sb.id, source, path)
        try:
            made = time.monotonic() - started
            key = await self._take(what, node, staged, title)
            log.info("%s of %s: a layer of %d bytes from %s (made there in %.2f s, taken "
                     "in %.2f s)", what, sb.id, staged.get("size", 0), node.describe(), made,
                     time.monotonic() - started - made)
            return key
        finally:
            try:
                node.agent.sandbox_drop.remote(staged["id"])
            except Exception:   # a lost node's staging goes with its agent's restart
                pass

    async def _take(self, what: str, node, staged: dict, title: str) -> str:
        size, claimed = staged.get("size"), str(staged.get("sha256", ""))
        if not isinstance(size, int) or not 0 < size <= self.max_bytes:
            raise ServiceError(f"{what}: the new layer on {node.describe()} is {size} bytes; "
                               f"a layer may have at most {self.max_bytes}", "resource")
        free = shutil.disk_usage(self.store.root).free
        if size * 2 > free:   # the tar and its unpacked tree
            raise ServiceError(f"{what}: the new layer is {size} bytes; the server's layer "
                               f"store has {free} free", "resource")
        scratch = self.store.scratch()
        try:
            archive = scratch / "layer.tar"
            digest = await self._read(what, node, staged["id"], size, archive)
            if digest != claimed:
                raise ServiceError(f"{what}: the layer from {node.describe()} hashes to "
                                   f"{digest}, not {claimed} as it said", "execution")
            if not self.store.has(digest):   # content-addressed: one copy of the same tar
                fs = scratch / "fs"
                fs.mkdir()
                try:
                    await asyncio.to_thread(unpack_layer, archive, fs)
                except ValueError as exc:
                    raise ServiceError(f"{what}: the layer from {node.describe()} is "
                                       f"refused: {exc}", "execution") from None
                archive.unlink()
                await asyncio.to_thread(self.store.commit, digest, scratch, fs,
                                        {"title": title})
            return digest
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    async def _read(self, what: str, node, staged_id: str, size: int, into: Path) -> str:
        """The staged tar's `size` bytes, written to `into`; → their SHA-256."""
        digest = hashlib.sha256()
        inflight: collections.deque = collections.deque()
        offset = received = 0
        try:
            with open(into, "wb") as out:
                while offset < size or inflight:
                    while len(inflight) < WINDOW and offset < size:
                        inflight.append(asyncio.ensure_future(self._ask(
                            what, node, "sandbox_read", staged_id, offset,
                            min(CHUNK, size - offset), timeout=READ_TIMEOUT_S)))
                        offset += CHUNK
                    data = await inflight.popleft()
                    want = min(CHUNK, size - received)
                    if not isinstance(data, bytes) or len(data) != want:
                        raise ServiceError(f"{what}: {node.describe()} sent "
                                           f"{len(data) if isinstance(data, bytes) else data!r}"
                                           f" bytes at offset {received}, not {want}",
                                           "execution")
                    digest.update(data)
                    received += len(data)
                    await asyncio.to_thread(out.write, data)
        finally:
            for fut in inflight:
                fut.cancel()
        return digest.hexdigest()

    async def mount(self, what: str, sb: SandboxRecord, path: str, layers: list) -> str:
        node = self._node(what, sb)
        keys, _ = launch_keys([str(p) for p in layers], "")
        return await self._ask(what, node, "sandbox_mount", what, sb.id, path, keys)

    async def unmount(self, what: str, sb: SandboxRecord, path: str, layer: str):
        node = self._node(what, sb)
        await self._ask(what, node, "sandbox_unmount", what, sb.id, path, layer)
