"""The records of the call path: apps, functions, calls, inputs, containers, the clients
that wait for outputs, and why a container stopped.

Plain state with no behaviour beyond what can be read off it; the services in this
package change it.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import secrets
import time
from typing import Callable

from ...proto import ketch_pb2 as pb

FINAL = {pb.SUCCESS, pb.FAILURE, pb.TIMEOUT, pb.CRASHED, pb.CANCELLED, pb.INTERNAL_ERROR}
# Work a container may hold beyond its concurrency, in seconds of measured run time: short
# inputs are sent ahead in batches so a container never waits on a round trip.
PREFETCH_SECONDS = 0.005
MAX_PREFETCH = 256
STDERR_TAIL = 20


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


class StopReason(enum.Enum):
    """Why a container stopped. Retries, backoff and the gateway match on these; people
    read `text` (with the detail the stop recorded, where the text has a slot for it)."""

    STARTUP_TIMEOUT = "startup_timeout"
    INIT_FAILED = "init_failed"
    REPLACED = "replaced"
    APP_STOPPED = "app_stopped"
    STOPPED_BY_REQUEST = "stopped_by_request"
    CLIENT_DISCONNECTED = "client_disconnected"
    SCALED_DOWN = "scaled_down"
    EVICTED = "evicted"
    INPUT_TIMED_OUT = "input_timed_out"
    CALL_CANCELLED = "call_cancelled"
    CANCEL_IGNORED = "cancel_ignored"
    LOST_CONNECTION = "lost_connection"
    CONTAINER_STOP = "container_stop"
    SERVER_SHUTDOWN = "server_shutdown"
    # It ended on its own; the detail says how (an exit code, a signal, OOM).
    CRASHED = "crashed"
    OOM_KILLED = "oom_killed"
    START_FAILED = "start_failed"   # the runtime could not start it at all
    GANG_ENDED = "gang_ended"       # another container of its @clustered gang stopped

    def text(self, detail: str = "") -> str:
        return _STOP_TEXT[self].format(detail=detail)


_STOP_TEXT = {
    StopReason.STARTUP_TIMEOUT: "it did not become ready within its startup timeout of {detail}",
    StopReason.INIT_FAILED: "{detail}",
    StopReason.REPLACED: "replaced by a new deployment",
    StopReason.APP_STOPPED: "the app was stopped",
    StopReason.STOPPED_BY_REQUEST: "stopped by request",
    StopReason.CLIENT_DISCONNECTED: "its client disconnected",
    StopReason.SCALED_DOWN: "scaled down",
    StopReason.EVICTED: "scaled down to make room",
    StopReason.INPUT_TIMED_OUT: "an input timed out",
    StopReason.CALL_CANCELLED: "its call was cancelled",
    StopReason.CANCEL_IGNORED: "a cancelled input did not stop",
    StopReason.LOST_CONNECTION: "lost its connection to the server",
    StopReason.CONTAINER_STOP: "stopped by `ketch container stop`",
    StopReason.SERVER_SHUTDOWN: "the server is shutting down",
    StopReason.CRASHED: "{detail}",
    StopReason.OOM_KILLED: "{detail}",
    StopReason.START_FAILED: "{detail}",
    StopReason.GANG_ENDED: "another container of its gang stopped ({detail})",
}

# Stopped on purpose: the requests the gateway holds for its function are not failed.
DELIBERATE_STOPS = frozenset({StopReason.SCALED_DOWN, StopReason.EVICTED,
                              StopReason.SERVER_SHUTDOWN, StopReason.CONTAINER_STOP})
# The server (or a person) ended it: how it went down then is no failure of its own.
ORDERED_STOPS = DELIBERATE_STOPS | {StopReason.APP_STOPPED, StopReason.STOPPED_BY_REQUEST,
                                    StopReason.CLIENT_DISCONNECTED, StopReason.REPLACED,
                                    StopReason.GANG_ENDED}


class Peer:
    """A connected client: where outputs of its calls are pushed."""

    def __init__(self, conn):
        self.conn = conn
        self.outbox: list[pb.Output] = []
        self.flush_scheduled = False
        self.calls: set[str] = set()
        self.spawning: set[str] = set()  # spawn_map calls still receiving their inputs
        self.apps: set[str] = set()
        self.log_subs: list[tuple[str, Callable]] = []


class InputItem:
    __slots__ = ("call", "msg", "container", "timer", "yielded", "ran_on", "sent_at")

    def __init__(self, call: "Call", msg: pb.Input):
        self.call = call
        self.msg = msg
        self.container: ContainerRecord | None = None
        self.timer: Deadline | None = None   # its timeout, shared with its dispatch
        self.yielded = 0     # generator values delivered: once > 0 it is never re-run
        self.ran_on = ""     # the id of the container it was last sent to
        self.sent_at = 0.0   # when it was (wall clock)


class Call:
    __slots__ = ("id", "fn", "kind", "peer", "is_generator", "n_inputs", "n_final",
                 "inputs_done", "cancelled", "waiters", "source")

    def __init__(self, call_id: str, fn: "FunctionRecord", kind: int, peer: Peer | None,
                 is_generator: bool):
        self.id = call_id
        self.fn = fn
        self.kind = kind
        self.peer = peer
        self.is_generator = is_generator
        self.n_inputs = 0
        self.n_final = 0
        self.inputs_done = kind == pb.REMOTE  # others end with an InputBatch marked last
        self.cancelled = False
        self.waiters: list[asyncio.Future] = []
        self.source = ""            # what made it: "" a client's call, "schedule" a schedule

    @property
    def durable(self) -> bool:
        return self.kind == pb.SPAWN

    @property
    def finished(self) -> bool:
        return self.inputs_done and self.n_final >= self.n_inputs


class ContainerRecord:
    """The server's view of one container of a function (the runtime holds the process)."""

    def __init__(self, container_id: str, fn: "FunctionRecord"):
        self.id = container_id
        self.fn = fn
        self.state = "starting"
        self.handle = None
        self.reservation = None
        self.conn = None
        self.inflight: dict[str, InputItem] = {}
        self.outbox: list[pb.Input] = []
        self.flush_scheduled = False
        self.started_at = time.time()
        self.idle_since = time.monotonic()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL)
        self.requeue_on_exit = False     # stopped on purpose: in-flight inputs go back
        self.stop_reason: StopReason | None = None   # the first reason given wins
        self.stop_detail = ""
        self.init_error = ""             # the error its code raised while starting, one line
        self.startup_timer: asyncio.TimerHandle | None = None
        self.ready_at: float | None = None
        self.web_requests = 0            # requests in flight through the gateway
        self.gang = None                 # (rank, cluster id, every rank's IP) if clustered

    @property
    def idle(self) -> bool:
        return not self.inflight and not self.web_requests

    @property
    def stop_text(self) -> str:
        return self.stop_reason.text(self.stop_detail) if self.stop_reason else ""

    def stopped_because(self, reason: StopReason, detail: str = ""):
        """Records why it stops, unless an earlier reason already explains it."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self.stop_detail = detail


class FunctionRecord:
    """A live function of an app (or a class bound to parameters): its queue and
    containers."""

    def __init__(self, function_id: str, app: "AppRecord", spec: pb.FunctionSpec,
                 params: bytes | None = None, parent: "FunctionRecord | None" = None):
        self.id = function_id
        self.app = app
        self.spec = spec
        self.params = params
        self.parent = parent
        self.queue: collections.deque[InputItem] = collections.deque()
        self.containers: dict[str, ContainerRecord] = {}
        self.delayed: dict[InputItem, asyncio.TimerHandle] = {}  # waiting out a retry backoff
        self.avg_duration: float | None = None
        self.bound: dict[bytes, FunctionRecord] = {}
        self.last_active = time.monotonic()
        self.web_waiting = 0             # requests the gateway holds for a free slot
        self.failed_starts = 0           # containers in a row that died while starting
        self.start_after = 0.0           # monotonic time before which none starts (backoff)
        # A redeploy's new version of this function: new calls go there, while this one
        # finishes the inputs it already holds and then goes (a rolling redeploy).
        self.replaced_by: FunctionRecord | None = None
        # Why its containers cannot start now (a request this machine cannot meet), or "".
        self.unplaceable = ""

    @property
    def label(self) -> str:
        return self.spec.name

    @property
    def slots(self) -> int:
        return max(1, self.spec.batch_max_size or self.spec.max_inputs or 1)

    def inputs_per_container(self) -> int:
        """Inputs one container may hold: its concurrency plus prefetch for short inputs."""
        extra = 0
        if self.avg_duration is not None and self.avg_duration < PREFETCH_SECONDS:
            extra = min(MAX_PREFETCH, int(PREFETCH_SECONDS / max(self.avg_duration, 1e-6)))
        return self.slots + extra

    def inflight(self) -> int:
        return sum(len(c.inflight) + c.web_requests for c in self.containers.values())

    @property
    def startup_limit_s(self) -> float:
        """How long a container may take to start, and a call may wait for one that this
        machine cannot start at all: startup_timeout=, else timeout=."""
        return self.spec.startup_timeout_s or self.spec.timeout_s

    def has_work(self) -> bool:
        """Inputs or requests it holds: queued, running, waiting out a retry backoff."""
        return bool(self.queue or self.delayed or self.web_waiting or self.inflight())

    def live_containers(self) -> list[ContainerRecord]:
        return [c for c in self.containers.values() if c.state != "stopping"]


class AppRecord:
    def __init__(self, app_id: str, name: str, state: str, peer: Peer | None,
                 workspace: str = "main"):
        self.id = app_id
        self.name = name
        self.workspace = workspace   # its functions, calls and containers are this one's
        self.state = state
        self.peer = peer
        self.interactive = False     # `ketch run -i`: its client's terminal (terminals.py)
        self.created_at = time.time()
        self.functions: dict[str, FunctionRecord] = {}


class Deadline:
    """The timeout of the inputs one dispatch sent to one container: one timer for all of
    them (a timer each was a tenth of the server's time in a .map of trivial inputs).
    When it passes, `timed_out(container, item)` runs for each of them still running."""

    __slots__ = ("items", "left", "handle", "timed_out", "container")

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout_s: float,
                 items: list[InputItem], timed_out: Callable, container: ContainerRecord):
        self.items, self.left = items, len(items)
        self.timed_out, self.container = timed_out, container
        self.handle: asyncio.TimerHandle | None = loop.call_later(timeout_s, self._passed)
        for item in items:
            item.timer = self

    def ended_one(self):
        """One of its inputs ended (or went back to the queue): the timer goes with the
        last."""
        self.left -= 1
        if self.left <= 0 and self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def _passed(self):
        self.handle = None
        for item in self.items:
            if item.timer is self:
                self.timed_out(self.container, item)
