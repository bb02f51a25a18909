"""One write per response where uvicorn makes two: it writes a response's head when the app
sends `http.response.start` and its body when the app sends `http.response.body`, each its
own send(2), so the gateway (or a node's web relay, and then the gateway again) wakes twice
per small answer, and through a relay each half crosses TCP on its own.

Small writes made in one turn of the event loop leave together at the end of that turn:
an app that sends its head and body back to back costs one send; one that computes between
the two still sends its head at once (the turn ends when it awaits). A large write goes
straight on, after what waits (never copied to be joined). And the connection's send
buffer is widened, so a large answer leaves in one write, not one per ~208 KiB (the
kernel's default) and a wakeup of the reader for each.
"""

from __future__ import annotations

import asyncio
import socket

SMALL = 64 * 1024   # what may wait for the end of the turn (a head, a short body)
SEND_BUFFER = 2 * 1024 * 1024   # the kernel's default is ~208 KiB (net.core.wmem_default)


class CoalescedWrites:
    """Wraps a connection's transport: `write` gathers small writes of one loop turn;
    everything else is the transport's own."""

    def __init__(self, transport: asyncio.Transport):
        self._transport = transport
        self._parts: list[bytes] = []
        self._size = 0

    def write(self, data) -> None:
        if self._size + len(data) <= SMALL:
            if not self._parts:
                asyncio.get_running_loop().call_soon(self.flush)
            self._parts.append(bytes(data))
            self._size += len(data)
            return
        self.flush()   # what waits goes first
        self._transport.write(data)

    def writelines(self, lines) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        if self._parts and not self._transport.is_closing():
            self._transport.write(b"".join(self._parts))
        self._parts, self._size = [], 0

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def get_write_buffer_size(self) -> int:
        return self._size + self._transport.get_write_buffer_size()

    def __getattr__(self, name):
        return getattr(self._transport, name)


def coalescing(protocol_class: type) -> type:
    """`protocol_class` (uvicorn's HTTP protocol) writing through CoalescedWrites."""

    class Coalescing(protocol_class):
        def connection_made(self, transport):
            sock = transport.get_extra_info("socket")
            if sock is not None:
                try:   # a 1 MiB answer in one go rather than in 200 KiB steps, each a wakeup
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
                except OSError:
                    pass
            super().connection_made(CoalescedWrites(transport))

    Coalescing.__name__ = f"Coalescing{protocol_class.__name__}"
    return Coalescing
