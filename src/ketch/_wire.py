"""Framed protobuf messages over a stream socket: the transport for every ketch connection.

A frame is a 4-byte big-endian length followed by one serialized `ketch.Frame`. Frames
with a non-zero id are requests (peer → server) or their replies (server → peer); id 0
marks a push. Writes made in one event-loop iteration leave in one system call (or a few,
for more than OUT_FLUSH_BYTES). A server stops reading a connection whose peer does not
read its replies or has too many requests in flight (back pressure).

A frame with `raw_size` set is followed by that many raw bytes, its bulk payload (volume
file chunks): they go out as given and arrive as slices of what the socket read, never
copied into or out of a protobuf message. The frame is handed on with them once all have
arrived.

This module is imported by the container runtime, so it must stay small and import nothing
from the server.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import struct
import threading
from typing import Callable

from google.protobuf.message import DecodeError

from ._unix_socket import bind_unix, sun_path  # noqa: F401 (callers use _wire.bind_unix)
from .proto import ketch_pb2 as pb

log = logging.getLogger("ketch.wire")

MAX_FRAME_BYTES = 64 * 1024 * 1024
# Until a connection has authenticated, a frame may hold no more than a Hello needs, so an
# anonymous peer cannot make the server buffer 64 MiB; and it must authenticate this soon.
PRE_AUTH_FRAME_BYTES = 64 * 1024
AUTH_DEADLINE_S = 10.0
# A server connection stops being read while this many of its requests are being handled
# (long polls count), so a client that sends without waiting cannot pile up work; a
# client's own gather of calls stays well below it.
MAX_IN_FLIGHT = 1024
# Frames queued in one loop iteration go out together, or sooner once they hold this much.
OUT_FLUSH_BYTES = 256 * 1024
# Large replies (volume reads) being made, or made and not yet sent, per connection: a
# peer that asks for many and reads none holds at most this many in server memory. The
# SDK keeps 8 chunks of a transfer in flight.
BULK_REPLIES = 8
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
    frame goes to `on_frame(frame)`, or `on_frame(frame, raw)` when raw bytes came with it
    (`raw`: a list of memoryviews that together hold them).
    """

    def __init__(self, on_frame: Callable[[pb.Frame], None] | None = None,
                 on_close: Callable[[Exception | None], None] | None = None,
                 is_server: bool = False):
        self.on_frame = on_frame
        self.on_close = on_close
        self.is_server = is_server
        # A server's peer is unauthenticated until `authenticated()`: small frames, and a
        # deadline (armed when the connection is made).
        self.max_frame = PRE_AUTH_FRAME_BYTES if is_server else MAX_FRAME_BYTES
        self._auth_timer: asyncio.TimerHandle | None = None
        self._in_flight = 0
        self._holds = 0               # services that asked for no more from this peer yet
        self._write_paused = False
        self._reading_paused = False
        self._backlog = b""          # read while reading was held; parsed when it resumes
        self._out_bytes = 0
        self.bulk = asyncio.Semaphore(BULK_REPLIES)  # see BULK_REPLIES; `drain` frees it
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buf = bytearray()            # a frame that arrived in pieces
        self._raw_frame: pb.Frame | None = None  # the frame whose raw bytes are arriving
        self._raw_parts: list[memoryview] = []
        self._raw_left = 0
        self._pending: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)     # next() is atomic: other threads take ids too
        self._out: list[bytes] = []
        self._write_lock = threading.RLock()  # the loop's writes and other threads' (write_now)
        self._own_fd: int | None = None      # write_now's copy of the socket: see connection_made
        self._flush_scheduled = False
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._loop = asyncio.get_event_loop()

    # -- asyncio.Protocol

    def connection_made(self, transport):
        self.transport = transport
        if self.is_server and self.max_frame < MAX_FRAME_BYTES:
            self._auth_timer = self._loop.call_later(AUTH_DEADLINE_S, self.malformed,
                                                     f"no Hello within {AUTH_DEADLINE_S:g} s")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass  # unix sockets have no Nagle to turn off
            if not self.is_server:
                # write_now writes through a copy of its own, closed only under the write lock,
                # so a write never lands on a number the loop closed and reused meanwhile.
                self._own_fd = os.dup(sock.fileno())

    def data_received(self, data: bytes):
        view = memoryview(data)
        n = len(data)
        pos = 0
        while pos < n:
            if self._reading_paused:  # back pressure: the rest waits until it passes
                self._backlog = bytes(view[pos:])
                return
            if self.transport is not None and self.transport.is_closing():
                return
            if self._raw_left:  # a frame's raw bytes: keep slices of the read, no copy
                take = min(self._raw_left, n - pos)
                self._raw_parts.append(view[pos:pos + take])
                self._raw_left -= take
                pos += take
                if not self._raw_left:
                    frame, raw = self._raw_frame, self._raw_parts
                    self._raw_frame, self._raw_parts = None, []
                    self._dispatch(frame, raw)
                continue
            buf = self._buf
            if not buf and n - pos >= 4:  # parse in place when the whole frame is here
                (size,) = _HEADER.unpack_from(data, pos)
                if size > self.max_frame:
                    self._too_big(size)
                    return
                if n - pos - 4 >= size:
                    frame = self._parse(view[pos + 4:pos + 4 + size])
                    if frame is None:
                        return
                    pos += 4 + size
                    if not frame.raw_size:
                        self._dispatch(frame, None)
                    elif not self._await_raw(frame):
                        return
                    continue
            # A frame split across reads: gather its bytes, and only its bytes, in _buf.
            need = 4 if len(buf) < 4 else 4 + _HEADER.unpack_from(buf)[0]
            take = min(need - len(buf), n - pos)
            buf += view[pos:pos + take]
            pos += take
            if len(buf) == 4:
                (size,) = _HEADER.unpack_from(buf)
                if size > self.max_frame:
                    self._too_big(size)
                    return
                if size:
                    continue
            elif len(buf) < need:
                continue
            with memoryview(buf) as whole:
                frame = self._parse(whole[4:])
            buf.clear()
            if frame is None:
                return
            if not frame.raw_size:
                self._dispatch(frame, None)
            elif not self._await_raw(frame):
                return

    def _await_raw(self, frame: pb.Frame) -> bool:
        """The bytes that follow are `frame`'s raw bytes; False (and the connection closed)
        for more than a frame may hold."""
        if frame.raw_size > self.max_frame:
            self._too_big(frame.raw_size)
            return False
        self._raw_frame, self._raw_left = frame, frame.raw_size
        return True

    def _parse(self, data) -> pb.Frame | None:
        frame = pb.Frame()
        try:
            frame.ParseFromString(data)
        except DecodeError as exc:
            self.malformed(f"a frame that does not parse ({exc})")
            return None
        return frame

    def _too_big(self, size: int):
        self.malformed(f"a frame of {size} bytes, over the limit of {self.max_frame}"
                       + ("" if self.max_frame == MAX_FRAME_BYTES else " before Hello"))

    def malformed(self, what: str):
        """The peer sent what the protocol does not allow: say so once, and hang up."""
        if self.closed or self.transport is None or self.transport.is_closing():
            return
        peer = self.transport.get_extra_info("peername") or "a peer"
        log.warning("closing the connection from %s: it sent %s", peer, what)
        self._flush()
        self.transport.close()

    def authenticated(self):
        """The peer proved who it is: full-size frames from now on, and no deadline."""
        self.max_frame = MAX_FRAME_BYTES
        if self._auth_timer is not None:
            self._auth_timer.cancel()
            self._auth_timer = None

    # -- back pressure (server side): a peer that does not read its replies, or has too
    # many requests in flight, is not read from until that passes.

    def request_started(self):
        self._in_flight += 1
        self._update_reading()

    def request_done(self):
        self._in_flight -= 1
        self._update_reading()

    async def hold_reading_until(self, awaitable):
        """Reads nothing more from this peer until `awaitable` is done (a service's queue
        has room again)."""
        self._holds += 1
        self._update_reading()
        try:
            await awaitable
        finally:
            self._holds -= 1
            self._update_reading()

    def _update_reading(self):
        hold = bool(self._write_paused or self._holds or self._in_flight >= MAX_IN_FLIGHT)
        if hold == self._reading_paused or self.transport is None \
                or self.transport.is_closing():
            return
        self._reading_paused = hold
        if hold:
            self.transport.pause_reading()
        else:
            self._loop.call_soon(self._resume_reading)

    def _resume_reading(self):
        if self._reading_paused or self.transport.is_closing():
            return
        backlog, self._backlog = self._backlog, b""
        if backlog:
            self.data_received(backlog)
        if not self._reading_paused:
            self.transport.resume_reading()

    def _dispatch(self, frame: pb.Frame, raw: list[memoryview] | None):
        if frame.id and not self.is_server:
            fut = self._pending.pop(frame.id, None)
            if fut is not None and not fut.done():
                fut.set_result((frame, raw))
            return
        if self.on_frame is not None:
            if raw is None:
                self.on_frame(frame)
            else:
                self.on_frame(frame, raw)

    def pause_writing(self):
        self._can_write.clear()
        if self.is_server:
            self._write_paused = True
            self._update_reading()

    def resume_writing(self):
        self._can_write.set()
        if self.is_server:
            self._write_paused = False
            self._update_reading()

    def connection_lost(self, exc):
        with self._write_lock:
            self.closed = True
            if self._own_fd is not None:
                os.close(self._own_fd)
                self._own_fd = None
        if self._auth_timer is not None:
            self._auth_timer.cancel()
        self._can_write.set()
        for fut in list(self._pending.values()):  # a snapshot: other threads add theirs
            if not fut.done():
                fut.set_exception(ConnectionLost("the connection to the ketch server was lost"))
        self._pending.clear()
        if self.on_close is not None:
            self.on_close(exc)

    # -- sending

    def send(self, frame: pb.Frame, raw=None, now: bool = False):
        """Queues a frame, and the bytes-like `raw` after it when given; all frames queued in
        one loop iteration are written together. `now`: written at once, with what was
        queued before it, for a caller that has batched its frames itself (it saves a loop
        iteration)."""
        if self.closed:
            return
        if raw is not None:
            frame.raw_size = len(raw)
        data = frame.SerializeToString()
        self._out.append(_HEADER.pack(len(data)))
        self._out.append(data)
        self._out_bytes += len(data)
        if raw:
            self._out.append(raw)
            self._out_bytes += len(raw)
        if now or self._out_bytes > OUT_FLUSH_BYTES:
            self._flush()  # now, so the transport's buffer (and back pressure) sees it
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self):
        self._flush_scheduled = False
        with self._write_lock:
            out, self._out, self._out_bytes = self._out, [], 0
            if out and not self.closed:
                self.transport.writelines(out)

    def write_now(self, frame: pb.Frame):
        """`send`, from a thread other than the loop's (a blocking call's caller, a worker
        thread): the frame goes to the socket from this thread when nothing is queued ahead
        of it, so the loop thread is not woken to send it; otherwise the loop sends it."""
        data = frame.SerializeToString()
        data = _HEADER.pack(len(data)) + data
        with self._write_lock:  # the loop's own writes wait: the bytes stay in order
            if self.closed:
                return
            if self._own_fd is None or self._out or self.transport.get_write_buffer_size():
                self._out.append(data)   # behind what is queued
                self._out_bytes += len(data)
            else:
                written = 0
                try:
                    written = os.write(self._own_fd, data)
                except OSError:  # full, or closing: the loop's write finds out which
                    pass
                if written == len(data):
                    return
                # Frames the loop queued meanwhile (os.write let it run) come after these.
                self._out.insert(0, data[written:])
                self._out_bytes += len(data) - written
        self._loop.call_soon_threadsafe(self._flush)

    def unsent_bytes(self) -> int:
        """What was sent and has not left yet: queued frames and the socket's buffer."""
        buffered = self.transport.get_write_buffer_size() if self.transport else 0
        return self._out_bytes + buffered

    async def drain(self):
        """Waits while the socket's send buffer is full."""
        await self._can_write.wait()

    def reply(self, request: pb.Frame, raw=None, **body):
        self.send(pb.Frame(id=request.id, **body), raw)

    def reply_error(self, request: pb.Frame, kind: str, message: str):
        self.send(pb.Frame(id=request.id, error=pb.ErrorReply(kind=kind, message=message)))

    async def request(self, raw=None, **body) -> pb.Frame:
        """Sends a request frame (with raw bytes after it when given) and waits for its
        reply; raises RemoteFailure on ErrorReply."""
        return (await self.request_raw(raw, **body))[0]

    async def request_raw(self, raw=None, **body) -> tuple[pb.Frame, list[memoryview] | None]:
        """`request`, for replies that carry raw bytes: → (reply, its raw bytes or None)."""
        if self.closed:
            raise ConnectionLost("the connection to the ketch server was lost")
        rid = next(self._ids)
        fut = self._loop.create_future()
        self._pending[rid] = fut
        self.send(pb.Frame(id=rid, **body), raw)
        frame, reply_raw = await fut
        if frame.WhichOneof("body") == "error":
            raise RemoteFailure(frame.error.kind, frame.error.message)
        return frame, reply_raw

    def request_nowait(self, **body) -> tuple[int, asyncio.Future]:
        """Sends a request frame without waiting: → (its id, the future of its reply and
        raw bytes), for requests the server answers only when they fail; `forget(id)` once
        no reply can come. On an idle connection it is written at once (a lone call saves
        a loop iteration); frames already queued this iteration take it along."""
        if self.closed:
            raise ConnectionLost("the connection to the ketch server was lost")
        rid = next(self._ids)
        fut = self._loop.create_future()
        self._pending[rid] = fut
        self.send(pb.Frame(id=rid, **body), now=not self._out)
        return rid, fut

    def request_from_thread(self, answer, frame: pb.Frame) -> int:
        """`request_nowait` of `frame` (its id is set here) from another thread (see
        write_now): `answer` takes the reply's place, with a future's set_result((frame,
        raw)), set_exception, done and cancel, called on the loop;
        `forget_from_thread(id)` once no reply can come."""
        frame.id = rid = next(self._ids)
        self._pending[rid] = answer
        if self.closed:
            self._pending.pop(rid, None)
            raise ConnectionLost("the connection to the ketch server was lost")
        self.write_now(frame)
        return rid

    def forget_from_thread(self, rid: int):
        self._pending.pop(rid, None)

    def forget(self, rid: int):
        fut = self._pending.pop(rid, None)
        if fut is not None and not fut.done():
            fut.cancel()

    def close(self):
        if self.transport is not None and not self.closed:
            self._flush()
            self.transport.close()


UNIX_PREFIX = "unix:"


def unix_path(address: str) -> str | None:
    """'unix:/path' → '/path'; None for a TCP address."""
    if not address.startswith(UNIX_PREFIX):
        return None
    path = address[len(UNIX_PREFIX):]
    if not path.startswith("/"):
        raise ValueError(f"invalid ketch server address {address!r}: a Unix socket address "
                         "is unix:/ABSOLUTE/PATH, for example unix:/run/ketch/server.sock")
    return path


def parse_address(address: str) -> tuple[str, int]:
    """'host:port' → (host, port), with a clear error for anything else."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"invalid ketch server address {address!r}: expected HOST:PORT, "
                         "for example 127.0.0.1:7419, or unix:/PATH")
    return host.strip("[]") or "127.0.0.1", int(port)


def check_address(address: str):
    """Raises ValueError naming the problem when `address` is neither TCP nor unix:."""
    if unix_path(address) is None:
        parse_address(address)


async def listen(address: str, protocol_factory, socket_mode: int = 0o600):
    """An asyncio server on a TCP or unix: address."""
    loop = asyncio.get_running_loop()
    path = unix_path(address)
    if path is not None:
        return await loop.create_unix_server(protocol_factory,
                                             sock=bind_unix(path, socket_mode))
    host, port = parse_address(address)
    return await loop.create_server(protocol_factory, host, port, reuse_address=True)


async def open_connection(address: str, on_frame=None, on_close=None) -> FrameProtocol:
    loop = asyncio.get_running_loop()

    def factory():
        return FrameProtocol(on_frame=on_frame, on_close=on_close)

    path = unix_path(address)
    if path is None:
        host, port = parse_address(address)
        _, proto = await loop.create_connection(factory, host, port)
        return proto
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        with sun_path(path) as name:
            await loop.sock_connect(sock, name)
    except BaseException:
        sock.close()
        raise
    _, proto = await loop.create_connection(factory, sock=sock)
    return proto
