"""The disk side of volume requests: reading, listing and copying files beneath a
volume's directory through descriptors checked to stay inside it (see beneath), so a
link a container planted, or swapped in while a request runs, never leads outside."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from ..proto import ketch_pb2 as pb
from .beneath import SPECIAL_BITS, Escape, open_dir, open_dir_inside, open_regular_inside

FILE, DIRECTORY, SYMLINK = 1, 2, 3


def escaped(path: str) -> ValueError:
    return ValueError(f"volume path {path!r} leads through a symlink to outside the volume; "
                      "that is not allowed")


def read_at(root: Path, full: Path, path: str, offset: int, length: int
             ) -> tuple[bytes, int]:
    """Up to `length` bytes of the file at `offset`, and the file's size."""
    try:
        # Checked on what was opened, before it is opened for reading: a symlink swapped
        # in since the path was resolved cannot lead the read outside the volume, nor to
        # a device or FIFO.
        fd = open_regular_inside(root, full)
    except FileNotFoundError:
        raise LookupError(f"no such file in the volume: {path!r}") from None
    except IsADirectoryError:
        raise ValueError(f"{path!r} is a directory; read_file reads files") from None
    except Escape:
        raise escaped(path) from None
    try:
        size = os.fstat(fd).st_size
        return os.pread(fd, length, offset), size
    finally:
        os.close(fd)


def _entry(rel: str, st: os.stat_result) -> pb.VolumeEntry:
    kind = DIRECTORY if stat.S_ISDIR(st.st_mode) else SYMLINK if stat.S_ISLNK(st.st_mode) \
        else FILE
    return pb.VolumeEntry(path=rel, type=kind, size=st.st_size, mtime=st.st_mtime)


def listdir(root: Path, full: Path, recursive: bool) -> list[pb.VolumeEntry]:
    """Lists through descriptors checked to be inside the volume, so a link swapped in
    since the path was resolved cannot show what lies outside."""
    rel = str(full.relative_to(root))
    try:
        parent = open_dir_inside(root, full.parent if full != root else root)
    except Escape:
        raise escaped(rel) from None
    try:
        if full != root:
            st = os.stat(full.name, dir_fd=parent, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                return [_entry(rel, st)]
            fd = os.open(full.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                         dir_fd=parent)
        else:
            fd, parent = parent, -1
    finally:
        if parent >= 0:
            os.close(parent)
    out = []

    def add(dirpath: str, name: str, dir_fd: int):
        out.append(_entry(os.path.normpath(os.path.join(rel, dirpath, name)),
                          os.stat(name, dir_fd=dir_fd, follow_symlinks=False)))
    try:
        if recursive:
            for dirpath, dirs, files, dir_fd in os.fwalk(".", dir_fd=fd):
                for name in sorted(dirs) + sorted(files):
                    add(dirpath, name, dir_fd)
        else:
            for name in sorted(os.listdir(fd)):
                add(".", name, fd)
    finally:
        os.close(fd)
    return out


def copy(root: Path, sources: list[Path], dst: Path, into: bool):
    for src in sources:
        target = dst / src.name if into else dst
        if src.is_dir() and not src.is_symlink():
            for dirpath, dirs, files in os.walk(src):
                here = target / os.path.relpath(dirpath, src)
                make_dir(root, here)
                links = [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]
                for name in files + links:  # symlinks are copied as symlinks
                    _copy_file(root, Path(dirpath) / name, here / name)
        else:
            _copy_file(root, src, target)


def make_dir(root: Path, path: Path):
    try:
        os.close(open_dir(root, list(path.relative_to(root).parts), create=True))
    except Escape:
        raise escaped(str(path.relative_to(root))) from None


def _copy_file(root: Path, src: Path, dst: Path):
    """Copies one file through descriptors opened without following links at the
    destination: a link planted there by a container is replaced, never written through.
    setuid and setgid bits are not copied."""
    try:
        parent = open_dir(root, list(dst.parent.relative_to(root).parts), create=True)
    except Escape:
        raise escaped(str(dst.relative_to(root))) from None
    try:
        try:
            if stat.S_ISLNK(os.stat(dst.name, dir_fd=parent, follow_symlinks=False).st_mode):
                os.unlink(dst.name, dir_fd=parent)
        except FileNotFoundError:
            pass
        if src.is_symlink():
            os.symlink(os.readlink(src), dst.name, dir_fd=parent)
            return
        try:
            sfd = open_regular_inside(root, src)
        except Escape:
            raise escaped(str(src.relative_to(root))) from None
        with os.fdopen(sfd, "rb") as fsrc:
            st = os.fstat(sfd)
            fd = os.open(dst.name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW |
                         os.O_CLOEXEC, 0o644, dir_fd=parent)
            with os.fdopen(fd, "wb") as fdst:
                shutil.copyfileobj(fsrc, fdst, 1024 * 1024)
                os.fchmod(fd, stat.S_IMODE(st.st_mode) & ~SPECIAL_BITS)
                os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
    finally:
        os.close(parent)
