"""The server's HTTP side: /metrics (Prometheus) and the dashboard, on one origin.

`HttpSide` serves one Starlette app with uvicorn inside the server's own event loop;
`main.py` hands it the routes (this package's /metrics, and the dashboard's).
"""

from .auth import bearer_principal
from .metrics import metrics_routes
from .side import HttpSide

__all__ = ["HttpSide", "bearer_principal", "metrics_routes"]
