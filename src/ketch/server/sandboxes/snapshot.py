"""`sb.snapshot_filesystem()`: what a sandbox wrote (its overlay's upper directory) becomes
a new layer over its image's, and the stack a new image that later sandboxes and
functions run in. bwrap sandboxes created with an image only: the process runtime's
images are virtualenvs, and a sandbox without an image runs on the host's own system."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import shutil
import subprocess
import time
from pathlib import Path

from ..errors import ServiceError
from .model import SandboxRecord

# Mount points bubblewrap made for ketch's own binds: not the sandbox's doing.
_NOT_THEIRS = ("opt/ketch", "run/ketch")


async def snapshot(images, containers_root: Path, sb: SandboxRecord) -> str:
    if containers_root is None:
        raise ServiceError("snapshot_filesystem on a cluster (--ray) is not in ketch yet: a "
                           "sandbox's file system lives on its node; run the server without "
                           "--ray")
    if images.backend != "bwrap":
        raise ServiceError("snapshot_filesystem needs the bwrap runtime; this server runs "
                           f"{images.backend}, whose images are virtualenvs")
    if not sb.spec.image_id:
        raise ServiceError("snapshot_filesystem needs a sandbox created with image=: one "
                           "without runs on this machine's own system, which is no layer")
    base = images.store.load_image(sb.spec.image_id)
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
