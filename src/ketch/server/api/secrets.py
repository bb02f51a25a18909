"""Secrets: create one (values are never sent back)."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..services import Services
from .context import Request
from .objects import object_info


def secret_create(svc: Services, req: Request, msg: pb.SecretCreate):
    row = svc.secrets.save(req.workspace, msg.name or None, dict(msg.env), msg.overwrite)
    req.reply(object_info=object_info(row, len(msg.env), sorted(msg.env)))
