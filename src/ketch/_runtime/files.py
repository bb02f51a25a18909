"""A sandbox's file operations, run by its supervisor inside the container (so every path
is the container's own view), answered as a `SandboxFileResult` with an error kind the SDK
turns into the exception Modal raises."""

from __future__ import annotations

import errno
import grp
import os
import pwd
import shutil
import stat

from ..proto import ketch_pb2 as pb

READ_CHUNK = 4 * 1024 * 1024   # bytes per read answer; the SDK asks again for more

_KINDS = {errno.ENOENT: "not_found", errno.EISDIR: "is_a_directory",
          errno.ENOTDIR: "not_a_directory", errno.EACCES: "permission",
          errno.EPERM: "permission", errno.EEXIST: "exists", errno.ENOTEMPTY: "not_empty"}


def run(op: pb.SandboxFileOp) -> pb.SandboxFileResult:
    result = pb.SandboxFileResult(op_id=op.op_id)
    try:
        _OPS[op.op](op, result)
    except KeyError:
        result.error, result.message = "other", f"unknown file operation {op.op!r}"
    except OSError as exc:
        result.error = _KINDS.get(exc.errno, "other")
        result.message = f"{op.path}: {exc.strerror or exc}"
    return result


def _read(op, result):
    with open(op.path, "rb") as f:
        f.seek(op.offset)
        want = min(op.length or READ_CHUNK, READ_CHUNK)
        result.data = f.read(want)
        result.eof = len(result.data) < want or f.read(1) == b""


def _write(op, result):
    if os.path.isdir(op.path):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", op.path)
    if op.at_offset:
        with open(op.path, "r+b") as f:
            f.seek(op.offset)
            f.write(op.data)
        return
    with open(op.path, "ab" if op.append else "wb") as f:
        f.write(op.data)


def _entry(path: str) -> pb.SandboxFileEntry:
    st = os.lstat(path)
    kind = "directory" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) \
        else "symlink" if stat.S_ISLNK(st.st_mode) else "other"
    return pb.SandboxFileEntry(path=path, type=kind, size=st.st_size,
                               mode=stat.S_IMODE(st.st_mode), mtime=st.st_mtime,
                               owner=_name(pwd.getpwuid, st.st_uid),
                               group=_name(grp.getgrgid, st.st_gid),
                               symlink_target=os.readlink(path) if kind == "symlink" else "")


def _name(lookup, number: int) -> str:
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def _ls(op, result):
    names = sorted(os.listdir(op.path))
    result.entries.extend(_entry(os.path.join(op.path, n)) for n in names)


def _stat(op, result):
    result.entries.append(_entry(op.path))


def _mkdir(op, result):
    if op.parents:  # idempotent, as Modal's make_directory(create_parents=True)
        os.makedirs(op.path, exist_ok=True)
    else:
        os.mkdir(op.path)


def _rm(op, result):
    st = os.lstat(op.path)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(op.path)
    elif op.recursive:
        shutil.rmtree(op.path)
    else:
        os.rmdir(op.path)


_OPS = {"read": _read, "write": _write, "ls": _ls, "stat": _stat, "mkdir": _mkdir,
        "rm": _rm}
