"""The SDK's one connection to the ketch server.

Lives on ketch's event loop (see `_sync`). Requests get replies by id; outputs pushed by the
server are routed to the `OutputStream` of their call, log lines to their subscribers. When
no server answers at a local address, one is started in the background (the embedded
default).
"""

from __future__ import annotations

import asyncio
import collections
import os
import socket
import subprocess
import sys
import threading
import time

from . import _blobs, _config, _wire
from .exception import AlreadyExistsError, AuthError, ConnectionError, InvalidError, NotFoundError, ResourceError, \
    TimeoutError, VersionError, ExecutionError, InternalError
from .proto import ketch_pb2 as pb

_ERROR_KINDS = {
    "invalid": InvalidError,
    "not_found": NotFoundError,
    "auth": AuthError,
    "resource": ResourceError,
    "timeout": TimeoutError,
    "version": VersionError,
    "execution": ExecutionError,
    "already_exists": AlreadyExistsError,
}


def error_from_reply(failure: _wire.RemoteFailure) -> Exception:
    return _ERROR_KINDS.get(failure.kind, InternalError)(failure.message)


def python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


class OutputStream:
    """Outputs of one call as they arrive, in arrival order."""

    __slots__ = ("items", "event", "closed_error")

    def __init__(self):
        self.items: collections.deque[pb.Output] = collections.deque()
        self.event = asyncio.Event()
        self.closed_error: Exception | None = None

    def feed(self, output: pb.Output):
        self.items.append(output)
        self.event.set()

    def fail(self, exc: Exception):
        self.closed_error = exc
        self.event.set()

    async def next(self) -> pb.Output:
        while not self.items:
            if self.closed_error is not None:
                raise self.closed_error
            self.event.clear()
            await self.event.wait()
        return self.items.popleft()

    def drain(self) -> list[pb.Output]:
        items = list(self.items)
        self.items.clear()
        return items


class Answer:
    """The one output of a call that a thread other than ketch's loop waits for (see
    `Client.call_from_thread`). It stands where the call's OutputStream and its create's
    reply future would, is filled on ketch's loop, and wakes the waiting thread itself."""

    __slots__ = ("_ready", "output", "error")

    def __init__(self):
        self._ready = threading.Lock()
        self._ready.acquire()
        self.output: pb.Output | None = None
        self.error: Exception | None = None

    def wait(self) -> pb.Output:
        self._ready.acquire()
        if self.error is not None:
            raise self.error
        return self.output

    def done(self) -> bool:
        return self.output is not None or self.error is not None

    def feed(self, output: pb.Output):   # as the call's OutputStream
        if not self.done():
            self.output = output
            self._ready.release()

    def fail(self, exc: Exception):
        if not self.done():
            self.error = exc
            self._ready.release()

    def set_result(self, reply):   # as the create's reply: sent only when it failed
        frame = reply[0]
        if frame.WhichOneof("body") == "error":
            self.fail(error_from_reply(_wire.RemoteFailure(frame.error.kind,
                                                           frame.error.message)))

    def set_exception(self, exc: Exception):
        self.fail(ConnectionError(f"lost the connection to the ketch server: {exc}"))

    def cancel(self):
        pass


class Client:
    _instance: "Client | None" = None
    _connecting: asyncio.Lock | None = None

    def __init__(self, address: str, conn: _wire.FrameProtocol, hello: pb.HelloOk):
        self.address = address
        self.conn = conn
        self.hello = hello
        self.streams: dict[str, OutputStream] = {}
        self.log_handlers: dict[str, callable] = {}

    # -- connecting

    @classmethod
    async def get(cls, autostart: bool = True) -> "Client":
        """The shared client of this process, connecting (and maybe starting a server)."""
        inst = cls._instance
        if inst is not None and not inst.conn.closed:
            return inst
        if cls._connecting is None:
            cls._connecting = asyncio.Lock()
        async with cls._connecting:
            if cls._instance is None or cls._instance.conn.closed:
                cls._instance = await cls._connect(_config.server_address(), autostart)
            return cls._instance

    @classmethod
    async def _connect(cls, address: str, autostart: bool = True) -> "Client":
        holder: dict = {}

        def on_frame(frame):
            holder["client"]._on_push(frame)

        def on_close(exc):
            client = holder.get("client")
            if client is not None:
                client._on_close()

        try:
            _wire.check_address(address)
        except ValueError as exc:
            raise InvalidError(str(exc)) from None
        try:
            conn = await _wire.open_connection(address, on_frame, on_close)
        except OSError:
            if not autostart or not _config.is_local_address(address) \
                    or os.environ.get("KETCH_NO_AUTOSTART"):
                raise ConnectionError(
                    f"cannot reach the ketch server at {address}. Check that it is running "
                    "(`ketch server status`) and that KETCH_SERVER_ADDR or "
                    f"{_config.config_dir() / 'config.json'} names the right address."
                ) from None
            await asyncio.get_running_loop().run_in_executor(None, start_local_server, address)
            conn = await _wire.open_connection(address, on_frame, on_close)
        token = _config.client_token(address) or ""
        try:
            reply = await conn.request(hello=pb.Hello(
                token=token, role="client", python_version=python_version(),
                workspace=_config.workspace()))
        except _wire.RemoteFailure as exc:
            conn.close()
            raise error_from_reply(exc) from None
        client = cls(address, conn, reply.hello_ok)
        holder["client"] = client
        return client

    # -- pushes from the server

    def _on_push(self, frame: pb.Frame):
        kind = frame.WhichOneof("body")
        if kind == "outputs":
            streams = self.streams
            for out in frame.outputs.outputs:
                stream = streams.get(out.call_id)
                if stream is not None:
                    stream.feed(out)
        elif kind == "image_build_log":
            handler = self.log_handlers.get(frame.image_build_log.build_id)
            if handler is not None:
                handler(frame.image_build_log)
        elif kind == "log_batch":
            handler = self.log_handlers.get(frame.log_batch.app_id) or \
                self.log_handlers.get("*")
            if handler is not None:
                handler(frame.log_batch)
        elif kind == "terminal_data":   # an interactive app's output (_interactive.py)
            handler = self.log_handlers.get("terminal:" + frame.terminal_data.app_id)
            if handler is not None:
                handler(frame.terminal_data)

    def _on_close(self):
        err = ConnectionError(f"lost the connection to the ketch server at {self.address}")
        for stream in list(self.streams.values()):  # a snapshot: other threads add theirs
            stream.fail(err)
        self.streams.clear()

    # -- requests

    async def request(self, raw=None, **body) -> pb.Frame:
        return (await self.request_raw(raw, **body))[0]

    async def request_raw(self, raw=None, **body) -> tuple[pb.Frame, list | None]:
        """A request whose reply may carry raw bytes (see _wire): → (reply, raw or None)."""
        try:
            return await self.conn.request_raw(raw, **body)
        except _wire.RemoteFailure as exc:
            raise error_from_reply(exc) from None
        except _wire.ConnectionLost:
            raise ConnectionError(
                f"lost the connection to the ketch server at {self.address}") from None

    def request_quiet(self, stream: OutputStream, **body) -> int:
        """Sends a request that the server answers only when it fails (a quiet CallCreate:
        its outputs are the answer); the error then ends `stream`. → the request's id, to
        `forget_request` once the answer came."""
        if self.conn.closed:
            raise ConnectionError(f"lost the connection to the ketch server at {self.address}")
        rid, fut = self.conn.request_nowait(**body)

        def answered(f: asyncio.Future):
            if f.cancelled() or f.exception() is not None:
                return  # forgotten, or the connection was lost (which fails the streams)
            frame, _ = f.result()
            if frame.WhichOneof("body") == "error":
                stream.fail(error_from_reply(_wire.RemoteFailure(frame.error.kind,
                                                                 frame.error.message)))

        fut.add_done_callback(answered)
        return rid

    def forget_request(self, rid: int):
        self.conn.forget(rid)

    @classmethod
    def connected(cls) -> "Client | None":
        """The shared client when it is connected; callable from any thread."""
        inst = cls._instance
        return inst if inst is not None and not inst.conn.closed else None

    def call_from_thread(self, frame: pb.Frame) -> pb.Output:
        """Makes a quiet one-input call (`frame`'s call_create) from a thread other than
        ketch's loop and blocks until its output: this thread writes the create, and the
        loop, reading the output, wakes it (no hop through the loop thread on the way out,
        nor a task on the way back). Raises the create's error; interrupted, it closes the
        call."""
        answer = Answer()
        call_id = frame.call_create.call_id
        self.streams[call_id] = answer
        rid = None
        try:
            rid = self.conn.request_from_thread(answer, frame)
            return answer.wait()
        except _wire.ConnectionLost:
            raise ConnectionError(
                f"lost the connection to the ketch server at {self.address}") from None
        finally:
            self.streams.pop(call_id, None)
            if rid is not None:
                self.conn.forget_from_thread(rid)
                if not answer.done():  # interrupted (Ctrl-C): the server stops running it
                    self.conn.write_now(pb.Frame(call_close=pb.CallClose(call_id=call_id)))

    def send(self, **body):
        if self.conn.closed:
            raise ConnectionError(f"lost the connection to the ketch server at {self.address}")
        self.conn.send(pb.Frame(**body))

    def open_stream(self, call_id: str) -> OutputStream:
        stream = OutputStream()
        self.streams[call_id] = stream
        return stream

    def close_stream(self, call_id: str):
        self.streams.pop(call_id, None)

    # -- blobs

    async def put_blob(self, data: bytes) -> str:
        return await _blobs.put_blob(self.request, data)

    async def get_blob(self, blob_id: str) -> bytes:
        return await _blobs.get_blob(self.request, blob_id)


def start_local_server(address: str):
    """Starts a ketch server in the background and waits until it answers (the embedded
    default). Several clients racing here start one server: the loser fails to bind."""
    data = _config.data_dir()
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    log_path = data / "server.log"
    with open(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
        logged_before = log.tell()
        proc = subprocess.Popen(
            [sys.executable, "-m", "ketch.server", "--address", address],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            env={**os.environ, "KETCH_DATA_DIR": str(data)},
        )
    host, port = _wire.parse_address(address)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        exited = proc.poll() is not None   # read before the connect: a racing server won
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            print(f"ketch: started a local server at {address} "
                  f"(data in {data}, log in {log_path})", file=sys.stderr)
            return
        except OSError:
            pass
        if exited:   # and none answers: its last words say why (a bad --store, say)
            with open(log_path, "rb") as log:
                log.seek(logged_before)
                lines = log.read().decode(errors="replace").strip().splitlines()
            said = next((line for line in reversed(lines) if line.startswith("ketch server:")),
                        lines[-1] if lines else f"exit status {proc.returncode}")
            said = said.removeprefix("ketch server: ")
            raise ConnectionError(f"the ketch server did not start: {said} (log: {log_path})")
        time.sleep(0.02)
    raise ConnectionError(f"started a local ketch server at {address} but it did not answer "
                          f"within 20 s; see its log at {log_path}")
