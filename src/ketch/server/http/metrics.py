"""GET /metrics: the Prometheus text exposition, behind a bearer token.

The admin token sees every series; a workspace token sees its own workspace's (the
series labelled with it) and none of the server-wide ones.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..metrics import ServerMetrics
from ..tokens import Tokens
from .auth import bearer_principal


def metrics_routes(metrics: ServerMetrics, tokens: Tokens) -> list[Route]:
    async def scrape(request: Request) -> Response:
        principal = bearer_principal(request, tokens)
        if principal is None:
            return PlainTextResponse(
                "ketch /metrics needs a token: send `Authorization: Bearer <token>` with the "
                "server's admin token (in its data dir's `token` file) or a workspace token "
                "(`ketch token create`)\n", status_code=401,
                headers={"www-authenticate": 'Bearer realm="ketch"'})
        body = metrics.render(None if principal.admin else principal.workspace)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", scrape, methods=["GET"])]
