"""A node's cache of image layers and code bundles, fetched from the server on first use.

Each is pulled once per node: concurrent asks for the same key share one download. The
archive streams to a scratch file (memory holds a few chunks) while it is hashed, is
checked against the hash the server announced (a code bundle's key is its own SHA-256),
and is unpacked into scratch and renamed into place, so a half-made layer is never seen
and a node that died mid-pull sweeps its scratch at the next start. Layers are root file
systems: links inside them are kept, but nothing may land outside the layer, no hard
link may reach outside it, and device files are left out (bubblewrap gives containers
their /dev) but for overlayfs' whiteouts (0/0), which mark what a layer deleted.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import secrets
import shutil
import tarfile
from pathlib import Path

from .. import _bundle
from .._source import MAX_BUNDLE_MIB
from .fetch import FetchError

MAX_LAYER_BYTES = 64 * 1024 ** 3
# overlayfs' mark of a directory that hides what lower layers have there (one deleted and
# made again): the one extended attribute a layer's tar carries (as a PAX header).
OPAQUE_XATTR = "trusted.overlay.opaque"
OPAQUE_PAX = "SCHILY.xattr." + OPAQUE_XATTR
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")


def launch_keys(image_layers: list[str], code_dir: str) -> tuple[list[str], str]:
    """The layer keys and the code bundle id a server-made launch names: the server keeps
    a layer at `.../layers/<key>/fs` and a bundle at `.../<bundle id>`."""
    return [Path(p).parent.name for p in image_layers], Path(code_dir).name if code_dir else ""


class LayerCache:
    def __init__(self, root: Path, link, max_layer_bytes: int = MAX_LAYER_BYTES):
        self.root = Path(root)
        self.link = link                  # fetch.ServerLink (or anything with its fetch())
        self.max_layer_bytes = max_layer_bytes
        self.layers = self.root / "layers"
        self.code = self.root / "code"
        self.tmp = self.root / "tmp"
        for d in (self.layers, self.code):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.rmtree(self.tmp, ignore_errors=True)   # a previous agent's unfinished pulls
        self.tmp.mkdir(mode=0o700)
        self.pulls: collections.Counter = collections.Counter()   # (kind, key) -> downloads
        self._pulling: dict[tuple[str, str], asyncio.Future] = {}

    def layer_path(self, key: str) -> Path:
        return self.layers / key / "fs"

    def has_layer(self, key: str) -> bool:
        return self.layer_path(key).is_dir()

    def layer_keys(self) -> set[str]:
        return {d.name for d in self.layers.iterdir() if (d / "fs").is_dir()}

    async def ensure_layers(self, keys: list[str]) -> list[Path]:
        """Each layer's file tree on this node, in the order given."""
        return list(await asyncio.gather(*(self._ensure("layer", k) for k in keys)))

    async def ensure_code(self, bundle_id: str) -> Path:
        """The unpacked code bundle (read-only files)."""
        return await self._ensure("code", bundle_id)

    async def _ensure(self, kind: str, key: str) -> Path:
        if not _KEY_RE.match(key):
            raise ValueError(f"{kind} key {key!r} is not 64 hex digits")
        final = self.layer_path(key) if kind == "layer" else self.code / key
        if final.is_dir():
            return final
        pending = self._pulling.get((kind, key))
        if pending is None:
            pending = asyncio.ensure_future(self._pull(kind, key))
            self._pulling[(kind, key)] = pending
            pending.add_done_callback(lambda _: self._pulling.pop((kind, key), None))
        await asyncio.shield(pending)
        return final

    async def _pull(self, kind: str, key: str):
        work = self.tmp / f"{kind}-{key[:16]}-{secrets.token_hex(4)}"
        work.mkdir(mode=0o700)
        try:
            archive = work / "archive"
            limit = self.max_layer_bytes if kind == "layer" else MAX_BUNDLE_MIB * 1024 ** 2
            with open(archive, "wb") as out:
                digest = await self.link.fetch(kind, key, out, limit)
            self.pulls[(kind, key)] += 1
            if kind == "code" and digest != key:
                raise FetchError(f"code bundle {key}: the server sent one hashing to {digest}")
            if kind == "layer":
                staged = work / "layer"
                (staged / "fs").mkdir(parents=True)
                await asyncio.to_thread(unpack_layer, archive, staged / "fs")
                _rename(staged, self.layers / key)
            else:
                staged = work / "code"
                staged.mkdir(mode=0o755)
                await asyncio.to_thread(_bundle.unpack, archive.read_bytes(), staged)
                _rename(staged, self.code / key)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _rename(staged: Path, final: Path):
    try:
        os.rename(staged, final)
    except OSError:
        if not final.is_dir():   # not another agent's pull of the same key winning
            raise


def unpack_layer(archive: Path, into: Path):
    """Unpacks a layer's tar into `into`; refuses members that would land (or link)
    outside it, leaves device files out, keeps owners and modes."""
    dest = os.path.realpath(into)
    opaque: list[str] = []

    def check(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
        whiteout = member.ischr() and member.devmajor == member.devminor == 0
        if (member.ischr() and not whiteout) or member.isblk() or member.isfifo():
            return None   # (overlayfs' whiteouts, 0/0 devices, say what a layer deleted)
        if member.name.startswith("/") or ".." in member.name.split("/"):
            raise ValueError(f"the layer's member {member.name!r} would land outside it")
        if member.islnk():
            target = os.path.realpath(os.path.join(dest, member.linkname))
            if member.linkname.startswith("/") or os.path.commonpath([target, dest]) != dest:
                raise ValueError(f"the layer's hard link {member.name!r} points outside it "
                                 f"({member.linkname!r})")
        try:   # absolute names, "..", paths through links that lead outside
            checked = tarfile.tar_filter(member, path)
        except tarfile.FilterError as exc:
            raise ValueError(f"the layer's member {member.name!r} would land outside it: "
                             f"{exc}") from None
        if member.isdir() and member.pax_headers.get(OPAQUE_PAX) == "y":
            opaque.append(checked.name)
        return checked.replace(mode=member.mode, deep=False)  # setuid bits are the image's

    try:
        with tarfile.open(archive, mode="r:") as tar:
            tar.extractall(into, numeric_owner=True, filter=check)
    except (tarfile.TarError, EOFError) as exc:
        raise ValueError(f"the layer is not a valid tar: {exc}") from None
    for name in opaque:   # (a link put there since is not followed)
        os.setxattr(os.path.join(into, name), OPAQUE_XATTR, b"y", follow_symlinks=False)
