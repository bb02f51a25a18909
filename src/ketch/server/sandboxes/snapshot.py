"""`sb.snapshot_filesystem()`: what a sandbox wrote (its overlay's upper directory) becomes
a new layer over its image's, and the stack a new image that later sandboxes and
functions run in. A sandbox without an image runs on the host's own system: what it made
(its /root, its /tmp and what it put at its root) becomes the one layer of an image on
the host (runtime/seed.py), which later containers get over the host system as it had
it. bwrap runtime only: the process runtime's images are virtualenvs."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..errors import ServiceError
from ..runtime import seed
from . import layer_ids
from .directories import copy_out
from .model import SandboxRecord

_HOST_PYTHON = "%d.%d" % sys.version_info[:2]
# Mount points bubblewrap made for ketch's own binds: not the sandbox's doing.
_NOT_THEIRS = ("opt/ketch", "run/ketch")


async def snapshot(images, containers_root: Path | None, sb: SandboxRecord,
                   directories) -> str:
    if images.backend != "bwrap":
        raise ServiceError("snapshot_filesystem needs the bwrap runtime; this server runs "
                           f"{images.backend}, whose images are virtualenvs")
    what = "snapshot_filesystem()"
    base = images.store.load_image(sb.spec.image_id) if sb.spec.image_id else None
    # (a snapshot of one started from such a snapshot has the whole of it again)
    on_host = not sb.spec.image_id or bool((base or {}).get("on_host"))
    if not on_host and base is None:
        raise ServiceError(f"sandbox {sb.id} has no file system to snapshot (its image was "
                           "removed)")
    title = f"snapshot of {sb.id}" + (" (on the host system)" if on_host else "")
    source = "on_host" if on_host else "upper"
    key = await directories.new_layer(
        what, sb, source, title,
        lambda fs: gather(what, sb.handle, sb.id, containers_root, source, "", fs))
    image_id = "im-" + hashlib.sha256(key.encode()).hexdigest()[:24]
    now = time.time()
    if on_host:
        record = {"image_id": image_id, "layers": [key], "env": {},
                  "workdir": sb.spec.workdir, "python": _HOST_PYTHON, "backend": "bwrap",
                  "on_host": True, "n_steps": 1}
    else:
        record = {**base, "image_id": image_id, "layers": [*base["layers"], key],
                  "n_steps": base.get("n_steps", 0) + 1}
    images.store.save_image({**record, "title": title, "created_at": now, "used_at": now})
    images.owners.claim(sb.workspace, image_id)
    return image_id


async def gather(what: str, handle, sandbox_id: str, containers_root: Path, source: str,
                 path: str, fs: Path):
    """Makes `fs`: the tree of a new layer of the sandbox (`handle`: its runtime handle,
    `containers_root`: its runtime's containers' scratch spaces on this machine)."""
    if source == "directory":
        fs.mkdir()
        await copy_out(what, handle, sandbox_id, path, fs)
    elif source == "upper":
        upper = containers_root / sandbox_id / "upper"
        if not upper.is_dir():
            raise ServiceError(f"sandbox {sandbox_id} has no file system to snapshot (it "
                               "has ended)")
        await asyncio.to_thread(_copy, upper, fs)
        await asyncio.to_thread(layer_ids.make_layer, str(fs), handle.id_base)
    elif source == "on_host":
        await _gather_on_host(what, handle, sandbox_id, fs)
    else:
        raise ValueError(f"no layer source {source!r}")


async def _gather_on_host(what: str, handle, sandbox_id: str, fs: Path):
    box = handle.box
    fs.mkdir()
    # Its root's own entries (no mount of the host's, no volume), then /root, /tmp and
    # what a snapshot it started from laid at its root, from its scratch space.
    await copy_out(what, handle, sandbox_id, "/", fs)
    theirs = {**{inside: box.scratch / name for inside, name in seed.SCRATCH_OF.items()},
              **{name: box.scratch / "top" / name for name in box.seeded}}
    for inside, path in theirs.items():
        if path.exists() or path.is_symlink():
            await asyncio.to_thread(seed.copy_tree, path, fs / inside)
    targets = [t for t in seed.mount_targets(box.argv()) if t.strip("/") not in theirs]
    await asyncio.to_thread(seed.kept, fs, targets)


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
