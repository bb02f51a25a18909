"""Volumes: directories of files kept by the server, mounted into containers and read or
written through the SDK and CLI.

Each volume is a directory under `<data dir>/volumes/`. A container that mounts it sees
that directory itself (bind-mounted by its runtime), so reading and writing inside a
container run at disk speed. Writes are visible to other containers at once, which is
stronger than Modal's model and so runs Modal code unchanged: `commit()` flushes the
volume to disk (and happens by itself when a container exits normally); `reload()` has
nothing to fetch.

Paths in requests are relative to the volume's root ("/a/b" and "a/b" name the same
file). A path with "..", or one that leads through a symlink to outside the volume, is
refused. Uploads arrive in chunks and are written to a temporary file that replaces the
target only once complete, so a file is never seen half-written; downloads are read in
chunks, so neither side ever holds a whole large file in memory. A chunk's bytes travel
as its frame's raw bytes (see _wire), and the disk reads and writes run in worker threads,
so the event loop only moves them along.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import stat
import sys
from pathlib import Path

from ..proto import ketch_pb2 as pb
from .objects import ObjectsService
from .runtime import Mount, Runtime

MAX_READ = 8 * 1024 * 1024
MAX_ENTRIES = 200_000           # per listing, so a reply stays under the frame limit
FILE, DIRECTORY, SYMLINK = 1, 2, 3
# Mount points that would hide what a container needs to run.
_SYSTEM_DIRS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc",
                "/sbin", "/sys", "/usr", "/var", "/run", "/tmp")


class Upload:
    __slots__ = ("fd", "tmp", "target", "owner_id", "object_id", "size", "written")

    def __init__(self, fd: int, tmp: Path, target: Path, owner_id: str, object_id: str):
        self.fd, self.tmp, self.target, self.owner_id = fd, tmp, target, owner_id
        self.object_id = object_id
        self.size = 0                               # bytes received: where the next chunk goes
        self.written: asyncio.Future | None = None  # done when all chunks so far are written


class VolumeService:
    def __init__(self, objects: ObjectsService, data_dir: Path, runtime: Runtime):
        self.objects = objects
        self.runtime = runtime
        self.data_dir = data_dir
        self.root = data_dir / "volumes"
        self.tmp = self.root / ".uploads"
        shutil.rmtree(self.tmp, ignore_errors=True)  # uploads cut short by a restart
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.uploads: dict[str, Upload] = {}
        self.failed: set[str] = set()   # uploads whose later chunks must be refused
        self.objects.on_delete["volume"] = self._deleted

    # -- paths

    def dir(self, object_id: str) -> Path:
        path = self.root / object_id
        path.mkdir(exist_ok=True)
        return path

    def resolve(self, object_id: str, path: str, follow: bool = True) -> Path:
        """The host path of `path` inside the volume; refuses paths that leave it. With
        follow=False a symlink at the end is the link itself (to remove or replace it)."""
        self.objects.get(object_id, "volume")
        root = self.dir(object_id)
        if "\0" in path:
            raise ValueError(f"volume path {path!r} contains a NUL byte")
        parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
        if ".." in parts:
            raise ValueError(f"volume path {path!r} uses '..'; paths must stay inside the "
                             "volume, e.g. 'models/weights.bin'")
        full = root.joinpath(*parts)
        real = os.path.realpath(full if follow or not parts else full.parent)
        if real != str(root) and not real.startswith(str(root) + os.sep):
            raise ValueError(f"volume path {path!r} leads through a symlink to outside the "
                             "volume; that is not allowed")
        return full

    # -- deploy and launch

    def check_mounts(self, spec: pb.FunctionSpec, workspace: str):
        """Fails at deploy time when a mount cannot be provided (or names a volume of
        another workspace)."""
        if not spec.volumes:
            return
        why = self.runtime.mount_support()
        if why:
            raise ValueError(f"{spec.name}: volumes= cannot be mounted by the "
                             f"{self.runtime.name} runtime here: {why}")
        seen = set()
        keep = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(__file__)),
                str(self.data_dir), *spec.sys_path]
        for mount in spec.volumes:
            self.objects.get(mount.volume_id, "volume", workspace)
            path = os.path.normpath(mount.path)
            if not os.path.isabs(mount.path) or path == "/" or path in seen:
                raise ValueError(f"{spec.name}: volume mount path {mount.path!r} must be an "
                                 "absolute directory other than '/', used once")
            seen.add(path)
            for system in _SYSTEM_DIRS:
                if path == system or path.startswith(system + "/") or \
                        system.startswith(path + "/"):
                    raise ValueError(f"{spec.name}: a volume cannot be mounted at {path}: it "
                                     f"would hide {system}. Mount it at a path of its own, "
                                     "such as /data or /root/models")
            for needed in keep:
                needed = os.path.realpath(needed)
                if needed == path or needed.startswith(path + "/"):
                    raise ValueError(f"{spec.name}: a volume cannot be mounted at {path}: it "
                                     f"would hide {needed}, which containers need. Mount it "
                                     "at a path of its own, such as /data")
            if os.path.exists(path) and not os.path.isdir(path):
                raise ValueError(f"{spec.name}: volume mount path {path} is a file on this "
                                 "machine; choose a directory path")

    def mounts_for(self, spec: pb.FunctionSpec) -> list[Mount]:
        return [Mount(source=str(self.dir(m.volume_id)), target=os.path.normpath(m.path),
                      read_only=m.read_only)
                for m in spec.volumes if self.objects.store.by_id(m.volume_id) is not None]

    async def commit(self, object_id: str):
        """Volume.commit(): flushes the volume's files to disk."""
        self.objects.get(object_id, "volume")
        await self._flush(object_id)

    async def _flush(self, object_id: str):
        await asyncio.get_running_loop().run_in_executor(None, _syncfs, self.dir(object_id))

    def commit_after_exit(self, spec: pb.FunctionSpec):
        for mount in spec.volumes:
            if self.objects.store.by_id(mount.volume_id) is not None:
                asyncio.ensure_future(self._flush(mount.volume_id))

    async def size(self, object_id: str) -> int:
        return await asyncio.get_running_loop().run_in_executor(None, _du, self.dir(object_id))

    # -- lifetime

    def _deleted(self, object_id: str):
        path = self.root / object_id
        if path.exists():
            # Rename first so the name is free at once; remove the files in the background.
            doomed = self.tmp / f"deleted-{object_id}"
            os.rename(path, doomed)
            asyncio.get_running_loop().run_in_executor(None, shutil.rmtree, doomed, True)

    def owner_closed(self, owner_id: str):
        for upload_id, up in list(self.uploads.items()):
            if up.owner_id == owner_id:
                del self.uploads[upload_id]
                asyncio.ensure_future(self._discard(up))

    async def _discard(self, up: Upload):
        """Removes an unfinished upload's file, once no write to it is running."""
        if up.written is not None:
            await asyncio.wait([up.written])
        if up.fd >= 0:
            os.close(up.fd)
            up.fd = -1
        up.tmp.unlink(missing_ok=True)

    # -- uploads

    def write(self, owner_id: str, msg: pb.VolumeWrite, raw: list):
        """Takes one chunk, to be written in a worker thread once the chunks before it are
        (one writer per file: parallel writes only contend for its lock); returns an
        awaitable that is done when it is written or, for the last chunk, when the whole
        file is durable and in place. A chunk after a failed one fails too, so a cut-short
        upload never becomes a file."""
        if msg.upload_id in self.failed:
            if msg.last:
                self.failed.discard(msg.upload_id)
            raise ValueError(f"the upload of {msg.path!r} failed at an earlier chunk")
        up = self.uploads.get(msg.upload_id)
        if up is None:
            try:
                up = self._start(owner_id, msg)
            except Exception:
                if not msg.last:
                    self.failed.add(msg.upload_id)
                raise
        write = up.written = asyncio.ensure_future(
            _write_after(up.written, up.fd, raw, up.size))
        up.size += sum(len(part) for part in raw)
        if msg.last:
            del self.uploads[msg.upload_id]
            return self._finish(up, msg.mode)
        return self._written(msg, up, write)

    def _start(self, owner_id: str, msg: pb.VolumeWrite) -> Upload:
        target = self.resolve(msg.object_id, msg.path, follow=False)
        if target == self.dir(msg.object_id) or target.is_dir():
            raise ValueError(f"volume path {msg.path!r} is a directory; give a file path")
        if not msg.force and os.path.lexists(target):
            raise ValueError(f"{msg.path!r} already exists in the volume; pass force=True "
                             "(CLI: --force) to replace it")
        tmp = self.tmp / f"{msg.upload_id}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        up = self.uploads[msg.upload_id] = Upload(fd, tmp, target, owner_id, msg.object_id)
        return up

    async def _written(self, msg: pb.VolumeWrite, up: Upload, write: asyncio.Future):
        try:
            await write
        except BaseException:
            if self.uploads.get(msg.upload_id) is up:  # the first failure ends the upload
                del self.uploads[msg.upload_id]
                self.failed.add(msg.upload_id)
                asyncio.ensure_future(self._discard(up))
            raise

    async def _finish(self, up: Upload, mode: int):
        """Waits for the upload's other chunks, makes the file durable, then puts it in
        place."""
        loop = asyncio.get_running_loop()
        try:
            await up.written
            fd, up.fd = up.fd, -1  # _make_durable closes it, whatever happens
            await loop.run_in_executor(None, _make_durable, fd, mode)
            self.objects.get(up.object_id, "volume")  # deleted meanwhile: the file goes too
            # Checked again now: a container may have swapped a directory for a symlink
            # while the upload ran. (os.replace never follows a link at the target.)
            _make_dir(self.root / up.object_id, up.target.parent)
            # Freeing a large replaced file takes a while; an open descriptor defers that
            # to its close, which a worker thread does.
            old = _open_file(up.target)
            os.replace(up.tmp, up.target)
            if old is not None:
                loop.run_in_executor(None, os.close, old)
        except BaseException:
            await self._discard(up)
            raise

    # -- reading and changing files

    async def list_dir(self, object_id: str, path: str, recursive: bool
                       ) -> list[pb.VolumeEntry]:
        full = self.resolve(object_id, path)
        if not os.path.lexists(full):
            raise LookupError(f"no such file or directory in the volume: {path!r}")
        entries = await asyncio.get_running_loop().run_in_executor(
            None, _listdir, self.dir(object_id), full, recursive)
        if len(entries) > MAX_ENTRIES:
            raise ValueError(f"{path!r} holds {len(entries)} entries, more than one listing "
                             f"returns ({MAX_ENTRIES}); list its subdirectories one by one")
        return entries

    async def read(self, object_id: str, path: str, offset: int, length: int
                   ) -> tuple[bytes, int]:
        """Up to `length` bytes (MAX_READ at most, 0 for that) at `offset`, and the size."""
        full = self.resolve(object_id, path)
        return await asyncio.get_running_loop().run_in_executor(
            None, _read_at, self.dir(object_id), full, path, offset,
            min(length or MAX_READ, MAX_READ))

    async def remove(self, object_id: str, path: str, recursive: bool):
        full = self.resolve(object_id, path, follow=False)
        if full == self.dir(object_id):
            raise ValueError("refusing to remove the volume's root; delete the volume instead "
                             "(`ketch volume delete NAME`)")
        if not os.path.lexists(full):
            raise LookupError(f"no such file or directory in the volume: {path!r}")
        if full.is_dir() and not full.is_symlink():
            if not recursive and any(full.iterdir()):
                raise ValueError(f"{path!r} is a non-empty directory; pass recursive=True "
                                 "(CLI: -r) to remove it with its contents")
            await asyncio.get_running_loop().run_in_executor(None, shutil.rmtree, full)
        else:
            full.unlink()

    async def copy(self, object_id: str, src_paths: list[str], dst_path: str):
        if not src_paths:
            raise ValueError("copy_files needs at least one source path")
        sources = [self.resolve(object_id, p) for p in src_paths]
        for src, given in zip(sources, src_paths):
            if not os.path.lexists(src):
                raise LookupError(f"no such file or directory in the volume: {given!r}")
        dst = self.resolve(object_id, dst_path)
        into = dst.is_dir() or len(sources) > 1 or dst_path.endswith("/")
        await asyncio.get_running_loop().run_in_executor(None, _copy, self.dir(object_id),
                                                         sources, dst, into)


async def _write_after(before: asyncio.Future | None, fd: int, parts: list, offset: int):
    if before is not None:
        await before
    await asyncio.get_running_loop().run_in_executor(None, _write_at, fd, parts, offset)


def _write_at(fd: int, parts: list, offset: int):
    start = offset
    for part in parts:
        while part:
            n = os.pwrite(fd, part, offset)
            part, offset = part[n:], offset + n
    if _sync_file_range is not None:
        # Start writing the chunk to disk now, so the disk works while the rest arrives and
        # the final fsync has little left to wait for.
        _sync_file_range(fd, start, offset - start, _SYNC_FILE_RANGE_WRITE)


def _libc_sync_file_range():
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (AttributeError, OSError):
        return None  # not Linux: the final fsync writes everything
    fn.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    return fn


_sync_file_range = _libc_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def _open_file(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None  # none there, or a symlink


def _make_durable(fd: int, mode: int):
    try:
        if mode:
            os.fchmod(fd, mode & 0o777)
        os.fsync(fd)
    finally:
        os.close(fd)


def _inside(root: Path, path: str | Path) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top + os.sep)


def _escaped(path: str) -> ValueError:
    return ValueError(f"volume path {path!r} leads through a symlink to outside the volume; "
                      "that is not allowed")


def _read_at(root: Path, full: Path, path: str, offset: int, length: int
             ) -> tuple[bytes, int]:
    """Up to `length` bytes of the file at `offset`, and the file's size."""
    try:
        fd = os.open(full, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise LookupError(f"no such file in the volume: {path!r}") from None
    try:
        # Checked on what was opened: a symlink swapped in since the path was resolved
        # cannot lead the read outside the volume.
        if not _inside(root, f"/proc/self/fd/{fd}"):
            raise _escaped(path)
        size = os.fstat(fd).st_size
        return os.pread(fd, length, offset), size
    except IsADirectoryError:
        raise ValueError(f"{path!r} is a directory; read_file reads files") from None
    finally:
        os.close(fd)


def _syncfs(path: Path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if ctypes.CDLL(None, use_errno=True).syncfs(fd) != 0:
            os.sync()
    except (AttributeError, OSError):
        os.sync()
    finally:
        os.close(fd)


def _du(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:
                pass
    return total


def _entry(rel: str, st: os.stat_result) -> pb.VolumeEntry:
    kind = DIRECTORY if stat.S_ISDIR(st.st_mode) else SYMLINK if stat.S_ISLNK(st.st_mode) \
        else FILE
    return pb.VolumeEntry(path=rel, type=kind, size=st.st_size, mtime=st.st_mtime)


def _listdir(root: Path, full: Path, recursive: bool) -> list[pb.VolumeEntry]:
    if not full.is_dir() or full.is_symlink():
        return [_entry(str(full.relative_to(root)), full.lstat())]
    out = []
    if recursive:
        for dirpath, dirs, files in os.walk(full):
            for name in sorted(dirs) + sorted(files):
                path = Path(dirpath) / name
                out.append(_entry(str(path.relative_to(root)), path.lstat()))
    else:
        for item in sorted(os.scandir(full), key=lambda e: e.name):
            out.append(_entry(str(Path(item.path).relative_to(root)),
                              item.stat(follow_symlinks=False)))
    return out


def _copy(root: Path, sources: list[Path], dst: Path, into: bool):
    for src in sources:
        target = dst / src.name if into else dst
        if src.is_dir() and not src.is_symlink():
            for dirpath, dirs, files in os.walk(src):
                here = target / os.path.relpath(dirpath, src)
                _make_dir(root, here)
                links = [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]
                for name in files + links:  # symlinks are copied as symlinks
                    _copy_file(root, Path(dirpath) / name, here / name)
        else:
            _make_dir(root, target.parent)
            _copy_file(root, src, target)


def _make_dir(root: Path, path: Path):
    # Checked before (mkdir follows links in the parents) and after (a race).
    for _ in range(2):
        if not _inside(root, path):
            raise _escaped(str(path.relative_to(root)))
        path.mkdir(parents=True, exist_ok=True)


def _copy_file(root: Path, src: Path, dst: Path):
    """Copies one file without following symlinks at the destination: a link planted
    there by a container is replaced, never written through."""
    if not _inside(root, dst.parent):
        raise _escaped(str(dst.relative_to(root)))
    if dst.is_symlink():
        dst.unlink()
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
        return
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o644)
    with open(src, "rb") as fsrc, os.fdopen(fd, "wb") as fdst:
        shutil.copyfileobj(fsrc, fdst, 1024 * 1024)
    shutil.copystat(src, dst, follow_symlinks=False)
