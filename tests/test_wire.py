"""The framed transport: frames that carry raw bytes (volume chunks) arrive whole however
the stream is cut, and a peer cannot make the server buffer more than a frame's limit."""

import asyncio
import os
import socket
import struct

import pytest

from ketch import _wire
from ketch.proto import ketch_pb2 as pb


def _encode(frame: pb.Frame, raw: bytes | None = None) -> bytes:
    if raw is not None:
        frame.raw_size = len(raw)
    data = frame.SerializeToString()
    return struct.pack(">I", len(data)) + data + (raw or b"")


@pytest.mark.parametrize("piece", [1, 3, 4, 5, 1000, 65536, 10 ** 9])
def test_frames_and_their_raw_bytes_arrive_whole_however_the_stream_is_cut(piece):
    raw_a, raw_b = os.urandom(200_000), os.urandom(7)
    stream = b"".join([
        _encode(pb.Frame(id=0, ok=pb.Ok())),
        _encode(pb.Frame(id=0, volume_data=pb.VolumeData(size=1)), raw_a),
        _encode(pb.Frame(id=0, volume_write=pb.VolumeWrite(path="x")), raw_b),
        _encode(pb.Frame(id=0, volume_data=pb.VolumeData(size=2)), b""),
        _encode(pb.Frame(id=0, error=pb.ErrorReply(message="m" * 5000))),
    ])
    got = []

    async def main():
        proto = _wire.FrameProtocol(on_frame=lambda f, raw=None: got.append(
            (f.WhichOneof("body"), None if raw is None else b"".join(raw))))
        for start in range(0, len(stream), piece):
            proto.data_received(stream[start:start + piece])

    asyncio.run(main())
    assert got == [("ok", None), ("volume_data", raw_a), ("volume_write", raw_b),
                   ("volume_data", None), ("error", None)]


def _hello(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    token = (server.data_dir / "token").read_text().strip()
    sock.sendall(_encode(pb.Frame(id=1, hello=pb.Hello(token=token, role="client"))))
    _read_frame(sock)
    return sock


def _read_frame(sock: socket.socket) -> pb.Frame:
    def exactly(n):
        data = b""
        while len(data) < n:
            more = sock.recv(n - len(data))
            if not more:
                raise ConnectionError("closed")
            data += more
        return data

    (size,) = struct.unpack(">I", exactly(4))
    frame = pb.Frame()
    frame.ParseFromString(exactly(size))
    return frame


def test_the_server_refuses_raw_bytes_where_none_belong(server):
    with _hello(server) as sock:
        sock.sendall(_encode(pb.Frame(id=2, server_status=pb.ServerStatus()), b"junk"))
        reply = _read_frame(sock)
        assert reply.error.kind == "invalid" and "carries no raw bytes" in reply.error.message
        sock.sendall(_encode(pb.Frame(id=3, server_status=pb.ServerStatus())))
        assert _read_frame(sock).WhichOneof("body") == "server_status_reply"


def test_more_raw_bytes_than_a_frame_may_hold_close_the_connection(server):
    with _hello(server) as sock:
        frame = pb.Frame(id=2, volume_write=pb.VolumeWrite(path="x"),
                         raw_size=_wire.MAX_FRAME_BYTES + 1)
        data = frame.SerializeToString()
        sock.sendall(struct.pack(">I", len(data)) + data)
        with pytest.raises(ConnectionError):
            _read_frame(sock)


def test_frames_written_from_another_thread_and_the_loop_arrive_whole_and_in_order():
    """write_now (a blocking call's caller, a container's worker) writes to the socket
    while the loop sends too, through a send buffer small enough to fill: no frame is cut
    into another, each side's frames keep their order, and a closed connection takes
    writes without raising."""
    import threading

    got = []
    n = 400

    async def main():
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        all_in = loop.create_future()

        def arrived(frame, raw=None):
            got.append((frame.id, frame.call_close.call_id))
            if len(got) == 2 * n:
                all_in.set_result(None)

        _, writer = await loop.create_connection(_wire.FrameProtocol, sock=a)
        await loop.create_connection(lambda: _wire.FrameProtocol(on_frame=arrived), sock=b)
        payload = "x" * 3000   # a few frames fill the send buffer: partial writes happen

        def from_thread():
            for i in range(n):
                writer.write_now(pb.Frame(call_close=pb.CallClose(call_id=f"t{i}{payload}")))

        thread = threading.Thread(target=from_thread)
        thread.start()
        for i in range(n):
            writer.send(pb.Frame(call_close=pb.CallClose(call_id=f"l{i}{payload}")))
            if i % 16 == 0:
                await asyncio.sleep(0)
        await asyncio.wait_for(all_in, 30)
        thread.join()
        writer.close()
        await asyncio.sleep(0.01)
        writer.write_now(pb.Frame(ok=pb.Ok()))   # after the close: dropped, as send drops

    asyncio.run(main())
    for side in "tl":
        ids = [int(c[1:].rstrip("x")) for _, c in got if c[0] == side]
        assert ids == list(range(n))
