"""The gateway's HTTP/1.1 proxy: one protocol object per client connection, one per
connection to a container.

A client request is parsed (httptools) only as far as routing needs: its head is rebuilt
for the container and its body is forwarded chunk by chunk as it arrives. The container's
response is forwarded byte for byte as it arrives, and parsed only to find where it ends,
so streaming responses and server-sent events pass through untouched. A `101 Switching
Protocols` answer turns both connections into a plain byte tunnel (WebSockets).
Connections to containers are kept alive and reused. Back pressure runs both ways: a slow
reader pauses the writer's side.
"""

from __future__ import annotations

import asyncio
import collections
import os
import time
from typing import Protocol

import httptools

# Headers that say how a request was forwarded: the gateway sets its own and drops what a
# client sent, so an app that trusts them cannot be told a false host or address.
FORWARDING_HEADERS = {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host",
                      b"x-forwarded-prefix", b"forwarded"}
BODY_BUFFER_LIMIT = 1 << 20  # held request bodies beyond this pause the client

# Anonymous clients reach the gateway, so what one may make it hold is bounded. A request
# head (request line and headers) is at most this big and has at most this many headers,
# or it gets 431: browsers and proxies stay far below both (nginx's default buffers hold
# 32 KiB; Node.js allows a 16 KiB head).
MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 100


def _seconds(name: str, default: float) -> float:
    value = os.environ.get(name)
    try:
        return float(value) if value else default
    except ValueError:
        raise ValueError(f"{name}={value!r}: give a number of seconds") from None


# A head must arrive within this long of its first byte (or of the connection opening),
# or the client gets 408; a body that stops arriving for this long is abandoned and its
# container slot freed (like nginx's client_header_timeout and client_body_timeout).
HEAD_TIMEOUT_S = _seconds("KETCH_GATEWAY_HEAD_TIMEOUT_S", 15.0)
BODY_TIMEOUT_S = _seconds("KETCH_GATEWAY_BODY_TIMEOUT_S", 30.0)


class _Refused(Exception):
    """Raised in a parser callback to stop parsing a request the gateway refuses."""


class ExchangeOwner(Protocol):
    """What the proxy asks of the gateway: route a request, start it on a container, and
    hear how it ended."""

    clients: set["ClientConnection"]

    def route_request(self, ex: "Exchange", url: bytes, headers, version: str) -> None: ...

    def dispatch(self, ex: "Exchange") -> None: ...

    def abandon(self, ex: "Exchange") -> None: ...

    def upstream_lost(self, ex: "Exchange", up: "UpstreamConnection") -> None: ...

    def response_done(self, ex: "Exchange", reusable: "UpstreamConnection | None") -> None: ...

    def exchange_finished(self, ex: "Exchange") -> None: ...


class ConnectionPool(Protocol):
    """Where an upstream connection belongs (the gateway's Backend of one container)."""

    def forget(self, up: "UpstreamConnection") -> None: ...


def simple_response(status: int, reason: str, text: str, keep_alive: bool) -> bytes:
    body = (text.rstrip("\n") + "\n").encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\n"
            f"connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n").encode() + body


class Exchange:
    """One request and its response."""

    __slots__ = ("client", "method", "head", "chunked", "body", "body_size", "body_done",
                 "keep_alive", "upgrade", "route", "error", "backend", "upstream",
                 "responded", "done", "waiter", "attempts", "timer", "status", "started",
                 "response_header")

    def __init__(self, client: "ClientConnection", method: bytes, keep_alive: bool,
                 upgrade: bool):
        self.client = client
        self.method = method
        self.head = b""
        self.chunked = False
        self.body: list[bytes] = []      # held until a container takes the request
        self.body_size = 0
        self.body_done = False
        self.keep_alive = keep_alive
        self.upgrade = upgrade
        self.route = None                # the gateway's Route, once routed
        self.error: tuple[int, str, str] | None = None  # the gateway's own answer
        self.backend = None              # the gateway's Backend, while on a container
        self.upstream: "UpstreamConnection | None" = None
        self.responded = False           # response bytes reached the client
        self.done = False
        self.waiter = None
        self.attempts = 0
        self.timer: asyncio.TimerHandle | None = None  # the function's timeout
        self.status = 0                  # the response's HTTP status, once known
        self.started = time.monotonic()
        self.response_header = b""      # a header line the gateway adds to the response

    def send_body(self, data: bytes):
        if self.chunked:
            data = b"%x\r\n%b\r\n" % (len(data), data)
        up = self.upstream
        if up is not None and up.transport is not None:
            up.transport.write(data)
        else:
            self.body.append(data)
            self.body_size += len(data)
            if self.body_size > BODY_BUFFER_LIMIT:
                self.client.pause()

    def end_body(self):
        self.body_done = True
        if self.chunked:
            self.send_body_raw(b"0\r\n\r\n")

    def send_body_raw(self, data: bytes):
        up = self.upstream
        if up is not None and up.transport is not None:
            up.transport.write(data)
        else:
            self.body.append(data)


class ClientConnection(asyncio.Protocol):
    """A connection from an HTTP client. Requests on it are answered in order."""

    def __init__(self, gateway: ExchangeOwner):
        self.gateway = gateway
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.peer = b""
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.exchanges: collections.deque[Exchange] = collections.deque()
        self.receiving: Exchange | None = None
        self.upgraded = False            # bytes after an upgrade request are not HTTP
        self.paused = False
        self.write_paused = False
        self.closing = False
        self.last_active = time.monotonic()
        self.in_head = True              # between a request's first byte and its last header
        self.head_bytes = 0
        self.header_count = 0
        self.refusal: tuple[int, str, str] | None = None
        self.timer: asyncio.TimerHandle | None = None   # the head's or the body's deadline
        self.body_seen = 0.0             # when the body being received last had bytes

    # -- connection

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = (peer[0] if peer else "").encode()
        self.gateway.clients.add(self)
        self._arm(HEAD_TIMEOUT_S, self._head_timed_out)

    def connection_lost(self, exc):
        self.closing = True
        self._arm(None)
        self.gateway.clients.discard(self)
        for ex in self.exchanges:
            self.gateway.abandon(ex)
        self.exchanges.clear()

    def data_received(self, data: bytes):
        self.last_active = time.monotonic()
        if self.upgraded:
            ex = self.exchanges[0] if self.exchanges else None
            if ex is not None:
                ex.send_body_raw(data)
            return
        if self.in_head:
            self.head_bytes += len(data)  # an overcount by at most one read: a bound is all
        try:
            self.parser.feed_data(data)
            if self.in_head and self.head_bytes > MAX_HEAD_BYTES:  # every byte was head
                self.reply_and_close(*self._head_refusal(f"its head is over "
                                                         f"{MAX_HEAD_BYTES} bytes"))
        except httptools.HttpParserUpgrade as upgrade:
            self.upgraded = True
            self._arm(None)
            rest = data[upgrade.args[0]:]
            if rest and self.exchanges:
                self.exchanges[-1].send_body_raw(rest)
        except httptools.HttpParserError as exc:
            if self.refusal is not None:
                self.reply_and_close(*self.refusal)
            else:
                self.reply_and_close(400, "Bad Request", f"ketch gateway: malformed HTTP "
                                                         f"request: {exc}")

    def eof_received(self):
        # A client that half-closes abandons its requests: nobody is sure to read an answer,
        # and a container slot must not wait on it.
        for ex in self.exchanges:
            self.gateway.abandon(ex)
        return False

    def _head_refusal(self, why: str) -> tuple[int, str, str]:
        self.refusal = (431, "Request Header Fields Too Large",
                        f"ketch gateway: request refused: {why}. Send a smaller head (at "
                        f"most {MAX_HEAD_BYTES} bytes and {MAX_HEADERS} headers).")
        return self.refusal

    # -- deadlines: one timer per connection, for the head or the body being received

    def _arm(self, delay: float | None, callback=None):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if delay is not None and not self.closing:
            self.timer = asyncio.get_running_loop().call_later(delay, callback)

    def _head_timed_out(self):
        self.timer = None
        if self.exchanges:  # a pipelined head behind a response: its clock starts after it
            self._arm(HEAD_TIMEOUT_S, self._head_timed_out)
            return
        self.reply_and_close(408, "Request Timeout", f"ketch gateway: the request head did "
                             f"not arrive within {HEAD_TIMEOUT_S:g} s")

    def _body_timed_out(self):
        self.timer = None
        ex = self.receiving
        if ex is None:
            return
        quiet = time.monotonic() - self.body_seen
        if self.paused or quiet < BODY_TIMEOUT_S:  # held by the gateway itself, or not yet
            self._arm(BODY_TIMEOUT_S - (0 if self.paused else quiet), self._body_timed_out)
            return
        self.gateway.abandon(ex)  # frees its container slot now
        if ex.responded:
            self.transport.close()
        else:
            self.reply_and_close(408, "Request Timeout", f"ketch gateway: the request body "
                                 f"stopped arriving for {BODY_TIMEOUT_S:g} s")

    def pause_writing(self):
        self.write_paused = True
        up = self.exchanges[0].upstream if self.exchanges else None
        if up is not None and up.transport is not None:
            up.transport.pause_reading()

    def resume_writing(self):
        self.write_paused = False
        up = self.exchanges[0].upstream if self.exchanges else None
        if up is not None and up.transport is not None:
            up.transport.resume_reading()

    def pause(self):
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self):
        if self.paused and self.transport is not None:
            self.paused = False
            self.body_seen = time.monotonic()  # its body's clock stood still while held
            self.transport.resume_reading()

    # -- httptools callbacks

    def on_message_begin(self):
        self.url = b""
        self.headers = []
        if not self.in_head:
            self.in_head = True
            self._arm(HEAD_TIMEOUT_S, self._head_timed_out)

    def on_url(self, url: bytes):
        self.url += url

    def on_header(self, name: bytes, value: bytes):
        self.headers.append((name, value))
        if len(self.headers) > MAX_HEADERS:
            self._head_refusal(f"it has over {MAX_HEADERS} headers")
            raise _Refused()  # httptools stops parsing; data_received answers

    def on_headers_complete(self):
        self.in_head = False
        self.head_bytes = 0
        self._arm(None)
        parser = self.parser
        ex = Exchange(self, parser.get_method(), parser.should_keep_alive(),
                      parser.should_upgrade())
        self.receiving = ex
        self.exchanges.append(ex)
        self.gateway.route_request(ex, self.url, self.headers, parser.get_http_version())
        if not ex.body_done:
            self.body_seen = time.monotonic()
            self._arm(BODY_TIMEOUT_S, self._body_timed_out)
        if len(self.exchanges) == 1:
            self.gateway.dispatch(ex)

    def on_body(self, body: bytes):
        self.body_seen = time.monotonic()
        ex = self.receiving
        if ex is not None and not ex.done:
            ex.send_body(body)

    def on_message_complete(self):
        ex = self.receiving
        self.receiving = None
        if not self.in_head:
            self._arm(None)
        if ex is not None:
            ex.end_body()

    # -- answering

    def write(self, data: bytes):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def reply(self, ex: Exchange, status: int, reason: str, text: str):
        """Answers `ex` from the gateway itself (404, 401, 502, 503)."""
        keep = ex.keep_alive and not ex.upgrade and ex.body_done
        ex.keep_alive = keep
        ex.responded = True
        ex.status = status
        self.write(simple_response(status, reason, text, keep))
        self.finished(ex)

    def reply_and_close(self, status: int, reason: str, text: str):
        self.write(simple_response(status, reason, text, False))
        if self.transport is not None:
            self.transport.close()

    def finished(self, ex: Exchange):
        """`ex` got its whole response: start the next request, or close."""
        ex.done = True
        self.gateway.exchange_finished(ex)
        self.last_active = time.monotonic()  # idle from now, not from its last request
        if self.exchanges and self.exchanges[0] is ex:
            self.exchanges.popleft()
        if not ex.keep_alive or self.transport is None:
            if self.transport is not None:
                self.transport.close()
            return
        if self.exchanges:
            self.gateway.dispatch(self.exchanges[0])
        elif self.closing:
            self.transport.close()


class UpstreamConnection(asyncio.Protocol):
    """A kept-alive connection to one endpoint of one container."""

    def __init__(self, backend: ConnectionPool, method: str):
        self.backend = backend
        self.method = method
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.exchange: Exchange | None = None
        self.status = 0
        self.tunnel = False
        self.reusable = True
        self.status_line = b""   # the response's first bytes, while a header waits to go in

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.transport = None
        self.backend.forget(self)
        ex = self.exchange
        self.exchange = None
        if ex is not None and not ex.done:
            ex.client.gateway.upstream_lost(ex, self)

    def start(self, ex: Exchange):
        self.exchange = ex
        self.status = 0
        ex.upstream = self
        parts = [ex.head, *ex.body]
        ex.body = []
        ex.body_size = 0
        self.transport.write(b"".join(parts))
        ex.client.resume()
        if ex.client.write_paused:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def data_received(self, data: bytes):
        ex = self.exchange
        if ex is None:
            return  # an answer nobody asked for: the container is confused
        if ex.response_header:
            data = self._add_header(ex, data)
            if not data:
                return
        ex.responded = True
        ex.client.write(data)
        if self.tunnel:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.tunnel = True  # 101: from now on, bytes both ways, for as long as they last
            if ex.timer is not None:
                ex.timer.cancel()
                ex.timer = None
        except httptools.HttpParserError:
            self.reusable = False
            self.transport.close()

    def _add_header(self, ex: Exchange, data: bytes) -> bytes:
        """The response with the gateway's header after its status line (once that line is
        whole); b"" while it is not. An interim 100 response goes as it is, without it."""
        data = self.status_line + data
        end = data.find(b"\r\n")
        if end == -1 and len(data) < MAX_HEAD_BYTES:
            self.status_line = data
            return b""
        self.status_line = b""
        line, header = data[:end + 2], ex.response_header
        ex.response_header = b""
        if end == -1 or line[9:12] == b"100":
            return data
        return line + header + data[end + 2:]

    def pause_writing(self):
        if self.exchange is not None:
            self.exchange.client.pause()

    def resume_writing(self):
        if self.exchange is not None:
            self.exchange.client.resume()

    # -- httptools callbacks

    def on_headers_complete(self):
        self.status = self.parser.get_status_code()
        if self.exchange is not None:
            self.exchange.status = self.status
        if self.exchange is not None and self.exchange.method == b"HEAD" \
                and self.status >= 200:
            # A HEAD response has no body whatever its headers say.
            keep = self.parser.should_keep_alive()
            self.parser = httptools.HttpResponseParser(self)
            self._complete(keep)

    def on_message_complete(self):
        if 100 <= self.status < 200:
            return  # 100 Continue and friends: the real response follows
        self._complete(self.parser.should_keep_alive())

    def _complete(self, keep_alive: bool):
        ex = self.exchange
        if ex is None or ex.done:
            return
        keep = self.reusable and ex.body_done and keep_alive
        if ex.upgrade:
            ex.keep_alive = False  # refused upgrade: the client's next bytes are not HTTP
            keep = False
        self.exchange = None
        ex.upstream = None
        if keep and self.transport is not None:
            # It may have been paused for a slow client: a pooled connection must read.
            self.transport.resume_reading()
        ex.client.gateway.response_done(ex, self if keep else None)
        if not keep and self.transport is not None:
            self.transport.close()
