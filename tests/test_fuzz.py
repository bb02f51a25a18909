"""Bounded fuzzing of the two doors anyone on the network can knock on: the wire protocol
and the gateway. Random and garbage input against a real server on loopback, a bounded
number of examples each; after each batch the server is alive, logged no traceback, and a
normal call (a normal web request) still works."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TESTS, ServerProcess
from ketch.proto import ketch_pb2 as pb
from wire_helpers import RawConn

BOUNDED = settings(max_examples=150, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])
WAIT_S = 0.2  # how long an example waits for an answer before it moves on

# Requests that touch nothing outside the server's own state: random ones must not stop
# the server, build images (pip), start containers or write files.
SAFE_REQUESTS = ["app_create", "app_list", "call_cancel", "call_close", "call_get",
                 "container_list", "dict_request", "function_get", "image_list",
                 "object_delete", "object_list", "object_lookup", "queue_cancel_wait",
                 "queue_clear", "queue_get", "queue_len", "queue_peek", "queue_put",
                 "server_status", "web_url_get", "proxy_token_list", "log_subscribe"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = ServerProcess(tmp_path_factory.mktemp("fuzz")).start()
    code = ("import sys\nfrom apps import harden_web\nwith harden_web.app.run():\n"
            "    print(harden_web.one.get_web_url(), flush=True)\n    sys.stdin.read()\n")
    web = subprocess.Popen([sys.executable, "-c", code], env={**s.env, "PYTHONPATH": "."},
                           cwd=TESTS, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert web.stdout.readline().startswith("http://")
    s.web_url = f"http://127.0.0.1:{s.gateway_port}/hardweb--one-dev"
    yield s
    web.stdin.close()
    web.wait(30)
    s.stop()


def token(s: ServerProcess) -> str:
    return (s.data_dir / "token").read_text().strip()


def still_fine(s: ServerProcess):
    assert s.proc.poll() is None, "the server died"
    assert "Traceback" not in s.log()
    out = s.python("from apps import basic\nwith basic.app.run():\n"
                   "    print(basic.square.remote(9))\n", timeout=120)
    assert out.returncode == 0 and out.stdout.split()[-1] == "81", out.stderr
    assert httpx.get(s.web_url, timeout=60).text == "0"


def _drain(sock: socket.socket):
    sock.settimeout(WAIT_S)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass  # a timeout or a reset: either way it moves on
    sock.close()


framed = st.binary(max_size=300).map(lambda b: struct.pack(">I", len(b)) + b)
stream = st.lists(st.one_of(st.binary(max_size=64), framed), min_size=1, max_size=5)


@BOUNDED
@given(chunks=stream, authenticate=st.booleans())
def test_fuzz_wire_garbage(srv, chunks, authenticate):
    conn = RawConn(srv.address)
    try:
        if authenticate:
            conn.hello(token(srv))
        for chunk in chunks:
            conn.sock.sendall(chunk)
    except OSError:
        pass  # it hung up on us: allowed
    _drain(conn.sock)


def test_wire_is_fine_after_garbage(srv):
    still_fine(srv)


@BOUNDED
@given(kind=st.sampled_from(SAFE_REQUESTS), payload=st.binary(max_size=80),
       rid=st.integers(min_value=0, max_value=2**64 - 1))
def test_fuzz_wire_requests(srv, kind, payload, rid):
    """Well-framed requests of real kinds with random contents."""
    body_type = pb.Frame.DESCRIPTOR.fields_by_name[kind].message_type._concrete_class
    try:
        body = body_type.FromString(payload)
    except Exception:
        body = body_type()
    conn = RawConn(srv.address)
    try:
        conn.hello(token(srv))
        data = pb.Frame(id=rid, **{kind: body}).SerializeToString()
        conn.sock.sendall(struct.pack(">I", len(data)) + data)
    except OSError:
        pass
    _drain(conn.sock)


def test_wire_is_fine_after_random_requests(srv):
    still_fine(srv)


methods = st.sampled_from([b"GET", b"POST", b"PUT", b"HEAD", b"OPTIONS", b"G\x00T", b""])
paths = st.one_of(st.just(b"/hardweb--one-dev/"), st.binary(max_size=40).map(
    lambda b: b"/hardweb--one-dev/" + b), st.binary(max_size=40))
headers = st.lists(st.tuples(st.binary(min_size=0, max_size=20), st.binary(max_size=40)),
                   max_size=8)
tails = st.one_of(st.just(b"\r\n"), st.just(b""), st.binary(max_size=100))


@BOUNDED
@given(method=methods, path=paths, head_lines=headers, tail=tails,
       version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/9.9", b""]))
def test_fuzz_gateway_heads(srv, method, path, head_lines, tail, version):
    head = b"%b %b %b\r\n" % (method, path, version)
    head += b"".join(b"%b: %b\r\n" % (name, value) for name, value in head_lines)
    with socket.create_connection(("127.0.0.1", srv.gateway_port), timeout=5) as sock:
        try:
            sock.sendall(head + tail)
        except OSError:
            return
        _drain(sock)


def test_gateway_is_fine_after_random_heads(srv):
    still_fine(srv)
