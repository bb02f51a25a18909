"""The HTTP listener: one Starlette app served by uvicorn on the server's event loop.

uvicorn's `Server.serve()` would take over SIGINT/SIGTERM (and raise them again when it
ends); the server owns its signals, so this binds the socket itself and drives uvicorn's
startup, tick loop and shutdown directly. A busy port is reported (here and in
`ketch server status`) without stopping the server, as for the gateway.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from ... import _wire

log = logging.getLogger("ketch.server")


class HttpSide:
    def __init__(self, address: str):
        self.host, self.port = _wire.parse_address(address)
        self.app = Starlette()
        self.error = ""          # why it does not listen
        self._server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self._ticker: asyncio.Task | None = None

    def add_routes(self, routes: list[BaseRoute]):
        """Mounts routes (before start): /metrics, the dashboard's pages."""
        self.app.router.routes.extend(routes)

    @property
    def address(self) -> str:
        """HOST:PORT it listens on ("" when it does not)."""
        return f"{self.host}:{self.port}" if self._server is not None else ""

    async def start(self):
        try:
            sock = socket.create_server((self.host, self.port), reuse_port=False)
        except OSError as exc:
            self.error = f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            log.error("the HTTP side (/metrics) %s. Set KETCH_HTTP_ADDR or --http-address "
                      "to a free HOST:PORT.", self.error)
            return
        sock.set_inheritable(False)
        self.port = sock.getsockname()[1]
        # log_config=None: uvicorn leaves the server's logging setup alone.
        config = uvicorn.Config(self.app, lifespan="off", access_log=False, log_config=None,
                                log_level="warning", server_header=False,
                                timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)
        config.load()
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        self._server, self._socket = server, sock
        self._ticker = asyncio.ensure_future(server.main_loop())

    async def close(self):
        server = self._server
        if server is None:
            return
        server.should_exit = True
        if self._ticker is not None:
            await self._ticker
        await server.shutdown(sockets=[self._socket])
        self._server = None
