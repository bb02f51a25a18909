"""Sandbox connect routes: HTTP (and WebSocket) requests that reach a server inside a
sandbox with a connect token (connect_tokens.py), as with Modal's `create_connect_token`.

A sandbox answers at `http://<sandbox id>.localhost:<gateway port>/` by Host header, or at
`http://<gateway host>:<port>/<sandbox id>/` by path prefix (stripped, and sent as
`X-Forwarded-Prefix`). Sandbox ids (`sb-<hex>`) have no "--", so they never clash with a web
endpoint's `<app>--<label>`. The token comes as the `_modal_connect_token` query parameter,
the `_modal_connect_token` cookie or `Authorization: Bearer <token>` (the first of them that
opens this sandbox counts); it is checked before anything is forwarded (401 otherwise) and
taken out of what the sandbox gets. A token from the query parameter also comes back as
that cookie (HttpOnly, SameSite=Lax, scoped to the sandbox's host or path prefix), so a page
a browser opened with it loads its links, scripts and fetches without it. The sandbox gets
the token's user
metadata as `X-Verified-User-Data` (one a client sent is dropped, so the header can be
trusted), and the usual X-Forwarded-* headers.

Each request opens a connection to the sandbox's port through the supervisor's socket
`port-<N>.sock` in its web directory (as tunnels do, sandboxes/tunnels.py); the proxy
streams bodies both ways and turns a `101` into a byte tunnel (WebSockets).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote_to_bytes

from ...node.relay import RelayTarget
from ...proto import ketch_pb2 as pb
from . import upstream
from .connect_tokens import ConnectTokens, Grant
from .proxy import Exchange, UpstreamConnection
from .requests import RequestHead

QUERY_PARAM = b"_modal_connect_token"
COOKIE = QUERY_PARAM          # Modal's name for the cookie too
USER_DATA_HEADER = b"x-verified-user-data"
# The supervisor may not listen on the port's socket yet: tries for 5 s in all, however
# long one try through a cluster node's relay takes.
CONNECT_WAIT_S = 5.0
_ENDPOINT = pb.WebEndpoint(label="sandbox")   # what request watchers hear as the label


class ConnectRoute:
    """A request for a sandbox, with the grant its token gave. `fn` None: no function."""

    __slots__ = ("endpoint", "fn", "grant", "key")

    def __init__(self, key: str, grant: Grant):
        self.key = key
        self.grant = grant
        self.fn = None
        self.endpoint = _ENDPOINT


class SandboxPool:
    """The upstream connections of one request (the proxy's ConnectionPool): none is
    kept, since the next request's token is checked afresh."""

    def __init__(self, sandbox):
        self.container = sandbox

    def forget(self, up: UpstreamConnection):
        pass


def connect_target(host: bytes, url: bytes) -> tuple[str, bytes, bytes] | None:
    """(sandbox id, stripped path prefix, path for the sandbox), by Host header or first
    path segment; None when neither names a sandbox."""
    label = host.partition(b":")[0].lower().partition(b".")
    if label[1] and label[0].startswith(b"sb-") and b"--" not in label[0]:
        return label[0].decode("latin-1"), b"", url
    tail = url[1:]
    cut = min((i for i in (tail.find(b"/"), tail.find(b"?")) if i != -1), default=len(tail))
    segment, rest = tail[:cut].lower(), tail[cut:]
    if not segment.startswith(b"sb-") or b"--" in segment:
        return None
    return segment.decode("latin-1"), b"/" + segment, rest if rest.startswith(b"/") else \
        b"/" + rest


def take_cookie_tokens(value: bytes) -> tuple[bytes, list[bytes]]:
    """A Cookie header's value without its connect-token cookies, and their values."""
    tokens, kept = [], []
    for pair in value.split(b";"):
        name, sep, cookie = pair.strip().partition(b"=")
        if sep and name == COOKIE:
            tokens.append(cookie.strip(b'"'))
        elif pair.strip():
            kept.append(pair.strip())
    return b"; ".join(kept), tokens


def token_cookie(token: bytes, prefix: bytes) -> bytes:
    """The Set-Cookie header line that hands a query token back as a cookie: for this
    sandbox's host (host form) or path prefix (path form) only, out of the page's scripts'
    reach, and sent on links followed from other sites but not on their forms' posts."""
    return b"set-cookie: %b=%b; Path=%b; HttpOnly; SameSite=Lax\r\n" % (
        COOKIE, token, prefix or b"/")


def take_query_token(path: bytes) -> tuple[bytes, bytes | None]:
    """`path` without its _modal_connect_token parameter, and that parameter's value."""
    base, sep, query = path.partition(b"?")
    if not sep:
        return path, None
    token, kept = None, []
    for part in query.split(b"&"):
        name, _, value = part.partition(b"=")
        if name == QUERY_PARAM:
            token = unquote_to_bytes(value)
        else:
            kept.append(part)
    return base + (b"?" + b"&".join(kept) if kept else b""), token


class SandboxConnect:
    def __init__(self, tokens: ConnectTokens, web_dir: Callable[[str], Path],
                 remote: Callable[[str], RelayTarget | None]):
        self.tokens = tokens
        self.web_dir = web_dir   # container id -> its web directory (a sandbox's id is one)
        self.remote = remote     # container id -> its node's relay; None: on this machine

    def urls(self, host: str, port: int, sandbox_id: str) -> tuple[str, str]:
        """(the host form on a loopback gateway, else the path form; the path form)."""
        host = host if host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        path_url = f"http://{host}:{port}/{sandbox_id}"
        if host.startswith("127.") or host in ("localhost", "::1"):
            return f"http://{sandbox_id}.localhost:{port}", path_url
        return path_url, path_url

    def route(self, ex: Exchange, url: bytes, headers, version: str) -> bool:
        """True when the request names a sandbox: then ex has its route and rebuilt head,
        or the gateway's own answer (401)."""
        host = next((value for name, value in headers if name.lower() == b"host"), b"")
        target = connect_target(host, url)
        if target is None:
            return False
        head = RequestHead(headers)
        if not (head.chunked or head.sized):
            ex.body_done = True  # nothing follows the head: an early answer keeps the connection
        sandbox_id, prefix, path = target
        path, query = take_query_token(path)
        bearer, cookies, lines = None, [], []
        for line in head.lines:
            name, _, value = line[:-2].partition(b": ")
            name = name.lower()
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                bearer = value[7:].strip()
            elif name == b"cookie":   # the token's cookie never reaches the sandbox
                value, found = take_cookie_tokens(value)
                cookies += found
                if not value:
                    continue
                line = b"cookie: %b\r\n" % value
            if name != USER_DATA_HEADER:
                lines.append(line)
        # The query first, then the cookie: the app may use Authorization itself.
        tried = [(query, "query"), *((c, "cookie") for c in cookies), (bearer, "bearer")]
        grant = source = used = None
        why = ""
        for token, where in tried:
            if token:
                found = self.tokens.check(token, sandbox_id)
                if not isinstance(found, str):
                    grant, source, used = found, where, token
                    break
                why = why or found   # the first token's reason, if none opens it
        if grant is None:
            grant = why or self.tokens.check(None, sandbox_id)
        if isinstance(grant, str):
            ex.error = (401, "Unauthorized", f"ketch gateway: {grant}.")
            return True
        if source == "bearer":
            lines = [line for line in lines if not line.lower().startswith(b"authorization:")]
        if source == "query" and used not in cookies:
            ex.response_header = token_cookie(used, prefix)
        extra = b"x-forwarded-for: %b\r\nx-forwarded-proto: http\r\n" % ex.client.peer
        if prefix:
            extra += b"x-forwarded-prefix: %b\r\n" % prefix
        if grant.metadata:
            extra += b"%b: %b\r\n" % (USER_DATA_HEADER, grant.metadata.encode())
        ex.route = ConnectRoute(sandbox_id, grant)
        ex.chunked = head.chunked
        ex.head = b"%b %b HTTP/%b\r\n%b%b\r\n" % (ex.method, path, version.encode(),
                                                 b"".join(lines), extra)
        return True

    def unanswered(self, route: ConnectRoute) -> str:
        """Why a request got no answer, for the 502."""
        return (f"ketch gateway: nothing in sandbox {route.key} answered on port "
                f"{route.grant.port} (is a server listening on 127.0.0.1:{route.grant.port} "
                "or 0.0.0.0 there? has it ended?)")

    def dispatch(self, ex: Exchange):
        sandbox = ex.route.grant.sandbox
        if sandbox.done:  # it ended while this request waited behind another on its connection
            ex.client.reply(ex, 401, "Unauthorized", "ketch gateway: this connect token's "
                            "sandbox has ended.")
            return
        sandbox.touch()   # a request is activity: idle_timeout counts from the last one
        asyncio.ensure_future(self._open(ex, sandbox, ex.route.grant.port))

    async def _open(self, ex: Exchange, sandbox, port: int):
        loop = asyncio.get_running_loop()
        sock, deadline = None, loop.time() + CONNECT_WAIT_S
        while sock is None and not (sandbox.done or ex.done) and \
                (left := deadline - loop.time()) > 0:
            name, target = f"port-{port}.sock", self.remote(sandbox.id)
            try:
                sock = await asyncio.wait_for(
                    upstream.connect(loop, self.web_dir(sandbox.id), name) if target is None
                    else upstream.connect_remote(loop, target, sandbox.id, name), left)
            except (OSError, asyncio.TimeoutError):
                await asyncio.sleep(0.1)
        if ex.done:
            if sock is not None:
                sock.close()
            return
        if sock is None:
            ex.client.reply(ex, 502, "Bad Gateway", self.unanswered(ex.route))
            return
        up = UpstreamConnection(SandboxPool(sandbox), "")
        await loop.create_connection(lambda: up, sock=sock)
        if ex.done:
            up.transport.close()
            return
        up.start(ex)
