"""How the gateway reaches a web container: a Unix socket the container made in its web
directory (`RunDir.web_dir`), which nothing but the server can enter.

The container chooses the socket's name and owns the directory's contents, so the name
must be a plain file name, and the file is opened without following links and checked to
be a socket before the gateway connects to it (through its open handle): a container
cannot point the gateway at another container's socket, or at any other on the host.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import stat
from pathlib import Path


async def connect(loop: asyncio.AbstractEventLoop, web_dir: Path, name: str) -> socket.socket:
    """A connected socket to `name` in `web_dir`; OSError when there is none."""
    if not name or "/" in name or name in (".", ".."):
        raise OSError(errno.EINVAL, f"the container named its socket {name!r}")
    dir_fd = os.open(web_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    try:
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            raise OSError(errno.ENOTSOCK, f"{name!r} in the container's web directory is "
                                          "not a socket")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, f"/proc/self/fd/{fd}")
        except BaseException:
            sock.close()
            raise
        return sock
    finally:
        os.close(fd)
