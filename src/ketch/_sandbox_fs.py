"""Files in a sandbox: `sb.filesystem` (Modal's current API, raising its
SandboxFilesystem*Error family) and the older `sb.open`/`ls`/`mkdir`/`rm` that
integrations still call (raising Python's own FileNotFoundError, IsADirectoryError, ...,
and FilesystemExecutionError for anything else). Each operation runs in the sandbox's
supervisor, so paths are the sandbox's own."""

from __future__ import annotations

import enum
import os
import stat
from dataclasses import dataclass

from . import _sync
from ._client import Client
from .exception import (FilesystemExecutionError, SandboxFilesystemDirectoryNotEmptyError,
                        SandboxFilesystemError, SandboxFilesystemIsADirectoryError,
                        SandboxFilesystemNotADirectoryError, SandboxFilesystemNotFoundError,
                        SandboxFilesystemPathAlreadyExistsError,
                        SandboxFilesystemPermissionError)
from .proto import ketch_pb2 as pb

WRITE_CHUNK = 4 * 1024 * 1024

_NEW_API = {"not_found": SandboxFilesystemNotFoundError,
            "is_a_directory": SandboxFilesystemIsADirectoryError,
            "not_a_directory": SandboxFilesystemNotADirectoryError,
            "permission": SandboxFilesystemPermissionError,
            "exists": SandboxFilesystemPathAlreadyExistsError,
            "not_empty": SandboxFilesystemDirectoryNotEmptyError}
_OLD_API = {"not_found": FileNotFoundError, "is_a_directory": IsADirectoryError,
            "not_a_directory": NotADirectoryError, "permission": PermissionError,
            "exists": FileExistsError}


class FileType(enum.Enum):
    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symlink"


@dataclass(frozen=True)
class FileInfo:
    """A file or directory in a sandbox."""

    name: str
    path: str
    type: FileType | None      # None: something else (a device, a socket)
    size: int
    mode: int
    permissions: str
    owner: str
    group: str
    modified_time: float
    symlink_target: str | None

    def is_file(self) -> bool:
        return self.type == FileType.FILE

    def is_dir(self) -> bool:
        return self.type == FileType.DIRECTORY

    def is_symlink(self) -> bool:
        return self.type == FileType.SYMLINK


def _info(e: pb.SandboxFileEntry) -> FileInfo:
    kind = {"file": FileType.FILE, "directory": FileType.DIRECTORY,
            "symlink": FileType.SYMLINK}.get(e.type)
    return FileInfo(name=os.path.basename(e.path.rstrip("/")) or "/", path=e.path, type=kind,
                    size=e.size, mode=e.mode, permissions=stat.filemode(e.mode)[1:],
                    owner=e.owner, group=e.group, modified_time=e.mtime,
                    symlink_target=e.symlink_target or None)


async def file_op(sandbox_id: str, errors: dict, fallback, op: str, path, **fields
                  ) -> pb.SandboxFileResult:
    """One operation; its error raised as `errors` maps it (`fallback` for the rest)."""
    path = os.fspath(path)
    client = await Client.get()
    reply = await client.request(sandbox_file_op=pb.SandboxFileOp(
        sandbox_id=sandbox_id, op=op, path=path, **fields))
    result = reply.sandbox_file_result
    if result.error:
        raise errors.get(result.error, fallback)(result.message)
    return result


async def read_all(sandbox_id: str, errors: dict, fallback, path) -> bytes:
    parts, offset = [], 0
    while True:
        result = await file_op(sandbox_id, errors, fallback, "read", path, offset=offset)
        parts.append(result.data)
        offset += len(result.data)
        if result.eof:
            return b"".join(parts)


async def write_all(sandbox_id: str, errors: dict, fallback, path, data: bytes,
                    append: bool = False):
    for start in range(0, max(len(data), 1), WRITE_CHUNK):
        await file_op(sandbox_id, errors, fallback, "write", path,
                      data=data[start:start + WRITE_CHUNK], append=append or start > 0)


class SandboxFilesystem:
    """`sb.filesystem`: files in the sandbox, by absolute path."""

    def __init__(self, sandbox_id: str):
        self._id = sandbox_id

    async def _op(self, op: str, path, **fields):
        return await file_op(self._id, _NEW_API, SandboxFilesystemError, op, path, **fields)

    @_sync.twin
    async def read_bytes(self, remote_path: str) -> bytes:
        return await read_all(self._id, _NEW_API, SandboxFilesystemError, remote_path)

    @_sync.twin
    async def read_text(self, remote_path: str) -> str:
        return (await self.read_bytes.aio(remote_path)).decode()

    @_sync.twin
    async def write_bytes(self, data, remote_path: str) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("data must be bytes-like")
        await write_all(self._id, _NEW_API, SandboxFilesystemError, remote_path, bytes(data))

    @_sync.twin
    async def write_text(self, data: str, remote_path: str) -> None:
        if not isinstance(data, str):
            raise TypeError("data must be str")
        await write_all(self._id, _NEW_API, SandboxFilesystemError, remote_path,
                        data.encode())

    @_sync.twin
    async def copy_from_local(self, local_path, remote_path: str) -> None:
        with open(local_path, "rb") as f:   # Python's errors for the local side, as Modal
            first = True
            while True:
                chunk = f.read(WRITE_CHUNK)
                if chunk or first:
                    await self._op("write", remote_path, data=chunk, append=not first)
                first = False
                if len(chunk) < WRITE_CHUNK:
                    return

    @_sync.twin
    async def copy_to_local(self, remote_path: str, local_path) -> None:
        offset = 0
        with open(local_path, "wb") as f:
            while True:
                result = await self._op("read", remote_path, offset=offset)
                f.write(result.data)
                offset += len(result.data)
                if result.eof:
                    return

    @_sync.twin
    async def list_files(self, remote_path: str) -> list[FileInfo]:
        return [_info(e) for e in (await self._op("ls", remote_path)).entries]

    @_sync.twin
    async def stat(self, remote_path: str) -> FileInfo:
        return _info((await self._op("stat", remote_path)).entries[0])

    @_sync.twin
    async def make_directory(self, remote_path: str, *, create_parents: bool = True) -> None:
        await self._op("mkdir", remote_path, parents=create_parents)

    @_sync.twin
    async def remove(self, remote_path: str, *, recursive: bool = False) -> None:
        await self._op("rm", remote_path, recursive=recursive)


# ---------------------------------------------------------------- the older API

async def old_op(sandbox_id: str, op: str, path, **fields):
    return await file_op(sandbox_id, _OLD_API, FilesystemExecutionError, op, path, **fields)


class FileIO:
    """`sb.open(path, mode)`: a file in the sandbox. Reads and writes go through to the
    sandbox at once (flush() has nothing left to send); text modes decode UTF-8."""

    def __init__(self, sandbox_id: str, path: str, mode: str):
        if not mode or any(c not in "rwaxb+t" for c in mode) or \
                sum(mode.count(c) for c in "rwax") != 1:
            raise ValueError(f"invalid mode: {mode!r}")
        self._id, self._path, self._mode = sandbox_id, path, mode
        self._binary = "b" in mode
        self._pos = 0
        self._closed = False

    async def _open(self):
        m = self._mode
        if "r" in m:
            st = await old_op(self._id, "stat", self._path)
            if st.entries[0].type == "directory":
                raise IsADirectoryError(f"{self._path}: Is a directory")
        elif "x" in m:
            try:
                await old_op(self._id, "stat", self._path)
            except FileNotFoundError:
                pass
            else:
                raise FileExistsError(f"{self._path}: File exists")
        if "w" in m or "x" in m:
            await old_op(self._id, "write", self._path, data=b"")
        elif "a" in m:
            await old_op(self._id, "write", self._path, data=b"", append=True)
            self._pos = (await old_op(self._id, "stat", self._path)).entries[0].size
        return self

    def _check(self, want: str):
        if self._closed:
            raise ValueError("I/O operation on closed file")
        if want == "r" and not ("r" in self._mode or "+" in self._mode):
            raise OSError("not readable: the file was opened for writing")
        if want == "w" and not any(c in self._mode for c in "wax+"):
            raise OSError("not writable: the file was opened for reading")

    @_sync.twin
    async def read(self, n: int | None = None):
        self._check("r")
        if n is None or n < 0:
            data = await read_all_from(self._id, self._path, self._pos)
        else:
            result = await old_op(self._id, "read", self._path, offset=self._pos, length=n)
            data = result.data
        self._pos += len(data)
        return data if self._binary else data.decode()

    @_sync.twin
    async def readline(self):
        self._check("r")
        rest = await read_all_from(self._id, self._path, self._pos)
        line = rest[:rest.find(b"\n") + 1] if b"\n" in rest else rest
        self._pos += len(line)
        return line if self._binary else line.decode()

    @_sync.twin
    async def readlines(self):
        return [line async for line in self._lines()]

    async def _lines(self):
        while True:
            line = await self.readline.aio()
            if not line:
                return
            yield line

    @_sync.twin
    async def write(self, data) -> None:
        self._check("w")
        if isinstance(data, str):
            if self._binary:
                raise TypeError("a bytes-like object is required, not 'str'")
            data = data.encode()
        data = bytes(data)
        if "a" in self._mode:
            await write_all(self._id, _OLD_API, FilesystemExecutionError, self._path, data,
                            append=True)
        else:
            for start in range(0, len(data), WRITE_CHUNK):
                await old_op(self._id, "write", self._path, data=data[start:start + WRITE_CHUNK],
                             offset=self._pos + start, at_offset=True)
        self._pos += len(data)

    @_sync.twin
    async def flush(self) -> None:
        self._check("")

    def seek(self, offset: int, whence: int = 0) -> int:
        self._check("")
        if whence == 0:
            self._pos = offset
        elif whence == 1:
            self._pos += offset
        else:
            size = _sync.run(old_op(self._id, "stat", self._path)).entries[0].size
            self._pos = size + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    @_sync.twin
    async def close(self) -> None:
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close.aio()


async def read_all_from(sandbox_id: str, path: str, offset: int) -> bytes:
    parts = []
    while True:
        result = await old_op(sandbox_id, "read", path, offset=offset)
        parts.append(result.data)
        offset += len(result.data)
        if result.eof:
            return b"".join(parts)
