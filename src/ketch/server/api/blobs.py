"""Blobs: arguments and results over the inline limit, sent and read in chunks."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..services import Services
from .context import Request


def blob_put(svc: Services, req: Request, msg: pb.BlobPut):
    blob_id = svc.blobs.put_chunk(msg.upload_id, msg.data, msg.last, owner_id=req.owner_id)
    if msg.last:
        req.reply(blob_put_done=pb.BlobPutDone(blob_id=blob_id))
    else:
        req.reply(ok=pb.Ok())


def blob_get(svc: Services, req: Request, msg: pb.BlobGet):
    data, last = svc.blobs.read_chunk(msg.blob_id, msg.offset)
    req.reply(blob_chunk=pb.BlobChunk(data=data, last=last))
