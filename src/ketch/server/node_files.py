"""What cluster nodes fetch from the server: image layers and code bundles, by key.

A node agent (ketch.node) runs containers of every workspace, so with its own credential it
may fetch any layer or bundle; nothing else may (the `node_fetch` route is the node role's
only one). A layer is a directory tree, so it travels as a tar packed once, on first ask,
into `<images>/archives/<key>.tar` beside its SHA-256: later nodes read the same bytes, and
a node checks what it received against that hash. A code bundle is already an archive (the
uploaded tar.gz blob), named by its own SHA-256.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import tarfile
from pathlib import Path

from ..node.unpack import OPAQUE_PAX, OPAQUE_XATTRS

MAX_READ = 8 * 1024 * 1024          # per chunk asked for
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")


class NodeFiles:
    def __init__(self, layers, blobs):
        self.layers = layers     # images.layers.LayerStore
        self.blobs = blobs       # blobs.BlobStore: code bundles are uploaded blobs
        self.archives = layers.root / "archives"
        self.archives.mkdir(exist_ok=True)
        self._packing: dict[str, asyncio.Future] = {}

    async def read(self, kind: str, key: str, offset: int, length: int
                   ) -> tuple[bytes, int, str]:
        """(chunk at offset, the archive's size, its SHA-256)."""
        if not _KEY_RE.match(key):
            raise ValueError(f"{key!r} is not a layer key or bundle id (64 hex digits)")
        length = min(length or MAX_READ, MAX_READ)
        if kind == "layer":
            path, digest = await self._layer_archive(key)
        elif kind == "code":
            path, digest = self._bundle(key), key
        else:
            raise ValueError(f"a node fetches 'layer' or 'code', not {kind!r}")
        return await asyncio.to_thread(_read_at, path, offset, length) + (digest,)

    def _bundle(self, bundle_id: str) -> Path:
        path = self.blobs._path(bundle_id)
        if not path.is_file():
            raise LookupError(f"no code bundle {bundle_id} on this server")
        return path

    async def _layer_archive(self, key: str) -> tuple[Path, str]:
        tar, sha = self.archives / f"{key}.tar", self.archives / f"{key}.sha256"
        if not self.layers.has(key):
            raise LookupError(f"no layer {key} on this server")
        # The archive names the layer build it packed: a rebuilt layer (--force) repacks.
        built = str(self.layers.meta(key).get("created_at", ""))
        try:
            digest, packed = sha.read_text().split()
            if packed == built:
                return tar, digest
        except (OSError, ValueError):
            pass
        pending = self._packing.get(key)
        if pending is None:  # one packing per layer, however many nodes ask at once
            pending = asyncio.ensure_future(asyncio.to_thread(
                pack_layer, self.layers.path(key), tar, sha, built))
            self._packing[key] = pending
            pending.add_done_callback(lambda _: self._packing.pop(key, None))
        return tar, await asyncio.shield(pending)


def _read_at(path: Path, offset: int, length: int) -> tuple[bytes, int]:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(offset)
        return f.read(length), size


class _Hashing:
    """A file that hashes what is written to it."""

    def __init__(self, f):
        self.f, self.h = f, hashlib.sha256()

    def write(self, data):
        self.h.update(data)
        return self.f.write(data)


def _dir_info(tar: tarfile.TarFile, path: str, arc: str) -> tarfile.TarInfo:
    """A directory's entry, with overlayfs' opaque mark where it has one."""
    info = tar.gettarinfo(path, arc)
    for attr in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, attr, follow_symlinks=False) == b"y":
                info.pax_headers = {OPAQUE_PAX: "y"}
        except OSError:   # none, or a file system without such attributes
            pass
    return info


def pack_layer(fs: Path, tar_path: Path, sha_path: Path, built: str,
               durable: bool = True) -> str:
    """Packs a layer's tree (sorted, links as links, owners and modes kept) and writes its
    hash; temp files and renames, so a reader sees both whole or neither. `durable=False`
    skips the fsync (half its time) for a tar read once at once: a node's new layer."""
    tmp = tar_path.with_name(f".{os.getpid()}-{secrets.token_hex(4)}.tar")
    try:
        with open(tmp, "wb") as raw:
            out = _Hashing(raw)
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for dirpath, dirnames, filenames in os.walk(fs):
                    dirnames.sort()
                    rel = os.path.relpath(dirpath, fs)
                    for name in ([] if rel == "." else [""]) + sorted(filenames):
                        path = os.path.join(dirpath, name) if name else dirpath
                        arc = os.path.normpath(os.path.join(rel, name))
                        if name:
                            tar.add(path, arcname=arc, recursive=False)
                        else:
                            tar.addfile(_dir_info(tar, path, arc))
                    for name in dirnames:  # links to directories are not walked into
                        path = os.path.join(dirpath, name)
                        if os.path.islink(path):
                            tar.add(path, arcname=os.path.normpath(os.path.join(rel, name)),
                                    recursive=False)
            raw.flush()
            if durable:
                os.fsync(raw.fileno())
        digest = out.h.hexdigest()
        os.replace(tmp, tar_path)
        sha_tmp = tmp.with_suffix(".sha256")
        sha_tmp.write_text(f"{digest} {built}")
        os.replace(sha_tmp, sha_path)
        return digest
    finally:
        tmp.unlink(missing_ok=True)
