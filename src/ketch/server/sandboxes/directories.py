"""A running sandbox's directories (bwrap runtime): `snapshot_directory(path)` copies one
into a new image (a single layer: the directory's content at its root), `mount_image(path,
image)` mounts an image's layers at a path of the sandbox (writable: writes go to a layer
of the sandbox's own, thrown away with it or with `unmount_image`), as Modal has them.

Entering a sandbox's mount namespace needs a single-threaded process: `nshelper.py` does
that part, as root (the bwrap runtime runs as root)."""

from __future__ import annotations

import asyncio
import hashlib
import posixpath
import secrets
import shutil
import sys
import time
from pathlib import Path

from ..errors import ServiceError
from ..runtime import spawn
from . import layer_ids
from .model import SandboxRecord
from .on_node import on_node_for

HELPER = str(Path(__file__).with_name("nshelper.py"))
HELPER_TIMEOUT_S = 300.0
MAX_MOUNTS = 16   # images mounted in one sandbox at once
START_WAIT_S = 120.0   # how long an operation waits for a sandbox still starting


def _check_path(what: str, path: str) -> str:
    if not path.startswith("/") or "\0" in path or len(path) > 4096:
        raise ValueError(f"{what}: {path[:200]!r}: give an absolute path in the sandbox")
    path = posixpath.normpath(path)
    if path == "/":
        raise ValueError(f"{what}: not the root directory; use snapshot_filesystem() for "
                         "the whole file system")
    return path


def new_key() -> str:
    """A new layer's key: 64 hex digits, as every layer's (cluster nodes fetch only those)."""
    return secrets.token_hex(32)


# -- what an operation does to the sandbox's files, given the runtime's handle of it
#    (a BwrapContainer) and paths on the machine it runs on: the server calls these for a
#    sandbox of its own machine, a cluster node's agent (node/sandbox_ops.py) for one there.

def sandbox_pid(what: str, handle, sandbox_id: str) -> str:
    """A process inside the sandbox's mount namespace: bubblewrap's pid 1, the child of
    the bubblewrap the runtime started (handle.pid, in the mount namespace that holds
    the container's scratch space)."""
    pid = handle.pid
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    if not children:
        raise ServiceError(f"{what}: sandbox {sandbox_id} is not running", "execution")
    return children[0]


async def run_helper(what: str, *args: str):
    code, err = await spawn.run([sys.executable, "-I", HELPER, *args], HELPER_TIMEOUT_S)
    if code is None:
        raise ServiceError(f"{what} took over {HELPER_TIMEOUT_S:g} s", "timeout")
    reason = err.decode(errors="replace").strip()[-500:]
    if code == 2:
        raise LookupError(f"{what}: {reason}")
    if code:
        raise ServiceError(f"{what} failed: {reason}", "execution")


async def copy_out(what: str, handle, sandbox_id: str, path: str, dest: Path):
    """The sandbox's directory `path` (resolved inside it; other file systems mounted
    below it left out), copied to `dest` with its owners as the sandbox sees them."""
    await run_helper(what, "copy-out", sandbox_pid(what, handle, sandbox_id), path, str(dest))
    if handle.id_base:   # a user namespace's: its host ids shifted back
        await asyncio.to_thread(layer_ids.make_layer, str(dest), handle.id_base)


async def mount_layers(what: str, handle, sandbox_id: str, path: str, layer: Path,
                       lowers: list[str]):
    """The layers (lowest first) mounted at `path`, writes going to `layer`."""
    await run_helper(what, "mount", sandbox_pid(what, handle, sandbox_id), path,
                     _outer(handle), str(layer), *[str(p) for p in reversed(lowers)])


async def unmount_layers(what: str, handle, sandbox_id: str, path: str, layer: str):
    await run_helper(what, "umount", sandbox_pid(what, handle, sandbox_id), path,
                     _outer(handle), layer)


def _outer(handle) -> str:
    """Where nshelper stages the overlay: a user namespace's in one of the helper's own
    ("-"), its layers idmapped into the namespace; else in the container's outer one."""
    return "-" if handle.id_base else str(handle.pid)


class SandboxDirectories:
    """The operations as the server offers them: it runs them itself for a sandbox of its
    own machine, or asks the agent of the sandbox's cluster node (on_node.py) to run the
    same ones there."""

    def __init__(self, images, runtime):
        self.images = images
        self.root = runtime.root   # each container's scratch: <root>/<id>/ (None: nodes')
        self.on_node = on_node_for(runtime, images.store)

    async def check(self, what: str, sb: SandboxRecord):
        if self.images.backend != "bwrap":
            raise ServiceError(f"{what} needs the bwrap runtime; this server runs "
                               f"{self.images.backend}, which has no mount namespaces")
        await sb.until_running(what, START_WAIT_S)
        if sb.function_container or sb.handle is None or sb.state != "running":
            raise ServiceError(f"{what}: sandbox {sb.id} is not running", "execution")
        if self.on_node is None:
            sandbox_pid(what, sb.handle, sb.id)

    async def new_layer(self, what: str, sb: SandboxRecord, source: str, title: str,
                        fill, path: str = "") -> str:
        """A new layer of what the sandbox has, → its key in the server's layer store.
        Here `fill(fs)` makes its tree; on a node its agent runs snapshot.gather(source,
        path) ("directory" `path`, "upper": what the sandbox wrote over its image,
        "on_host": what it made on the host system), which calls the same functions."""
        await self.check(what, sb)
        if self.on_node is not None:
            return await self.on_node.new_layer(what, sb, source, path, title)
        store = self.images.store
        scratch = store.scratch()
        key = new_key()
        try:
            fs = scratch / "fs"
            await fill(fs)
            await asyncio.to_thread(store.commit, key, scratch, fs, {"title": title})
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return key

    async def snapshot(self, sb: SandboxRecord, path: str) -> str:
        what = f"snapshot_directory({path!r})"
        path = _check_path("snapshot_directory", path)
        title = f"{path} of {sb.id}"

        async def fill(fs: Path):
            fs.mkdir()
            await copy_out(what, sb.handle, sb.id, path, fs)

        key = await self.new_layer(what, sb, "directory", title, fill, path)
        image_id = "im-" + hashlib.sha256(key.encode()).hexdigest()[:24]
        now = time.time()
        store = self.images.store
        store.save_image({"image_id": image_id, "layers": [key], "env": {}, "workdir": "/",
                          "python": "", "backend": "bwrap", "title": title, "n_steps": 1,
                          "created_at": now, "used_at": now})
        self.images.owners.claim(sb.workspace, image_id)
        return image_id

    async def mount(self, sb: SandboxRecord, path: str, image_id: str):
        what = f"mount_image({path!r})"
        path = _check_path("mount_image", path)
        image = self.images.get(image_id)
        if image is None or not self.images.owners.owns(sb.workspace, image_id):
            raise LookupError(f"{what}: no image {image_id} on this server")
        if path in sb.mounts:
            raise ValueError(f"{what}: an image is mounted there already; unmount_image "
                             "it first")
        if len(sb.mounts) >= MAX_MOUNTS:
            raise ServiceError(f"{what}: {MAX_MOUNTS} images are mounted already",
                               "resource")
        await self.check(what, sb)
        if self.on_node is not None:
            sb.mounts[path] = await self.on_node.mount(what, sb, path, image.layers)
            return
        # In its scratch space (bounded by its ephemeral disk), gone with it.
        layer = self.root / sb.id / "mounts" / secrets.token_hex(6)
        await mount_layers(what, sb.handle, sb.id, path, layer, [str(p) for p in image.layers])
        sb.mounts[path] = str(layer)

    async def unmount(self, sb: SandboxRecord, path: str):
        what = f"unmount_image({path!r})"
        path = _check_path("unmount_image", path)
        layer = sb.mounts.get(path)
        if layer is None:
            raise LookupError(f"{what}: no image is mounted at {path} (give the path "
                              "mount_image was given)")
        await self.check(what, sb)
        if self.on_node is not None:
            await self.on_node.unmount(what, sb, path, layer)
        else:
            await unmount_layers(what, sb.handle, sb.id, path, layer)
        del sb.mounts[path]
