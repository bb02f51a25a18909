"""A volume mounted as a copy, for containers on a cluster node other than the server's.

There the volume's directory is not on this machine, so the node gives the container an
empty directory and names it in KETCH_VOLUME_COPIES; the container fills it from the
volume's committed state before the user's code runs (`pull`), with its own credential,
as a client of its workspace. This is Modal's model: `commit()` publishes what changed
since (files added or changed are uploaded whole, files removed are removed, each file
on its own, so commits of different files merge and the same file's last commit wins),
`reload()` brings what others committed since, keeping this container's own uncommitted
changes, and a normal exit commits. Links made in the copy are not committed.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .exception import InvalidError, NotFoundError

ENV = "KETCH_VOLUME_COPIES"


@dataclass(frozen=True)
class Stamp:
    """What a file was at the last pull or commit: the server's and the local copy's."""

    remote: tuple[float, int]     # (mtime, size) as the server lists it
    local: tuple[int, int]        # (mtime_ns, size) of the copy on disk


class VolumeCopy:
    def __init__(self, volume, root: Path, read_only: bool = False):
        self.volume = volume          # ketch.Volume
        self.root = Path(root)
        self.read_only = read_only
        self.stamps: dict[str, Stamp] = {}
        self._lock = asyncio.Lock()   # one pull, commit or reload at a time

    # -- what the server has, what is here

    async def _remote(self) -> dict[str, tuple[float, int]]:
        entries = await self.volume.listdir.aio("/", recursive=True)
        return {_safe(e.path): (e.mtime, e.size) for e in entries if e.type == 1}

    def _local(self) -> dict[str, tuple[int, int]]:
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in filenames:
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                if stat.S_ISREG(st.st_mode):
                    out[os.path.relpath(path, self.root)] = (st.st_mtime_ns, st.st_size)
        return out

    def _local_stamp(self, rel: str) -> tuple[int, int]:
        st = os.lstat(self.root / rel)
        return st.st_mtime_ns, st.st_size

    # -- the three moves

    async def pull(self):
        """Fills the (empty) copy from the volume's committed state."""
        async with self._lock:
            remote = await self._remote()
            free = shutil.disk_usage(self.root).free
            need = sum(size for _, size in remote.values())
            if need > free:
                raise InvalidError(f"the volume needs {need} bytes but this node has {free} "
                                   "free where its copy goes; free disk on the node or use a "
                                   "smaller volume")
            for rel, stamp in remote.items():
                await self._download(rel, stamp)

    async def commit(self):
        """Publishes what changed here since the last pull, commit or reload."""
        if self.read_only:
            return
        async with self._lock:
            local = self._local()
            changed = [rel for rel, st in local.items()
                       if rel not in self.stamps or self.stamps[rel].local != st]
            gone = [rel for rel in self.stamps if rel not in local]
            client, oid = await self.volume._client_and_id()
            for rel in changed:
                mode = os.lstat(self.root / rel).st_mode & 0o777
                await self.volume._upload(client, oid, str(self.root / rel), rel, True, mode)
            for rel in gone:
                try:
                    await self.volume.remove_file.aio(rel)
                except NotFoundError:   # removed meanwhile by another commit
                    pass
                del self.stamps[rel]
            if changed:
                remote = await self._remote()
                for rel in changed:
                    if rel in remote:
                        self.stamps[rel] = Stamp(remote[rel], local[rel])

    async def reload(self):
        """Brings in what others committed since; this copy's own uncommitted changes
        stay (they win at its next commit, as the last commit does)."""
        async with self._lock:
            remote, local = await self._remote(), self._local()
            for rel, theirs in remote.items():
                mine = self.stamps.get(rel)
                if mine is not None and mine.remote == theirs:
                    continue
                if rel in local and (mine is None or mine.local != local[rel]):
                    continue   # changed here too, not committed yet: ours stays
                await self._download(rel, theirs)
            for rel in [r for r in self.stamps if r not in remote]:
                if local.get(rel) == self.stamps[rel].local:   # unchanged here: goes too
                    (self.root / rel).unlink(missing_ok=True)
                del self.stamps[rel]

    async def _download(self, rel: str, remote: tuple[float, int]):
        target = self.root / rel
        _make_parents(self.root, target.parent)
        tmp = target.with_name(f".ketch-{secrets.token_hex(4)}.part")
        with open(tmp, "xb") as out:
            await self.volume.read_file_into_fileobj.aio(rel, out)
        os.replace(tmp, target)
        self.stamps[rel] = Stamp(remote, self._local_stamp(rel))


def _safe(path: str) -> str:
    """A volume path as a relative path that stays beneath the copy."""
    parts = [p for p in PurePosixPath(path).parts if p not in ("/", ".")]
    if not parts or ".." in parts:
        raise InvalidError(f"the server listed a volume path {path!r} outside the volume")
    return "/".join(parts)


def _make_parents(root: Path, parent: Path):
    """The directories down to `parent`, each a real directory (never a link)."""
    here = root
    for part in parent.relative_to(root).parts:
        here = here / part
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            here.mkdir(mode=0o755)
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise InvalidError(f"{here} is in the way of a file of the volume (not a "
                               "directory)")


# -- the copies this container holds (filled at its start by the runtime)

_copies: dict[str, VolumeCopy] = {}


def mounted(object_id: str) -> VolumeCopy | None:
    return _copies.get(object_id)


def held() -> bool:
    return bool(_copies)


async def pull_all(env: dict, volume_of) -> None:
    """Fills every copy KETCH_VOLUME_COPIES names (a JSON list of {path, object_id,
    read_only}) before the user's code runs; `volume_of(object_id)` is its Volume."""
    for entry in json.loads(env.get(ENV) or "[]"):
        copy = VolumeCopy(volume_of(entry["object_id"]), Path(entry["path"]),
                          bool(entry.get("read_only")))
        await copy.pull()
        _copies[entry["object_id"]] = copy


async def commit_all() -> None:
    """A normal exit publishes each copy's changes."""
    for copy in _copies.values():
        await copy.commit()
