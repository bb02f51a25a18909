"""An interactive app's container (`ketch run -i`): its stdin is what the app's client
types, and what it writes to stdout and stderr also goes to that client's terminal as it
is written (partial lines too: a `(Pdb) ` prompt shows before its newline), besides the
app's log. So `input()` and `breakpoint()` in the user's code talk to the person at the
terminal. Sync user code runs in worker threads; a read waits there for the server.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import threading

from .. import _wire
from ..proto import ketch_pb2 as pb

READ_BYTES = 64 * 1024


class RemoteStdin(io.TextIOBase):
    """sys.stdin: lines typed at the app's client terminal."""

    def __init__(self, conn: _wire.FrameProtocol, loop: asyncio.AbstractEventLoop):
        self._conn, self._loop = conn, loop
        self._buffer = b""
        self._eof = False
        self._lock = threading.Lock()

    @property
    def encoding(self):
        return "utf-8"

    def readable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return True   # a person types here: code that asks "interactive?" gets yes

    def fileno(self) -> int:
        raise io.UnsupportedOperation("stdin of an interactive ketch container is no file")

    def _fill(self) -> bool:
        """Waits for more typed input; False at its end."""
        if self._eof:
            return False
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:   # no loop in this thread: a worker's, as it should be
            on_loop = False
        if on_loop:
            raise RuntimeError("reading stdin from async code would block the container's "
                               "event loop; read it in a sync function")
        try:
            reply = asyncio.run_coroutine_threadsafe(self._conn.request(
                terminal_read=pb.TerminalRead(max_bytes=READ_BYTES)), self._loop).result()
        except (RuntimeError, _wire.ConnectionLost, ConnectionError):
            self._eof = True   # the container is leaving: its stdin has ended
            return False
        data = reply.terminal_data
        if data.eof and not data.data:
            self._eof = True
            return False
        self._buffer += data.data
        return True

    def readline(self, size: int | None = -1) -> str:
        with self._lock:
            while b"\n" not in self._buffer and self._fill():
                pass
            end = self._buffer.find(b"\n") + 1 or len(self._buffer)
            if size is not None and 0 <= size < end:
                end = size
            line, self._buffer = self._buffer[:end], self._buffer[end:]
            return line.decode("utf-8", "replace")

    def read(self, size: int | None = -1) -> str:
        with self._lock:
            while (size is None or size < 0 or len(self._buffer) < size) and self._fill():
                pass
            end = len(self._buffer) if size is None or size < 0 else size
            data, self._buffer = self._buffer[:end], self._buffer[end:]
            return data.decode("utf-8", "replace")


class TerminalOutput:
    """Wraps sys.stdout or sys.stderr: each write goes on to the stream (the app's log)
    and, as it is, to the app's client terminal."""

    def __init__(self, stream, fd: int, conn: _wire.FrameProtocol,
                 loop: asyncio.AbstractEventLoop):
        self._stream, self._fd, self._conn, self._loop = stream, fd, conn, loop

    def write(self, text: str) -> int:
        n = self._stream.write(text)
        if text:
            frame = pb.Frame(terminal_data=pb.TerminalData(
                fd=self._fd, data=text.encode("utf-8", "replace")))
            try:
                self._loop.call_soon_threadsafe(self._conn.send, frame)
            except RuntimeError:   # the container is leaving: the log has the line
                pass
        return n

    def isatty(self) -> bool:
        return True

    def __getattr__(self, name):
        return getattr(self._stream, name)


def attach(conn: _wire.FrameProtocol, loop: asyncio.AbstractEventLoop):
    os.environ["KETCH_INTERACTIVE"] = "1"   # ketch.interact() asks
    sys.stdin = RemoteStdin(conn, loop)
    sys.stdout = TerminalOutput(sys.stdout, 1, conn, loop)
    sys.stderr = TerminalOutput(sys.stderr, 2, conn, loop)
