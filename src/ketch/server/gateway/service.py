"""The gateway: routes each web request to a container of its function with a free slot.

Routing: `http://<app>--<label>.localhost:<port>/path` by Host header, or
`http://127.0.0.1:<port>/<app>--<label>/path` by path prefix (the prefix is stripped and
sent as `X-Forwarded-Prefix`). Ephemeral apps (`ketch serve`, `ketch run`) answer at
`<label>-dev`, as in Modal, so a served app does not shadow the deployed one.

A request takes one of the function's `max_inputs` slots on a ready container (the least
busy) for as long as it runs — a WebSocket for as long as it is open. With no free slot it
waits; waiting requests count as pending work for the autoscaler, which starts containers
(from zero, too). A request that waits longer than the function's startup timeout gets 503;
when a container fails to start, the requests waiting for it get 503 with its error at
once.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path
from typing import Callable, Mapping, Protocol

from ... import _wire
from ...proto import ketch_pb2 as pb
from ..functions.model import DELIBERATE_STOPS, AppRecord, ContainerRecord, FunctionRecord, \
    StopReason
from ...node.relay import RelayTarget
from . import upstream
from .backend import Backend
from .proxy import ClientConnection, Exchange, UpstreamConnection
from .requests import RequestHead, request_target
from .connect_tokens import ConnectTokens
from .sandbox_connect import ConnectRoute, SandboxConnect
from ..tokens import DEFAULT_WORKSPACE
from .tokens import ProxyTokens

log = logging.getLogger("ketch.gateway")

MAX_CONNECT_ATTEMPTS = 3
CLIENT_IDLE_S = 75.0  # a kept-alive client connection with nothing to do closes after this
# How often idle client connections are looked for: a connection lives at most a fifth
# longer than CLIENT_IDLE_S.
IDLE_SWEEP_S = CLIENT_IDLE_S / 5
# Requests waiting for a container of one function, at most: more get 503 at once. Waiting
# requests start containers, so without a bound anonymous traffic could reserve the
# machine's whole capacity and hold it for the startup timeout.
MAX_WAITING_PER_FUNCTION = 100
# Called as watcher(function or None when unrouted, endpoint label, HTTP status, seconds)
# for every answered request.
RequestWatcher = Callable[["FunctionRecord | None", str, int, float], None]


class Functions(Protocol):
    """What the gateway needs of the functions service."""

    apps: Mapping[str, AppRecord]

    def is_live(self, fn: FunctionRecord) -> bool: ...

    def container_ready(self, c: ContainerRecord, ready: pb.ContainerReady) -> None: ...

    def wants_containers(self, fn: FunctionRecord) -> None: ...

    def watch_exits(self, watcher: Callable[[ContainerRecord, str], None]) -> None: ...


def host_name(app_name: str) -> str:
    """An app name as it appears in a host name: lowercase letters, digits, single hyphens
    ("--" separates a host name's workspace, app and label)."""
    return re.sub(r"[^a-z0-9]+", "-", app_name.lower()).strip("-") or "app"


class Route:
    __slots__ = ("fn", "endpoint", "key")

    def __init__(self, fn: FunctionRecord, endpoint: pb.WebEndpoint, key: str):
        self.fn = fn
        self.endpoint = endpoint
        self.key = key


class Waiter:
    __slots__ = ("ex", "fn", "timer")

    def __init__(self, ex: Exchange, fn: FunctionRecord):
        self.ex = ex
        self.fn = fn
        self.timer: asyncio.TimerHandle | None = None


class Gateway:
    def __init__(self, functions: Functions, tokens: ProxyTokens, address: str,
                 web_dir: Callable[[str], Path], remote=lambda container_id: None):
        self.functions = functions
        self.address = address
        self.web_dir = web_dir  # container id → the directory its web sockets are in
        self.remote: Callable[[str], RelayTarget | None] = remote  # None: on this machine
        self.host, self.port = _wire.parse_address(address)
        self.tokens = tokens
        self.sandbox_connect = SandboxConnect(ConnectTokens(), web_dir,
                                              lambda cid: self.remote(cid))
        self.routes: dict[str, Route] = {}
        self.backends: dict[str, Backend] = {}
        self.waiting: dict[str, list[Waiter]] = {}
        self.clients: set[ClientConnection] = set()
        self.listener: asyncio.AbstractServer | None = None
        self.start_error = ""   # why it is not listening, when start() failed
        self.sweeper: asyncio.Task | None = None
        self.loop = asyncio.get_event_loop()
        self._request_watchers: list[RequestWatcher] = []
        functions.watch_exits(self.container_exited)

    async def start(self):
        try:
            self.listener = await self.loop.create_server(
                lambda: ClientConnection(self), self.host, self.port, reuse_address=True)
        except OSError as exc:
            self.start_error = f"cannot listen on {self.address}: {exc.strerror or exc}"
            raise
        self.port = self.listener.sockets[0].getsockname()[1]
        self.sweeper = asyncio.ensure_future(self._close_idle_clients())

    async def _close_idle_clients(self):
        while True:
            await asyncio.sleep(IDLE_SWEEP_S)
            cutoff = time.monotonic() - CLIENT_IDLE_S
            for client in list(self.clients):
                if not client.exchanges and client.last_active < cutoff and \
                        client.transport is not None:
                    client.transport.close()

    def close(self):
        if self.sweeper is not None:
            self.sweeper.cancel()
        if self.listener is not None:
            self.listener.close()
        for client in list(self.clients):
            if client.transport is not None:
                client.transport.close()

    # ------------------------------------------------------------------ URLs

    def route_key(self, fn: FunctionRecord, endpoint: pb.WebEndpoint) -> str:
        dev = "-dev" if fn.app.state != "deployed" else ""
        # Workspaces other than the default one lead the host name, as on Modal, so two
        # workspaces' apps of the same name never share a URL.
        ws = "" if fn.app.workspace == DEFAULT_WORKSPACE else f"{fn.app.workspace}--"
        return f"{ws}{host_name(fn.app.name)}--{endpoint.label}{dev}"

    def web_url(self, fn: FunctionRecord, method: str) -> pb.WebUrl:
        if self.listener is None:
            raise LookupError("the gateway is not listening (see the server's log for why), "
                              "so web endpoints have no URL; restart the server with a free "
                              "--gateway-address")
        root = fn.parent or fn
        for ep in root.spec.web_endpoints:
            if ep.method == method:
                key = self.route_key(root, ep)
                host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
                local = host.startswith("127.") or host in ("localhost", "::1")
                return pb.WebUrl(
                    url=f"http://{key}.localhost:{self.port}" if local
                    else f"http://{host}:{self.port}/{key}",
                    path_url=f"http://{host}:{self.port}/{key}")
        return pb.WebUrl()

    # ------------------------------------------------------------------ routing

    def lookup(self, key: str) -> Route | None:
        route = self.routes.get(key)
        if route is not None and self.functions.is_live(route.fn):
            return route
        best = None
        for app in self.functions.apps.values():
            for fn in app.functions.values():
                for ep in fn.spec.web_endpoints:
                    if app.state in ("deployed", "ephemeral", "detached") and \
                            self.route_key(fn, ep) == key and \
                            (best is None or app.created_at > best.fn.app.created_at):
                        best = Route(fn, ep, key)
        if best is None:
            self.routes.pop(key, None)
        else:
            self.routes[key] = best
        return best

    def route_request(self, ex: Exchange, url: bytes, headers, version: str):
        """Finds the endpoint for a request and rebuilds its head for the container; or
        sets the gateway's own answer (404, 401)."""
        if self.sandbox_connect.route(ex, url, headers, version):
            return
        head = RequestHead(headers)
        if not (head.chunked or head.sized):
            ex.body_done = True  # nothing follows the head: an early answer keeps the connection
        target = request_target(head.host, url)
        if target is None:
            ex.error = (404, "Not Found", f"ketch gateway: no web endpoint here. Web "
                        f"endpoints answer at http://<app>--<label>.localhost:{self.port}/ "
                        f"or http://127.0.0.1:{self.port}/<app>--<label>/; `ketch app list` "
                        "shows the apps and `ketch deploy` prints their URLs.")
            return
        key, prefix, path = target
        route = self.lookup(key)
        if route is None:
            ex.error = (404, "Not Found", f"ketch gateway: no running app serves {key!r}. "
                        "Check the app name and label (`ketch app list`); ephemeral apps "
                        "(ketch serve, ketch run) answer at <app>--<label>-dev.")
            return
        if route.endpoint.requires_proxy_auth:
            why = self.tokens.check(head.modal_key, head.modal_secret, route.fn.app.workspace)
            if why is not None:
                ex.error = (401, "Unauthorized", f"ketch gateway: {why}. Send the Modal-Key "
                            "and Modal-Secret headers of a token from `ketch proxy-auth "
                            "create`.")
                return
        ex.route = route
        ex.chunked = head.chunked
        extra = b"x-forwarded-for: %b\r\nx-forwarded-proto: http\r\n" % ex.client.peer
        if prefix:
            extra += b"x-forwarded-prefix: %b\r\n" % prefix
        ex.head = b"%b %b HTTP/%b\r\n%b%b\r\n" % (ex.method, path, version.encode(),
                                                 b"".join(head.lines), extra)

    def dispatch(self, ex: Exchange):
        """Starts a routed request on a container, or holds it until one has a slot."""
        if ex.done:
            return
        if ex.error is not None:
            ex.client.reply(ex, *ex.error)
            return
        if isinstance(ex.route, ConnectRoute):
            self.sandbox_connect.dispatch(ex)
            return
        fn = ex.route.fn
        if not self.functions.is_live(fn):
            route = self.lookup(ex.route.key)  # replaced (a reload, a new deploy)
            if route is None:
                ex.client.reply(ex, 503, "Service Unavailable", f"ketch gateway: the app "
                                f"serving {ex.route.key!r} stopped before this request ran")
                return
            if route.endpoint.requires_proxy_auth and not ex.route.endpoint.requires_proxy_auth:
                # Its headers were not checked for a token when it arrived: ask again.
                ex.client.reply(ex, 401, "Unauthorized", "ketch gateway: this endpoint now "
                                "requires proxy auth; send the Modal-Key and Modal-Secret "
                                "headers of a token from `ketch proxy-auth create`.")
                return
            ex.route = route
            fn = route.fn
        backend = self.acquire(fn)
        if backend is None:
            self.hold(ex, fn)
        else:
            self.connect(ex, backend)

    def acquire(self, fn: FunctionRecord) -> Backend | None:
        limit = fn.spec.max_inputs or 1
        best = None
        best_load = limit
        backends = self.backends
        for c in fn.containers.values():
            load = c.web_requests + len(c.inflight)
            if load < best_load and c.state == "ready":
                backend = backends.get(c.id)
                if backend is not None and not backend.dead:
                    best, best_load = backend, load
        if best is not None:
            best.container.web_requests += 1
        return best

    def release(self, ex: Exchange):
        backend = ex.backend
        if backend is None:
            return
        ex.backend = None
        if ex.timer is not None:
            ex.timer.cancel()
            ex.timer = None
        c = backend.container
        c.web_requests -= 1
        if not c.web_requests and not c.inflight:
            c.idle_since = time.monotonic()
        c.fn.last_active = time.monotonic()
        if self.waiting.get(c.fn.id):
            self.wake(c.fn)

    def connect(self, ex: Exchange, backend: Backend):
        ex.backend = backend
        if ex.timer is None:  # an upgrade's timer stops once the container accepts it
            ex.timer = self.loop.call_later(ex.route.fn.spec.timeout_s,
                                            self._request_timed_out, ex)
        method = ex.route.endpoint.method
        idle = backend.idle.get(method)
        if idle:
            idle.pop().start(ex)
        else:
            asyncio.ensure_future(self._open(ex, backend, method))

    async def _open(self, ex: Exchange, backend: Backend, method: str):
        up = UpstreamConnection(backend, method)
        try:
            cid, name = backend.container.id, backend.unix_sockets.get(method, "")
            target = self.remote(cid)
            sock = await (upstream.connect(self.loop, backend.web_dir, name) if target is None
                          else upstream.connect_remote(self.loop, target, cid, name))
            await self.loop.create_connection(lambda: up, sock=sock)
        except OSError as exc:
            # Nothing listens there: the container died. Route around it.
            log.info("gateway: container %s refused a connection (%s)", backend.container.id, exc)
            backend.dead = True
            self.release(ex)
            ex.attempts += 1
            if ex.done:
                return
            if ex.attempts >= MAX_CONNECT_ATTEMPTS:
                ex.client.reply(ex, 502, "Bad Gateway", f"ketch gateway: the containers of "
                                f"{ex.route.key!r} refused connections ({exc}); see "
                                "`ketch app logs`")
                return
            self.dispatch(ex)
            return
        backend.conns.add(up)
        if ex.done or backend.dead:  # the client left meanwhile
            self.release(ex)
            up.transport.close()
            return
        up.start(ex)

    def watch_requests(self, watcher: RequestWatcher):
        """`watcher` hears of every answered request (metrics and the call history)."""
        self._request_watchers.append(watcher)

    def exchange_finished(self, ex: Exchange):
        route = ex.route
        seconds = time.monotonic() - ex.started
        for watcher in self._request_watchers:
            watcher(route.fn if route is not None else None,
                    route.endpoint.label if route is not None else "", ex.status, seconds)

    def response_done(self, ex: Exchange, reusable: UpstreamConnection | None):
        backend = ex.backend
        self.release(ex)
        if reusable is not None and backend is not None and not backend.dead:
            backend.idle.setdefault(reusable.method, []).append(reusable)
        elif reusable is not None and reusable.transport is not None:
            reusable.transport.close()  # nowhere to keep it (a sandbox's, or a dead backend's)
        ex.client.finished(ex)

    def upstream_lost(self, ex: Exchange, up: UpstreamConnection):
        """The container closed the connection before the response ended."""
        self.release(ex)
        ex.upstream = None
        if ex.done:
            return
        if ex.responded:
            ex.done = True  # a tunnel closed, or a response broke off: end the client's too
            if ex.client.transport is not None:
                ex.client.transport.close()
            return
        if isinstance(ex.route, ConnectRoute):
            ex.client.reply(ex, 502, "Bad Gateway", self.sandbox_connect.unanswered(ex.route))
            return
        c = up.backend.container
        ex.client.reply(ex, 502, "Bad Gateway", f"ketch gateway: the container {c.id} of "
                        f"{ex.route.key!r} closed the connection before answering (it may "
                        "have crashed); see `ketch app logs`. The next request goes to a "
                        "healthy container.")

    def _request_timed_out(self, ex: Exchange):
        """A request ran past its function's timeout: it ends, like an input would."""
        ex.timer = None
        if ex.done:
            return
        up = ex.upstream
        if up is not None:
            up.exchange = None
            ex.upstream = None
            if up.transport is not None:
                up.transport.close()
        self.release(ex)
        if ex.responded:
            ex.done = True
            if ex.client.transport is not None:
                ex.client.transport.close()
            return
        timeout = ex.route.fn.spec.timeout_s
        ex.client.reply(ex, 504, "Gateway Timeout", f"ketch gateway: {ex.route.key!r} did "
                        f"not answer within its function's timeout of {timeout:g} s; raise "
                        "timeout= on the function if it needs longer")

    def abandon(self, ex: Exchange):
        """The client went away."""
        if ex.done:
            return
        ex.done = True
        if ex.waiter is not None:
            self._unwait(ex.waiter)
        up = ex.upstream
        if up is not None:
            up.exchange = None
            ex.upstream = None
            if up.transport is not None:
                up.transport.close()
        self.release(ex)

    # ------------------------------------------------------------------ waiting

    def hold(self, ex: Exchange, fn: FunctionRecord):
        if len(self.waiting.get(fn.id, ())) >= MAX_WAITING_PER_FUNCTION:
            ex.client.reply(ex, 503, "Service Unavailable", (
                f"ketch gateway: {MAX_WAITING_PER_FUNCTION} requests already wait for a "
                f"container of {ex.route.key!r}; try again later, or raise max_containers= "
                "/ @ketch.concurrent(max_inputs=...) so it serves more at once."))
            return
        w = Waiter(ex, fn)
        ex.waiter = w
        self.waiting.setdefault(fn.id, []).append(w)
        fn.web_waiting += 1
        limit = fn.spec.startup_timeout_s or fn.spec.timeout_s
        w.timer = self.loop.call_later(limit, self._timed_out, w, limit)
        self.functions.wants_containers(fn)

    def _unwait(self, w: Waiter):
        waiters = self.waiting.get(w.fn.id)
        if waiters and w in waiters:
            waiters.remove(w)
            w.fn.web_waiting -= 1
        if w.timer is not None:
            w.timer.cancel()
        w.ex.waiter = None

    def _timed_out(self, w: Waiter, limit: float):
        self._unwait(w)
        fn = w.fn
        starting = sum(1 for c in fn.containers.values() if c.state == "starting")
        busy = sum(1 for c in fn.containers.values() if c.state == "ready")
        w.ex.client.reply(w.ex, 503, "Service Unavailable", (
            f"ketch gateway: no container of {w.ex.route.key!r} could take this request "
            f"within {limit:g} s (the function's startup timeout): {starting} starting, "
            f"{busy} ready and busy with max_inputs={fn.spec.max_inputs or 1}. Raise "
            "startup_timeout=, or max_containers= / @ketch.concurrent(max_inputs=...)."))

    def wake(self, fn: FunctionRecord):
        waiters = self.waiting.get(fn.id)
        while waiters:
            backend = self.acquire(fn)
            if backend is None:
                return
            w = waiters[0]
            self._unwait(w)
            self.connect(w.ex, backend)

    # ------------------------------------------------------------------ containers

    def web_ready(self, c: ContainerRecord, msg: pb.WebReady):
        """A web container listens: it is ready for the functions service and routable."""
        if c.state != "starting":
            return
        self.backends[c.id] = Backend(c, msg, self.web_dir(c.id))
        self.functions.container_ready(c, pb.ContainerReady(ok=True))
        self.wake(c.fn)

    def container_exited(self, c: ContainerRecord, how: str):
        backend = self.backends.pop(c.id, None)
        if backend is not None:
            backend.close()
        fn = c.fn
        waiters = self.waiting.get(fn.id)
        if not waiters:
            return
        if not self.functions.is_live(fn):
            # Its app stopped or was replaced: route the waiting requests afresh.
            for w in list(waiters):
                self._unwait(w)
                self.dispatch(w.ex)
            return
        if c.ready_at is None and c.stop_reason not in DELIBERATE_STOPS:
            lines = [line for line in c.stderr_tail if line.strip()]
            if c.stop_reason is StopReason.INIT_FAILED:  # its code raised: the last line says
                reason = c.init_error or (lines[-1] if lines else "the app's code raised an error")
            else:
                reason = c.stop_text
            tail = "\n".join(c.stderr_tail)
            text = (f"ketch gateway: a container for {fn.label} failed to start: {reason}"
                    + (f"\nIts last output:\n{tail}" if tail else ""))
            for w in list(waiters):
                self._unwait(w)
                w.ex.client.reply(w.ex, 503, "Service Unavailable", text)
