"""Attacks on the gateway by anonymous HTTP clients (issue 9, item 7): huge heads, slow
heads, bodies that stop, half-closed clients, and a flood of requests waiting for a
container. A real server, a real container, raw sockets on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from conftest import TESTS, ServerProcess

HEAD_TIMEOUT_S = 2
BODY_TIMEOUT_S = 2


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    s = ServerProcess(tmp_path_factory.mktemp("gateway"), extra_env={
        "KETCH_GATEWAY_HEAD_TIMEOUT_S": str(HEAD_TIMEOUT_S),
        "KETCH_GATEWAY_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S)}).start()
    # The app runs while this client waits on its stdin.
    code = ("import sys\nfrom apps import harden_web\nwith harden_web.app.run():\n"
            "    print(harden_web.one.get_web_url(), flush=True)\n    sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], env={**s.env, "PYTHONPATH": "."},
                            cwd=TESTS, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("http://")
    s.url = f"http://127.0.0.1:{s.gateway_port}/hardweb--one-dev"
    assert httpx.get(s.url, timeout=60).text == "0"  # warm: its container is up
    yield s
    proc.stdin.close()
    proc.wait(30)
    s.stop()


def raw(s: ServerProcess, timeout: float = 10) -> socket.socket:
    return socket.create_connection(("127.0.0.1", s.gateway_port), timeout=timeout)


def answer(sock: socket.socket) -> bytes:
    """Everything the gateway sends until it closes the connection."""
    parts = []
    try:
        while chunk := sock.recv(65536):
            parts.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(parts)


def head(path: str = "/hardweb--one-dev/", extra: bytes = b"") -> bytes:
    return b"GET %b HTTP/1.1\r\nHost: 127.0.0.1\r\n%b" % (path.encode(), extra)


def test_a_huge_header_gets_431(gw):
    sock = raw(gw)
    try:
        sock.sendall(head(extra=b"X-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"))
    except (BrokenPipeError, ConnectionResetError):
        pass  # it answered and hung up before all of it was sent
    reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 431 "), reply[:200]
    assert b"over 65536 bytes" in reply


def test_a_hundred_thousand_headers_get_431(gw):
    sock = raw(gw)
    try:
        sock.sendall(head(extra=b"".join(b"X-%d: y\r\n" % i for i in range(100_000))
                          + b"\r\n"))
    except (BrokenPipeError, ConnectionResetError):
        pass
    reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 431 ") and b"100 headers" in reply, reply[:200]


def test_a_head_that_never_finishes_gets_408(gw):
    sock = raw(gw, timeout=HEAD_TIMEOUT_S + 10)
    started = time.monotonic()
    sock.sendall(b"GET /hardweb--one-dev/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 408 "), reply
    assert time.monotonic() - started < HEAD_TIMEOUT_S + 5
    # A connection that sends nothing at all is closed as well.
    idle = raw(gw, timeout=HEAD_TIMEOUT_S + 10)
    assert answer(idle).startswith(b"HTTP/1.1 408 ")


def _stalled_post(gw) -> socket.socket:
    sock = raw(gw, timeout=30)
    sock.sendall(b"POST /hardweb--one-dev/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Length: 1000\r\n\r\nx")  # 1 of 1,000 bytes, then nothing
    return sock


def test_a_body_that_stops_frees_the_container_slot(gw):
    stalled = [_stalled_post(gw) for _ in range(3)]
    time.sleep(0.5)
    started = time.monotonic()
    r = httpx.get(gw.url, timeout=60)  # the only slot is held until the stalled ones go
    assert r.status_code == 200 and r.text == "0"
    assert time.monotonic() - started < 3 * BODY_TIMEOUT_S + 10
    for sock in stalled:
        assert answer(sock).startswith(b"HTTP/1.1 408 ")


def test_a_half_closed_client_abandons_its_request(gw):
    sock = raw(gw, timeout=30)
    sock.sendall(b"GET /hardweb--one-dev/?30 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    time.sleep(0.5)  # it runs on the only slot, for 30 s unless abandoned
    sock.shutdown(socket.SHUT_WR)
    assert answer(sock) == b""  # closed without an answer
    started = time.monotonic()
    assert httpx.get(gw.url, timeout=60).text == "0"
    assert time.monotonic() - started < 10


def test_requests_waiting_for_a_container_are_bounded(gw):
    from ketch.server.gateway.service import MAX_WAITING_PER_FUNCTION

    busy = raw(gw, timeout=60)
    busy.sendall(b"GET /hardweb--one-dev/?20 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    time.sleep(0.5)
    waiting = []
    try:
        for _ in range(MAX_WAITING_PER_FUNCTION):
            sock = raw(gw, timeout=30)
            sock.sendall(head(extra=b"\r\n"))
            waiting.append(sock)
        time.sleep(0.5)
        started = time.monotonic()
        r = httpx.get(gw.url, timeout=30)
        assert r.status_code == 503 and b"already wait" in r.content, r.text
        assert time.monotonic() - started < 5
    finally:
        for sock in [busy, *waiting]:
            sock.close()
    time.sleep(0.5)
    assert httpx.get(gw.url, timeout=60).text == "0"  # abandoned waiters are gone
