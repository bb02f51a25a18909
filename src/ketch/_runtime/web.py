"""Serves a container's web endpoints where the gateway can proxy to them.

Every endpoint listens on a Unix socket of its own in the container's web directory
(KETCH_WEB_DIR), which only the gateway reaches from outside (a round trip over one also
costs less than over TCP on loopback). `asgi_app`, `wsgi_app` and `fastapi_endpoint` apps
run under uvicorn in this process (WSGI ones through a2wsgi, which streams what the app
yields). The image needs neither: the server's own uvicorn, h11, click, websockets and
a2wsgi appear at FALLBACK_SITE, which comes last on sys.path, so the image's own copies
(and its FastAPI and Starlette) always win. A `web_server` function starts the user's
process, which listens on the TCP port the decorator names in the container's own network, and
its socket forwards each connection there. FastAPI is imported only for
`fastapi_endpoint`s. Stopping waits for requests in flight, so a container that scales down
or is replaced by a reload finishes what it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import os
import sys
import time

from .. import _wire
from .._timing import STOP_GRACE_S
from ..proto import ketch_pb2 as pb
from .loading import UserCode
from .web_writes import coalescing

# A web_server's port is polled from 1 ms, the wait doubling up to 20 ms: a server that
# is up in a few milliseconds is found then, not a whole interval later.
READY_POLL_FIRST_S, READY_POLL_S = 0.001, 0.02
# Where a container finds the server's web-serving packages (bound there read-only by the
# bwrap runtime); searched after everything the image installed.
FALLBACK_SITE = "/opt/ketch/fallback-site"
# Open streams and WebSockets get half the server's stop grace; the in-flight drain and the
# @exit hooks come after.
WEB_STOP_GRACE_S = STOP_GRACE_S / 2


class WebServing:
    def __init__(self, code: UserCode):
        self.code = code
        self.servers: list = []
        self.tasks: list[asyncio.Task] = []
        self.forwarders: list[asyncio.AbstractServer] = []
        self.web_dir = os.environ["KETCH_WEB_DIR"]
        self._sockets = 0

    def _bind(self):
        """A new socket in the web directory, for the gateway (root) alone."""
        self._sockets += 1
        name = f"web-{self._sockets}.sock"
        return name, _wire.bind_unix(os.path.join(self.web_dir, name), 0o600)

    async def start(self) -> pb.WebReady:
        """Starts every endpoint and says where each listens, keyed by class method (""
        for a function). Raises with a clear message when one cannot start."""
        _use_fallback_site()
        ready = pb.WebReady()
        for ep in self.code.spec.web_endpoints:
            fn = self.code.callable_for(ep.method)
            if ep.kind == "server":
                name = await self._start_web_server(ep, fn)
            else:
                name = await self._serve(ep, await self._build_app(ep, fn))
            ready.unix_sockets[ep.method] = name
        return ready

    async def _build_app(self, ep: pb.WebEndpoint, fn):
        if ep.kind == "fastapi":
            try:
                from fastapi import FastAPI
            except ImportError:
                raise RuntimeError("@ketch.fastapi_endpoint needs FastAPI where the container "
                                   "runs: pip install fastapi (or use @ketch.asgi_app with "
                                   "any ASGI framework)") from None
            api = FastAPI(docs_url="/docs" if ep.docs else None, redoc_url=None,
                          openapi_url="/openapi.json" if ep.docs else None)
            api.add_api_route("/", fn, methods=[ep.http_method or "GET"])
            return api
        app = fn()
        if inspect.isawaitable(app):
            app = await app
        if app is None or not callable(app):
            decorator = "asgi_app" if ep.kind == "asgi" else "wsgi_app"
            raise TypeError(f"the @ketch.{decorator} function returned {app!r}; it must return "
                            f"the {ep.kind.upper()} app to serve")
        return app

    async def _serve(self, ep: pb.WebEndpoint, app) -> str:
        import uvicorn

        listening = asyncio.Event()

        class Server(uvicorn.Server):
            # The container handles SIGTERM itself and stops the server gracefully.
            @contextlib.contextmanager
            def capture_signals(self):
                yield

            async def startup(self, sockets=None):
                await super().startup(sockets=sockets)
                listening.set()

        if ep.kind == "wsgi":
            from a2wsgi import WSGIMiddleware

            app = WSGIMiddleware(app)
        from uvicorn.protocols.http.auto import AutoHTTPProtocol

        config = uvicorn.Config(
            _with_root_path(app), lifespan="off" if ep.kind == "wsgi" else "auto",
            http=coalescing(AutoHTTPProtocol),   # a response's head and body in one write
            # Its loggers print through the standard last-resort handler (warnings and
            # errors, to the container's stderr): building uvicorn's logging config costs
            # a few milliseconds of every start.
            log_level="warning", log_config=None,
            access_log=False, server_header=False,
            # The gateway keeps idle connections open and closes them itself.
            timeout_keep_alive=3600,
            # An open stream or WebSocket must not hold a stopping container past the
            # server's grace (then @exit hooks would never run).
            timeout_graceful_shutdown=WEB_STOP_GRACE_S)
        server = Server(config)
        name, sock = self._bind()

        async def run():
            try:
                await server.serve(sockets=[sock])
            except SystemExit:  # uvicorn exits when the app's lifespan startup fails
                raise RuntimeError("the app's startup (lifespan) failed; see its log "
                                   "above") from None

        task = asyncio.ensure_future(run())
        ready = asyncio.ensure_future(listening.wait())
        await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if task.done():
            task.result()  # raises what stopped it
            raise RuntimeError("the web server stopped while starting")
        self.servers.append(server)
        self.tasks.append(task)
        return name

    async def _start_web_server(self, ep: pb.WebEndpoint, fn) -> str:
        port = ep.port
        if await _accepts(port):
            raise RuntimeError(
                f"port {port} is already in use, before the @ketch.web_server function ran: "
                "another program listens there. On the process runtime containers share the "
                "machine's network, so another container of this function may hold it (and "
                "ketch's own gateway takes 8000 unless KETCH_GATEWAY_ADDR moves it): give "
                "the function a free port (and max_containers=1 if it must stay on one "
                "port).")
        result = await asyncio.get_running_loop().run_in_executor(None, fn)
        if inspect.isawaitable(result):
            await result
        deadline = time.monotonic() + ep.startup_timeout_s
        wait = READY_POLL_FIRST_S
        while not await _accepts(port):
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listened on port {port} within the "
                                   f"@ketch.web_server startup_timeout of "
                                   f"{ep.startup_timeout_s:g} s; start the server in the "
                                   "function (e.g. subprocess.Popen) and raise startup_timeout "
                                   "if it needs longer")
            await asyncio.sleep(wait)
            wait = min(wait * 2, READY_POLL_S)
        name, sock = self._bind()
        self.forwarders.append(await asyncio.get_running_loop().create_unix_server(
            functools.partial(_Forward, port), sock=sock))
        return name

    async def stop(self):
        """Stops accepting connections and waits for the requests in flight."""
        for forwarder in self.forwarders:
            forwarder.close()
        for server in self.servers:
            server.should_exit = True
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


def _use_fallback_site():
    """Appends FALLBACK_SITE to sys.path, last, where the container has it."""
    if os.path.isdir(FALLBACK_SITE) and FALLBACK_SITE not in sys.path:
        sys.path.append(FALLBACK_SITE)


def _with_root_path(app):
    """Requests that came by the gateway's path form (`/<app>--<label>/…`) carry the prefix
    in X-Forwarded-Prefix: it becomes the ASGI root_path (WSGI's SCRIPT_NAME), so FastAPI's
    /docs and the links an app builds point back through the prefix."""
    async def asgi(scope, receive, send):
        if scope["type"] != "lifespan":
            for name, value in scope["headers"]:
                if name == b"x-forwarded-prefix":
                    scope = dict(scope, root_path=scope.get("root_path", "") +
                                 value.decode("latin-1"))
                    break
        return await app(scope, receive, send)

    return asgi


async def _accepts(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


class _Pipe(asyncio.Protocol):
    """One side of a relayed connection: what arrives here leaves through `peer`'s side."""

    def __init__(self, peer: "_Pipe | None" = None):
        self.peer = peer
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.peer.transport.write(data)

    def eof_received(self):
        if self.peer.transport.can_write_eof():
            self.peer.transport.write_eof()
        return True  # keep the other direction open

    def pause_writing(self):
        self.peer.transport.pause_reading()

    def resume_writing(self):
        self.peer.transport.resume_reading()

    def connection_lost(self, exc):
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()


class _Forward(_Pipe):
    """The gateway's connection to a @web_server socket, relayed to the user's TCP port;
    what arrives before that connection is made waits here."""

    def __init__(self, port: int):
        super().__init__()
        self.port = port
        self.early: list[bytes] = []
        self.early_eof = False

    def connection_made(self, transport):
        super().connection_made(transport)
        transport.pause_reading()
        asyncio.ensure_future(self._connect())

    def data_received(self, data):
        if self.peer is None:
            self.early.append(data)
        else:
            super().data_received(data)

    def eof_received(self):
        if self.peer is None:
            self.early_eof = True
            return True
        return super().eof_received()

    async def _connect(self):
        try:
            _, peer = await asyncio.get_running_loop().create_connection(
                lambda: _Pipe(self), "127.0.0.1", self.port)
        except OSError:
            self.transport.close()
            return
        if self.transport.is_closing():
            peer.transport.close()
            return
        self.peer = peer
        for data in self.early:
            super().data_received(data)
        self.early = []
        if self.early_eof:
            super().eof_received()
        self.transport.resume_reading()

    def connection_lost(self, exc):
        if self.peer is not None:
            super().connection_lost(exc)
