"""A node's connection to the server, opened with the node agent's own credential.

It fetches layers and code bundles in chunks, several in flight, each chunk written out
as it arrives (memory holds at most WINDOW chunks), and hashes the bytes as they pass.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
from typing import BinaryIO

from .. import _wire
from ..proto import ketch_pb2 as pb

CHUNK = 4 * 1024 * 1024
WINDOW = 8


class FetchError(Exception):
    """The server refused a fetch, or what arrived is not what it announced."""


class ServerLink:
    def __init__(self, address: str, token: str, node_id: str):
        self.address = address
        self.token = token
        self.node_id = node_id
        self._conn: _wire.FrameProtocol | None = None
        self._connecting = asyncio.Lock()

    async def connect(self) -> _wire.FrameProtocol:
        async with self._connecting:
            if self._conn is None or self._conn.closed:
                conn = await _wire.open_connection(self.address)
                try:
                    await conn.request(hello=pb.Hello(token=self.token, role="node",
                                                      node_id=self.node_id))
                except _wire.RemoteFailure as exc:
                    conn.close()
                    raise FetchError(f"the server at {self.address} refused this node: "
                                     f"{exc}") from None
                self._conn = conn
            return self._conn

    async def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def fetch(self, kind: str, key: str, out: BinaryIO, max_bytes: int) -> str:
        """Writes the archive `key` into `out`; returns its SHA-256 after checking that
        what arrived is what the server announced (size and hash)."""
        conn = await self.connect()
        loop = asyncio.get_running_loop()

        def ask(offset: int):
            return asyncio.ensure_future(conn.request_raw(node_fetch=pb.NodeFetch(
                kind=kind, key=key, offset=offset, length=CHUNK)))

        digest = hashlib.sha256()
        inflight: collections.deque = collections.deque([ask(0)])
        size, announced, offset, received = None, "", CHUNK, 0
        try:
            while inflight:
                try:
                    reply, raw = await inflight.popleft()
                except _wire.RemoteFailure as exc:
                    raise FetchError(f"fetching {kind} {key}: {exc}") from None
                if size is None:
                    size, announced = reply.node_data.size, reply.node_data.sha256
                    if size > max_bytes:
                        raise FetchError(f"{kind} {key} is {size} bytes, over this node's "
                                         f"limit of {max_bytes}")
                for part in raw or []:
                    digest.update(part)
                    received += len(part)
                if received > size:   # never more than announced reaches the disk
                    raise FetchError(f"{kind} {key}: the server sent more than the {size} "
                                     "bytes it announced")
                await loop.run_in_executor(None, _write_parts, out, raw or [])
                while len(inflight) < WINDOW and offset < size:
                    inflight.append(ask(offset))
                    offset += CHUNK
        finally:
            for fut in inflight:
                fut.cancel()
        if received != size or digest.hexdigest() != announced:
            raise FetchError(f"{kind} {key}: received {received} bytes hashing to "
                             f"{digest.hexdigest()}, but the server announced {size} bytes "
                             f"hashing to {announced}")
        return announced


def _write_parts(out: BinaryIO, parts: list):
    for part in parts:
        out.write(part)
