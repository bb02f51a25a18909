"""Relaying bytes between two connected sockets inside the kernel.

Each direction has a pipe: splice(2) moves what a readable socket holds into its pipe and
the pipe into the other socket, so the bytes never enter this process's memory and each
message costs two system calls, as a read and a write would. A destination that cannot
take more stops its source's reader until it can (back pressure); an end of stream is
passed on as a half-close (an HTTP client that shuts its write side still gets its answer).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket

PIPE_BYTES = 1024 * 1024          # per direction (the kernel's default pipe-max-size)
SOCKET_BUFFER = 4 * 1024 * 1024
_FLAGS = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK


def tune(sock: socket.socket):
    """Large socket buffers, and no Nagle delay on TCP."""
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Splice:
    def __init__(self, loop: asyncio.AbstractEventLoop, a: socket.socket, b: socket.socket):
        self.loop = loop
        self.socks = (a, b)
        self.done = loop.create_future()
        self.pipes: list[list[int]] = []
        for _ in range(2):
            r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
            except OSError:
                pass   # a smaller pipe only means more calls
            self.pipes.append([r, w, 0])   # read end, write end, bytes it holds
        self.ended = [False, False]
        for i in (0, 1):
            loop.add_reader(self.socks[i].fileno(), self._readable, i)

    def _readable(self, i: int):
        src, dst, pipe = self.socks[i], self.socks[1 - i], self.pipes[i]
        try:
            n = os.splice(src.fileno(), pipe[1], PIPE_BYTES, flags=_FLAGS)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            n = 0   # reset: as good as an end
        if n == 0:
            self.loop.remove_reader(src.fileno())
            self._end(i)
            return
        pipe[2] += n
        if not self._drain(i):
            self.loop.remove_reader(src.fileno())
            self.loop.add_writer(dst.fileno(), self._writable, i)

    def _drain(self, i: int) -> bool:
        """Empties direction i's pipe into its destination; False when that would block."""
        dst, pipe = self.socks[1 - i], self.pipes[i]
        while pipe[2]:
            try:
                pipe[2] -= os.splice(pipe[0], dst.fileno(), pipe[2], flags=_FLAGS)
            except (BlockingIOError, InterruptedError):
                return False
            except OSError:   # the destination is gone: so is the connection
                self._close()
                return True
        return True

    def _writable(self, i: int):
        if self._drain(i) and not self.done.done():
            self.loop.remove_writer(self.socks[1 - i].fileno())
            self.loop.add_reader(self.socks[i].fileno(), self._readable, i)

    def _end(self, i: int):
        self.ended[i] = True
        try:
            self.socks[1 - i].shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if all(self.ended):
            self._close()

    def _close(self):
        if self.done.done():
            return
        for sock in self.socks:
            self.loop.remove_reader(sock.fileno())
            self.loop.remove_writer(sock.fileno())
            sock.close()
        for r, w, _ in self.pipes:
            os.close(r)
            os.close(w)
        self.done.set_result(None)


async def splice(a: socket.socket, b: socket.socket, first: bytes = b""):
    """Relays between two connected sockets until both directions have ended, then closes
    both; `first` is what `a` sent before (it goes to `b` first)."""
    loop = asyncio.get_running_loop()
    try:
        for sock in (a, b):
            sock.setblocking(False)
            tune(sock)
        if first:
            await loop.sock_sendall(b, first)
    except OSError:
        a.close()
        b.close()
        return
    await _Splice(loop, a, b).done
