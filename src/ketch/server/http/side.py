"""The HTTP listener: one Starlette app served by uvicorn on the server's event loop.

uvicorn's `Server.serve()` would take over SIGINT/SIGTERM (and raise them again when it
ends); the server owns its signals, so this binds the socket itself and drives uvicorn's
startup, tick loop and shutdown directly. A busy port is reported (here and in
`ketch server status`) without stopping the server, as for the gateway.

Starlette and uvicorn cost a few hundred milliseconds of imports on a small machine: they
are imported, in a worker thread, when the side starts, which the server does once it
already answers on its own port. Routes come from factories called then, for the same
reason.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING, Callable

from ... import _wire

if TYPE_CHECKING:
    import uvicorn
    from starlette.routing import BaseRoute

log = logging.getLogger("ketch.server")

RouteFactory = Callable[[], "list[BaseRoute]"]


class HttpSide:
    def __init__(self, address: str):
        self.host, self.port = _wire.parse_address(address)
        self.error = ""          # why it does not listen
        self._factories: list[RouteFactory] = []
        self._server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self._ticker: asyncio.Task | None = None

    def add_routes(self, factory: RouteFactory):
        """Mounts the routes `factory()` returns (/metrics, the dashboard's pages), in the
        order added; it is called when the side starts, so it may import Starlette."""
        self._factories.append(factory)

    @property
    def address(self) -> str:
        """HOST:PORT it listens on ("" when it does not)."""
        return f"{self.host}:{self.port}" if self._server is not None else ""

    async def start(self):
        try:
            sock = socket.create_server((self.host, self.port))
        except OSError as exc:
            self.error = f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            log.error("the HTTP side (/metrics) %s. Set KETCH_HTTP_ADDR or --http-address "
                      "to a free HOST:PORT.", self.error)
            return
        self.port = sock.getsockname()[1]
        try:
            server = await asyncio.get_running_loop().run_in_executor(None, self._build)
            await server.startup(sockets=[sock])
        except Exception as exc:
            sock.close()
            self.error = f"could not start: {exc}"
            log.exception("the HTTP side (/metrics) could not start")
            return
        self._server, self._socket = server, sock
        self._ticker = asyncio.ensure_future(server.main_loop())

    def _build(self) -> uvicorn.Server:
        import uvicorn
        from starlette.applications import Starlette

        app = Starlette(routes=[route for factory in self._factories for route in factory()])
        # log_config=None: uvicorn leaves the server's logging setup alone.
        config = uvicorn.Config(app, lifespan="off", access_log=False, log_config=None,
                                log_level="warning", server_header=False,
                                timeout_graceful_shutdown=1)
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        return server

    async def close(self):
        server = self._server
        if server is None:
            return
        server.should_exit = True
        if self._ticker is not None:
            await self._ticker
        await server.shutdown(sockets=[self._socket])
        self._server = None
