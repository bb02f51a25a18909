"""The code that runs inside a container.

It connects to the server, fetches its function's spec, loads the user's code (`loading`),
runs `@enter` hooks, reports ready, then runs the inputs the server pushes (`runners`) and
sends outputs back in batches (`outbox`). On SIGTERM it lets running inputs finish, runs
`@exit` hooks and leaves, within the server's stop grace.

Imports nothing from `ketch.server`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import traceback

from .. import _sync, _volume_copy, _wire
from .._logtags import TaggedStream
from .._serialization import serialize_exception
from .._timing import STOP_GRACE_S
from .._volume import Volume
from ..proto import ketch_pb2 as pb
from .loading import UserCode
from .network import wait_for_network
from . import remote_terminal
from .outbox import ContainerIO
from .runners import InputRunner
from .supervisor import Supervisor
from .web import WebServing

# Running inputs get this long to finish after SIGTERM; the rest of the server's grace is
# left for the @exit hooks.
STOP_DRAIN_S = STOP_GRACE_S - 2.0
DRAIN_POLL_S = 0.02
# After a failed start, the ContainerReady(ok=False) frame gets this long to leave before
# the connection closes, so the server sees the error rather than a lost connection.
FAILED_READY_SEND_S = 0.05


class ContainerRuntime:
    """One container: its user code, its I/O with the server and its input runners."""

    def __init__(self, conn: _wire.FrameProtocol, container_spec: pb.ContainerSpec):
        self.conn = conn
        self.spec = container_spec.spec
        self.io = ContainerIO(conn, self.spec.name)
        self.code = UserCode(self.spec, container_spec.class_params)
        self.runner = InputRunner(self.spec, self.code, self.io)
        self.stopping = asyncio.Event()
        # `ketch container exec` into it
        self.execs = Supervisor(os.getcwd(), conn, wait_network=False)
        if container_spec.interactive:   # `ketch run -i`
            remote_terminal.attach(conn, asyncio.get_running_loop())

    def on_frame(self, frame: pb.Frame):
        kind = frame.WhichOneof("body")
        if kind == "inputs":
            self.runner.add_inputs(frame.inputs.inputs)
        elif kind == "cancel_inputs":
            for input_id in frame.cancel_inputs.input_ids:
                self.runner.cancel(input_id)
        elif kind.startswith("sandbox_"):
            self.execs.on_frame(frame)

    async def serve(self) -> int:
        """Starts, serves until asked to stop, and stops; returns the exit code."""
        web = WebServing(self.code) if self.spec.web_endpoints else None
        try:
            wait_for_network()
            # Volumes mounted as copies (on a cluster node other than the server's) show
            # their committed state before the user's code sees them.
            if os.environ.get(_volume_copy.ENV):
                await _sync.run_aio(_volume_copy.pull_all(
                    os.environ, lambda object_id: Volume(object_id=object_id)))
            await self.code.load()
            if web is not None:
                self.code.doing = "starting its web endpoint"
            ready = pb.Frame(container_ready=pb.ContainerReady(ok=True)) if web is None else \
                pb.Frame(web_ready=await web.start())
        except BaseException as exc:
            data, message, tb = serialize_exception(exc)   # tb: less ketch's frames
            # Printed first: the server kills the container once the frame arrives, and the
            # traceback must be in its output pipe by then to reach the app's log.
            sys.stderr.write(tb)
            sys.stderr.flush()
            self.conn.send(pb.Frame(container_ready=pb.ContainerReady(
                ok=False, data=data, message=message, traceback=tb,
                failed_while=self.code.doing)))
            await asyncio.sleep(FAILED_READY_SEND_S)
            self.conn.close()
            return 1
        self.runner.start()
        self.conn.send(ready)
        await self.stopping.wait()
        if web is not None:
            await web.stop()
        # Asked to stop (SIGTERM): let the inputs already running finish, for a while,
        # before @exit hooks tear down what they use.
        deadline = time.monotonic() + STOP_DRAIN_S
        while self.runner.running and not self.conn.closed and time.monotonic() < deadline:
            await asyncio.sleep(DRAIN_POLL_S)
        await self.code.run_exit_hooks()
        await self._commit_copies()
        self.io.flush()
        await asyncio.sleep(0)
        self.conn.close()
        return 0

    async def _commit_copies(self):
        """A normal exit publishes what the container changed in its volume copies."""
        if not _volume_copy.held():
            return
        try:
            await _sync.run_aio(_volume_copy.commit_all())
        except Exception:
            print("ketch: committing the container's volume copies at exit failed:",
                  file=sys.stderr)
            traceback.print_exc()


async def _main() -> int:
    address = os.environ["KETCH_SERVER_ADDR"]
    runtime: ContainerRuntime | None = None
    stop = asyncio.Event()

    def on_frame(frame):
        if runtime is not None:
            runtime.on_frame(frame)

    def on_close(exc):
        stop.set()
        if runtime is not None:
            runtime.stopping.set()

    conn = await _wire.open_connection(address, on_frame, on_close)
    # Both in one write: the server handles a connection's frames in order, so the spec
    # comes back in the same round trip as the hello's answer.
    hello = asyncio.ensure_future(conn.request(hello=pb.Hello(
        token=os.environ.get("KETCH_TOKEN", ""), role="container",
        container_id=os.environ["KETCH_CONTAINER_ID"])))
    init = asyncio.ensure_future(conn.request(container_init=pb.ContainerInit()))
    try:
        await hello
    except BaseException:
        init.cancel()
        init.add_done_callback(lambda t: t.cancelled() or t.exception())  # said already
        raise
    reply = await init
    runtime = ContainerRuntime(conn, reply.container_spec)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, runtime.stopping.set)
    if stop.is_set():
        return 1
    return await runtime.serve()


def main():
    # Lines printed while an input runs name it (and its call) in the app's log.
    sys.stdout, sys.stderr = TaggedStream(sys.stdout), TaggedStream(sys.stderr)
    try:
        from uvloop import run as run_loop
    except ImportError:
        run_loop = asyncio.run
    try:
        code = run_loop(_main())
    except (_wire.ConnectionLost, ConnectionError, _wire.RemoteFailure) as exc:
        print(f"ketch container: {exc}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # Worker threads may still be inside user code; leave without waiting for them.
    os._exit(code)
