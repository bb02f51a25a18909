"""A pseudo-terminal for an exec with pty=True: the process gets the terminal's child end
as its controlling terminal (so Ctrl-C from the other side is SIGINT to its foreground
group, and it sees its window size); the supervisor reads and writes the parent end."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import pty
import struct
import termios


class Terminal:
    def __init__(self):
        self.parent, self.child = pty.openpty()
        self._writer: asyncio.WriteTransport | None = None

    def take_control(self):
        """preexec_fn: a session of its own, with the terminal as its controlling one."""
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    def started(self):
        """The child has its end; this side closes its copy so EOF comes when it exits."""
        os.close(self.child)

    async def reader(self) -> asyncio.StreamReader:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1024 * 1024)
        await loop.connect_read_pipe(lambda: _TerminalProtocol(reader),
                                     os.fdopen(os.dup(self.parent), "rb", 0))
        self._writer, _ = await loop.connect_write_pipe(
            asyncio.Protocol, os.fdopen(os.dup(self.parent), "wb", 0))
        return reader

    async def write(self, data: bytes):
        if data and self._writer is not None and not self._writer.is_closing():
            self._writer.write(data)

    def resize(self, rows: int, cols: int):
        fcntl.ioctl(self.parent, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def close(self):
        if self._writer is not None:
            self._writer.close()
        try:
            os.close(self.parent)
        except OSError:
            pass


class _TerminalProtocol(asyncio.StreamReaderProtocol):
    """A terminal whose last writer closed reads as EIO: that is its end, after what it
    wrote. (Passed on as an error, the reader would raise before handing over the bytes it
    still holds, and a short command's output was lost.)"""

    def connection_lost(self, exc):
        if isinstance(exc, OSError) and exc.errno == errno.EIO:
            exc = None
        super().connection_lost(exc)
