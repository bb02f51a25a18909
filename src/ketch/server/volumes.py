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
import re
import shutil
import stat
import sys
from pathlib import Path

from ..proto import ketch_pb2 as pb
from . import volume_files
from .beneath import components, open_dir, strip_special_bits
from .objects import ObjectsService
from .runtime import Mount, Runtime

MAX_READ = 8 * 1024 * 1024
MAX_ENTRIES = 200_000           # per listing, so a reply stays under the frame limit
_UPLOAD_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")   # no path separator, no dot
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
        parts = components(path)
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
                str(self.data_dir)]
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
                      read_only=m.read_only, object_id=m.volume_id)
                for m in spec.volumes if self.objects.store.by_id(m.volume_id) is not None]

    async def commit(self, object_id: str):
        """Volume.commit(): flushes the volume's files to disk."""
        self.objects.get(object_id, "volume")
        await self._flush(object_id)

    async def _flush(self, object_id: str):
        await asyncio.get_running_loop().run_in_executor(None, _syncfs, self.dir(object_id))

    def commit_after_exit(self, spec: pb.FunctionSpec):
        """Flushes the volumes a container wrote, and takes setuid and setgid bits off
        what it left there (its mount was nosuid; the host's copy must not be either)."""
        loop = asyncio.get_running_loop()
        for mount in spec.volumes:
            if self.objects.store.by_id(mount.volume_id) is not None and not mount.read_only:
                loop.run_in_executor(None, strip_special_bits, self.dir(mount.volume_id))
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
        elif up.owner_id != owner_id or up.object_id != msg.object_id:
            # Another connection's upload: its id is no key to it.
            raise ValueError(f"upload id {msg.upload_id!r} belongs to another upload; "
                             "give each upload an id of its own")
        write = up.written = asyncio.ensure_future(
            _write_after(up.written, up.fd, raw, up.size))
        up.size += sum(len(part) for part in raw)
        if msg.last:
            del self.uploads[msg.upload_id]
            return self._finish(up, msg.mode)
        return self._written(msg, up, write)

    def _start(self, owner_id: str, msg: pb.VolumeWrite) -> Upload:
        if not _UPLOAD_ID_RE.match(msg.upload_id):
            raise ValueError(f"upload id {msg.upload_id!r} is not 1-64 letters, "
                             "digits, '_' or '-'; "
                             "use the ketch SDK, which makes them")
        target = self.resolve(msg.object_id, msg.path, follow=False)
        if target == self.dir(msg.object_id) or target.is_dir():
            raise ValueError(f"volume path {msg.path!r} is a directory; give a file path")
        if not msg.force and os.path.lexists(target):
            raise ValueError(f"{msg.path!r} already exists in the volume; pass force=True "
                             "(CLI: --force) to replace it")
        tmp = self.tmp / f"{msg.upload_id}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o644)
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
            # Placed through descriptors opened without following links: a container may
            # have swapped a directory for a symlink while the upload ran. (A rename never
            # follows a link at the target.)
            root = self.root / up.object_id
            *parents, name = up.target.relative_to(root).parts
            parent = open_dir(root, parents, create=True)
            try:
                # Freeing a large replaced file takes a while; an open descriptor defers
                # that to its close, which a worker thread does.
                old = _open_file(name, parent)
                if old is not None:
                    _move_mtime_past(up.tmp, os.fstat(old).st_mtime_ns)
                os.replace(up.tmp, name, dst_dir_fd=parent)
            finally:
                os.close(parent)
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
            None, volume_files.listdir, self.dir(object_id), full, recursive)
        if len(entries) > MAX_ENTRIES:
            raise ValueError(f"{path!r} holds {len(entries)} entries, more than one listing "
                             f"returns ({MAX_ENTRIES}); list its subdirectories one by one")
        return entries

    async def read(self, object_id: str, path: str, offset: int, length: int
                   ) -> tuple[bytes, int]:
        """Up to `length` bytes (MAX_READ at most, 0 for that) at `offset`, and the size."""
        full = self.resolve(object_id, path)
        return await asyncio.get_running_loop().run_in_executor(
            None, volume_files.read_at, self.dir(object_id), full, path, offset,
            min(length or MAX_READ, MAX_READ))

    async def remove(self, object_id: str, path: str, recursive: bool):
        full = self.resolve(object_id, path, follow=False)
        if full == self.dir(object_id):
            raise ValueError("refusing to remove the volume's root; delete the volume instead "
                             "(`ketch volume delete NAME`)")
        *parents, name = full.relative_to(self.dir(object_id)).parts
        parent = open_dir(self.dir(object_id), parents)   # no link on the way is followed
        try:
            try:
                st = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                raise LookupError(f"no such file or directory in the volume: {path!r}") \
                    from None
            if stat.S_ISDIR(st.st_mode):
                if not recursive and _has_entries(name, parent):
                    raise ValueError(f"{path!r} is a non-empty directory; pass "
                                     "recursive=True (CLI: -r) to remove it with its contents")
                await asyncio.get_running_loop().run_in_executor(
                    None, lambda: shutil.rmtree(name, dir_fd=parent))
            else:
                os.unlink(name, dir_fd=parent)
        finally:
            os.close(parent)

    async def copy(self, object_id: str, src_paths: list[str], dst_path: str):
        if not src_paths:
            raise ValueError("copy_files needs at least one source path")
        sources = [self.resolve(object_id, p) for p in src_paths]
        for src, given in zip(sources, src_paths):
            if not os.path.lexists(src):
                raise LookupError(f"no such file or directory in the volume: {given!r}")
        dst = self.resolve(object_id, dst_path)
        into = dst.is_dir() or len(sources) > 1 or dst_path.endswith("/")
        await asyncio.get_running_loop().run_in_executor(None, volume_files.copy, self.dir(object_id),
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


def _open_file(name: str, dir_fd: int) -> int | None:
    try:
        return os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                       dir_fd=dir_fd)
    except OSError:
        return None  # none there, or a symlink


def _has_entries(name: str, dir_fd: int) -> bool:
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                 dir_fd=dir_fd)
    try:
        return bool(os.listdir(fd))
    finally:
        os.close(fd)


def _move_mtime_past(path: Path, old_ns: int):
    """A file that replaces another gets a later mtime, even within one tick of the kernel's
    coarse clock: (mtime, size) is how a copy of the volume on another node tells two
    versions of a file apart."""
    st = os.stat(path)
    if st.st_mtime_ns <= old_ns:
        os.utime(path, ns=(st.st_atime_ns, old_ns + 1000))


def _make_durable(fd: int, mode: int):
    try:
        if mode:
            os.fchmod(fd, mode & 0o777)
        os.fsync(fd)
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
