"""Web endpoints: containers report their ports; clients (and containers) ask for URLs;
clients manage proxy-auth tokens."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..services import Services
from .context import Request


def web_ready(svc: Services, req: Request, msg: pb.WebReady):
    svc.gateway.web_ready(req.container, msg)


def web_url_get(svc: Services, req: Request, msg: pb.WebUrlGet):
    fn = svc.functions.get(req.workspace, msg.function_id)
    req.reply(web_url=svc.gateway.web_url(fn, msg.method))


def proxy_token_create(svc: Services, req: Request, msg: pb.ProxyTokenCreate):
    token_id, secret = svc.gateway.tokens.create(req.workspace, msg.name)
    req.reply(proxy_token_created=pb.ProxyTokenCreated(token_id=token_id, secret=secret))


def proxy_token_list(svc: Services, req: Request, msg: pb.ProxyTokenList):
    req.reply(proxy_token_list_reply=pb.ProxyTokenListReply(
        tokens=svc.gateway.tokens.list(req.workspace)))


def proxy_token_revoke(svc: Services, req: Request, msg: pb.ProxyTokenRevoke):
    svc.gateway.tokens.revoke(req.workspace, msg.token_id)
    req.reply(ok=pb.Ok())
