"""A node's two relays, which let containers and the gateway cross machines.

- `ServerRelay`: the Unix socket a container on this node sees at /run/ketch/server.sock;
  each connection is spliced to the server's TCP address. It adds nothing: the container
  still authenticates with its own credential in its Hello.
- `WebRelay`: a TCP listener the gateway connects to for a container's web endpoint
  socket. The first message (`RelayOpen`, length-prefixed) carries the node's relay secret,
  which the server made with the agent, and names the container and socket; anything else
  is refused. The socket is opened as the gateway opens local ones: a plain file name in
  the container's web directory, never through a link, and it must be a socket.

After that, the bytes are spliced both ways inside the kernel (splice.py).
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
from .splice import splice, tune

log = logging.getLogger("ketch.node")

HEADER = struct.Struct(">I")
MAX_OPEN_BYTES = 4096          # a RelayOpen is a secret and two names
OPEN_TIMEOUT_S = 10.0


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
        tune(sock)
        await asyncio.wait_for(loop.sock_connect(sock, (target.host, target.port)),
                               OPEN_TIMEOUT_S)
        await loop.sock_sendall(sock, _framed(pb.RelayOpen(
            secret=target.secret, container_id=container_id, socket=name)))
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


async def _read_message(loop, sock: socket.socket, keep_rest: bool = False):
    """One length-prefixed message (bounded), and with keep_rest what followed it."""
    buf = b""
    while len(buf) < HEADER.size or len(buf) < HEADER.size + HEADER.unpack_from(buf)[0]:
        if len(buf) >= HEADER.size and HEADER.unpack_from(buf)[0] > MAX_OPEN_BYTES:
            raise OSError(errno.EPROTO, "the opening message is too large")
        chunk = await loop.sock_recv(sock, 4096)
        if not chunk:
            raise OSError(errno.ECONNRESET, "the connection closed")
        buf += chunk
    end = HEADER.size + HEADER.unpack_from(buf)[0]
    return (buf[HEADER.size:end], buf[end:]) if keep_rest else buf[HEADER.size:end]


def _framed(message) -> bytes:
    data = message.SerializeToString()
    return HEADER.pack(len(data)) + data


class _Listener:
    """Accepts connections on a listening socket and serves each in a task of its own."""

    def __init__(self):
        self.sock: socket.socket | None = None
        self._accepting: asyncio.Future | None = None
        self._serving: set[asyncio.Future] = set()

    def _listen(self, sock: socket.socket):
        sock.setblocking(False)
        self.sock = sock
        self._accepting = asyncio.ensure_future(self._accept())

    async def _accept(self):
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(self.sock)
            except OSError as exc:   # out of descriptors, say: try again shortly
                log.warning("node relay: accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            task = asyncio.ensure_future(self._guarded(conn))
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)

    async def _guarded(self, conn: socket.socket):
        try:
            await self._serve(conn)
        except Exception:   # one connection's failure never stops the relay
            log.exception("node relay: a connection failed")
            conn.close()

    async def _serve(self, conn: socket.socket):
        raise NotImplementedError

    async def close(self):
        if self._accepting is not None:
            self._accepting.cancel()
        if self.sock is not None:
            self.sock.close()


class ServerRelay(_Listener):
    """The container's server socket on this node, spliced to the server's TCP address."""

    def __init__(self, sock_path: Path, server_address: str):
        super().__init__()
        self.sock_path = Path(sock_path)
        self.server_address = server_address

    async def start(self):
        # 0666: the node's run directory (0700) keeps everyone else out; container users
        # of any uid reach it through the bind mount, as on the server's machine.
        sock = _wire.bind_unix(str(self.sock_path), 0o666)
        sock.listen(1024)
        self._listen(sock)

    async def _serve(self, conn: socket.socket):
        host, port = _wire.parse_address(self.server_address)
        loop = asyncio.get_running_loop()
        upstream = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        upstream.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(upstream, (host, port)), OPEN_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError) as exc:
            log.warning("node relay: the server at %s cannot be reached: %s",
                        self.server_address, exc)
            upstream.close()
            conn.close()
            return
        await splice(conn, upstream, threads=True)   # latency-bound: see splice.py

    async def close(self):
        await super().close()
        self.sock_path.unlink(missing_ok=True)


class WebRelay(_Listener):
    """The node's TCP port for the gateway's connections to its containers' web sockets."""

    def __init__(self, host: str, port: int, secret: str,
                 web_dir: Callable[[str], Path | None]):
        super().__init__()
        if len(secret) < 16:
            raise ValueError("the relay secret is too short to authenticate anything")
        self.host, self.port, self.secret = host, port, secret
        self.web_dir = web_dir   # container id -> its web directory here, None if not here

    async def start(self) -> int:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(1024)
        self.port = sock.getsockname()[1]
        self._listen(sock)
        return self.port

    async def _serve(self, conn: socket.socket):
        loop = asyncio.get_running_loop()
        conn.setblocking(False)
        try:
            message, rest = await asyncio.wait_for(_read_message(loop, conn, keep_rest=True),
                                                   OPEN_TIMEOUT_S)
        except asyncio.TimeoutError:
            return await _refuse(loop, conn, "no opening message in time")
        except OSError as exc:
            return await _refuse(loop, conn, str(exc.strerror or exc))
        try:
            ask = pb.RelayOpen.FromString(message)
        except Exception:
            return await _refuse(loop, conn, "the opening message is not a RelayOpen")
        if not hmac.compare_digest(ask.secret.encode(), self.secret.encode()):
            return await _refuse(loop, conn, "wrong relay secret")
        web_dir = self.web_dir(ask.container_id) if ask.container_id else None
        if web_dir is None:
            return await _refuse(loop, conn, f"no container {ask.container_id!r} on this node")
        try:
            container = await connect_unix_nofollow(loop, web_dir, ask.socket)
        except OSError as exc:
            return await _refuse(loop, conn, f"the container's socket {ask.socket!r}: {exc}")
        try:
            await loop.sock_sendall(conn, _framed(pb.RelayOpened()))
        except OSError:
            container.close()
            conn.close()
            return
        await splice(conn, container, rest)


async def _refuse(loop, conn: socket.socket, why: str):
    log.info("node relay: refused a connection: %s", why)
    try:
        await loop.sock_sendall(conn, _framed(pb.RelayOpened(error=why)))
    except OSError:
        pass
    conn.close()
