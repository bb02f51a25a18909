"""`Sandbox.create_connect_token`: credentials with which an HTTP client reaches a server
listening in a sandbox, through the ketch server's gateway (see docs/sandboxes.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ._client import Client
from ._web import reachable_url
from .exception import InvalidError
from .proto import ketch_pb2 as pb


@dataclass(frozen=True)
class SandboxConnectCredentials:
    """`url` to send requests to, with `token` as `Authorization: Bearer <token>` or as the
    `_modal_connect_token` query parameter."""

    url: str
    token: str


async def create_connect_token(sandbox_id: str, user_metadata, port: int
                               ) -> SandboxConnectCredentials:
    if isinstance(user_metadata, dict):
        try:
            user_metadata = json.dumps(user_metadata)
        except (TypeError, ValueError) as exc:
            raise InvalidError(f"create_connect_token: user_metadata cannot be sent as "
                               f"JSON: {exc}") from None
    elif user_metadata is not None and not isinstance(user_metadata, str):
        raise InvalidError("create_connect_token: user_metadata takes a str, a dict "
                           "(sent as JSON) or None")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidError(f"create_connect_token: port={port!r}: give a port number from "
                           "1 to 65535")
    conn = await Client.get()
    reply = await conn.request(sandbox_connect_token=pb.SandboxConnectToken(
        sandbox_id=sandbox_id, user_metadata=user_metadata or "", port=port))
    creds = reply.sandbox_connect_credentials
    url = reachable_url(pb.WebUrl(url=creds.url, path_url=creds.path_url))
    return SandboxConnectCredentials(url, creds.token)
