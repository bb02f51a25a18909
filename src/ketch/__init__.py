"""ketch: self-hosted serverless compute for Python, with Modal's API.

    import ketch

    app = ketch.App("example")

    @app.function()
    def square(x):
        return x * x

    @app.local_entrypoint()
    def main():
        print(square.remote(4), list(square.map(range(10))))
"""

__version__ = "0.1.0"

from ._app import App, LocalEntrypoint
from ._cls import Cls
from ._context import current_function_call_id, current_input_id, is_local
from ._dict import Dict
from ._functions import Function, FunctionCall
from ._image import Image
from ._output import enable_output
from ._partial import batched, concurrent, enter, exit, method, parameter
from ._queue import Queue
from ._secret import Secret
from ._volume import FileEntry, FileEntryType, Volume
from ._web import asgi_app, fastapi_endpoint, web_server, wsgi_app
from .exception import Error
from .retries import Retries
from . import exception

__all__ = [
    "Dict", "FileEntry", "FileEntryType", "Queue", "Secret", "Volume", "Image",
    "App", "Cls", "Error", "Function", "FunctionCall", "LocalEntrypoint", "Retries",
    "batched", "concurrent", "current_function_call_id", "current_input_id",
    "enable_output", "enter", "exception", "exit", "is_local", "method", "parameter",
    "asgi_app", "fastapi_endpoint", "web_server", "wsgi_app",
]

# Modal names that ketch does not have yet: a clear message instead of a bare
# AttributeError, so a ported app says what is missing.
_NOT_YET = {
    "Sandbox": "sandboxes",
    "Cron": "schedules",
    "Period": "schedules",
    "CloudBucketMount": "cloud bucket mounts",
    "forward": "port forwarding",
    "interact": "interactive containers",
}


def __getattr__(name: str):
    if name in _NOT_YET:
        raise AttributeError(f"ketch.{name} is not in ketch yet ({_NOT_YET[name]}); see "
                             "docs/api.md for what ketch implements")
    raise AttributeError(f"module 'ketch' has no attribute {name!r}")
