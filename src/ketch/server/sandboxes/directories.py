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
from . import layer_ids
from .model import SandboxRecord

HELPER = str(Path(__file__).with_name("nshelper.py"))
HELPER_TIMEOUT_S = 300.0
MAX_MOUNTS = 16   # images mounted in one sandbox at once


def _check_path(what: str, path: str) -> str:
    if not path.startswith("/") or "\0" in path or len(path) > 4096:
        raise ValueError(f"{what}: {path[:200]!r}: give an absolute path in the sandbox")
    path = posixpath.normpath(path)
    if path == "/":
        raise ValueError(f"{what}: not the root directory; use snapshot_filesystem() for "
                         "the whole file system")
    return path


class SandboxDirectories:
    def __init__(self, images, containers_root: Path):
        self.images = images
        self.root = containers_root   # each container's scratch: <root>/<id>/

    def pid_of(self, what: str, sb: SandboxRecord) -> str:
        """A process inside the sandbox's mount namespace: bubblewrap's pid 1, the child of
        the bubblewrap the runtime started (sb.handle.pid, in the mount namespace that holds
        the container's scratch space)."""
        if self.root is None:
            raise ServiceError(f"{what} on a cluster (--ray) is not in ketch yet: a sandbox's "
                               "file system lives on its node; run the server without --ray")
        if self.images.backend != "bwrap":
            raise ServiceError(f"{what} needs the bwrap runtime; this server runs "
                               f"{self.images.backend}, which has no mount namespaces")
        if sb.function_container or sb.handle is None or sb.state != "running":
            raise ServiceError(f"{what}: sandbox {sb.id} is not running", "execution")
        pid = sb.handle.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        if not children:
            raise ServiceError(f"{what}: sandbox {sb.id} is not running", "execution")
        return children[0]

    async def _helper(self, what: str, *args: str):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-I", HELPER, *args, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        try:
            _, err = await asyncio.wait_for(proc.communicate(), HELPER_TIMEOUT_S)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise ServiceError(f"{what} took over {HELPER_TIMEOUT_S:g} s", "timeout") from None
        reason = err.decode(errors="replace").strip()[-500:]
        if proc.returncode == 2:
            raise LookupError(f"{what}: {reason}")
        if proc.returncode:
            raise ServiceError(f"{what} failed: {reason}", "execution")

    async def copy_out(self, what: str, sb: SandboxRecord, path: str, dest: Path):
        """The sandbox's directory `path` (resolved inside it; other file systems mounted
        below it left out), copied to `dest` with its owners as the sandbox sees them."""
        await self._helper(what, "copy-out", self.pid_of(what, sb), path, str(dest))
        if sb.handle.id_base:   # a user namespace's: its host ids shifted back
            await asyncio.to_thread(layer_ids.make_layer, str(dest), sb.handle.id_base)

    async def snapshot(self, sb: SandboxRecord, path: str) -> str:
        what = f"snapshot_directory({path!r})"
        path = _check_path("snapshot_directory", path)
        self.pid_of(what, sb)   # running, here: before a scratch space is made
        store = self.images.store
        scratch = store.scratch()
        key = "dir-" + hashlib.sha256(f"{sb.id} {path} {time.time()} "
                                      f"{secrets.token_hex(8)}".encode()).hexdigest()[:40]
        title = f"{path} of {sb.id}"
        try:
            fs = scratch / "fs"
            fs.mkdir()
            await self.copy_out(what, sb, path, fs)
            await asyncio.to_thread(store.commit, key, scratch, fs, {"title": title})
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        image_id = "im-" + hashlib.sha256(key.encode()).hexdigest()[:24]
        now = time.time()
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
        pid = self.pid_of(what, sb)
        # In its scratch space (bounded by its ephemeral disk), gone with it.
        layer = str(self.root / sb.id / "mounts" / secrets.token_hex(6))
        # A user namespace's overlay is staged in the helper's own mount namespace ("-"),
        # its layers idmapped into the namespace; else in the container's outer one.
        outer = "-" if sb.handle.id_base else str(sb.handle.pid)
        await self._helper(what, "mount", pid, path, outer, layer,
                           *[str(p) for p in reversed(image.layers)])
        sb.mounts[path] = layer

    async def unmount(self, sb: SandboxRecord, path: str):
        what = f"unmount_image({path!r})"
        path = _check_path("unmount_image", path)
        layer = sb.mounts.get(path)
        if layer is None:
            raise LookupError(f"{what}: no image is mounted at {path} (give the path "
                              "mount_image was given)")
        outer = "-" if sb.handle.id_base else str(sb.handle.pid)
        await self._helper(what, "umount", self.pid_of(what, sb), path, outer, layer)
        del sb.mounts[path]
