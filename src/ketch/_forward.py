"""`ketch.forward(port)`: inside a function's container, a tunnel from outside to `port`
of the container's own network, for the `with` (or `async with`) block.

    @app.function()
    def serve():
        with ketch.forward(8000) as tunnel:
            print("reach me at", tunnel.url)
            run_server_on(8000)

The port is passed on from a socket in the container's web directory (as a sandbox's
tunneled ports are) to a listener on the ketch server's host. "Encrypted": as for
sandboxes, the gateway has no TLS certificate, so `url` is http:// (see _tunnel.py)."""

from __future__ import annotations

import os

from . import _port_forward, _sync
from ._client import Client
from ._object import refuse_client
from ._tunnel import Tunnel
from .exception import InvalidError
from .proto import ketch_pb2 as pb


class forward:
    def __init__(self, port: int, *, unencrypted: bool = False, h2_enabled: bool = False,
                 client=None):
        refuse_client("forward", client)
        # h2_enabled: a ketch tunnel passes TCP through untouched, so HTTP/2 (h2c, or h2 over
        # TLS the server speaks itself) needs nothing more.
        del h2_enabled
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise InvalidError(f"forward({port!r}): give a port number from 1 to 65535")
        if not os.environ.get("KETCH_CONTAINER_ID") or \
                _port_forward.WEB_DIR_ENV not in os.environ:
            raise InvalidError("ketch.forward() works inside a function's container only; "
                               "a sandbox's ports are tunneled with encrypted_ports=")
        self._port, self._unencrypted = port, unencrypted
        self._server = None

    async def _open(self) -> Tunnel:
        self._server = await _port_forward.serve_port(self._port)
        conn = await Client.get()
        reply = await conn.request(tunnel_open=pb.TunnelOpen(port=self._port,
                                                             unencrypted=self._unencrypted))
        t = reply.sandbox_tunnel
        return Tunnel(t.host, t.port, t.host, t.port)

    async def _close(self):
        conn = await Client.get()
        await conn.request(tunnel_close=pb.TunnelClose(port=self._port))
        if self._server is not None:
            self._server.close()

    def __enter__(self) -> Tunnel:
        return _sync.run(self._open())

    def __exit__(self, *exc):
        _sync.run(self._close())

    async def __aenter__(self) -> Tunnel:
        return await _sync.run_aio(self._open())

    async def __aexit__(self, *exc):
        await _sync.run_aio(self._close())
