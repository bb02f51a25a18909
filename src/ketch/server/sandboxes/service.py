"""SandboxService: a sandbox's life (create, timeouts, terminate, exit) and its
processes' I/O between clients and the sandbox's supervisor.

A sandbox belongs to an app of its workspace but to no connection: it outlives the
client that made it (until its timeout), and any client of the workspace can find it by
id, exec in it and read its streams. Output waits here, within each stream's window, until
a client reads it; reading hands the supervisor credit for more (see _runtime/supervisor).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time

from ...proto import ketch_pb2 as pb
from ..errors import ServiceError
from ..resources import reserve_soon
from ..runtime import ContainerExit
from .directories import SandboxDirectories
from .entry_log import EntrypointLog
from .launch import SandboxLauncher, check_spec
from .readiness import check_probe, start_probe, wait_ready
from .snapshot import snapshot
from .tunnels import Tunnels
from .model import MAIN, WINDOW, EndReason, ExecRecord, SandboxRecord, describe_end, new_id
from .records import KEEP_S, SandboxTable

log = logging.getLogger("ketch.server")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
STOP_GRACE_S = 3.0           # SIGTERM to SIGKILL when a sandbox is terminated
KEEP_FINISHED_S = 600.0      # an ended sandbox's result and unread output stay this long
KEEP_FINISHED_MAX = 256      # ...and at most this many of them
MAX_EXECS = 1024             # processes started and not yet ended, per sandbox
MAX_READ_BYTES = 16 * 1024 * 1024
FILE_OP_TIMEOUT_S = 300.0
CONN_DRAIN_S = 1.0           # a gone container's last frames get this long to arrive
APP_CHECK_S = 1.0            # how often live sandboxes' apps are looked at


class SandboxService:
    def __init__(self, runtime, resources, launcher: SandboxLauncher, find_app, logs,
                 tunnels: Tunnels, images, find_container, table: SandboxTable, make_room):
        self.runtime = runtime
        self.resources = resources
        self.launcher = launcher
        self.find_app = find_app   # (workspace, app_id) -> the live AppRecord, or LookupError
        self.logs = logs
        self.tunnels = tunnels
        self.images = images
        self.find_container = find_container   # container id -> a function's, or None
        self.table = table                     # sandboxes' info, kept past their server
        self.make_room = make_room   # res -> stops idle function containers for it: fits?
        self.directories = SandboxDirectories(images, runtime)
        self.sandboxes: dict[str, SandboxRecord] = {}
        self._by_conn: dict[object, SandboxRecord] = {}
        self._app_watch: asyncio.Task | None = None
        self.end_watchers: list = []   # each called with a sandbox's record once it ended

    # ------------------------------------------------------------------ life

    async def create(self, workspace: str, msg: pb.SandboxCreate) -> SandboxRecord:
        app = self.find_app(workspace, msg.app_id)
        spec = msg.spec
        check_spec(spec, msg.tags)
        check_probe(spec)
        if msg.name:
            if not _NAME_RE.match(msg.name):
                raise ValueError(f"sandbox name {msg.name!r}: use 1-64 letters, digits, '.', "
                                 "'-' or '_', starting with a letter or digit")
            if any(s.name == msg.name and s.app_id == app.id and not s.done
                   for s in self.sandboxes.values()):
                raise ServiceError(f"app {app.name!r} already has a running sandbox named "
                                   f"{msg.name!r}; pick another name or terminate it",
                                   "already_exists")
        self.launcher.check(spec, workspace)
        spec.entrypoint[:] = self.launcher.command(spec)   # with its image's ENTRYPOINT/CMD
        why = self.resources.unmet(spec.resources)
        if why:   # a sandbox is made now or not at all: it does not wait for a node
            raise ServiceError(f"the sandbox asks for {why.removeprefix('waits for ')}; ask for "
                               "less", "resource")
        reservation = self.resources.reserve(spec.resources)
        if reservation is None and self.make_room(spec.resources):
            reservation = await reserve_soon(self.resources, spec.resources)
        if reservation is None:
            raise ServiceError("this machine has no room for the sandbox's cpu/memory/gpu "
                               "request now; terminate other sandboxes or ask for less",
                               "resource")
        self._sweep()
        if self._app_watch is None:
            self._app_watch = asyncio.ensure_future(self._watch_apps())
        sb = SandboxRecord(new_id("sb"), workspace, app, msg.name, msg.tags, spec)
        sb.reservation = reservation
        sb.entry_log = EntrypointLog(self.logs, sb.app_id, sb.id)
        self.sandboxes[sb.id] = sb
        self.table.save(sb)
        start_probe(sb)
        if spec.entrypoint:
            sb.send(pb.Frame(sandbox_exec=pb.SandboxExec(
                exec_id=MAIN, args=spec.entrypoint, window=WINDOW, pty=spec.pty,
                workdir=spec.workdir)))
        else:
            for out in sb.execs[MAIN].outputs.values():
                out.end()
        loop = asyncio.get_running_loop()
        if spec.timeout_s:
            sb.timers.append(loop.call_later(spec.timeout_s, self.terminate_record, sb,
                                             EndReason.TIMEOUT))
        if spec.idle_timeout_s:
            sb.timers.append(loop.call_later(spec.idle_timeout_s, self._check_idle, sb))
        try:
            await self.tunnels.open(sb)
            sb.handle = await self.runtime.start(
                self.launcher.launch_for(sb),
                lambda source, text: self.logs.write(sb.app_id, source, "sandbox", sb.id, text),
                lambda how: asyncio.ensure_future(self._container_exited(sb, how)))
        except Exception as exc:
            log.exception("sandbox %s could not start", sb.id)
            self._exited(sb, None, f"it could not start: {exc}")
            raise ServiceError(f"the sandbox could not start: {exc}", "internal") from None
        if sb.reason is not None:   # terminated (or timed out) while it was starting
            asyncio.ensure_future(self.runtime.stop(sb.handle, STOP_GRACE_S))
        return sb

    async def _watch_apps(self):
        """A sandbox ends with its app (an ephemeral app whose client left, `ketch app
        stop`), as on Modal."""
        while True:
            await asyncio.sleep(APP_CHECK_S)
            for sb in [s for s in self.sandboxes.values() if not s.done]:
                try:
                    self.find_app(sb.workspace, sb.app_id)
                except LookupError:
                    self.terminate_record(sb, EndReason.APP_STOPPED)

    def _check_idle(self, sb: SandboxRecord):
        if sb.done:
            return
        idle_for = time.monotonic() - sb.last_active
        if sb.busy() or idle_for < sb.spec.idle_timeout_s:
            wait = sb.spec.idle_timeout_s - (0 if sb.busy() else idle_for)
            sb.timers.append(asyncio.get_running_loop().call_later(
                max(wait, 0.05), self._check_idle, sb))
            return
        self.terminate_record(sb, EndReason.IDLE_TIMEOUT)

    def terminate(self, workspace: str, sandbox_id: str):
        sb = self.get(workspace, sandbox_id)
        if sb.function_container:
            raise ValueError(f"{sb.id} is a function's container, not a sandbox; stop it with "
                             "`ketch container stop`")
        self.terminate_record(sb, EndReason.TERMINATED)

    def terminate_record(self, sb: SandboxRecord, reason: EndReason):
        if sb.done or sb.reason is not None:
            return
        sb.reason = reason
        if sb.handle is not None:
            asyncio.ensure_future(self.runtime.stop(sb.handle, STOP_GRACE_S))

    async def _container_exited(self, sb: SandboxRecord, how: ContainerExit):
        """The container is gone; what its supervisor sent last (the entrypoint's exit) may
        still be on its way in: the connection's end says all of it arrived."""
        if sb.conn is not None:
            try:
                await asyncio.wait_for(sb.conn_closed.wait(), CONN_DRAIN_S)
            except asyncio.TimeoutError:
                pass
        self._exited(sb, how)

    def _exited(self, sb: SandboxRecord, how: ContainerExit | None, failure: str = ""):
        if sb.done:
            return
        main = sb.execs[MAIN]
        if how is not None and how.oom_killed:
            sb.reason = EndReason.OOM
        elif sb.reason is None:
            sb.reason = EndReason.EXITED if main.done else EndReason.CRASHED
        if main.done:
            sb.returncode = main.returncode
        elif how is None:
            sb.returncode = 1
        else:
            sb.returncode = how.returncode if how.returncode is not None \
                else 128 + (how.signal or 9)
        sb.message = failure or describe_end(sb, how)
        ended = f"the sandbox ended: {sb.message}"
        for e in sb.execs.values():
            e.finish(sb.returncode if e is main else 137, ended)
            for out in e.outputs.values():
                out.end()
        for waiter in sb.file_waiters.values():
            if not waiter.done():
                waiter.set_exception(ServiceError(ended, "execution"))
        sb.file_waiters.clear()
        sb.done, sb.finished_at = True, time.monotonic()
        self.tunnels.close(sb)
        for watcher in self.end_watchers:
            watcher(sb)
        sb.pending.clear()
        for timer in sb.timers:
            timer.cancel()
        if sb.reservation is not None:
            self.resources.release(sb.reservation)
            sb.reservation = None
        self._by_conn.pop(sb.conn, None)
        if not sb.function_container:   # a function's container keeps its credential
            self.launcher.forget(sb)
        sb.ended.set()
        if sb.entry_log is not None:
            sb.entry_log.close()
        if not sb.function_container:
            self.table.save(sb)
        self.logs.write(sb.app_id, "system", "sandbox", sb.id, ended)

    def _sweep(self):
        """Ended sandboxes are kept a while for their result and unread output."""
        now = time.monotonic()
        ended = sorted((s for s in self.sandboxes.values() if s.done),
                       key=lambda s: s.finished_at)
        extra = len(ended) - KEEP_FINISHED_MAX
        for i, sb in enumerate(ended):
            if i < extra or now - sb.finished_at > KEEP_FINISHED_S:
                del self.sandboxes[sb.id]

    def restore(self):
        if lost := self.table.restore():
            log.info("%d sandboxes ended with the last server: recorded as ended", lost)

    async def shutdown(self):
        if self._app_watch is not None:
            self._app_watch.cancel()
        live = [sb for sb in self.sandboxes.values() if not sb.done]
        for sb in live:
            self.terminate_record(sb, EndReason.SERVER_STOPPED)
        if live:
            await asyncio.wait([asyncio.ensure_future(sb.ended.wait()) for sb in live],
                               timeout=STOP_GRACE_S + 2)

    # ------------------------------------------------------------------ finding

    def get(self, workspace: str, sandbox_id: str) -> SandboxRecord:
        sb = self.sandboxes.get(sandbox_id) or self._function_container(workspace, sandbox_id)
        if sb is None:   # ended a while ago, or before the server restarted
            sb = self.table.ended(workspace, sandbox_id)
        if sb is None or sb.workspace != workspace:
            raise LookupError(f"no sandbox with id {sandbox_id!r} (an ended sandbox is "
                              f"forgotten after {KEEP_S // 86400} days)")
        return sb

    def is_sandbox(self, container_id: str) -> bool:
        sb = self.sandboxes.get(container_id)
        return sb is not None and not sb.function_container

    def _function_container(self, workspace: str, container_id: str) -> SandboxRecord | None:
        """A running function's container, as a target for exec (`ketch container exec`):
        its runtime runs the processes as a supervisor does. It is no sandbox: listing,
        naming and ending it stay with the functions service."""
        c = self.find_container(container_id)
        if c is None or c.fn.app.workspace != workspace or c.conn is None or c.conn.closed:
            return None
        sb = SandboxRecord(c.id, workspace, c.fn.app, "", {}, pb.SandboxSpec())
        sb.function_container, sb.conn, sb.state, sb.handle = True, c.conn, "running", c.handle
        sb.execs[MAIN].finish(0)
        for out in sb.execs[MAIN].outputs.values():
            out.end()
        self.sandboxes[sb.id] = sb
        self._by_conn[c.conn] = sb
        return sb

    def function_container_exited(self, c, how: str):
        """functions' exit watcher: the execs of a function's container end with it."""
        sb = self.sandboxes.get(c.id)
        if sb is not None and sb.function_container:
            sb.reason = sb.reason or EndReason.EXITED
            self._exited(sb, None, f"its function's container stopped ({how})")

    def find(self, workspace: str, msg: pb.SandboxGet) -> SandboxRecord:
        if msg.sandbox_id:
            return self.get(workspace, msg.sandbox_id)
        named = [sb for sb in self.sandboxes.values() if sb.workspace == workspace and
                 sb.app_name == msg.app_name and sb.name == msg.name and
                 not sb.function_container]
        for sb in named:
            if not sb.done:
                return sb
        if msg.include_terminated and named:
            return max(named, key=lambda sb: sb.created_at)
        stored = self.table.ended(workspace, app_name=msg.app_name, name=msg.name) \
            if msg.include_terminated else None
        if stored is not None:
            return stored
        raise LookupError(f"no running sandbox named {msg.name!r} in app {msg.app_name!r}")

    def list(self, workspace: str, app_id: str, tags, include_finished: bool = False):
        return [sb for sb in self.sandboxes.values()
                if sb.workspace == workspace and not sb.function_container
                and (not app_id or sb.app_id == app_id)
                and (include_finished or not sb.done)
                and all(sb.tags.get(k) == v for k, v in tags.items())]

    def set_tags(self, workspace: str, sandbox_id: str, tags):
        check_spec(pb.SandboxSpec(), tags)
        self.get(workspace, sandbox_id).tags = dict(tags)

    async def wait(self, workspace: str, sandbox_id: str, timeout: float) -> SandboxRecord:
        sb = self.get(workspace, sandbox_id)
        if not sb.done and timeout != 0:
            try:
                await asyncio.wait_for(sb.ended.wait(), timeout if timeout > 0 else None)
            except asyncio.TimeoutError:
                pass
        return sb

    def container_infos(self, workspace: str, app_id: str = "") -> list[pb.ContainerInfo]:
        """Live sandboxes as `ketch container list` shows them."""
        return [sb.container_info() for sb in self.list(workspace, app_id, {})]

    # ------------------------------------------------------------------ processes

    def exec(self, workspace: str, msg: pb.SandboxExec) -> str:
        sb = self.live(workspace, msg.sandbox_id)
        if sum(1 for e in sb.execs.values() if not e.done) >= MAX_EXECS:
            raise ServiceError(f"the sandbox already runs {MAX_EXECS} processes; wait for "
                               "some to end", "resource")
        if not msg.args:
            raise ValueError("exec needs a command")
        if msg.timeout_s < 0 or msg.timeout_s > 24 * 3600 or msg.timeout_s != msg.timeout_s:
            raise ValueError(f"exec timeout={msg.timeout_s!r}: give seconds up to a day")
        env = dict(self.launcher.secret_env(msg.secret_ids, workspace))
        env.update(msg.env)
        e = ExecRecord(new_id("ex"), msg.args)
        sb.execs[e.id] = e
        sb.touch()
        sb.send(pb.Frame(sandbox_exec=pb.SandboxExec(
            exec_id=e.id, args=msg.args, workdir=msg.workdir, env=env, stdout=msg.stdout,
            stderr=msg.stderr, timeout_s=msg.timeout_s, pty=msg.pty, window=WINDOW)))
        self._forget_ended_execs(sb)
        return e.id

    def _forget_ended_execs(self, sb: SandboxRecord):
        """Ended processes whose output was read are forgotten beyond MAX_EXECS, once
        there are twice that many (a scan per exec would cost each exec that scan)."""
        if len(sb.execs) <= 2 * MAX_EXECS:
            return
        ended = [i for i, e in sb.execs.items() if e.done and i != MAIN and
                 not any(o.chunks for o in e.outputs.values())]
        for exec_id in ended[:max(0, len(ended) - MAX_EXECS)]:
            del sb.execs[exec_id]

    def live(self, workspace: str, sandbox_id: str) -> SandboxRecord:
        sb = self.get(workspace, sandbox_id)
        if sb.done or sb.reason is not None:
            raise ServiceError(f"sandbox {sb.id} has ended ({(sb.reason or EndReason.EXITED).value}"
                               f"{': ' + sb.message if sb.message else ''})", "execution")
        return sb

    def _exec(self, workspace: str, sandbox_id: str, exec_id: str
              ) -> tuple[SandboxRecord, ExecRecord]:
        sb = self.get(workspace, sandbox_id)
        e = sb.execs.get(exec_id or MAIN)
        if e is None:
            raise LookupError(f"sandbox {sb.id} has no process {exec_id!r}")
        return sb, e

    async def read(self, workspace: str, msg: pb.SandboxRead) -> tuple[pb.SandboxData, bytes]:
        if msg.fd not in (1, 2):
            raise ValueError(f"fd={msg.fd}: read 1 (stdout) or 2 (stderr)")
        sb, e = self._exec(workspace, msg.sandbox_id, msg.exec_id)
        data, eof = await e.outputs[msg.fd].read(min(msg.max_bytes or WINDOW, MAX_READ_BYTES))
        if data:
            sb.touch()
            if not e.done:
                sb.send(pb.Frame(sandbox_credit=pb.SandboxCredit(exec_id=e.id, fd=msg.fd,
                                                                 bytes=len(data))))
        return pb.SandboxData(exec_id=e.id, fd=msg.fd, eof=eof), data

    async def stdin(self, workspace: str, msg: pb.SandboxStdin):
        sb, e = self._exec(workspace, msg.sandbox_id, msg.exec_id)
        if e.done or sb.done:
            return
        sb.touch()
        seq = e.next_seq
        e.next_seq += 1
        waiter = asyncio.get_running_loop().create_future()
        e.stdin_waiters[seq] = waiter
        sb.send(pb.Frame(sandbox_stdin=pb.SandboxStdin(
            exec_id=e.id, data=msg.data, eof=msg.eof, seq=seq, resize_rows=msg.resize_rows,
            resize_cols=msg.resize_cols)))
        await waiter

    async def wait_ready(self, workspace: str, sandbox_id: str, timeout: float):
        return await wait_ready(self.get(workspace, sandbox_id), timeout)

    async def exec_wait(self, workspace: str, msg: pb.SandboxExecWait) -> pb.SandboxExecExit:
        _, e = self._exec(workspace, msg.sandbox_id, msg.exec_id)
        if not e.done and msg.timeout_s != 0:
            try:
                await asyncio.wait_for(e.ended.wait(),
                                       msg.timeout_s if msg.timeout_s > 0 else None)
            except asyncio.TimeoutError:
                pass
        return e.exit_info()

    async def file_op(self, workspace: str, msg: pb.SandboxFileOp) -> pb.SandboxFileResult:
        sb = self.live(workspace, msg.sandbox_id)
        if not msg.path.startswith("/"):
            raise ValueError(f"{msg.path!r}: give an absolute path in the sandbox")
        sb.touch()
        op = pb.SandboxFileOp()
        op.CopyFrom(msg)
        op.op_id = new_id("op")
        waiter = asyncio.get_running_loop().create_future()
        sb.file_waiters[op.op_id] = waiter
        sb.send(pb.Frame(sandbox_file_op=op))
        try:
            return await asyncio.wait_for(waiter, FILE_OP_TIMEOUT_S)
        finally:
            sb.file_waiters.pop(op.op_id, None)

    async def snapshot_filesystem(self, workspace: str, sandbox_id: str) -> str:
        sb = self.live(workspace, sandbox_id)
        sb.touch()
        return await snapshot(self.images, self.runtime.root, sb, self.directories)

    # ------------------------------------------------------------------ the supervisor

    def connected(self, sandbox_id: str, conn) -> SandboxRecord:
        sb = self.sandboxes.get(sandbox_id)
        if sb is None or sb.done or sb.conn is not None:
            raise LookupError(f"no starting sandbox {sandbox_id}")
        sb.conn = conn
        self._by_conn[conn] = sb
        return sb

    def supervisor_hello(self, conn):
        sb = self._by_conn.get(conn)
        if sb is None:
            return
        sb.set_running()
        pending, sb.pending = sb.pending, []
        for frame in pending:
            conn.send(frame)

    def _of(self, conn) -> SandboxRecord | None:
        return self._by_conn.get(conn)

    def supervisor_data(self, conn, msg: pb.SandboxData, raw):
        """Output of a process: `msg.data` and the raw bytes after the frame (views of
        what the socket read, kept as they are)."""
        sb = self._of(conn)
        e = sb.execs.get(msg.exec_id) if sb else None
        if e is None or msg.fd not in (1, 2):
            return
        out = e.outputs[msg.fd]
        parts = [msg.data, *raw] if msg.data else list(raw)
        if out.size + sum(len(p) for p in parts) > 2 * WINDOW:  # beyond its credit
            log.warning("sandbox %s sent output beyond its window; dropped", sb.id)
            return
        for part in parts:
            out.feed(part, False)
        out.feed(b"", msg.eof)
        if e.id == MAIN and sb.entry_log is not None:
            sb.entry_log.feed(msg.fd, parts)

    def supervisor_exec_exit(self, conn, msg: pb.SandboxExecExit):
        sb = self._of(conn)
        e = sb.execs.get(msg.exec_id) if sb else None
        if e is not None:
            e.finish(msg.returncode, msg.message)
            if e.id != MAIN:
                sb.touch()

    def supervisor_stdin_ack(self, conn, msg: pb.SandboxStdinAck):
        sb = self._of(conn)
        e = sb.execs.get(msg.exec_id) if sb else None
        waiter = e.stdin_waiters.pop(msg.seq, None) if e else None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def supervisor_ready(self, conn):
        sb = self._of(conn)
        if sb is not None:
            sb.ready.set()

    def supervisor_file_result(self, conn, msg: pb.SandboxFileResult):
        sb = self._of(conn)
        waiter = sb.file_waiters.get(msg.op_id) if sb else None
        if waiter is not None and not waiter.done():
            waiter.set_result(msg)

    def supervisor_lost(self, conn):
        sb = self._by_conn.pop(conn, None)
        if sb is None:
            return
        sb.conn_closed.set()
        if not sb.done and not sb.execs[MAIN].done:   # it died: the container goes too
            self.terminate_record(sb, EndReason.CRASHED)
