"""A node's two relays, which let containers and the gateway cross machines.

- `ServerRelay`: the Unix socket a container on this node sees at /run/ketch/server.sock;
  each connection is spliced to the server's TCP address. It adds nothing: the container
  still authenticates with its own credential in its Hello.
- `WebRelay`: a TCP listener the gateway connects to for a container's web endpoint
  socket. The first message (`RelayOpen`, length-prefixed) carries the node's relay secret,
  which the server made with the agent, and names the container and socket; anything else
  is refused. The socket is opened as the gateway opens local ones: a plain file name in
  the container's web directory, never through a link, and it must be a socket.

After that, bytes are spliced both ways by a pair of protocols that write what each reads
straight into the other's transport, with the flow control of both (a slow reader pauses
its writer), and half-closes passed on (an HTTP client that shuts its write side still
gets its answer).
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import logging
import os
import socket
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import _wire
from ..proto import ketch_pb2 as pb

log = logging.getLogger("ketch.node")

HEADER = struct.Struct(">I")
MAX_OPEN_BYTES = 4096          # a RelayOpen is a secret and two names
OPEN_TIMEOUT_S = 10.0
HIGH_WATER = 4 * 1024 * 1024   # bytes a side buffers before its writer is paused
SOCKET_BUFFER = 4 * 1024 * 1024


@dataclass(frozen=True)
class RelayTarget:
    """Where the gateway reaches a remote container's web sockets: its node's relay."""

    host: str
    port: int
    secret: str


async def connect_unix_nofollow(loop: asyncio.AbstractEventLoop, directory: Path, name: str
                                ) -> socket.socket:
    """A connected socket to `name` in `directory`, opened without following links and
    checked to be a socket; OSError when there is none."""
    if not name or "/" in name or name in (".", "..") or "\0" in name:
        raise OSError(errno.EINVAL, f"the container named its socket {name!r}")
    dir_fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
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


async def open_remote(loop: asyncio.AbstractEventLoop, target: RelayTarget,
                      container_id: str, name: str) -> socket.socket:
    """The gateway's side: a TCP socket through `target` to the container's socket `name`,
    once the relay has accepted it; OSError when it refuses or cannot be reached."""
    sock = socket.socket(socket.AF_INET6 if ":" in target.host else socket.AF_INET,
                         socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        _tune(sock)
        await asyncio.wait_for(loop.sock_connect(sock, (target.host, target.port)),
                               OPEN_TIMEOUT_S)
        hello = pb.RelayOpen(secret=target.secret, container_id=container_id,
                             socket=name).SerializeToString()
        await loop.sock_sendall(sock, HEADER.pack(len(hello)) + hello)
        answer = pb.RelayOpened.FromString(await asyncio.wait_for(
            _read_message(loop, sock), OPEN_TIMEOUT_S))
        if answer.error:
            raise OSError(errno.ECONNREFUSED, f"the node relay at {target.host}:"
                          f"{target.port} refused: {answer.error}")
        return sock
    except asyncio.TimeoutError:
        sock.close()
        raise OSError(errno.ETIMEDOUT, f"the node relay at {target.host}:{target.port} did "
                      "not answer") from None
    except BaseException:
        sock.close()
        raise


async def _read_message(loop, sock: socket.socket) -> bytes:
    buf = b""
    while len(buf) < HEADER.size or len(buf) < HEADER.size + HEADER.unpack_from(buf)[0]:
        if len(buf) >= HEADER.size and HEADER.unpack_from(buf)[0] > MAX_OPEN_BYTES:
            raise OSError(errno.EPROTO, "the node relay sent an oversized answer")
        chunk = await loop.sock_recv(sock, 4096)
        if not chunk:
            raise OSError(errno.ECONNRESET, "the node relay closed the connection")
        buf += chunk
    return buf[HEADER.size:HEADER.size + HEADER.unpack_from(buf)[0]]


def _tune(sock: socket.socket):
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Side(asyncio.Protocol):
    """One end of a splice: what it reads goes to its peer's transport."""

    def __init__(self, hold: bool = False):
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.pending = bytearray()   # read before the peer was connected
        self.eof = False
        self.hold = hold             # read nothing until linked to its peer

    def connection_made(self, transport):
        self.transport = transport
        if self.hold:
            transport.pause_reading()
        transport.set_write_buffer_limits(high=HIGH_WATER)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                _tune(sock)
            except OSError:
                pass

    def link(self, peer: "_Side"):
        self.peer, peer.peer = peer, self
        for side in (self, peer):
            if side.pending:
                side.peer.transport.write(bytes(side.pending))
                side.pending.clear()
            if side.eof:
                side.peer._write_eof()
            if side.hold:
                side.hold = False
                side.transport.resume_reading()

    def data_received(self, data: bytes):
        if self.peer is None:
            self.pending += data
        else:
            self.peer.transport.write(data)

    def eof_received(self):
        self.eof = True
        if self.peer is not None:
            self.peer._write_eof()
            if self.peer.eof:
                self._close_both()
        return True   # half-closed: the other direction goes on

    def _write_eof(self):
        if self.transport.is_closing():
            return
        if self.transport.can_write_eof():
            self.transport.write_eof()
        else:
            self.transport.close()

    def pause_writing(self):
        if self.peer is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self):
        if self.peer is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc):
        if self.peer is not None and not self.peer.transport.is_closing():
            self.peer.transport.close()   # after what it still buffers has left

    def _close_both(self):
        self.transport.close()
        self.peer.transport.close()


class ServerRelay:
    """The container's server socket on this node, spliced to the server's TCP address."""

    def __init__(self, sock_path: Path, server_address: str):
        self.sock_path = Path(sock_path)
        self.server_address = server_address
        self._server: asyncio.AbstractServer | None = None

    async def start(self):
        loop = asyncio.get_running_loop()
        # 0666: the node's run directory (0700) keeps everyone else out; container users
        # of any uid reach it through the bind mount, as on the server's machine.
        sock = _wire.bind_unix(str(self.sock_path), 0o666)
        self._server = await loop.create_unix_server(self._accepted, sock=sock)

    def _accepted(self) -> _Side:
        side = _Side(hold=True)
        asyncio.ensure_future(self._connect(side))
        return side

    async def _connect(self, side: _Side):
        host, port = _wire.parse_address(self.server_address)
        loop = asyncio.get_running_loop()
        try:
            _, peer = await loop.create_connection(_Side, host, port)
        except OSError as exc:
            log.warning("node relay: the server at %s cannot be reached: %s",
                        self.server_address, exc)
            if side.transport is not None:
                side.transport.close()
            return
        if side.transport is None or side.transport.is_closing():
            peer.transport.close()
            return
        side.link(peer)

    async def close(self):
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.sock_path.unlink(missing_ok=True)


class _Opening(_Side):
    """A gateway's connection to the web relay: its RelayOpen first, then a splice."""

    def __init__(self, relay: "WebRelay"):
        super().__init__()
        self.relay = relay
        self.head = bytearray()
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport):
        super().connection_made(transport)
        self.timer = asyncio.get_running_loop().call_later(OPEN_TIMEOUT_S, transport.close)

    def data_received(self, data: bytes):
        if self.head is None:
            return super().data_received(data)
        self.head += data
        if len(self.head) >= HEADER.size:
            size = HEADER.unpack_from(self.head)[0]
            if size > MAX_OPEN_BYTES:
                return self._refuse("the opening message is too large")
            if len(self.head) >= HEADER.size + size:
                message = bytes(self.head[HEADER.size:HEADER.size + size])
                self.pending += self.head[HEADER.size + size:]
                self.head = None
                self.transport.pause_reading()   # until the container's side is there
                asyncio.ensure_future(self._open(message))

    def eof_received(self):
        if self.head is not None:
            self.transport.close()
            return False
        return super().eof_received()

    async def _open(self, message: bytes):
        try:
            await self._open_container(message)
        except Exception as exc:   # never leave the gateway waiting for an answer
            log.exception("node relay: opening a connection failed")
            if not self.transport.is_closing():
                self._refuse(f"the node relay failed: {exc!r}")

    async def _open_container(self, message: bytes):
        try:
            ask = pb.RelayOpen.FromString(message)
        except Exception:
            return self._refuse("the opening message is not a RelayOpen")
        if not hmac.compare_digest(ask.secret.encode(), self.relay.secret.encode()):
            return self._refuse("wrong relay secret")
        web_dir = self.relay.web_dir(ask.container_id) if ask.container_id else None
        if web_dir is None:
            return self._refuse(f"no container {ask.container_id!r} on this node")
        loop = asyncio.get_running_loop()
        try:
            sock = await connect_unix_nofollow(loop, web_dir, ask.socket)
            _, peer = await loop.create_unix_connection(_Side, sock=sock)
        except OSError as exc:
            return self._refuse(f"the container's socket {ask.socket!r}: {exc}")
        if self.transport.is_closing():
            peer.transport.close()
            return
        self.timer.cancel()
        self._send(pb.RelayOpened())
        self.link(peer)
        self.transport.resume_reading()

    def _send(self, answer: pb.RelayOpened):
        data = answer.SerializeToString()
        self.transport.write(HEADER.pack(len(data)) + data)

    def _refuse(self, why: str):
        log.info("node relay: refused a connection: %s", why)
        self._send(pb.RelayOpened(error=why))
        self.transport.close()

    def connection_lost(self, exc):
        if self.timer is not None:
            self.timer.cancel()
        super().connection_lost(exc)


class WebRelay:
    """The node's TCP port for the gateway's connections to its containers' web sockets."""

    def __init__(self, host: str, port: int, secret: str,
                 web_dir: Callable[[str], Path | None]):
        if len(secret) < 16:
            raise ValueError("the relay secret is too short to authenticate anything")
        self.host, self.port, self.secret = host, port, secret
        self.web_dir = web_dir   # container id -> its web directory here, None if not here
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Opening(self), self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self):
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
