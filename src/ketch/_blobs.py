"""Large bytes (big arguments and results) travel through the server's blob store in
chunks of BLOB_CHUNK. The SDK client and the container runtime both move them with these
two functions, each passing its own way of sending one request and awaiting the reply."""

from __future__ import annotations

import os
from typing import Awaitable, Callable

from ._serialization import BLOB_CHUNK
from .proto import ketch_pb2 as pb

Request = Callable[..., Awaitable[pb.Frame]]   # request(blob_put=...) -> the reply frame


async def put_blob(request: Request, data: bytes) -> str:
    """Uploads `data` (empty included) and returns its blob id."""
    upload_id = os.urandom(8).hex()
    view = memoryview(data)
    reply = None
    for start in range(0, max(len(data), 1), BLOB_CHUNK):
        reply = await request(blob_put=pb.BlobPut(
            upload_id=upload_id, data=bytes(view[start:start + BLOB_CHUNK]),
            last=start + BLOB_CHUNK >= len(data)))
    return reply.blob_put_done.blob_id


async def get_blob(request: Request, blob_id: str) -> bytes:
    parts = []
    offset = 0
    while True:
        reply = await request(blob_get=pb.BlobGet(blob_id=blob_id, offset=offset))
        chunk = reply.blob_chunk
        parts.append(chunk.data)
        offset += len(chunk.data)
        if chunk.last:
            return b"".join(parts)
