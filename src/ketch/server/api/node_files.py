"""Cluster nodes: a node agent fetches layers and code bundles in chunks (raw bytes)."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..services import Services
from .context import Request


async def node_fetch(svc: Services, req: Request, msg: pb.NodeFetch):
    async with req.conn.bulk:  # the chunk holds its slot until it has (mostly) left
        data, size, digest = await svc.node_files.read(msg.kind, msg.key, msg.offset,
                                                       msg.length)
        req.reply(raw=data, node_data=pb.NodeData(
            size=size, sha256=digest, eof=msg.offset + len(data) >= size))
        await req.conn.drain()
