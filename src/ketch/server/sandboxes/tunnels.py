"""Tunnels into sandboxes: for each port a sandbox asked for (encrypted_ports,
unencrypted_ports), a TCP listener on the gateway's host whose connections reach that port
inside the sandbox. The supervisor listens on `port-<N>.sock` in the sandbox's web
directory and connects on to 127.0.0.1:<N> in the sandbox's own network namespace, so
the sandbox never shares the host's network.

"Encrypted" here: ketch's gateway has no TLS certificate, so both kinds are plain TCP
listeners on the gateway's host (`Tunnel.url` is http://). Put a TLS-terminating proxy in
front of that host to encrypt them on the way; what a tunnel carries is otherwise the
sandbox's own (TLS of its own passes through untouched)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Callable

from ...proto import ketch_pb2 as pb
from ..gateway.upstream import connect
from .model import SandboxRecord

log = logging.getLogger("ketch.server")
CONNECT_TRIES = 50          # the supervisor's socket may not be there yet: 50 x 0.1 s
PIPE_READ = 256 * 1024


class Tunnels:
    def __init__(self, host: str, web_dir: Callable[[str], Path]):
        self.host = host if host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        self.listen_host = host or "127.0.0.1"
        self.web_dir = web_dir     # the runtime's RunDir.web_dir

    async def open(self, sb: SandboxRecord):
        ports = list(sb.spec.encrypted_ports) + list(sb.spec.unencrypted_ports)
        for port in ports:
            server = await asyncio.start_server(
                lambda r, w, port=port: self._connection(sb, port, r, w),
                self.listen_host, 0)
            sb.tunnel_servers.append(server)
            bound = server.sockets[0].getsockname()[1]
            sb.tunnels.append(pb.SandboxTunnel(
                container_port=port, host=self.host, port=bound,
                encrypted=port in sb.spec.encrypted_ports))

    def close(self, sb: SandboxRecord):
        for server in sb.tunnel_servers:
            server.close()
        sb.tunnel_servers.clear()

    async def _connection(self, sb: SandboxRecord, port: int, reader, writer):
        sb.touch()
        loop = asyncio.get_running_loop()
        sock = None
        for _ in range(CONNECT_TRIES):
            try:
                sock = await connect(loop, self.web_dir(sb.id), f"port-{port}.sock")
                break
            except OSError:
                if sb.done:
                    break
                await asyncio.sleep(0.1)
        if sock is None:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(sock=sock)
        await asyncio.gather(_pipe(reader, up_writer, sb), _pipe(up_reader, writer, sb),
                             return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sb):
    """Bytes one way, with back pressure (drain), until either side closes."""
    try:
        while data := await reader.read(PIPE_READ):
            writer.write(data)
            await writer.drain()
            sb.touch()
    finally:
        try:
            writer.close()
        except RuntimeError:
            pass
