"""A hand-made ketch client on a plain socket, for tests that send what the SDK never
would: frames are built and read by hand, one at a time."""

from __future__ import annotations

import socket
import struct

from ketch.proto import ketch_pb2 as pb

HEADER = struct.Struct(">I")


def encode(frame: pb.Frame) -> bytes:
    data = frame.SerializeToString()
    return HEADER.pack(len(data)) + data


class RawConn:
    def __init__(self, address: str, timeout: float = 10):
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.next_id = 1

    def send(self, **body) -> int:
        rid = self.next_id
        self.next_id += 1
        self.sock.sendall(encode(pb.Frame(id=rid, **body)))
        return rid

    def recv(self) -> pb.Frame:
        size = HEADER.unpack(self._exactly(4))[0]
        return pb.Frame.FromString(self._exactly(size))

    def call(self, **body) -> pb.Frame:
        rid = self.send(**body)
        while True:
            frame = self.recv()
            if frame.id == rid:
                return frame

    def hello(self, token: str) -> pb.Frame:
        return self.call(hello=pb.Hello(token=token, role="client"))

    def closed_by_peer(self) -> bool:
        """Reads until the server hangs up (True) or the socket's timeout passes (False)."""
        try:
            while self.sock.recv(65536):
                pass
        except (ConnectionResetError, BrokenPipeError):
            pass
        except socket.timeout:
            return False
        return True

    def _exactly(self, n: int) -> bytes:
        parts, left = [], n
        while left:
            chunk = self.sock.recv(left)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    def close(self):
        self.sock.close()
