"""A node's cache of image layers and code bundles, fetched from the server on first use.

Each is pulled once per node: concurrent asks for the same key share one download, which
is hashed as it arrives (memory holds a few chunks) and checked against the hash the
server announced (a code bundle's key is its own SHA-256). A layer is unpacked into
scratch while it downloads (unpack.py: nothing lands outside it, device files are left
out); a code bundle streams to a scratch file and is unpacked after. Either is renamed
into place only once whole and checked, so a half-made, corrupt or hostile one is never
seen, and a node that died mid-pull sweeps its scratch at the next start.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import secrets
import shutil
from pathlib import Path

from .. import _bundle
from .._source import MAX_BUNDLE_MIB
from .fetch import FetchError
from .unpack import LayerUnpack

MAX_LAYER_BYTES = 64 * 1024 ** 3
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
            if kind == "layer":
                await self._pull_layer(key, work)
                return
            archive = work / "archive"
            with open(archive, "wb") as out:
                digest = await self.link.fetch(kind, key, out, MAX_BUNDLE_MIB * 1024 ** 2)
            self.pulls[(kind, key)] += 1
            if digest != key:
                raise FetchError(f"code bundle {key}: the server sent one hashing to {digest}")
            staged = work / "code"
            staged.mkdir(mode=0o755)
            await asyncio.to_thread(_bundle.unpack, archive.read_bytes(), staged)
            _rename(staged, self.code / key)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    async def _pull_layer(self, key: str, work: Path):
        """Unpacks the layer as it arrives; it is renamed into place only once the whole
        archive has hashed to what the server announced and unpacked cleanly."""
        staged = work / "layer"
        (staged / "fs").mkdir(parents=True)
        unpack = LayerUnpack(staged / "fs")
        try:
            await self.link.fetch("layer", key, unpack, self.max_layer_bytes)
        except BaseException:
            await asyncio.to_thread(unpack.abort)
            raise
        self.pulls[("layer", key)] += 1
        await asyncio.to_thread(unpack.finish)
        _rename(staged, self.layers / key)


def _rename(staged: Path, final: Path):
    try:
        os.rename(staged, final)
    except OSError:
        if not final.is_dir():   # not another agent's pull of the same key winning
            raise
