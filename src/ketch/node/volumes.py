"""Volume mounts of a container on a node other than the server's: each volume becomes an
empty node-local directory, which the container fills from the volume's committed state
itself (ketch._volume_copy, with its own credential) and publishes back on commit."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from .._volume_copy import ENV

_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def copy_dir(root: Path, container_id: str, index: int) -> Path:
    """A fresh empty directory for a container's `index`-th mount, under root/<its id>."""
    if not _ID_RE.match(container_id):
        raise ValueError(f"container id {container_id!r} is not a plain name")
    path = Path(root) / container_id / str(int(index))
    path.mkdir(mode=0o755, parents=True)
    return path


def copies_env(mounts: list[tuple[str, str, bool]]) -> dict[str, str]:
    """The container's environment naming its copies: (target path, volume id, read_only)."""
    if not mounts:
        return {}
    return {ENV: json.dumps([{"path": target, "object_id": object_id, "read_only": ro}
                             for target, object_id, ro in mounts])}


def remove_copies(root: Path, container_id: str):
    """After the container exits: its copies go (what it committed is on the server)."""
    if _ID_RE.match(container_id):
        shutil.rmtree(Path(root) / container_id, ignore_errors=True)
