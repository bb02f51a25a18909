"""`sb.snapshot_filesystem()`: what a sandbox wrote (its overlay's upper directory) becomes
a new layer over its image's, and the stack a new image that later sandboxes and
functions run in. A sandbox without an image runs on the host's own system: what it made
(its /root, its /tmp and what it put at its root) becomes the one layer of an image on
the host (runtime/seed.py), which later containers get over the host system as it had
it. bwrap runtime only: the process runtime's images are virtualenvs."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..errors import ServiceError
from ..runtime import seed
from . import layer_ids
from .model import SandboxRecord

_HOST_PYTHON = "%d.%d" % sys.version_info[:2]
# Mount points bubblewrap made for ketch's own binds: not the sandbox's doing.
_NOT_THEIRS = ("opt/ketch", "run/ketch")


async def snapshot(images, containers_root: Path, sb: SandboxRecord, directories) -> str:
    if containers_root is None:
        raise ServiceError("snapshot_filesystem on a cluster (--ray) is not in ketch yet: a "
                           "sandbox's file system lives on its node; run the server without "
                           "--ray")
    if images.backend != "bwrap":
        raise ServiceError("snapshot_filesystem needs the bwrap runtime; this server runs "
                           f"{images.backend}, whose images are virtualenvs")
    base = images.store.load_image(sb.spec.image_id) if sb.spec.image_id else None
    if not sb.spec.image_id or (base or {}).get("on_host"):
        # (a snapshot of one started from such a snapshot has the whole of it again)
        return await _snapshot_on_host(images, sb, directories)
    upper = containers_root / sb.id / "upper"
    if base is None or not upper.is_dir():
        raise ServiceError(f"sandbox {sb.id} has no file system to snapshot (its image was "
                           "removed, or it has ended)")
    key = "snap-" + hashlib.sha256(f"{sb.id} {time.time()} {secrets.token_hex(8)}".encode()
                                   ).hexdigest()[:40]
    scratch = images.store.scratch()
    try:
        fs = scratch / "fs"
        await asyncio.to_thread(_copy, upper, fs)
        await asyncio.to_thread(layer_ids.make_layer, str(fs), sb.handle.id_base)
        title = f"snapshot of {sb.id}"
        await asyncio.to_thread(images.store.commit, key, scratch, fs, {"title": title})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    image_id = "im-" + hashlib.sha256(key.encode()).hexdigest()[:24]
    now = time.time()
    images.store.save_image({**base, "image_id": image_id, "layers": [*base["layers"], key],
                             "title": title, "n_steps": base.get("n_steps", 0) + 1,
                             "created_at": now, "used_at": now})
    images.owners.claim(sb.workspace, image_id)
    return image_id


async def _snapshot_on_host(images, sb: SandboxRecord, directories) -> str:
    what = "snapshot_filesystem()"
    directories.pid_of(what, sb)   # running, here: before a scratch space is made
    box = sb.handle.box
    key = "snap-" + hashlib.sha256(f"{sb.id} {time.time()} {secrets.token_hex(8)}".encode()
                                   ).hexdigest()[:40]
    title = f"snapshot of {sb.id} (on the host system)"
    scratch = images.store.scratch()
    try:
        fs = scratch / "fs"
        fs.mkdir()
        # Its root's own entries (no mount of the host's, no volume), then /root, /tmp and
        # what a snapshot it started from laid at its root, from its scratch space.
        await directories.copy_out(what, sb, "/", fs)
        theirs = {**{inside: box.scratch / name for inside, name in seed.SCRATCH_OF.items()},
                  **{name: box.scratch / "top" / name for name in box.seeded}}
        for inside, path in theirs.items():
            if path.exists() or path.is_symlink():
                await asyncio.to_thread(seed.copy_tree, path, fs / inside)
        targets = [t for t in seed.mount_targets(box.argv()) if t.strip("/") not in theirs]
        await asyncio.to_thread(seed.kept, fs, targets)
        await asyncio.to_thread(images.store.commit, key, scratch, fs, {"title": title})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    image_id = "im-" + hashlib.sha256(key.encode()).hexdigest()[:24]
    now = time.time()
    images.store.save_image({"image_id": image_id, "layers": [key], "env": {},
                             "workdir": sb.spec.workdir, "python": _HOST_PYTHON,
                             "backend": "bwrap", "on_host": True, "title": title,
                             "n_steps": 1, "created_at": now, "used_at": now})
    images.owners.claim(sb.workspace, image_id)
    return image_id


def _copy(upper: Path, fs: Path):
    """cp -a keeps what overlayfs reads in a layer: owners, modes, links, xattrs (opaque
    directories) and whiteouts (0/0 character devices)."""
    subprocess.run(["cp", "-a", str(upper), str(fs)], check=True, capture_output=True)
    for rel in _NOT_THEIRS:
        shutil.rmtree(fs / rel, ignore_errors=True)
    for parent in ("opt", "run"):
        try:
            (fs / parent).rmdir()   # only if nothing else of theirs is there
        except OSError:
            pass
