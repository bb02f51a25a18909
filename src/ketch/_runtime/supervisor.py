"""A sandbox's supervisor: the one process ketch runs in a sandbox's container.

It connects back to the server over the container's socket (Hello with role "sandbox"
and the sandbox's own credential), then starts the processes the server asks for (the
entrypoint is exec "main"), streams their stdout and stderr back as `SandboxData` frames,
feeds their stdin, runs file operations (`files`) and reports each exit. When "main"
ends, so does the sandbox.

Output is flow-controlled end to end: each stream may have at most `window` bytes sent
and not yet taken by a reader; the server hands back credit (`SandboxCredit`) as readers
take bytes, and a stream out of credit is not read, so its process blocks on a full pipe
as it would under any shell. Nothing here holds more than a window per stream.

The credential stays with the supervisor: the processes it starts get an environment
without it, and the supervisor makes itself non-dumpable so they cannot read it from its
/proc entries. (bubblewrap, pid 1, still holds it in its environment; the server accepts
a sandbox's credential for one supervisor session only, never as a client.) Imports
nothing from `ketch.server`.
"""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import os
import signal
import sys

from .. import _wire
from .._port_forward import serve_port
from ..proto import ketch_pb2 as pb
from . import files
from .network import network_ready
from .terminal import Terminal

CHUNK = 1024 * 1024             # bytes per output frame, at most
MAIN = "main"                   # the entrypoint's exec id
EXIT_FLUSH_S = 0.5              # output that trails a process's exit gets this long
STOP_GRACE_S = 2.0              # SIGTERM to SIGKILL for its processes when it is stopped
KILLED = 128 + signal.SIGKILL   # the shell's code for a process killed by SIGKILL
PR_SET_DUMPABLE = 4
# Variables of the supervisor's own that its processes do not inherit.
_PRIVATE_ENV = ("KETCH_TOKEN", "KETCH_SERVER_ADDR", "KETCH_NET_READY_FD",
                "KETCH_CONTAINER_ID", "KETCH_SANDBOX_WORKDIR", "KETCH_WEB_DIR",
                "KETCH_SANDBOX_PORTS")


PIPE_BYTES = 1024 * 1024         # a process's output pipe holds this much (Linux's default: 64 KiB)
F_SETPIPE_SZ = 1031


def _big_pipe() -> tuple[int, int]:
    """A pipe for a process's output, made large: fewer wake-ups on both of its ends."""
    read, write = os.pipe()
    try:
        fcntl.fcntl(write, F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:
        pass   # over /proc/sys/fs/pipe-max-size: the default size serves
    return read, write


async def _reader(fd: int) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=CHUNK)
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0))
    return reader


# How a sandbox's container starts its supervisor (`python -c BOOT`): without running
# ketch/__init__.py, which imports the whole SDK (a quarter of a second), only what the
# supervisor needs.
BOOT = """
import importlib.util, sys, types
spec = importlib.util.find_spec("ketch")
package = types.ModuleType("ketch")
package.__path__, package.__spec__ = list(spec.submodule_search_locations), spec
sys.modules["ketch"] = package
from ketch._runtime.supervisor import main
main()
"""


class Stream:
    """One output stream of a process, sent to the server within its credit."""

    def __init__(self, proc: "Exec", fd: int, reader: asyncio.StreamReader, window: int):
        self.proc, self.fd, self.reader = proc, fd, reader
        self.credit = window
        self.has_credit = asyncio.Event()
        self.has_credit.set()

    def add_credit(self, n: int):
        self.credit += n
        if self.credit > 0:
            self.has_credit.set()

    async def pump(self, conn: _wire.FrameProtocol):
        while True:
            await self.has_credit.wait()
            try:
                data = await self.reader.read(min(self.credit, CHUNK))
            except OSError:  # a pty whose last writer closed reads as EIO
                data = b""
            if not data:
                conn.send(pb.Frame(sandbox_data=pb.SandboxData(
                    exec_id=self.proc.id, fd=self.fd, eof=True)))
                return
            self.credit -= len(data)
            if self.credit <= 0:
                self.has_credit.clear()
            # The bytes ride after the frame (raw), never copied into a protobuf message.
            conn.send(pb.Frame(sandbox_data=pb.SandboxData(exec_id=self.proc.id, fd=self.fd)),
                      data)
            await conn.drain()


class Exec:
    """One process the server asked for, in a process group of its own."""

    def __init__(self, sup: "Supervisor", msg: pb.SandboxExec):
        self.sup, self.msg, self.id = sup, msg, msg.exec_id
        self.streams: dict[int, Stream] = {}
        self.proc: asyncio.subprocess.Process | None = None
        self.terminal: Terminal | None = None
        self.stdin: asyncio.Queue = asyncio.Queue()
        self.timed_out = False

    async def run(self):
        msg, conn = self.msg, self.sup.conn
        try:
            await self._spawn()
        except OSError as exc:  # no such program, not executable: the shell's codes
            what = f"workdir {msg.workdir}" if msg.workdir and not os.path.isdir(msg.workdir) \
                else msg.args[0]
            for fd in (1, 2):
                conn.send(pb.Frame(sandbox_data=pb.SandboxData(
                    exec_id=self.id, fd=fd, eof=True,
                    data=f"{what}: {exc.strerror}\n".encode() if fd == 2 else b"")))
            code = 127 if isinstance(exc, FileNotFoundError) else 126
            self._exited(code, f"it could not start: {exc.strerror}")
            return
        pumps = [asyncio.ensure_future(s.pump(conn)) for s in self.streams.values()]
        feeder = asyncio.ensure_future(self._feed_stdin())
        try:
            code = await asyncio.wait_for(self.proc.wait(), msg.timeout_s or None)
        except asyncio.TimeoutError:
            self.timed_out = True
            self.kill(signal.SIGKILL)
            code = await self.proc.wait()
        if pumps:
            await asyncio.wait(pumps, timeout=EXIT_FLUSH_S)
        feeder.cancel()
        if self.terminal is not None:
            self.terminal.close()
        code = 128 - code if code < 0 else code
        message = f"it timed out after {msg.timeout_s:g} s and was killed" \
            if self.timed_out else ""
        self._exited(code, message)

    async def _spawn(self):
        msg = self.msg
        env = {**self.sup.child_env, **msg.env}
        cwd = msg.workdir or None
        pipes = {1: msg.stdout, 2: msg.stderr}
        if msg.pty:
            self.terminal = Terminal()
            stdio = dict(stdin=self.terminal.child, stdout=self.terminal.child,
                         stderr=self.terminal.child, preexec_fn=self.terminal.take_control)
        else:
            ours = {fd: None if pipes[fd] else _big_pipe() for fd in (1, 2)}
            stdio = {"stdin": asyncio.subprocess.PIPE,
                     **{name: asyncio.subprocess.DEVNULL if ours[fd] is None else ours[fd][1]
                        for fd, name in ((1, "stdout"), (2, "stderr"))}}
        pipes_made = [] if msg.pty else [p for p in ours.values() if p]
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *msg.args, env=env, cwd=cwd, start_new_session=not msg.pty, **stdio)
        except BaseException:
            for pipe in pipes_made:
                os.close(pipe[0])
            raise
        finally:
            for pipe in pipes_made:
                os.close(pipe[1])   # the child's ends: EOF comes when it closes its own
        window = msg.window or CHUNK
        if self.terminal is not None:
            self.terminal.started()
            self.streams[1] = Stream(self, 1, await self.terminal.reader(), window)
            self.sup.conn.send(pb.Frame(sandbox_data=pb.SandboxData(exec_id=self.id, fd=2,
                                                                    eof=True)))
            return
        for fd, pipe in ours.items():
            if pipe is None:
                self.sup.conn.send(pb.Frame(sandbox_data=pb.SandboxData(
                    exec_id=self.id, fd=fd, eof=True)))
            else:
                self.streams[fd] = Stream(self, fd, await _reader(pipe[0]), window)

    async def _feed_stdin(self):
        """Writes stdin in order; each write is acknowledged once the process took it (or
        can take no more: it closed its stdin or exited)."""
        closed = False
        while True:
            msg: pb.SandboxStdin = await self.stdin.get()
            if msg.resize_rows and self.terminal is not None:
                self.terminal.resize(msg.resize_rows, msg.resize_cols)
            elif not closed:
                try:
                    if self.terminal is not None:
                        await self.terminal.write(msg.data)
                        if msg.eof:
                            await self.terminal.write(b"\x04")
                    else:
                        if msg.data:
                            self.proc.stdin.write(msg.data)
                            await self.proc.stdin.drain()
                        if msg.eof:
                            self.proc.stdin.close()
                            closed = True
                except (BrokenPipeError, ConnectionResetError, OSError):
                    closed = True
            self.sup.conn.send(pb.Frame(sandbox_stdin_ack=pb.SandboxStdinAck(
                exec_id=self.id, seq=msg.seq)))

    def _exited(self, code: int, message: str):
        self.sup.execs.pop(self.id, None)
        self.sup.conn.send(pb.Frame(sandbox_exec_exit=pb.SandboxExecExit(
            exec_id=self.id, done=True, returncode=code, message=message)))
        while not self.stdin.empty():  # writes nobody will take: answered all the same
            msg = self.stdin.get_nowait()
            self.sup.conn.send(pb.Frame(sandbox_stdin_ack=pb.SandboxStdinAck(
                exec_id=self.id, seq=msg.seq)))
        if self.id == MAIN:
            self.sup.main_exited(code)

    def kill(self, sig: int):
        if self.proc is None or self.proc.returncode is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass


class Supervisor:
    """A sandbox's processes; a function's container has one too, for `container exec`."""

    def __init__(self, workdir: str, conn: _wire.FrameProtocol | None = None,
                 wait_network: bool = True):
        self.conn = conn
        self.execs: dict[str, Exec] = {}
        self.done = asyncio.Event()
        self.code = 0
        self.child_env = {k: v for k, v in os.environ.items() if k not in _PRIVATE_ENV}
        self.child_env["KETCH_SANDBOX_ID"] = os.environ.get("KETCH_CONTAINER_ID", "")
        self.workdir = workdir
        # Ports passed on from web-directory sockets: the tunneled ones, then those that
        # connect tokens name (sandbox_serve_port).
        self.served_ports = {int(p) for p in os.environ.get("KETCH_SANDBOX_PORTS", "")
                             .split(",") if p}
        if wait_network:
            self.network = asyncio.ensure_future(network_ready())
        else:   # a function's container waits for its network itself, before its code
            self.network = asyncio.get_running_loop().create_future()
            self.network.set_result(None)

    def on_frame(self, frame: pb.Frame):
        kind = frame.WhichOneof("body")
        if kind == "sandbox_exec":
            msg = frame.sandbox_exec
            if not msg.workdir:
                msg.workdir = self.workdir
            proc = Exec(self, msg)
            self.execs[proc.id] = proc
            asyncio.ensure_future(self._start(proc))
        elif kind == "sandbox_credit":
            proc = self.execs.get(frame.sandbox_credit.exec_id)
            stream = proc.streams.get(frame.sandbox_credit.fd) if proc else None
            if stream is not None:
                stream.add_credit(frame.sandbox_credit.bytes)
        elif kind == "sandbox_stdin":
            proc = self.execs.get(frame.sandbox_stdin.exec_id)
            if proc is not None:
                proc.stdin.put_nowait(frame.sandbox_stdin)
            else:
                self.conn.send(pb.Frame(sandbox_stdin_ack=pb.SandboxStdinAck(
                    exec_id=frame.sandbox_stdin.exec_id, seq=frame.sandbox_stdin.seq)))
        elif kind == "sandbox_file_op":
            asyncio.ensure_future(self._file_op(frame.sandbox_file_op))
        elif kind == "sandbox_probe":
            asyncio.ensure_future(self._probe(frame.sandbox_probe))
        elif kind == "sandbox_serve_port" and \
                frame.sandbox_serve_port.port not in self.served_ports:
            self.served_ports.add(frame.sandbox_serve_port.port)
            asyncio.ensure_future(serve_port(frame.sandbox_serve_port.port))

    async def _start(self, proc: Exec):
        try:
            await self.network
        except RuntimeError as exc:
            print(f"ketch sandbox: {exc}", file=sys.stderr)
        await proc.run()

    async def _file_op(self, op: pb.SandboxFileOp):
        result = await asyncio.to_thread(files.run, op)
        self.conn.send(pb.Frame(sandbox_file_result=result))

    async def _probe(self, probe: pb.SandboxProbe):
        """Tries the readiness probe every interval until it passes once, then says so."""
        await self.network
        while not await probe_passes(probe, self.child_env):
            await asyncio.sleep(probe.interval_ms / 1000)
        self.conn.send(pb.Frame(sandbox_ready=pb.SandboxReady()))

    def main_exited(self, code: int):
        self.code = code
        self.done.set()

    async def stop(self):
        """SIGTERM: its processes get a moment, then SIGKILL, and it leaves."""
        for proc in list(self.execs.values()):
            proc.kill(signal.SIGTERM)
        deadline = asyncio.get_running_loop().time() + STOP_GRACE_S
        while self.execs and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        for proc in list(self.execs.values()):
            proc.kill(signal.SIGKILL)
        self.code = 128 + signal.SIGTERM
        self.done.set()


async def probe_passes(probe: pb.SandboxProbe, env: dict) -> bool:
    """One try: 127.0.0.1:tcp_port accepts a connection, or exec_argv exits 0 (within
    the interval, at least a second)."""
    limit = max(probe.interval_ms / 1000, 1.0)
    try:
        if probe.tcp_port:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", probe.tcp_port), limit)
            writer.close()
            return True
        proc = await asyncio.create_subprocess_exec(
            *probe.exec_argv, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True)
        try:
            return await asyncio.wait_for(proc.wait(), limit) == 0
        except asyncio.TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            return False
    except (OSError, asyncio.TimeoutError):
        return False


async def _forward_ports():
    """Each tunneled port: a socket in the web directory, passed on inside."""
    for port in os.environ.get("KETCH_SANDBOX_PORTS", "").split(","):
        if port:
            await serve_port(int(port))


async def _main() -> int:
    if sys.version_info < (3, 12) and hasattr(asyncio, "PidfdChildWatcher"):
        # Before 3.12 asyncio waits for each child in a thread of its own; a pidfd
        # watcher waits on the loop (3.12 does so by default).
        try:
            watcher = asyncio.PidfdChildWatcher()
            watcher.attach_loop(asyncio.get_running_loop())
            asyncio.set_child_watcher(watcher)
        except OSError:
            pass   # a kernel without pidfd_open: threads it is
    workdir = os.environ.get("KETCH_SANDBOX_WORKDIR", "")
    if workdir:
        os.makedirs(workdir, exist_ok=True)
        os.chdir(workdir)
    sup = Supervisor(os.getcwd())
    lost = asyncio.Event()
    conn = await _wire.open_connection(os.environ["KETCH_SERVER_ADDR"], sup.on_frame,
                                       lambda exc: lost.set())
    sup.conn = conn
    await _forward_ports()
    _, hello = conn.request_nowait(hello=pb.Hello(
        token=os.environ.get("KETCH_TOKEN", ""), role="sandbox",
        container_id=os.environ["KETCH_CONTAINER_ID"]))
    # The server reads frames in order and takes a Hello at once, so this one needs no
    # round trip first: the first exec is on its way a round trip sooner.
    conn.send(pb.Frame(sandbox_hello=pb.SandboxHello()))
    reply, _ = await hello
    if reply.WhichOneof("body") == "error":
        raise _wire.RemoteFailure(reply.error.kind, reply.error.message)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(sup.stop()))
    ended = await asyncio.wait([asyncio.ensure_future(sup.done.wait()),
                                asyncio.ensure_future(lost.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
    del ended
    if lost.is_set():   # the server went away: nothing can reach these processes now
        for proc in list(sup.execs.values()):
            proc.kill(signal.SIGKILL)
        return 1
    await conn.drain()
    conn.close()
    return sup.code


def main():
    # Non-dumpable: the processes it starts (the same user) cannot read its memory or
    # its /proc/<pid>/environ, where the credential is.
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    try:
        code = asyncio.run(_main())
    except (_wire.ConnectionLost, ConnectionError, _wire.RemoteFailure) as exc:
        print(f"ketch sandbox: {exc}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
