"""Tunnels into sandboxes: for each port a sandbox asked for (encrypted_ports,
unencrypted_ports), a TCP listener on the gateway's host whose connections reach that port
inside the sandbox. The supervisor listens on `port-<N>.sock` in the sandbox's web
directory and connects on to 127.0.0.1:<N> in the sandbox's own network namespace, so
the sandbox never shares the host's network. A sandbox (or function container) on another
cluster node is reached the same way through its node's authenticated web relay
(ketch.node.relay), as the gateway reaches web containers there.

"Encrypted" here: ketch's gateway has no TLS certificate, so both kinds are plain TCP
listeners on the gateway's host (`Tunnel.url` is http://). Put a TLS-terminating proxy in
front of that host to encrypt them on the way; what a tunnel carries is otherwise the
sandbox's own (TLS of its own passes through untouched)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Callable

from ...proto import ketch_pb2 as pb
from ..._port_forward import pipe
from ...node.relay import RelayTarget
from ..gateway.upstream import connect, connect_remote
from .model import SandboxRecord

# The supervisor's socket may not be there yet: try again for this long, in all (a node's
# relay that does not answer counts in it too, so a client is never held longer).
CONNECT_WAIT_S = 5.0


class Tunnels:
    def __init__(self, host: str, web_dir: Callable[[str], Path],
                 remote: Callable[[str], RelayTarget | None] = lambda container_id: None):
        self.host = host if host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        self.listen_host = host or "127.0.0.1"
        self.web_dir = web_dir     # the runtime's RunDir.web_dir
        self.remote = remote       # container id -> its node's relay; None: on this machine
        self.forwards: dict[tuple[str, int], asyncio.AbstractServer] = {}

    async def _listen(self, container_id: str, port: int, touch, ended
                      ) -> tuple[asyncio.AbstractServer, int]:
        server = await asyncio.start_server(
            lambda r, w: self._connection(container_id, port, touch, ended, r, w),
            self.listen_host, 0)
        return server, server.sockets[0].getsockname()[1]

    async def open(self, sb: SandboxRecord):
        for port in [*sb.spec.encrypted_ports, *sb.spec.unencrypted_ports]:
            server, bound = await self._listen(sb.id, port, sb.touch, lambda: sb.done)
            sb.tunnel_servers.append(server)
            sb.tunnels.append(pb.SandboxTunnel(
                container_port=port, host=self.host, port=bound,
                encrypted=port in sb.spec.encrypted_ports))

    def close(self, sb: SandboxRecord):
        for server in sb.tunnel_servers:
            server.close()
        sb.tunnel_servers.clear()

    # -- ketch.forward(port) in a function's container, for as long as its connection

    async def open_forward(self, owner_id: str, container_id: str, port: int,
                           encrypted: bool) -> pb.SandboxTunnel:
        if not 1 <= port <= 65535:
            raise ValueError(f"forward({port}): give a port number from 1 to 65535")
        self.close_forward(owner_id, port)
        server, bound = await self._listen(container_id, port, lambda: None, lambda: False)
        self.forwards[(owner_id, port)] = server
        return pb.SandboxTunnel(container_port=port, host=self.host, port=bound,
                                encrypted=encrypted)

    def close_forward(self, owner_id: str, port: int):
        server = self.forwards.pop((owner_id, port), None)
        if server is not None:
            server.close()

    def owner_closed(self, owner_id: str):
        for key in [k for k in self.forwards if k[0] == owner_id]:
            self.close_forward(*key)

    async def _connection(self, container_id: str, port: int, touch, ended, reader, writer):
        touch()
        loop = asyncio.get_running_loop()
        sock, deadline = None, loop.time() + CONNECT_WAIT_S
        while sock is None and not ended() and (left := deadline - loop.time()) > 0:
            name, target = f"port-{port}.sock", self.remote(container_id)
            try:
                sock = await asyncio.wait_for(
                    connect(loop, self.web_dir(container_id), name) if target is None
                    else connect_remote(loop, target, container_id, name), left)
            except (OSError, asyncio.TimeoutError):
                await asyncio.sleep(0.1)
        if sock is None:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(sock=sock)
        await asyncio.gather(pipe(reader, up_writer, touch), pipe(up_reader, writer, touch),
                             return_exceptions=True)
