"""Modal's `modal.partial_function`: the decorators, for ported imports."""

from ._missing import not_yet
from ._partial import batched, clustered, concurrent, enter, exit, method
from ._web import asgi_app, fastapi_endpoint, web_server, wsgi_app

# Modal's older name for fastapi_endpoint.
web_endpoint = fastapi_endpoint

__all__ = ["asgi_app", "batched", "clustered", "concurrent", "enter", "exit",
           "fastapi_endpoint", "method", "web_endpoint", "web_server", "wsgi_app"]

__getattr__ = not_yet(__name__, {
    "PartialFunction": "Modal's decorator wrapper type; ketch's decorators mark the "
                       "function itself",
    "sessioned": "session-affine inputs; use a ketch.Dict keyed by session",
})
