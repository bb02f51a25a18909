"""Request handlers for web endpoints: containers report their ports; clients ask for
URLs and manage proxy-auth tokens. Registered into the server's handler tables by api.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...proto import ketch_pb2 as pb

if TYPE_CHECKING:
    from ..api import Session


def web_ready(session: "Session", frame, msg: pb.WebReady):
    session.server.gateway.web_ready(session.container, msg)


def web_url_get(session: "Session", frame, msg: pb.WebUrlGet):
    fn = session.functions.get(msg.function_id)
    session.conn.reply(frame, web_url=session.server.gateway.web_url(fn, msg.method))


def proxy_token_create(session: "Session", frame, msg: pb.ProxyTokenCreate):
    token_id, secret = session.server.gateway.tokens.create(msg.name)
    session.conn.reply(frame, proxy_token_created=pb.ProxyTokenCreated(token_id=token_id,
                                                                       secret=secret))


def proxy_token_list(session: "Session", frame, msg: pb.ProxyTokenList):
    tokens = session.server.gateway.tokens.list()
    session.conn.reply(frame, proxy_token_list_reply=pb.ProxyTokenListReply(tokens=tokens))


def proxy_token_revoke(session: "Session", frame, msg: pb.ProxyTokenRevoke):
    session.server.gateway.tokens.revoke(msg.token_id)
    session.conn.reply(frame, ok=pb.Ok())


CLIENT_HANDLERS = {
    "web_url_get": web_url_get,
    "proxy_token_create": proxy_token_create,
    "proxy_token_list": proxy_token_list,
    "proxy_token_revoke": proxy_token_revoke,
}
CONTAINER_HANDLERS = {
    "web_ready": web_ready,
    "web_url_get": web_url_get,  # get_web_url() inside a container
}
