"""Relaying bytes between two connected sockets inside the kernel.

Each direction has a thread of its own and a pipe: splice(2) moves what the source socket
holds into the pipe and the pipe into the destination, so the bytes never enter this
process's memory. The threads block in splice rather than wait on the event loop: a
message then costs its two system calls and one wakeup, not an epoll round and the loop's
callbacks as well (a node's relays carry every frame its containers exchange with the
server, and every web request to them; bench/relay.py measures the difference). A
destination that cannot take more blocks its direction's thread until it can (back
pressure); an end of stream is passed on as a half-close (an HTTP client that shuts its
write side still gets its answer); a reset on either side ends both directions.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
import threading

PIPE_BYTES = 1024 * 1024          # per direction (the kernel's default pipe-max-size)
SOCKET_BUFFER = 4 * 1024 * 1024
_FLAGS = os.SPLICE_F_MOVE


def tune(sock: socket.socket):
    """Large socket buffers, and no Nagle delay on TCP."""
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _shutdown(sock: socket.socket, how: int):
    try:
        sock.shutdown(how)
    except OSError:
        pass   # already gone


class _Splice:
    """Two directions, each a thread; the last one to end closes both sockets."""

    def __init__(self, loop: asyncio.AbstractEventLoop, a: socket.socket, b: socket.socket,
                 first: bytes):
        self.loop = loop
        self.socks = (a, b)
        self.first = first
        self.done = loop.create_future()
        self.running = 2
        self.lock = threading.Lock()
        for i in (0, 1):
            threading.Thread(target=self._direction, args=(i,), daemon=True,
                             name=f"ketch-splice-{i}").start()

    def _direction(self, i: int):
        src, dst = self.socks[i], self.socks[1 - i]
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            try:
                fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
            except OSError:
                pass   # a smaller pipe only means more calls
            if i == 0 and self.first:
                dst.sendall(self.first)
            while True:
                n = os.splice(src.fileno(), w, PIPE_BYTES, flags=_FLAGS)
                if n == 0:
                    break
                while n:
                    n -= os.splice(r, dst.fileno(), n, flags=_FLAGS)
            _shutdown(dst, socket.SHUT_WR)
        except OSError:   # a reset, or the destination is gone: so is the connection,
            for sock in self.socks:   # and the other direction wakes up to end too
                _shutdown(sock, socket.SHUT_RDWR)
        finally:
            os.close(r)
            os.close(w)
            self._ended()

    def _ended(self):
        with self.lock:
            self.running -= 1
            if self.running:
                return
        for sock in self.socks:
            sock.close()
        try:
            self.loop.call_soon_threadsafe(self._finish)
        except RuntimeError:
            pass   # the loop is closed: nobody waits any more

    def _finish(self):
        if not self.done.done():
            self.done.set_result(None)


async def splice(a: socket.socket, b: socket.socket, first: bytes = b""):
    """Relays between two connected sockets until both directions have ended, then closes
    both; `first` is what `a` sent before (it goes to `b` first)."""
    loop = asyncio.get_running_loop()
    try:
        for sock in (a, b):
            sock.setblocking(True)
            tune(sock)
    except OSError:
        a.close()
        b.close()
        return
    await asyncio.shield(_Splice(loop, a, b, first).done)
