"""The server's request handlers: check who is asking and what they sent, then delegate.

One `Session` per connection. Its first frame must be `Hello` with the server's token;
after that a client may manage apps and calls, and a container may fetch its spec and send
outputs. Handlers hold no logic of their own.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from typing import TYPE_CHECKING

from .. import __version__
from .._wire import FrameProtocol
from ..proto import ketch_pb2 as pb
from .errors import ServiceError
from .functions import Peer, runtime_python_version

if TYPE_CHECKING:
    from .main import Server

log = logging.getLogger("ketch.server")


class Session:
    def __init__(self, server: "Server"):
        self.server = server
        self.functions = server.functions
        self.role: str | None = None
        self.peer: Peer | None = None
        self.container = None
        self.uploads: set[str] = set()
        self.conn = FrameProtocol(on_frame=self.on_frame, on_close=self.on_close,
                                  is_server=True)

    # -- plumbing

    def on_frame(self, frame: pb.Frame, raw=None):
        kind = frame.WhichOneof("body")
        if self.role is None:
            self._hello(frame, kind)
            return
        handler = (_CONTAINER_HANDLERS if self.role == "container" else
                   _CLIENT_HANDLERS).get(kind)
        if handler is None:
            self.conn.reply_error(frame, "invalid", f"a {self.role} cannot send {kind!r}")
            return
        if raw is not None and kind not in _TAKES_RAW:
            self.conn.reply_error(frame, "invalid", f"{kind!r} carries no raw bytes")
            return
        try:
            result = handler(self, frame, getattr(frame, kind)) if raw is None else \
                handler(self, frame, getattr(frame, kind), raw)
        except ServiceError as exc:
            self.conn.reply_error(frame, exc.code, str(exc))
        except LookupError as exc:
            self.conn.reply_error(frame, "not_found", str(exc.args[0] if exc.args else exc))
        except (ValueError, TypeError) as exc:
            self.conn.reply_error(frame, "invalid", str(exc))
        except Exception as exc:
            log.exception("handling %s failed", kind)
            self.conn.reply_error(frame, "internal", f"the ketch server failed: {exc!r}")
        else:
            if asyncio.iscoroutine(result):
                asyncio.ensure_future(self._finish_async(frame, kind, result))

    async def _finish_async(self, frame, kind, coro):
        try:
            await coro
        except ServiceError as exc:
            self.conn.reply_error(frame, exc.code, str(exc))
        except LookupError as exc:
            self.conn.reply_error(frame, "not_found", str(exc.args[0] if exc.args else exc))
        except TimeoutError as exc:
            self.conn.reply_error(frame, "timeout", str(exc))
        except (ValueError, TypeError) as exc:
            self.conn.reply_error(frame, "invalid", str(exc))
        except Exception as exc:
            log.exception("handling %s failed", kind)
            self.conn.reply_error(frame, "internal", f"the ketch server failed: {exc!r}")

    def _hello(self, frame: pb.Frame, kind: str):
        if kind != "hello":
            self.conn.reply_error(frame, "auth", "the first message must be Hello")
            self.conn.close()
            return
        hello = frame.hello
        if not hmac.compare_digest(hello.token.encode(), self.server.token.encode()):
            self.conn.reply_error(
                frame, "auth",
                f"the ketch server at {self.server.address} rejected the token. Use the token "
                f"in {self.server.data_dir / 'token'} on the server's machine: set KETCH_TOKEN "
                "or put it in ~/.config/ketch/config.json as {\"token\": ...}.")
            self.conn.close()
            return
        if hello.role == "container":
            try:
                self.container = self.functions.container_connected(hello.container_id,
                                                                    self.conn)
            except LookupError as exc:
                self.conn.reply_error(frame, "not_found", str(exc))
                self.conn.close()
                return
        elif hello.role != "client":
            self.conn.reply_error(frame, "invalid", f"unknown role {hello.role!r}")
            self.conn.close()
            return
        else:
            self.peer = Peer(self.conn)
        self.role = hello.role
        self.conn.reply(frame, hello_ok=pb.HelloOk(
            server_version=__version__, runtime_python_version=runtime_python_version(),
            server_id=self.server.server_id))

    def on_close(self, exc):
        self.server.blobs.abort_uploads(self.uploads)
        self.server.objects.session_closed(self)
        if self.peer is not None:
            self.functions.peer_closed(self.peer)
        if self.container is not None:
            self.functions.container_conn_lost(self.container)

    # -- client requests

    def app_create(self, frame, msg: pb.AppCreate):
        app = self.functions.create_app(msg.name, msg.ephemeral, msg.detach, self.peer)
        self.conn.reply(frame, app_created=pb.AppCreated(
            app_id=app.id, logs_path=str(self.server.logs.path(app.id))))

    def app_publish(self, frame, msg: pb.AppPublish):
        self.functions.publish_app(msg.app_id)
        self.conn.reply(frame, ok=pb.Ok())

    def app_stop(self, frame, msg: pb.AppStop):
        self.functions.stop_app_request(msg.app_id, msg.name)
        self.conn.reply(frame, ok=pb.Ok())

    def app_list(self, frame, msg: pb.AppList):
        apps = self.functions.app_summaries()
        self.conn.reply(frame, app_list_reply=pb.AppListReply(apps=apps))

    def function_create(self, frame, msg: pb.FunctionCreate):
        fn = self.functions.create_function(msg.app_id, msg.spec)
        self.conn.reply(frame, function_created=pb.FunctionCreated(function_id=fn.id))

    def function_get(self, frame, msg: pb.FunctionGet):
        fn = self.functions.lookup(msg.app_name, msg.app_id, msg.name)
        self.conn.reply(frame, container_spec=pb.ContainerSpec(
            function_id=fn.id, app_id=fn.app.id, spec=fn.spec))

    def function_bind(self, frame, msg: pb.FunctionBind):
        fn = self.functions.bind(msg.function_id, msg.params)
        self.conn.reply(frame, function_created=pb.FunctionCreated(function_id=fn.id))

    def call_create(self, frame, msg: pb.CallCreate):
        self.functions.create_call(self.peer, msg.call_id, msg.function_id, msg.kind,
                                   list(msg.inputs), msg.is_generator)
        self.conn.reply(frame, ok=pb.Ok())

    def inputs(self, frame, msg: pb.InputBatch):
        self.functions.add_inputs(msg.call_id, list(msg.inputs), last=msg.last)

    async def call_get(self, frame, msg: pb.CallGet):
        outputs = await self.functions.wait_output(msg.call_id, msg.timeout_s)
        self.conn.reply(frame, outputs=pb.OutputBatch(outputs=outputs))

    def call_cancel(self, frame, msg: pb.CallCancel):
        self.functions.cancel_call(msg.call_id, msg.terminate_containers)
        self.conn.reply(frame, ok=pb.Ok())

    def call_close(self, frame, msg: pb.CallClose):
        self.functions.close_call(msg.call_id)

    def container_list(self, frame, msg: pb.ContainerList):
        out = self.functions.container_infos(msg.app_id)
        self.conn.reply(frame, container_list_reply=pb.ContainerListReply(containers=out))

    def container_stop(self, frame, msg: pb.ContainerStop):
        self.functions.stop_container_by_id(msg.container_id)
        self.conn.reply(frame, ok=pb.Ok())

    def log_subscribe(self, frame, msg: pb.LogSubscribe):
        app_id = self.functions.log_app_id(msg.app_id, msg.app_name)
        logs = self.server.logs
        conn = self.conn
        if msg.history:
            lines = logs.history(app_id)
            for start in range(0, len(lines), 500):
                conn.send(pb.Frame(log_batch=pb.LogBatch(app_id=app_id,
                                                         lines=lines[start:start + 500])))
        live = msg.follow and self.functions.app_is_running(app_id)
        if live:
            def sub(batch):
                conn.send(pb.Frame(log_batch=batch))
            logs.subscribe(app_id, sub)
            self.peer.log_subs.append((app_id, sub))
        else:
            conn.send(pb.Frame(log_batch=pb.LogBatch(app_id=app_id, end=True)))
        conn.reply(frame, app_created=pb.AppCreated(app_id=app_id))

    def server_status(self, frame, msg):
        s = self.server
        cap = s.resources
        self.conn.reply(frame, server_status_reply=pb.ServerStatusReply(
            version=__version__, pid=os.getpid(), started_at=s.started_at,
            data_dir=str(s.data_dir), address=s.address, n_apps=len(self.functions.apps),
            n_containers=len(self.functions.containers), cpu_capacity=cap.cpu,
            memory_capacity_mib=cap.memory_mib, cpu_reserved=cap.cpu_used,
            memory_reserved_mib=cap.memory_used, runtime=s.runtime.name))

    def server_shutdown(self, frame, msg):
        self.conn.reply(frame, ok=pb.Ok())
        asyncio.get_event_loop().call_later(0.05, self.server.request_shutdown)

    # -- shared by clients and containers

    def blob_put(self, frame, msg: pb.BlobPut):
        self.uploads.add(msg.upload_id)
        blob_id = self.server.blobs.put_chunk(msg.upload_id, msg.data, msg.last)
        if msg.last:
            self.uploads.discard(msg.upload_id)
            self.conn.reply(frame, blob_put_done=pb.BlobPutDone(blob_id=blob_id))
        else:
            self.conn.reply(frame, ok=pb.Ok())

    def blob_get(self, frame, msg: pb.BlobGet):
        try:
            data, last = self.server.blobs.read_chunk(msg.blob_id, msg.offset)
        except (KeyError, FileNotFoundError):
            raise LookupError(f"no blob {msg.blob_id}") from None
        self.conn.reply(frame, blob_chunk=pb.BlobChunk(data=data, last=last))

    # -- container requests

    def container_init(self, frame, msg):
        self.conn.reply(frame, container_spec=self.functions.container_spec(self.container))

    def container_ready(self, frame, msg: pb.ContainerReady):
        self.functions.container_ready(self.container, msg)

    def container_outputs(self, frame, msg: pb.OutputBatch):
        self.functions.container_outputs(self.container, msg.outputs)


_CLIENT_HANDLERS = {
    "app_create": Session.app_create,
    "app_publish": Session.app_publish,
    "app_stop": Session.app_stop,
    "app_list": Session.app_list,
    "function_create": Session.function_create,
    "function_get": Session.function_get,
    "function_bind": Session.function_bind,
    "call_create": Session.call_create,
    "inputs": Session.inputs,
    "call_get": Session.call_get,
    "call_cancel": Session.call_cancel,
    "call_close": Session.call_close,
    "container_list": Session.container_list,
    "container_stop": Session.container_stop,
    "log_subscribe": Session.log_subscribe,
    "server_status": Session.server_status,
    "server_shutdown": Session.server_shutdown,
    "blob_put": Session.blob_put,
    "blob_get": Session.blob_get,
}

_CONTAINER_HANDLERS = {
    "container_init": Session.container_init,
    "container_ready": Session.container_ready,
    "outputs": Session.container_outputs,
    "blob_put": Session.blob_put,
    "blob_get": Session.blob_get,
}

# Dicts, queues, secrets and volumes: their modules hold their handlers.
from . import dicts, objects, queues, secrets, volumes  # noqa: E402

for _service in (objects, dicts, queues, secrets, volumes):
    _CLIENT_HANDLERS.update(_service.HANDLERS)
# Requests that may carry raw bytes; their handlers take them as a fourth argument.
_TAKES_RAW = volumes.TAKES_RAW

from .images import handlers as _image_handlers  # noqa: E402

_CLIENT_HANDLERS.update(_image_handlers.HANDLERS)

# Web endpoints: the gateway's package holds its handlers.
from .gateway import handlers as _web_handlers  # noqa: E402

_CLIENT_HANDLERS.update(_web_handlers.CLIENT_HANDLERS)
_CONTAINER_HANDLERS.update(_web_handlers.CONTAINER_HANDLERS)
