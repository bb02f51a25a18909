"""The call history: `ketch call list` and `ketch call show`."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..services import Services
from .context import Request

MAX_LIST = 1000   # records one list request may ask for
DEFAULT_LIST = 100


def call_history_list(svc: Services, req: Request, msg: pb.CallHistoryList):
    limit = min(msg.limit or DEFAULT_LIST, MAX_LIST)
    calls = svc.history.list(req.workspace, app=msg.app, function=msg.function_name,
                             status=msg.status, since=msg.since, limit=limit)
    req.reply(call_history_reply=pb.CallHistoryReply(calls=calls))


def call_history_get(svc: Services, req: Request, msg: pb.CallHistoryGet):
    req.reply(call_history_reply=pb.CallHistoryReply(
        calls=[svc.history.get(req.workspace, msg.call_id)]))
