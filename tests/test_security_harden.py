"""Attacks on the API's own boundary (issue 9, item 6): a peer that never authenticates,
sends a huge frame before it does, sends garbage, hand-crafts impossible numbers, or floods
requests without reading the replies. Each runs against a real server on loopback."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import time

import psutil
import pytest

import ketch
from ketch import _wire
from ketch.exception import InvalidError
from ketch.proto import ketch_pb2 as pb
from conftest import TESTS, ServerProcess
from wire_helpers import HEADER, RawConn, encode


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = ServerProcess(tmp_path_factory.mktemp("harden")).start()
    yield s
    s.stop()


def token(s: ServerProcess) -> str:
    return (s.data_dir / "token").read_text().strip()


def normal_call_works(s: ServerProcess):
    out = s.python("from apps import basic\nwith basic.app.run():\n"
                   "    print(basic.square.remote(7))\n", timeout=120)
    assert out.returncode == 0 and out.stdout.split()[-1] == "49", out.stderr


def closing_lines(s: ServerProcess) -> list[str]:
    return [line for line in s.log().splitlines() if "closing the connection from" in line]


def test_a_connection_that_never_says_hello_is_closed_after_the_deadline(srv):
    conn = RawConn(srv.address, timeout=_wire.AUTH_DEADLINE_S + 10)
    started = time.monotonic()
    assert conn.closed_by_peer()
    took = time.monotonic() - started
    assert _wire.AUTH_DEADLINE_S - 1 <= took <= _wire.AUTH_DEADLINE_S + 5, took
    assert any("no Hello within" in line for line in closing_lines(srv))


def test_a_big_frame_before_hello_is_refused_without_buffering_it(srv):
    conn = RawConn(srv.address, timeout=10)
    conn.sock.sendall(HEADER.pack(1 << 20) + b"\0" * 1000)  # announces 1 MiB, sends a bit
    assert conn.closed_by_peer()
    assert any("over the limit of 65536 before Hello" in line for line in closing_lines(srv))
    # After Hello the full-size limit applies: a 1 MiB frame is an ordinary request.
    ok = RawConn(srv.address)
    assert ok.hello(token(srv)).WhichOneof("body") == "hello_ok"
    big = ok.call(object_lookup=pb.ObjectLookup(kind="dict", name="x" * (1 << 20)))
    assert big.WhichOneof("body") in ("object_info", "error")
    ok.close()


@pytest.mark.parametrize("garbage", [
    b"\xff" * 64,                              # a frame that does not parse
    b"\x0a\x03abc",                           # a field of the wrong type
    b"\xfa\xff\xff\xff\x0f\x03abc",              # a body no server knows
])
def test_garbage_frames_are_logged_once_without_a_traceback(srv, garbage):
    before = len(closing_lines(srv))
    conn = RawConn(srv.address)
    assert conn.hello(token(srv)).WhichOneof("body") == "hello_ok"
    for _ in range(20):
        try:
            conn.sock.sendall(HEADER.pack(len(garbage)) + garbage)
        except OSError:
            break  # it hung up already
    assert conn.closed_by_peer()
    time.sleep(0.2)
    assert len(closing_lines(srv)) == before + 1, closing_lines(srv)[before:]
    assert "Traceback" not in srv.log()


@pytest.mark.parametrize("options, named", [
    (dict(cpu=-64), "cpu=-64"), (dict(cpu=math.nan), "cpu=nan"),
    (dict(cpu=(1, math.inf)), "cpu="), (dict(memory=-1), "memory=-1"),
    (dict(timeout=math.inf), "timeout=inf"), (dict(timeout=0), "timeout=0"),
    (dict(startup_timeout=math.nan), "startup_timeout=nan"),
    (dict(retries=-1), "retries=-1"), (dict(max_containers=0), "max_containers=0"),
    (dict(min_containers=10**9), "min_containers="), (dict(buffer_containers=-1),
                                                      "buffer_containers=-1"),
    (dict(scaledown_window=math.nan), "scaledown_window=nan"),
    (dict(ephemeral_disk=-5), "ephemeral_disk=-5"),
])
def test_bad_numbers_are_refused_when_the_decorator_runs(options, named):
    app = ketch.App("bad-numbers")
    with pytest.raises(InvalidError) as info:
        app.function(**options)(lambda: None)
    assert named in str(info.value) and "from" in str(info.value)


@pytest.mark.parametrize("make", [
    lambda: ketch.Retries(max_retries=2, initial_delay=math.nan),
    lambda: ketch.Retries(max_retries=2, backoff_coefficient=math.inf),
    lambda: ketch.Retries(max_retries=2, max_delay="soon"),
    lambda: ketch.concurrent(max_inputs=0),
    lambda: ketch.batched(max_batch_size=10, wait_ms=-1),
])
def test_bad_numbers_in_retries_and_batching_are_refused(make):
    with pytest.raises(InvalidError):
        make()


def _spec(**changes) -> pb.FunctionSpec:
    spec = pb.FunctionSpec(name="f", module="m", qualname="f", timeout_s=10,
                           resources=pb.Resources(cpu_request=0.1, memory_request_mib=64))
    for path, value in changes.items():
        target = spec
        *parents, leaf = path.split(".")
        for p in parents:
            target = getattr(target, p)
        setattr(target, leaf, value)
    return spec


@pytest.mark.parametrize("field, value", [
    ("resources.cpu_request", -64.0), ("resources.cpu_request", math.nan),
    ("resources.cpu_limit", math.inf), ("timeout_s", math.inf), ("timeout_s", math.nan),
    ("startup_timeout_s", -1.0), ("retries.initial_delay_s", math.nan),
    ("retries.backoff_coefficient", 1e9), ("scaling.scaledown_window_s", math.inf),
    ("scaling.min_containers", 4_000_000_000), ("max_inputs", 100_000),
])
def test_a_hand_made_client_cannot_send_impossible_numbers(srv, field, value):
    conn = RawConn(srv.address)
    conn.hello(token(srv))
    app = conn.call(app_create=pb.AppCreate(name="hostile", ephemeral=True)).app_created
    reply = conn.call(function_create=pb.FunctionCreate(app_id=app.app_id,
                                                        spec=_spec(**{field: value})))
    assert reply.WhichOneof("body") == "error", reply
    assert reply.error.kind == "invalid" and "out of range" in reply.error.message
    status = conn.call(server_status=pb.ServerStatus()).server_status_reply
    assert math.isfinite(status.cpu_reserved) and status.cpu_reserved >= 0
    conn.close()


def test_the_scheduler_still_runs_calls_after_impossible_numbers(srv):
    conn = RawConn(srv.address)
    conn.hello(token(srv))
    app = conn.call(app_create=pb.AppCreate(name="hostile", ephemeral=True)).app_created
    for cpu in (-64.0, math.nan, math.inf):
        spec = _spec(**{"resources.cpu_request": cpu, "scaling.min_containers": 3})
        conn.call(function_create=pb.FunctionCreate(app_id=app.app_id, spec=spec))
    normal_call_works(srv)
    conn.close()


def _rss(s: ServerProcess) -> int:
    return psutil.Process(s.proc.pid).memory_info().rss


def test_a_client_that_does_not_read_cannot_grow_server_memory(srv):
    conn = RawConn(srv.address)
    conn.hello(token(srv))
    oid = conn.call(object_lookup=pb.ObjectLookup(kind="dict", name="flood",
                                                  create_if_missing=True)).object_info.object_id
    value = b"v" * 60_000
    conn.call(dict_request=pb.DictRequest(object_id=oid, op=pb.DICT_PUT, keys=[b"k"],
                                          values=[value]))
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    before = _rss(srv)
    # 20,000 gets would be 1.2 GB of replies if the server kept answering into its buffer.
    get = encode(pb.Frame(id=99, dict_request=pb.DictRequest(object_id=oid, op=pb.DICT_GET,
                                                             keys=[b"k"])))
    conn.sock.setblocking(False)
    batch, sent, deadline = get * 100, 0, time.monotonic() + 15
    pending = memoryview(batch)
    while sent < 20_000 and time.monotonic() < deadline:
        try:
            n = conn.sock.send(pending)
        except BlockingIOError:
            time.sleep(0.05)  # the server stopped reading: that is the point
            continue
        pending = pending[n:]
        if not pending:
            sent += 100
            pending = memoryview(batch)
    time.sleep(1)
    grew = _rss(srv) - before
    assert grew < 64 << 20, f"the server's memory grew by {grew >> 20} MiB"
    conn.close()
    normal_call_works(srv)


@pytest.mark.parametrize("make", [
    lambda oid: dict(queue_get=pb.QueueGet(object_id=oid, timeout_s=math.nan)),
    lambda oid: dict(queue_put=pb.QueuePut(object_id=oid, values=[b"x"],
                                           partition_ttl_s=math.inf)),
    lambda oid: dict(queue_peek=pb.QueuePeek(object_id=oid, timeout_s=-math.inf)),
    lambda oid: dict(call_get=pb.CallGet(call_id="fc-none", timeout_s=math.nan)),
])
def test_waits_with_impossible_timeouts_are_refused(srv, make):
    conn = RawConn(srv.address)
    conn.hello(token(srv))
    oid = conn.call(object_lookup=pb.ObjectLookup(kind="queue", name="waits",
                                                  create_if_missing=True)).object_info.object_id
    reply = conn.call(**make(oid))
    assert reply.WhichOneof("body") == "error" and "finite number of seconds" in \
        reply.error.message, reply
    conn.close()


def test_inputs_sent_without_waiting_are_held_in_the_socket_not_in_memory(srv):
    from ketch._serialization import serialize

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom apps import harden_web as h\n"
                               "with h.app.run():\n"
                               "    print(h.app._function_ids['nap'], flush=True)\n"
                               "    sys.stdin.read()\n"],
        env={**srv.env, "PYTHONPATH": str(TESTS)}, cwd=TESTS, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True)
    try:
        function_id = holder.stdout.readline().strip()
        conn = RawConn(srv.address)
        conn.hello(token(srv))
        reply = conn.call(call_create=pb.CallCreate(call_id="fc-flood", function_id=function_id,
                                                    kind=pb.MAP))
        assert reply.WhichOneof("body") == "ok", reply
        args = serialize(((3,), {"marker": "m" * 1000}))

        def batch(start: int) -> bytes:
            return encode(pb.Frame(inputs=pb.InputBatch(call_id="fc-flood", inputs=[
                pb.Input(idx=start + i, args=args) for i in range(100)])))

        conn.sock.sendall(batch(0))
        time.sleep(3)  # its container starts: what that costs is not the queue's
        before = _rss(srv)
        total, sent = 150_000, 100
        conn.sock.setblocking(False)
        deadline = time.monotonic() + 15
        pending = memoryview(b"")
        while sent < total and time.monotonic() < deadline:
            if not pending:
                pending = memoryview(batch(sent))
            try:
                pending = pending[conn.sock.send(pending):]
            except BlockingIOError:
                time.sleep(0.05)
                continue
            if not pending:
                sent += 100
        time.sleep(1)
        grew = _rss(srv) - before
        assert sent < total, "the server took every input into memory"
        # Unbounded, 150,000 inputs of 1 KB would cost the server over 150 MiB.
        assert grew < 64 << 20, f"the server's memory grew by {grew >> 20} MiB"
        conn.close()  # its call goes with it
    finally:
        holder.stdin.close()
        holder.wait(60)
    normal_call_works(srv)


def test_a_client_that_asks_for_volume_chunks_and_reads_none_is_bounded(srv, tmp_path):
    big = tmp_path / "big"
    big.write_bytes(b"x" * (8 << 20))
    made = srv.python("import ketch\nv = ketch.Volume.from_name('flood', create_if_missing=True)"
                      f"\nwith v.batch_upload() as b:\n    b.put_file({str(big)!r}, '/big')\n")
    assert made.returncode == 0, made.stderr
    conn = RawConn(srv.address)
    conn.hello(token(srv))
    oid = conn.call(object_lookup=pb.ObjectLookup(kind="volume", name="flood")
                    ).object_info.object_id
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    before = _rss(srv)
    # 100 reads of 8 MiB: 800 MiB of replies if each were made as soon as it was asked for.
    read = encode(pb.Frame(id=7, volume_read=pb.VolumeRead(object_id=oid, path="/big",
                                                           length=8 << 20)))
    conn.sock.sendall(read * 100)
    time.sleep(3)
    grew = _rss(srv) - before
    assert grew < 160 << 20, f"the server's memory grew by {grew >> 20} MiB"
    conn.close()
    normal_call_works(srv)


def test_a_log_follower_that_reads_nothing_cannot_grow_server_memory(srv):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom apps import harden_web as h\n"
                               "with h.app.run():\n"
                               "    print(h.app.app_id, flush=True)\n"
                               "    sys.stdin.readline()\n"
                               "    h.chatter.remote(300_000, 200)\n"
                               "    print('done', flush=True)\n"
                               "    sys.stdin.readline()\n"],
        env={**srv.env, "PYTHONPATH": str(TESTS)}, cwd=TESTS, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True)
    try:
        app_id = holder.stdout.readline().strip()
        conn = RawConn(srv.address)
        conn.hello(token(srv))
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        for _ in range(3):  # followers of one app on one connection share one bound
            assert conn.call(log_subscribe=pb.LogSubscribe(app_id=app_id, follow=True)
                             ).WhichOneof("body") == "app_created"
        before = _rss(srv)
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "done"  # 60 MB of lines, three times
        grew = _rss(srv) - before
        assert grew < 64 << 20, f"the server's memory grew by {grew >> 20} MiB"
        conn.close()
        # Nor can it follow without limit (each follow costs every line again).
        from ketch.server.api.calls import MAX_LOG_FOLLOWS
        many = RawConn(srv.address)
        many.hello(token(srv))
        replies = [many.call(log_subscribe=pb.LogSubscribe(app_id=app_id, follow=True))
                   for _ in range(MAX_LOG_FOLLOWS + 1)]
        assert all(r.WhichOneof("body") == "app_created" for r in replies[:-1])
        assert replies[-1].error.kind == "invalid" and "follow fewer" in \
            replies[-1].error.message
        many.close()
    finally:
        holder.stdin.close()
        holder.wait(60)
