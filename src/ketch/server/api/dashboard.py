"""The dashboard's one wire request: a one-time login URL for `ketch dashboard`."""

from __future__ import annotations

import asyncio
import re
import time

from ...proto import ketch_pb2 as pb
from ..errors import ServiceError
from ..services import Services
from .context import Request

HTTP_START_WAIT_S = 10.0
# The pages a login may land on: the apps page, or one object's page. Nothing else, so a
# code can never send a browser somewhere else (an open redirect).
LANDING_RE = re.compile(r"^/(?:(?:apps|functions|containers|calls)/[A-Za-z0-9-]{1,64})?$")


async def dashboard_login_create(svc: Services, req: Request, msg: pb.DashboardLoginCreate):
    if req.principal is None or req.principal.container_id:
        # Code in a container is a client of its workspace, but not a person at a browser.
        raise ServiceError("a dashboard login needs a workspace token or the admin token, "
                           "not a container's credential", code="auth")
    path = msg.path or "/"
    if not LANDING_RE.match(path):
        raise ValueError(f"a dashboard login lands on / or on /apps/, /functions/, "
                         f"/containers/ or /calls/ followed by an id, not {path[:100]!r}")
    # The HTTP side starts just after the server answers: a client that started the server
    # a moment ago waits for it rather than being told it is down.
    deadline = time.monotonic() + HTTP_START_WAIT_S
    while not svc.http.address and not svc.http.error and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if not svc.http.address:
        req.reply(dashboard_login=pb.DashboardLogin(
            error=f"the server's HTTP side does not listen ({svc.http.error or 'not started'}); "
                  "restart the server with --http-address or KETCH_HTTP_ADDR set to a free "
                  "HOST:PORT"))
        return
    code, ttl = svc.dashboard_logins.create_code(req.workspace, req.principal, path)
    req.reply(dashboard_login=pb.DashboardLogin(
        url=f"http://{svc.http.address}/login?code={code}", expires_at=time.time() + ttl))
