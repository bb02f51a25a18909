"""One connection to the server: Hello first, then each frame routed to its handler.

The first frame must be `Hello` with a credential (`tokens`): it decides the workspace
every request of the session acts in, and whether the caller is a client or a container
(only a container's own credential speaks for it). After that each request goes to the
handler `routes.ROUTES` names for it, admin-only ones for the admin only, and whatever a
handler raises becomes an error reply here, in one place.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from ... import __version__
from ..._wire import FrameProtocol
from ...proto import ketch_pb2 as pb
from ..errors import ServiceError
from ..functions.model import ContainerRecord, Peer
from ..functions import runtime_python_version
from ..services import Services
from ..tokens import Principal
from .context import Request
from .routes import ROUTES

log = logging.getLogger("ketch.server")


def error_reply(exc: Exception) -> tuple[str, str]:
    """The error reply's (code, message) for what a handler raised."""
    if isinstance(exc, ServiceError):
        return exc.code, str(exc)
    if isinstance(exc, LookupError):
        # KeyError's str() quotes its argument; the message is the argument.
        return "not_found", str(exc.args[0] if exc.args else exc)
    if isinstance(exc, TimeoutError):
        return "timeout", str(exc)
    if isinstance(exc, (ValueError, TypeError)):
        return "invalid", str(exc)
    return "internal", f"the ketch server failed: {exc!r}"


class Session:
    def __init__(self, services: Services):
        self.services = services
        self.owner_id = "conn-" + secrets.token_hex(8)
        self.role: str | None = None
        self.peer: Peer | None = None
        self.container: ContainerRecord | None = None
        self.principal: Principal | None = None
        self.workspace = ""
        self.conn = FrameProtocol(on_frame=self.on_frame, on_close=self.on_close,
                                  is_server=True)

    def on_frame(self, frame: pb.Frame, raw=None):
        kind = frame.WhichOneof("body")
        if kind is None:  # a body this server does not know: a confused or hostile peer
            self.conn.malformed("a frame with no body this server knows")
            return
        if self.role is None:
            self._hello(frame, kind)
            return
        if not self.services.tokens.valid(self.principal):
            self._refuse(frame, "auth", "this session's credential was revoked (or its "
                         "container exited)")
            return
        handler = ROUTES.find(self.role, kind)
        if handler is None:
            self.conn.reply_error(frame, "invalid", f"a {self.role} cannot send {kind!r}")
            return
        if kind in ROUTES.admin_only and not self.principal.admin:
            self.conn.reply_error(frame, "auth", f"{kind!r} needs the admin token (the one "
                                  "in the server's data directory)")
            return
        if raw is not None and kind not in ROUTES.takes_raw:
            self.conn.reply_error(frame, "invalid", f"{kind!r} carries no raw bytes")
            return
        request = Request(frame, self.conn, self.owner_id, self.role, self.peer,
                          self.container, self.workspace, raw, self.principal)
        try:
            result = handler(self.services, request, getattr(frame, kind))
        except Exception as exc:
            self._failed(request, kind, exc)
            return
        if asyncio.iscoroutine(result):
            self.conn.request_started()
            asyncio.ensure_future(self._finish(request, kind, result))

    async def _finish(self, request: Request, kind: str, coro):
        try:
            await coro
        except Exception as exc:
            self._failed(request, kind, exc)
        finally:
            self.conn.request_done()

    def _failed(self, request: Request, kind: str, exc: Exception):
        code, message = error_reply(exc)
        if code == "internal":
            log.error("handling %s failed", kind, exc_info=exc)
        request.reply_error(code, message)

    def _hello(self, frame: pb.Frame, kind: str):
        info = self.services.info
        if kind != "hello":
            self._refuse(frame, "auth", "the first message must be Hello")
            return
        hello = frame.hello
        principal = self.services.tokens.authenticate(hello.token)
        if principal is None:
            self._refuse(
                frame, "auth",
                f"the ketch server at {info.address} rejected the token. Use the admin token "
                f"in {info.data_dir / 'token'} on the server's machine, or a workspace token "
                "from `ketch token create`: set KETCH_TOKEN or run `ketch token set`.")
            return
        if hello.role == "node" or principal.node_id:
            self._node_hello(frame, hello.node_id, principal)
            return
        try:
            workspace = self.services.tokens.workspace_for(principal, hello.workspace)
        except Exception as exc:
            self._refuse(frame, *error_reply(exc))
            return
        if hello.role == "container":
            if not principal.container_id or principal.container_id != hello.container_id:
                self._refuse(frame, "auth", "only a container's own credential speaks for it")
                return
            try:
                self.container = self.services.functions.container_connected(
                    hello.container_id, self.conn)
            except LookupError as exc:
                self._refuse(frame, "not_found", str(exc))
                return
        elif hello.role == "sandbox":
            if not principal.container_id or principal.container_id != hello.container_id:
                self._refuse(frame, "auth", "only a sandbox's own credential speaks for it")
                return
            try:
                self.services.sandboxes.connected(hello.container_id, self.conn)
            except LookupError as exc:
                self._refuse(frame, "not_found", str(exc))
                return
        elif hello.role == "client":
            if self.services.sandboxes.is_sandbox(principal.container_id):
                # A sandbox's credential opens its supervisor's one session, nothing else:
                # code in the sandbox that finds it cannot act as a client of the workspace.
                self._refuse(frame, "auth", "a sandbox's credential cannot open a client "
                             "session")
                return
            self.peer = Peer(self.conn)
        else:
            self._refuse(frame, "invalid", f"unknown role {hello.role!r}")
            return
        self.role = hello.role
        self.principal, self.workspace = principal, workspace
        self.services.tokens.opened(principal, self.conn.close)
        self.conn.authenticated()
        self.conn.reply(frame, hello_ok=pb.HelloOk(
            server_version=__version__, runtime_python_version=runtime_python_version(),
            server_id=info.server_id, workspace=workspace, admin=principal.admin))

    def _node_hello(self, frame: pb.Frame, node_id: str, principal: Principal):
        """A cluster node's agent: only its own credential opens a node session, and that
        credential opens nothing else (it is no client of any workspace)."""
        if not principal.node_id or principal.node_id != node_id:
            self._refuse(frame, "auth", "only a node agent's own credential opens a node "
                         "session, and a node credential opens nothing else")
            return
        self.role, self.principal = "node", principal
        self.services.tokens.opened(principal, self.conn.close)
        self.conn.authenticated()
        self.conn.reply(frame, hello_ok=pb.HelloOk(server_version=__version__,
                                                   server_id=self.services.info.server_id))

    def _refuse(self, frame: pb.Frame, code: str, message: str):
        self.conn.reply_error(frame, code, message)
        self.conn.close()

    def on_close(self, exc):
        if self.principal is not None:
            self.services.tokens.closed(self.principal, self.conn.close)
        self.services.owner_closed(self.owner_id)
        if self.peer is not None:
            self.services.functions.peer_closed(self.peer)
        if self.container is not None:
            self.services.functions.container_conn_lost(self.container)
        if self.role == "sandbox":
            self.services.sandboxes.supervisor_lost(self.conn)
