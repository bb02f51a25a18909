"""Unix socket files: binding one at a path, and naming a path too long for a sockaddr_un
(deep data directories). Moved out of `_wire`, which re-exports both."""

from __future__ import annotations

import contextlib
import os
import socket
import stat

_SUN_PATH_MAX = 107  # sockaddr_un's path, less its NUL


@contextlib.contextmanager
def sun_path(path: str):
    """A name for the socket file `path` that fits a sockaddr_un: the path itself, or, when
    it is too long (deep data directories), the path through an open handle on its
    directory."""
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        yield path
        return
    fd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{os.path.basename(path)}"
    finally:
        os.close(fd)


def bind_unix(path: str, mode: int) -> socket.socket:
    """A Unix socket bound at `path` (a stale one there is replaced), chmod-ed to `mode`."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with sun_path(path) as name:
            sock.bind(name)
        os.chmod(path, mode)
    except BaseException:
        sock.close()
        raise
    return sock
