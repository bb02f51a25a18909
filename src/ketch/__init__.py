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
from ._cluster import Cluster
from ._cls import Cls
from ._context import current_function_call_id, current_input_id, is_local
from ._dict import Dict
from ._functions import Function, FunctionCall
from ._image import Image
from ._interactive import interact
from ._output import enable_output
from ._partial import batched, clustered, concurrent, enter, exit, method, parameter
from ._probe import Probe
from ._queue import Queue
from ._sandbox import Sandbox
from ._schedule import Cron, Period
from ._forward import forward
from ._tunnel import Tunnel
from ._secret import Secret
from ._volume import FileEntry, FileEntryType, Volume
from ._web import asgi_app, fastapi_endpoint, web_server, wsgi_app
from .exception import Error
from .retries import Retries
from ._missing import not_yet
# Modal's public submodules, so `import modal.queue` ports as `import ketch.queue`.
from . import app, call_graph, cls, container_process, dict, exception, experimental, \
    functions, image, io_streams, output, partial_function, queue, retries, sandbox, schedule, \
    secret, stream_type, types, volume
from .partial_function import web_endpoint

__all__ = [
    "Dict", "FileEntry", "FileEntryType", "Queue", "Sandbox", "Secret", "Tunnel", "Volume",
    "Image", "Probe", "forward",
    "App", "Cls", "Cluster", "Cron", "Error", "Function", "FunctionCall", "LocalEntrypoint", "Period",
    "Retries",
    "batched", "clustered", "concurrent", "current_function_call_id", "current_input_id",
    "enable_output", "enter", "exception", "exit", "interact", "is_local", "method",
    "parameter",
    "asgi_app", "fastapi_endpoint", "web_endpoint", "web_server", "wsgi_app",
    "experimental", "types",  # as Modal's: `import *` must not bind `dict` or `queue`
]

# Modal names that ketch does not have yet: a clear message instead of a bare
# AttributeError, so a ported app says what is missing.
__getattr__ = not_yet(__name__, {
    "SandboxSnapshot": "sandbox memory snapshots",
    "CloudBucketMount": "cloud bucket mounts; use a ketch.Volume",
    "NetworkFileSystem": "network file systems; use a ketch.Volume",
    "Client": "a public client object; ketch connects by itself (KETCH_SERVER_ADDR)",
    "Environment": "environments; one ketch server is one environment",
    "Workspace": "workspace management from code",
    "billing": "billing; a ketch server does not bill",
    "FilePatternMatcher": "file patterns; pass ignore= a list of glob patterns",
    "Proxy": "static outbound IP proxies",
    "SchedulerPlacement": "placement rules; a ketch server is one machine",
    "Server": "ketch.Server (web servers as objects); use @ketch.web_server",
    "sessioned": "session-affine inputs",
})
