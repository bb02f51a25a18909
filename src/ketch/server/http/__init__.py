"""The server's HTTP side: /metrics (Prometheus) and the dashboard, on one origin.

`HttpSide` serves one Starlette app with uvicorn inside the server's own event loop;
`main.py` gives it route factories (this package's /metrics, and the dashboard's), called
when it starts.
"""

from __future__ import annotations

from .auth import bearer_principal
from .side import HttpSide, RouteFactory


def metrics_routes(metrics, tokens):
    """GET /metrics (imported here, as the side starts: see side.py)."""
    from .metrics import metrics_routes as routes

    return routes(metrics, tokens)


__all__ = ["HttpSide", "RouteFactory", "bearer_principal", "metrics_routes"]
