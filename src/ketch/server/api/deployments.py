"""Deploying under a name, the name's history, and rolling back to a recorded version."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..services import Services
from .context import Request


def _who(svc: Services, req: Request) -> str:
    return svc.tokens.describe(req.principal) if req.principal is not None else ""


def app_publish(svc: Services, req: Request, msg: pb.AppPublish):
    req.reply(app_published=svc.deployments.publish(req.workspace, msg.app_id, msg.tag,
                                                    _who(svc, req)))


def app_history(svc: Services, req: Request, msg: pb.AppHistory):
    req.reply(app_history_reply=pb.AppHistoryReply(
        deployments=svc.deployments.history(req.workspace, msg.name)))


def app_rollback(svc: Services, req: Request, msg: pb.AppRollback):
    req.reply(app_published=svc.deployments.rollback(req.workspace, msg.name, msg.version,
                                                     _who(svc, req), req.peer))
