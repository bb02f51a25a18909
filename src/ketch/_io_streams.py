"""A sandbox process's streams as the SDK sees them: `StreamReader` for stdout and stderr
(read it all, or iterate: chunks as they come, or lines with bufsize=1), `StreamWriter`
for stdin (`write` buffers, `drain` sends).

A reader pulls from the server one chunk at a time; the server holds no more than a
window per stream and the process waits while it is full, so output of any size streams
through in bounded memory on every side.
"""

from __future__ import annotations

import codecs
import sys
from typing import AsyncIterator

from . import _sync
from ._client import Client
from .exception import InvalidError
from .proto import ketch_pb2 as pb

READ_BYTES = 4 * 1024 * 1024     # asked for per read
STDIN_CHUNK = 4 * 1024 * 1024    # sent per stdin frame


class _Source:
    """Which stream of which process."""

    __slots__ = ("sandbox_id", "exec_id", "fd")

    def __init__(self, sandbox_id: str, exec_id: str, fd: int):
        self.sandbox_id, self.exec_id, self.fd = sandbox_id, exec_id, fd


class StreamReader:
    """stdout or stderr of a sandbox or one of its processes."""

    def __init__(self, source: _Source | None, fd: int, text: bool = True,
                 by_line: bool = False):
        self._source = source        # None: nothing to read (DEVNULL, or printed as it came)
        self._fd = fd
        self._text = text
        self._by_line = by_line
        self._eof = source is None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    @property
    def file_descriptor(self) -> int:
        """1 for stdout, 2 for stderr."""
        return self._fd

    async def _chunks(self) -> AsyncIterator[bytes]:
        client = await Client.get()
        src = self._source
        while not self._eof:
            reply, raw = await client.request_raw(sandbox_read=pb.SandboxRead(
                sandbox_id=src.sandbox_id, exec_id=src.exec_id, fd=src.fd,
                max_bytes=READ_BYTES))
            self._eof = reply.sandbox_data.eof
            data = b"".join(raw) if raw else reply.sandbox_data.data
            if data:
                yield data

    async def _items(self):
        """What iteration yields: chunks, or lines with bufsize=1; str with text=True."""
        pending = b"" if not self._text else ""
        async for chunk in self._chunks():
            piece = self._decoder.decode(chunk) if self._text else chunk
            if not self._by_line:
                if piece:
                    yield piece
                continue
            pending += piece
            newline = "\n" if self._text else b"\n"
            *lines, pending = pending.split(newline)
            for line in lines:
                yield line + newline
        tail = self._decoder.decode(b"", final=True) if self._text else b""
        pending += tail
        if pending:
            yield pending

    @_sync.twin
    async def read(self):
        """Everything until the stream ends (str with text=True, else bytes)."""
        parts = [item async for item in self._items()]
        return ("" if self._text else b"").join(parts)

    def __iter__(self):
        return _sync.iterate(self._items())

    def __aiter__(self):
        return _sync.iterate_aio(self._items())


async def print_stream(reader: StreamReader, out=None):
    """StreamType.STDOUT: the stream printed on this side as it arrives."""
    out = out or sys.stdout
    async for item in reader._items():
        out.write(item if isinstance(item, str) else item.decode(errors="replace"))
        out.flush()


class StreamWriter:
    """stdin of a sandbox or one of its processes: `write` buffers, `drain` sends."""

    def __init__(self, sandbox_id: str, exec_id: str):
        self._sandbox_id, self._exec_id = sandbox_id, exec_id
        self._buffer: list[bytes] = []
        self._eof = False
        self._eof_sent = False

    def write(self, data) -> None:
        """Buffers data (bytes, bytearray, memoryview or str) for the next `drain()`."""
        if self._eof:
            raise ValueError("stdin is closed: write_eof() was called")
        if isinstance(data, str):
            data = data.encode()
        elif isinstance(data, (bytes, bytearray, memoryview)):
            data = bytes(data)
        else:
            raise TypeError(f"write() takes bytes or str, not {type(data).__name__}")
        self._buffer.append(data)

    def write_eof(self) -> None:
        """Closes stdin once what was written is drained."""
        self._eof = True

    @_sync.twin
    async def drain(self) -> None:
        """Sends what was written; returns once the process has taken it (or ended)."""
        buffer, self._buffer = b"".join(self._buffer), []
        client = await Client.get()
        for start in range(0, len(buffer), STDIN_CHUNK):
            await client.request(sandbox_stdin=pb.SandboxStdin(
                sandbox_id=self._sandbox_id, exec_id=self._exec_id,
                data=buffer[start:start + STDIN_CHUNK]))
        if self._eof and not self._eof_sent:
            self._eof_sent = True
            await client.request(sandbox_stdin=pb.SandboxStdin(
                sandbox_id=self._sandbox_id, exec_id=self._exec_id, eof=True))

    async def _resize(self, rows: int, cols: int):
        client = await Client.get()
        await client.request(sandbox_stdin=pb.SandboxStdin(
            sandbox_id=self._sandbox_id, exec_id=self._exec_id, resize_rows=rows,
            resize_cols=cols))


def check_bufsize(bufsize) -> bool:
    """bufsize=1: iterate by line; -1: by chunk (Modal's two values)."""
    if bufsize not in (-1, 1):
        raise InvalidError(f"bufsize={bufsize!r}: give -1 (chunks) or 1 (lines)")
    return bufsize == 1
