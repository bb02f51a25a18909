"""`App.lookup`: a handle to a deployed app found (or made) by name on the server, which
sandboxes are created in. Apart from `_app` so the App class stays about defining apps."""

from __future__ import annotations

from ._client import Client
from ._object import check_name, refuse_client
from .proto import ketch_pb2 as pb


async def lookup_app(app_cls, name: str, create_if_missing: bool, client=None):
    """An `app_cls` named `name`, bound to the server's deployed app of that name."""
    refuse_client("App.lookup", client)
    check_name("App", name)
    conn = await Client.get()
    reply = await conn.request(app_lookup=pb.AppLookup(name=name,
                                                       create_if_missing=create_if_missing))
    app = app_cls(name)
    app._app_id = reply.app_created.app_id
    return app
