"""Framed protobuf messages over a stream socket: the transport for every ketch connection.

A frame is a 4-byte big-endian length followed by one serialized `ketch.Frame`. Frames
with a non-zero id are requests (peer → server) or their replies (server → peer); id 0
marks a push. Writes made in one event-loop iteration leave in one system call.

This module is imported by the container runtime, so it must stay small and import nothing
from the server.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Callable

from .proto import ketch_pb2 as pb

MAX_FRAME_BYTES = 64 * 1024 * 1024
_HEADER = struct.Struct(">I")


class ConnectionLost(Exception):
    """The peer went away while a request was waiting for its reply."""


class RemoteFailure(Exception):
    """The server answered a request with an ErrorReply."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


class FrameProtocol(asyncio.Protocol):
    """Splits the byte stream into frames and hands each to `on_frame`.

    Replies to this side's own requests resolve the futures made by `request`; every other
    frame goes to `on_frame(frame)`.
    """

    def __init__(self, on_frame: Callable[[pb.Frame], None] | None = None,
                 on_close: Callable[[Exception | None], None] | None = None,
                 is_server: bool = False):
        self.on_frame = on_frame
        self.on_close = on_close
        self.is_server = is_server
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buf = bytearray()
        self._pending: dict[int, asyncio.Future] = {}
        self._next_id = 1
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._loop = asyncio.get_event_loop()

    # -- asyncio.Protocol

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                import socket

                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass  # unix sockets have no Nagle to turn off

    def data_received(self, data: bytes):
        buf = self._buf
        buf += data
        offset = 0
        n = len(buf)
        frames = []
        with memoryview(buf) as view:  # parse in place: no copy of each frame's bytes
            while n - offset >= 4:
                (size,) = _HEADER.unpack_from(buf, offset)
                if size > MAX_FRAME_BYTES:
                    self.transport.close()
                    return
                if n - offset - 4 < size:
                    break
                frame = pb.Frame()
                frame.ParseFromString(view[offset + 4: offset + 4 + size])
                frames.append(frame)
                offset += 4 + size
        if offset:
            del buf[:offset]
        for frame in frames:
            self._dispatch(frame)

    def _dispatch(self, frame: pb.Frame):
        if frame.id and not self.is_server:
            fut = self._pending.pop(frame.id, None)
            if fut is not None and not fut.done():
                fut.set_result(frame)
            return
        if self.on_frame is not None:
            self.on_frame(frame)

    def pause_writing(self):
        self._can_write.clear()

    def resume_writing(self):
        self._can_write.set()

    def connection_lost(self, exc):
        self.closed = True
        self._can_write.set()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionLost("the connection to the ketch server was lost"))
        self._pending.clear()
        if self.on_close is not None:
            self.on_close(exc)

    # -- sending

    def send(self, frame: pb.Frame):
        """Queues a frame; all frames queued in one loop iteration are written together."""
        if self.closed:
            return
        data = frame.SerializeToString()
        self._out.append(_HEADER.pack(len(data)))
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self):
        self._flush_scheduled = False
        if self._out and not self.closed:
            self.transport.writelines(self._out)
        self._out = []

    async def drain(self):
        """Waits while the socket's send buffer is full."""
        await self._can_write.wait()

    def reply(self, request: pb.Frame, **body):
        frame = pb.Frame(id=request.id, **body)
        self.send(frame)

    def reply_error(self, request: pb.Frame, kind: str, message: str):
        self.send(pb.Frame(id=request.id, error=pb.ErrorReply(kind=kind, message=message)))

    async def request(self, **body) -> pb.Frame:
        """Sends a request frame and waits for its reply; raises RemoteFailure on ErrorReply."""
        if self.closed:
            raise ConnectionLost("the connection to the ketch server was lost")
        rid = self._next_id
        self._next_id += 1
        fut = self._loop.create_future()
        self._pending[rid] = fut
        self.send(pb.Frame(id=rid, **body))
        frame = await fut
        if frame.WhichOneof("body") == "error":
            raise RemoteFailure(frame.error.kind, frame.error.message)
        return frame

    def close(self):
        if self.transport is not None and not self.closed:
            self._flush()
            self.transport.close()


def parse_address(address: str) -> tuple[str, int]:
    """'host:port' → (host, port), with a clear error for anything else."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"invalid ketch server address {address!r}: expected HOST:PORT, "
                         "for example 127.0.0.1:7419")
    return host.strip("[]") or "127.0.0.1", int(port)


async def open_connection(address: str, on_frame=None, on_close=None) -> FrameProtocol:
    loop = asyncio.get_running_loop()
    host, port = parse_address(address)
    _, proto = await loop.create_connection(
        lambda: FrameProtocol(on_frame=on_frame, on_close=on_close), host, port)
    return proto
