"""`Volume`: a directory of files kept by the server, mounted into containers.

    vol = ketch.Volume.from_name("models", create_if_missing=True)

    @app.function(volumes={"/models": vol})
    def train():
        with open("/models/weights.bin", "wb") as f: ...
        vol.commit()

    with vol.batch_upload() as batch:          # from outside a container
        batch.put_file("weights.bin", "/weights.bin")
    for chunk in vol.read_file("weights.bin"): ...

Paths inside a volume are relative to its root ("/a" and "a" are the same). Files move in
chunks, several in flight, so large files never sit whole in memory. ketch's volumes are
one directory on the server's disk: a write in one container is visible to others at once
(stronger than Modal, so Modal code runs unchanged); `commit()` makes changes durable on
disk and happens by itself when a container exits normally; `reload()` has nothing to
fetch.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from . import _sync, _volume_copy
from ._client import Client
from ._object import _Object, refuse_client
from .exception import InvalidError
from .proto import ketch_pb2 as pb

# A chunk's bytes travel as its frame's raw bytes (see _wire), never copied by protobuf.
# At most the server's MAX_READ (8 MiB): downloads ask for the next chunks ahead, by offset.
CHUNK = 4 * 1024 * 1024
WINDOW = 8          # chunks in flight per transfer: at most 32 MiB in memory per side


class FileEntryType(enum.IntEnum):
    UNSPECIFIED = 0
    FILE = 1
    DIRECTORY = 2
    SYMLINK = 3


@dataclass(frozen=True)
class FileEntry:
    """One file or directory in a volume; path is relative to the volume's root."""

    path: str
    type: FileEntryType
    mtime: float
    size: int


def _entry(e: pb.VolumeEntry) -> FileEntry:
    return FileEntry(path=e.path, type=FileEntryType(e.type), mtime=e.mtime, size=e.size)


def check_mount_path(path) -> str:
    """Mount paths are absolute directories other than "/"; checked at decoration time."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidError(f"volume mount path {path!r} must be an absolute path, such as "
                           "'/data'")
    norm = os.path.normpath(path)
    if norm == "/" or ".." in PurePosixPath(path).parts:
        raise InvalidError(f"volume mount path {path!r}: give a directory below '/', without "
                           "'..'")
    return norm


class Volume(_Object):
    """A persistent directory of files shared by functions. Every method has an `.aio`
    twin: `await vol.listdir.aio("/")`."""

    _kind = "volume"
    _type_name = "Volume"

    def __init__(self, name: str | None = None, *, create_if_missing: bool = False,
                 object_id: str | None = None, read_only: bool = False):
        super().__init__(name, create_if_missing=create_if_missing, object_id=object_id)
        self._read_only = read_only

    def __getstate__(self):
        return {**super().__getstate__(), "_read_only": self._read_only}

    @classmethod
    def from_name(cls, name: str, *, environment_name: str | None = None,
                  create_if_missing: bool = False, version=None, client=None) -> "Volume":
        """A handle to the named volume; looked up (and made, with create_if_missing=True)
        when first used. `environment_name` and `version` are accepted and ignored: there
        are no environments, and ketch volumes have one format (no Modal v1/v2)."""
        refuse_client("Volume.from_name", client)
        return super().from_name(name, create_if_missing=create_if_missing)

    def read_only(self) -> "Volume":
        """The same volume, mounted read-only where it is used."""
        return Volume(self._name, create_if_missing=self._create_if_missing,
                      object_id=self._object_id, read_only=True)

    async def _client_and_id(self) -> tuple[Client, str]:
        return await Client.get(), await self._id()

    # -- consistency

    @_sync.twin
    async def commit(self) -> None:
        """Makes the volume's changes durable on disk (and, in a container on another
        cluster node, where the volume is a copy, publishes them first)."""
        client, oid = await self._client_and_id()
        copy = _volume_copy.mounted(oid)
        if copy is not None:
            await copy.commit()
        await client.request(volume_commit=pb.VolumeCommit(object_id=oid))

    @_sync.twin
    async def reload(self) -> None:
        """Brings in others' committed changes; mounts on the server's machine already
        show them, copies on other cluster nodes fetch them."""
        copy = _volume_copy.mounted(await self._id())
        if copy is not None:
            await copy.reload()

    # -- listing

    @_sync.twin
    async def listdir(self, path: str, *, recursive: bool = False) -> list[FileEntry]:
        """The entries of a directory (or the file) at path."""
        client, oid = await self._client_and_id()
        reply = await client.request(volume_list_dir=pb.VolumeListDir(
            object_id=oid, path=path, recursive=recursive))
        return [_entry(e) for e in reply.volume_entries.entries]

    @_sync.twin
    async def iterdir(self, path: str, *, recursive: bool = True):
        """Yields the entries under path."""
        for entry in await self.listdir.aio(path, recursive=recursive):
            yield entry

    # -- reading

    @_sync.twin
    async def read_file(self, path: str):
        """Yields the file's bytes in chunks of up to 4 MiB."""
        async for parts in self._read_parts(path):
            yield b"".join(parts)

    @_sync.twin
    async def read_file_into_fileobj(self, path: str, fileobj: BinaryIO) -> int:
        """Writes the file into an open binary file; returns the bytes written."""
        loop = asyncio.get_running_loop()
        n = 0
        async for parts in self._read_parts(path):
            await loop.run_in_executor(None, _write_parts, fileobj, parts)
            n += sum(len(part) for part in parts)
        return n

    async def _read_parts(self, path: str):
        """Yields the file's chunks in order, each as the list of memoryviews that holds
        its bytes (a frame's raw bytes), with up to WINDOW chunks requested ahead."""
        client, oid = await self._client_and_id()

        def read(offset: int):
            return asyncio.ensure_future(client.request_raw(volume_read=pb.VolumeRead(
                object_id=oid, path=path, offset=offset, length=CHUNK)))

        reply, raw = await read(0)
        yield raw or []
        if reply.volume_data.eof:
            return
        size, offset = reply.volume_data.size, CHUNK
        inflight: collections.deque = collections.deque()
        try:
            while True:
                while len(inflight) < WINDOW and offset < size:
                    inflight.append(read(offset))
                    offset += CHUNK
                if not inflight:
                    return
                reply, raw = await inflight.popleft()
                yield raw or []
                if reply.volume_data.eof:
                    return
        finally:
            for fut in inflight:
                fut.cancel()

    # -- changing

    @_sync.twin
    async def remove_file(self, path: str, recursive: bool = False) -> None:
        """Removes a file, or a directory with recursive=True."""
        client, oid = await self._client_and_id()
        await client.request(volume_remove=pb.VolumeRemove(object_id=oid, path=path,
                                                           recursive=recursive))

    @_sync.twin
    async def copy_files(self, src_paths: list[str], dst_path: str,
                         recursive: bool = False) -> None:
        """Copies files (and directories) within the volume: into dst_path when it is a
        directory or there are several sources, else to dst_path."""
        if isinstance(src_paths, str):
            raise InvalidError("copy_files takes a list of source paths")
        client, oid = await self._client_and_id()
        await client.request(volume_copy=pb.VolumeCopy(object_id=oid, src_paths=src_paths,
                                                       dst_path=dst_path))

    def batch_upload(self, force: bool = False) -> "VolumeUpload":
        """Collects put_file/put_directory calls and uploads them at the end of the `with`
        (or `async with`) block. Existing files are replaced only with force=True."""
        return VolumeUpload(self, force)

    async def _upload(self, client: Client, oid: str, source, remote_path: str,
                      force: bool, mode: int | None):
        upload_id = os.urandom(8).hex()
        own = not hasattr(source, "read")
        handle = open(source, "rb") if own else source
        inflight: collections.deque = collections.deque()
        loop = asyncio.get_running_loop()

        def read():  # in a worker thread: a slow source (a pipe) never stalls the loop
            return loop.run_in_executor(None, handle.read, CHUNK)

        try:
            if mode is None and own:
                mode = os.fstat(handle.fileno()).st_mode & 0o777
            data = await read()
            while True:
                following = await read() if data else b""  # an empty read marks the end
                inflight.append(asyncio.ensure_future(client.request(
                    raw=data, volume_write=pb.VolumeWrite(
                        object_id=oid, upload_id=upload_id, path=remote_path,
                        last=not following, force=force, mode=mode or 0))))
                if len(inflight) >= WINDOW:
                    await inflight.popleft()
                if not following:
                    break
                data = following
            while inflight:
                await inflight.popleft()
        except BaseException:
            for fut in inflight:
                fut.cancel()
            raise
        finally:
            if own:
                handle.close()


def _write_parts(fileobj: BinaryIO, parts: list):
    for part in parts:
        fileobj.write(part)


class VolumeUpload:
    """The batch of `Volume.batch_upload()`."""

    def __init__(self, volume: Volume, force: bool):
        self._volume = volume
        self._force = force
        self._files: list[tuple[object, str, int | None]] = []

    def put_file(self, local_file, remote_path: str, mode: int | None = None) -> None:
        """Uploads a local file (a path, or an open binary file) to remote_path."""
        if not hasattr(local_file, "read"):
            local = Path(local_file)
            if not local.is_file():
                raise FileNotFoundError(f"put_file: no such local file: {local_file}")
        if str(remote_path).endswith("/"):
            raise InvalidError(f"put_file: remote path {remote_path!r} names a directory; "
                               "give the file's path")
        self._files.append((local_file, str(remote_path), mode))

    def put_directory(self, local_path, remote_path: str, recursive: bool = True) -> None:
        """Uploads the files of a local directory under remote_path."""
        local = Path(local_path)
        if not local.is_dir():
            raise FileNotFoundError(f"put_directory: no such local directory: {local_path}")
        files = local.rglob("*") if recursive else local.iterdir()
        for path in sorted(files):
            if path.is_file():
                rel = path.relative_to(local).as_posix()
                self._files.append((path, f"{str(remote_path).rstrip('/')}/{rel}", None))

    async def _run(self):
        client, oid = await self._volume._client_and_id()
        for source, remote, mode in self._files:
            await self._volume._upload(client, oid, source, remote, self._force, mode)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            _sync.run(self._run())

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, *exc):
        if exc_type is None:
            await _sync.run_aio(self._run())


def check_volumes(where: str, volumes) -> dict[str, Volume]:
    """volumes= of App, @app.function and @app.cls: {mount path: Volume}."""
    if not volumes:
        return {}
    if not isinstance(volumes, dict):
        raise InvalidError(f"{where}: volumes= takes a dict of mount path to ketch.Volume, "
                           "e.g. {'/data': ketch.Volume.from_name('data')}")
    out: dict[str, Volume] = {}
    for path, vol in volumes.items():
        if not isinstance(vol, Volume):
            raise InvalidError(f"{where}: volumes[{path!r}] is a {type(vol).__name__}; give a "
                               "ketch.Volume")
        norm = check_mount_path(path)
        for other in out:
            if norm == other or norm.startswith(other + "/") or other.startswith(norm + "/"):
                raise InvalidError(f"{where}: volume mount paths {other!r} and {norm!r} "
                                   "overlap; give each volume a path of its own")
        out[norm] = vol
    return out
