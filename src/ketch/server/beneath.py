"""Opening files beneath a directory that containers can change (a volume) without ever
following a link out of it.

Each component is opened relative to its parent's descriptor with O_NOFOLLOW, so a
symlink planted anywhere on the way, even one swapped in while a request runs, fails the
open instead of leading elsewhere; the last step (create, rename, unlink) happens
relative to the parent's descriptor too. Reads, which may follow links that stay inside
the volume, open the file with O_PATH first (which opens nothing: no device or FIFO is
touched) and go on only if it is a regular file inside the root.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID   # never kept on files written for a client


class Escape(ValueError):
    """A path that would lead outside its root (through a link or '..')."""


def components(path: str) -> list[str]:
    """The parts of a relative path ("/a/b" and "a/b" alike); refuses NUL and '..'."""
    if "\0" in path:
        raise ValueError(f"path {path!r} contains a NUL byte")
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise Escape(f"path {path!r} uses '..'; paths must stay inside the volume, e.g. "
                     "'models/weights.bin'")
    return parts


def open_dir(root: Path | str, parts: list[str], create: bool = False) -> int:
    """A descriptor of the directory root/parts, made (0755) where missing if `create`;
    raises Escape where a component is a symlink or not a directory."""
    fd = os.open(root, _DIR)
    try:
        for part in parts:
            if create:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                nxt = os.open(part, _DIR, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise Escape(f"{'/'.join(parts)!r} leads through a symlink or a file; "
                                 "that is not allowed") from None
                raise
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_dir_inside(root: Path | str, full: Path | str) -> int:
    """A descriptor of the directory at `full` (links followed) only if it is inside
    `root`; raises Escape otherwise. (Opening a directory touches nothing else.)"""
    fd = os.open(full, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    if not _inside(root, fd):
        os.close(fd)
        raise Escape(f"{full} leads through a symlink to outside the volume; that is not "
                     "allowed")
    return fd


def _inside(root: Path | str, fd: int) -> bool:
    real, top = os.readlink(f"/proc/self/fd/{fd}"), os.path.realpath(root)
    return real == top or real.startswith(top + os.sep)


def open_regular_inside(root: Path | str, full: Path | str) -> int:
    """A read descriptor of the regular file at `full` (links followed) only if it is
    inside `root`; raises Escape, IsADirectoryError or FileNotFoundError otherwise."""
    pfd = os.open(full, os.O_PATH | os.O_CLOEXEC)
    try:
        if not _inside(root, pfd):
            raise Escape(f"{full} leads through a symlink to outside the volume; that is not "
                         "allowed")
        mode = os.fstat(pfd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(full))
        if not stat.S_ISREG(mode):
            raise Escape(f"{full} is not a regular file")
        return os.open(f"/proc/self/fd/{pfd}", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(pfd)


def strip_special_bits(root: Path | str):
    """Takes setuid and setgid bits off every regular file under `root`, never following
    a link: directories are walked by descriptor (os.fwalk), and each file is reached as
    an O_PATH descriptor and changed through it."""
    for _, _, files, dir_fd in os.fwalk(root, follow_symlinks=False):
        for name in files:
            try:
                fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            except OSError:
                continue   # gone meanwhile
            try:
                mode = os.fstat(fd).st_mode
                if stat.S_ISREG(mode) and mode & SPECIAL_BITS:
                    os.chmod(f"/proc/self/fd/{fd}", stat.S_IMODE(mode) & ~SPECIAL_BITS)
            finally:
                os.close(fd)
