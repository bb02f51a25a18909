"""Workspace tokens: the admin creates, lists and revokes them."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..services import Services
from .context import Request


def token_create(svc: Services, req: Request, msg: pb.TokenCreate):
    token_id, secret = svc.tokens.create(msg.workspace, msg.name)
    req.reply(token_created=pb.TokenCreated(token_id=token_id, secret=secret,
                                            workspace=msg.workspace))


def token_list(svc: Services, req: Request, msg: pb.TokenList):
    req.reply(token_list_reply=pb.TokenListReply(tokens=svc.tokens.list()))


def token_revoke(svc: Services, req: Request, msg: pb.TokenRevoke):
    svc.tokens.revoke(msg.token_id)
    req.reply(ok=pb.Ok())
