"""The layer cache: one directory per content-addressed layer, made whole or not at all.

A layer is built in a scratch directory under `tmp/` and renamed into `layers/<key>` only
once it is complete, so an interrupted build leaves no half-made layer behind; scratch
directories of processes that died are swept away at start. Several servers may share
one cache (CI does): two that build the same layer at once both finish, and the second
rename loses harmlessly.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from pathlib import Path

from ...node.unpack import mark_opaque


class LayerStore:
    def __init__(self, root: Path):
        self.root = root
        self.layers = root / "layers"
        self.images = root / "images"
        self.tmp = root / "tmp"
        for d in (self.layers, self.images, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        self._marked: set[str] = set()   # layers known to have mark_opaque's marks
        self._sweep()

    def _sweep(self):
        """Removes scratch directories whose building process is gone."""
        for d in self.tmp.iterdir():
            pid = d.name.split("-", 1)[0]
            if pid.isdigit() and _alive(int(pid)):
                continue
            shutil.rmtree(d, ignore_errors=True)

    def path(self, key: str) -> Path:
        """The layer's file tree."""
        return self.layers / key / "fs"

    def has(self, key: str) -> bool:
        return (self.layers / key / "layer.json").exists()

    def scratch(self) -> Path:
        d = self.tmp / f"{os.getpid()}-{secrets.token_hex(6)}"
        d.mkdir()
        return d

    def commit(self, key: str, scratch: Path, fs: Path, meta: dict):
        """Makes `fs` (inside `scratch`) the layer `key`; removes the rest of scratch."""
        mark_opaque(str(fs))
        staged = scratch / "layer"
        staged.mkdir()
        fs.rename(staged / "fs")
        meta = {**meta, "key": key, "created_at": time.time(),
                "size_bytes": _du(staged / "fs"), "opaque_marked": True}
        (staged / "layer.json").write_text(json.dumps(meta))
        try:
            staged.rename(self.layers / key)
        except OSError:
            if not self.has(key):  # not a lost race: a real failure
                raise
        shutil.rmtree(scratch, ignore_errors=True)

    def mark_opaque_once(self, key: str):
        """A layer committed before layers were marked for user-namespace overlays gets
        the marks now, once (its layer.json then says so)."""
        if key in self._marked:
            return
        meta = self.meta(key)
        if meta and not meta.get("opaque_marked"):
            mark_opaque(str(self.path(key)))
            tmp = self.tmp / f"{os.getpid()}-{secrets.token_hex(6)}.json"
            tmp.write_text(json.dumps({**meta, "opaque_marked": True}))
            tmp.rename(self.layers / key / "layer.json")
        self._marked.add(key)

    def meta(self, key: str) -> dict:
        try:
            return json.loads((self.layers / key / "layer.json").read_text())
        except (OSError, ValueError):
            return {}

    def remove(self, key: str):
        d = self.layers / key
        for packed in (f"{key}.tar", f"{key}.sha256"):   # its archive for cluster nodes
            (self.root / "archives" / packed).unlink(missing_ok=True)
        if not d.exists():
            return
        # Out of sight first (atomically), then deleted.
        doomed = self.tmp / f"rm-{key}-{secrets.token_hex(4)}"
        try:
            d.rename(doomed)
        except OSError:
            return
        shutil.rmtree(doomed, ignore_errors=True)

    def keys(self) -> list[str]:
        return [d.name for d in self.layers.iterdir() if (d / "layer.json").exists()]

    # -- image records: which layers, and the configuration they run with

    def save_image(self, record: dict):
        path = self.images / f"{record['image_id']}.json"
        tmp = self.tmp / f"{os.getpid()}-{secrets.token_hex(6)}.json"
        tmp.write_text(json.dumps(record))
        tmp.rename(path)

    def load_image(self, image_id: str) -> dict | None:
        try:
            return json.loads((self.images / f"{image_id}.json").read_text())
        except (OSError, ValueError):
            return None

    def image_records(self) -> list[dict]:
        out = []
        for p in self.images.glob("*.json"):
            try:
                out.append(json.loads(p.read_text()))
            except (OSError, ValueError):
                continue
        return out

    def remove_image(self, image_id: str):
        try:
            (self.images / f"{image_id}.json").unlink()
        except FileNotFoundError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _du(path: Path) -> int:
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total
