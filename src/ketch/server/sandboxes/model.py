"""The records of live (and recently ended) sandboxes and their processes."""

from __future__ import annotations

import asyncio
import collections
import enum
import secrets
import time

from ...proto import ketch_pb2 as pb

MAIN = "main"                      # the entrypoint's exec id, as the supervisor names it
WINDOW = 8 * 1024 * 1024           # bytes of one stream held here for its readers, at most


class EndReason(enum.Enum):
    """Why a sandbox ended; `SandboxInfo.reason` carries the value."""

    EXITED = "exited"              # its entrypoint ended
    TERMINATED = "terminated"      # terminate() or `ketch container stop`
    TIMEOUT = "timeout"            # its timeout passed
    IDLE_TIMEOUT = "idle_timeout"  # nothing ran in it for idle_timeout
    OOM = "oom"                    # the kernel killed it for memory
    CRASHED = "crashed"            # its supervisor died or could not start
    SERVER_STOPPED = "server_stopped"
    APP_STOPPED = "app_stopped"    # its app was stopped (an ephemeral app's client left)


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


class OutputBuffer:
    """One output stream of a process, held until a reader takes it. The supervisor sends
    no more than the window it has credit for, so this stays under WINDOW."""

    __slots__ = ("chunks", "size", "eof", "event")

    def __init__(self):
        self.chunks: collections.deque[bytes] = collections.deque()
        self.size = 0
        self.eof = False
        self.event = asyncio.Event()

    def feed(self, data: bytes, eof: bool):
        if data:
            self.chunks.append(data)
            self.size += len(data)
        self.eof = self.eof or eof
        self.event.set()

    def end(self):
        self.feed(b"", True)

    async def read(self, max_bytes: int) -> tuple[bytes, bool]:
        """Up to max_bytes, waiting for some (or the end); → (data, at the end)."""
        while not self.chunks and not self.eof:
            self.event.clear()
            await self.event.wait()
        out, n = [], 0
        while self.chunks and n < max_bytes:
            chunk = self.chunks.popleft()
            if n + len(chunk) > max_bytes:
                self.chunks.appendleft(chunk[max_bytes - n:])
                chunk = chunk[:max_bytes - n]
            out.append(chunk)
            n += len(chunk)
        self.size -= n
        return b"".join(out), self.eof and not self.chunks


class ExecRecord:
    """One process in a sandbox (the entrypoint too)."""

    def __init__(self, exec_id: str, args):
        self.id = exec_id
        self.args = list(args)
        self.outputs = {1: OutputBuffer(), 2: OutputBuffer()}
        self.done = False
        self.returncode = 0
        self.message = ""
        self.ended = asyncio.Event()
        self.stdin_waiters: dict[int, asyncio.Future] = {}
        self.next_seq = 1

    def finish(self, returncode: int, message: str = ""):
        if self.done:
            return
        self.done, self.returncode, self.message = True, returncode, message
        self.ended.set()
        for waiter in self.stdin_waiters.values():
            if not waiter.done():
                waiter.set_result(None)
        self.stdin_waiters.clear()

    def exit_info(self) -> pb.SandboxExecExit:
        return pb.SandboxExecExit(exec_id=self.id, done=self.done, returncode=self.returncode,
                                  message=self.message)


class SandboxRecord:
    def __init__(self, sandbox_id: str, workspace: str, app, name: str, tags, spec):
        self.id = sandbox_id
        self.workspace = workspace
        self.app_id, self.app_name = app.id, app.name
        self.name = name
        self.tags: dict[str, str] = dict(tags)
        self.spec: pb.SandboxSpec = spec
        self.created_at = time.time()
        self.state = "starting"           # "running" once its supervisor connected
        self.conn = None                  # the supervisor's connection
        self.conn_closed = asyncio.Event()
        self.handle = None                # the runtime's container
        self.reservation = None
        self.pending: list[pb.Frame] = []  # for the supervisor, once it connects
        self.execs: dict[str, ExecRecord] = {MAIN: ExecRecord(MAIN, spec.entrypoint)}
        self.file_waiters: dict[str, asyncio.Future] = {}
        self.done = False
        self.returncode = 0
        self.reason: EndReason | None = None   # set when ending starts (why it was asked)
        self.message = ""
        self.ended = asyncio.Event()
        self.ready = asyncio.Event()      # its readiness probe passed
        self.running = asyncio.Event()    # its supervisor connected
        self.finished_at = 0.0
        self.last_active = time.monotonic()
        self.timers: list[asyncio.TimerHandle] = []
        self.function_container = False   # a function's container, exec'd into
        self.tunnels: list[pb.SandboxTunnel] = []
        self.tunnel_servers: list[asyncio.AbstractServer] = []
        self.mounts: dict[str, str] = {}   # mount_image's path -> its writable layer
        self.entry_log = None              # its entrypoint's lines in the app log

    def set_running(self):
        self.state = "running"
        self.running.set()

    async def until_running(self, what: str, timeout_s: float):
        """Waits while it starts (an operation right after create is fine, as on Modal)."""
        if self.state != "starting":
            return
        waits = [asyncio.ensure_future(self.running.wait()),
                 asyncio.ensure_future(self.ended.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        if self.state == "starting":
            raise TimeoutError(f"{what}: sandbox {self.id} did not start within "
                               f"{timeout_s:g} s")

    def send(self, frame: pb.Frame):
        """To the supervisor, now or once it connects."""
        if self.conn is not None and not self.conn.closed:
            self.conn.send(frame)
        elif not self.done:
            self.pending.append(frame)

    def touch(self):
        self.last_active = time.monotonic()

    def busy(self) -> bool:
        """Something other than the entrypoint runs in it: it is not idle."""
        return any(not e.done for i, e in self.execs.items() if i != MAIN)

    def container_info(self) -> pb.ContainerInfo:
        """As `ketch container list` shows it."""
        return pb.ContainerInfo(
            container_id=self.id, app_id=self.app_id, app_name=self.app_name,
            function_name=f"sandbox {self.name}".strip(),
            state=self.state if self.reason is None else "stopping", started_at=self.created_at,
            inputs_in_flight=sum(1 for i, e in self.execs.items() if not e.done and i != MAIN),
            pid=getattr(self.handle, "pid", 0) or 0)

    def info(self) -> pb.SandboxInfo:
        return pb.SandboxInfo(
            sandbox_id=self.id, app_id=self.app_id, app_name=self.app_name, name=self.name,
            tags=self.tags, state="finished" if self.done else self.state, done=self.done,
            returncode=self.returncode, reason=self.reason.value if self.reason else "",
            message=self.message, created_at=self.created_at, tunnels=self.tunnels,
            ready=self.ready.is_set())


def describe_end(sb: SandboxRecord, how) -> str:
    reason = sb.reason
    if reason is EndReason.TIMEOUT:
        return f"it reached its timeout of {sb.spec.timeout_s:g} s"
    if reason is EndReason.IDLE_TIMEOUT:
        return f"nothing ran in it for its idle_timeout of {sb.spec.idle_timeout_s:g} s"
    if reason is EndReason.TERMINATED:
        return "it was terminated"
    if reason is EndReason.SERVER_STOPPED:
        return "the server stopped"
    if reason is EndReason.APP_STOPPED:
        return f"its app {sb.app_name!r} was stopped"
    if reason is EndReason.OOM and how is not None:
        return how.describe()
    if reason is EndReason.EXITED:
        return f"its entrypoint exited with code {sb.returncode}"
    return how.describe() if how is not None else "its supervisor could not start"
