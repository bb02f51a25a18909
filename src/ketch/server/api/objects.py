"""Named objects of every kind: look up, list (with each one's size), delete."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..objects import KINDS
from ..objects_store import ObjectRow
from ..services import Services
from .context import Request


def object_info(row: ObjectRow, size: int = 0, keys: list[str] = ()) -> pb.ObjectInfo:
    return pb.ObjectInfo(object_id=row.object_id, kind=row.kind, name=row.name or "",
                         created_at=row.created_at, updated_at=row.updated_at, size=size,
                         keys=list(keys))


def object_lookup(svc: Services, req: Request, msg: pb.ObjectLookup):
    if msg.ephemeral:
        row = svc.objects.create_ephemeral(req.workspace, msg.kind, req.owner_id)
    else:
        row = svc.objects.lookup(req.workspace, msg.kind, msg.name, msg.create_if_missing)
    keys: list[str] = []
    if row.kind == "secret":
        keys = svc.secrets.check_required(row, list(msg.required_keys))
    req.reply(object_info=object_info(row, keys=keys))


async def object_list(svc: Services, req: Request, msg: pb.ObjectList):
    out = []
    for row in svc.objects.named(req.workspace, msg.kind):
        size, keys = await svc.object_contents(row)
        out.append(object_info(row, size, keys))
    req.reply(object_list_reply=pb.ObjectListReply(objects=out))


def object_delete(svc: Services, req: Request, msg: pb.ObjectDelete):
    row = svc.objects.find(req.workspace, msg.kind, msg.name, msg.object_id)
    if row is None:
        if not msg.allow_missing:
            raise LookupError(f"no {KINDS[msg.kind]} named {msg.name or msg.object_id!r}")
    else:
        svc.objects.delete(row.object_id, row.kind)
    req.reply(ok=pb.Ok())
