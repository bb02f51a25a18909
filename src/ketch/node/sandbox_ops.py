"""A sandbox's directory operations and snapshots, run by its node's agent for a sandbox on
this node: the same functions the server runs for a sandbox of its own machine
(server/sandboxes/directories.py and snapshot.py), given this node's handles and paths.

A new layer's tree is packed here into a tar in the agent's staging directory; the server
reads it in chunks (`read`), checks its size and hash itself, and drops it. An image to
mount comes from the node's layer cache, pulled by hash as for a container's start.
Replies are plain dicts (`{"ok": value}` or `{"error": kind, ...}`), so a refusal crosses
Ray as the server's own exception, with its message.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from ..server.errors import ServiceError
from ..server.node_files import pack_layer
from ..server.sandboxes.directories import mount_layers, unmount_layers
from ..server.sandboxes.snapshot import gather

MAX_STAGED = 8                 # layers packed and not yet taken (the server takes each at once)
MAX_READ = 8 * 1024 * 1024


class SandboxOps:
    def __init__(self, root: Path, runtime, handles: dict, cache: Callable[[], object]):
        self.staging = Path(root) / "staged"
        shutil.rmtree(self.staging, ignore_errors=True)   # a previous agent's, never taken
        self.staging.mkdir(mode=0o700, parents=True)
        self.runtime = runtime
        self.handles = handles    # the agent's: container id -> its runtime handle
        self.cache = cache        # -> the node's LayerCache (None before a server's hello)
        self.staged: dict[str, Path] = {}

    def _handle(self, what: str, sandbox_id: str):
        if self.runtime.name != "bwrap":
            raise ServiceError(f"{what} needs the bwrap runtime; this node runs "
                               f"{self.runtime.name}")
        handle = self.handles.get(sandbox_id)
        if handle is None:
            raise ServiceError(f"{what}: sandbox {sandbox_id} is not running on this node",
                               "execution")
        return handle

    async def layer(self, what: str, sandbox_id: str, source: str, path: str) -> dict:
        return await _reply(self._layer(what, sandbox_id, source, path))

    async def _layer(self, what: str, sandbox_id: str, source: str, path: str) -> dict:
        handle = self._handle(what, sandbox_id)
        if len(self.staged) >= MAX_STAGED:
            raise ServiceError(f"{what}: this node has {MAX_STAGED} layers waiting for the "
                               "server already; try again", "resource")
        staged_id = secrets.token_hex(8)
        work = self.staging / staged_id
        work.mkdir(mode=0o700)
        try:
            fs = work / "fs"
            await gather(what, handle, sandbox_id, self.runtime.root, source, path, fs)
            tar = work / "layer.tar"
            digest = await asyncio.to_thread(pack_layer, fs, tar, work / "layer.sha256", "",
                                             False)   # read at once, gone after
            await asyncio.to_thread(shutil.rmtree, fs, True)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        self.staged[staged_id] = tar
        return {"id": staged_id, "size": tar.stat().st_size, "sha256": digest}

    def read(self, staged_id: str, offset: int, length: int) -> bytes:
        tar = self.staged.get(staged_id)
        if tar is None:
            return b""
        with open(tar, "rb") as f:
            f.seek(max(offset, 0))
            return f.read(min(max(length, 0), MAX_READ))

    def drop(self, staged_id: str):
        if self.staged.pop(staged_id, None) is not None:
            shutil.rmtree(self.staging / staged_id, ignore_errors=True)

    async def mount(self, what: str, sandbox_id: str, path: str, keys: list[str]) -> dict:
        return await _reply(self._mount(what, sandbox_id, path, keys))

    async def _mount(self, what: str, sandbox_id: str, path: str, keys: list[str]) -> str:
        handle = self._handle(what, sandbox_id)
        cache = self.cache()
        if cache is None:
            raise ServiceError(f"{what}: this node has no layer cache (no server set it up)",
                               "execution")
        lowers = await cache.ensure_layers(keys)
        # In the sandbox's scratch space (bounded by its ephemeral disk), gone with it.
        layer = self.runtime.root / sandbox_id / "mounts" / secrets.token_hex(6)
        await mount_layers(what, handle, sandbox_id, path, layer, [str(p) for p in lowers])
        return str(layer)

    async def unmount(self, what: str, sandbox_id: str, path: str, layer: str) -> dict:
        return await _reply(self._unmount(what, sandbox_id, path, layer))

    async def _unmount(self, what: str, sandbox_id: str, path: str, layer: str):
        handle = self._handle(what, sandbox_id)
        mounts = self.runtime.root / sandbox_id / "mounts"
        if os.path.dirname(os.path.normpath(layer)) != str(mounts):
            raise ValueError(f"{what}: {layer!r} is not a mount layer of sandbox {sandbox_id}")
        await unmount_layers(what, handle, sandbox_id, path, layer)


async def _reply(work) -> dict:
    try:
        return {"ok": await work}
    except LookupError as exc:
        return {"error": "lookup", "message": str(exc)}
    except ValueError as exc:
        return {"error": "value", "message": str(exc)}
    except ServiceError as exc:
        return {"error": "service", "code": exc.code, "message": str(exc)}
    except (OSError, subprocess.CalledProcessError) as exc:
        why = exc.stderr.decode(errors="replace").strip()[-300:] if \
            isinstance(exc, subprocess.CalledProcessError) and exc.stderr else str(exc)
        return {"error": "service", "code": "execution", "message": f"it failed: {why}"}
