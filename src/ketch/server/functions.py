"""Apps, functions, calls and containers: input queues, dispatch, outputs, retries,
timeouts, cancellation.

Flow: a call's inputs join its function's queue; `dispatch` hands them to ready containers
with free slots, in batches; a container's outputs come back in batches and are routed to
the caller's connection (or the store, for spawned calls). Failures go through `_finish`,
which retries per the function's policy or delivers the error. Every input that was
accepted ends in exactly one final output.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import os
import secrets
import sys
import time
from typing import TYPE_CHECKING, Callable

from .._serialization import batches_by_size, serialize
from ..exception import ContainerCrashError, ExecutionError, FunctionTimeoutError, \
    InputCancellation
from ..proto import ketch_pb2 as pb
from .runtime import ContainerExit, ContainerLaunch

if TYPE_CHECKING:
    from .main import Server

log = logging.getLogger("ketch.server")

FINAL = {pb.SUCCESS, pb.FAILURE, pb.TIMEOUT, pb.CRASHED, pb.CANCELLED, pb.INTERNAL_ERROR}
# Work a container may hold beyond its concurrency, in seconds of measured run time: short
# inputs are sent ahead in batches so a container never waits on a round trip.
PREFETCH_SECONDS = 0.005
MAX_PREFETCH = 256
STDERR_TAIL = 20
CANCEL_GRACE_S = 1.0
MAX_FAILED_STARTS = 3
START_BACKOFF_S = 0.5
START_BACKOFF_MAX_S = 30.0

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


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
    __slots__ = ("call", "msg", "container", "timer", "yielded")

    def __init__(self, call: "Call", msg: pb.Input):
        self.call = call
        self.msg = msg
        self.container: Container | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.yielded = 0     # generator values delivered: once > 0 it is never re-run


class Call:
    __slots__ = ("id", "fn", "kind", "peer", "is_generator", "n_inputs", "n_final",
                 "inputs_done", "cancelled", "waiters")

    def __init__(self, call_id: str, fn: "Function", kind: int, peer: Peer | None,
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

    @property
    def durable(self) -> bool:
        return self.kind == pb.SPAWN

    @property
    def finished(self) -> bool:
        return self.inputs_done and self.n_final >= self.n_inputs


class Container:
    def __init__(self, container_id: str, fn: "Function"):
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
        self.exit_reason: str | None = None
        self.startup_timer: asyncio.TimerHandle | None = None
        self.ready_at: float | None = None
        self.web_requests = 0            # requests in flight through the gateway

    @property
    def idle(self) -> bool:
        return not self.inflight and not self.web_requests


class Function:
    def __init__(self, function_id: str, app: "App", spec: pb.FunctionSpec,
                 params: bytes | None = None, parent: "Function | None" = None):
        self.id = function_id
        self.app = app
        self.spec = spec
        self.params = params
        self.parent = parent
        self.queue: collections.deque[InputItem] = collections.deque()
        self.containers: dict[str, Container] = {}
        self.delayed: dict[InputItem, asyncio.TimerHandle] = {}  # waiting out a retry backoff
        self.avg_duration: float | None = None
        self.bound: dict[bytes, Function] = {}
        self.last_active = time.monotonic()
        self.web_waiting = 0             # requests the gateway holds for a free slot
        self.failed_starts = 0           # containers in a row that died while starting
        self.start_after = 0.0           # monotonic time before which none starts (backoff)

    @property
    def label(self) -> str:
        return self.spec.name

    @property
    def slots(self) -> int:
        return max(1, self.spec.batch_max_size or self.spec.max_inputs or 1)

    def capacity(self) -> int:
        """Inputs one container may hold: its concurrency plus prefetch for short inputs."""
        extra = 0
        if self.avg_duration is not None and self.avg_duration < PREFETCH_SECONDS:
            extra = min(MAX_PREFETCH, int(PREFETCH_SECONDS / max(self.avg_duration, 1e-6)))
        return self.slots + extra

    def inflight(self) -> int:
        return sum(len(c.inflight) + c.web_requests for c in self.containers.values())


class App:
    def __init__(self, app_id: str, name: str, state: str, peer: Peer | None):
        self.id = app_id
        self.name = name
        self.state = state
        self.peer = peer
        self.created_at = time.time()
        self.functions: dict[str, Function] = {}


class FunctionsService:
    def __init__(self, server: "Server"):
        self.server = server
        self.store = server.store
        self.runtime = server.runtime
        self.capacity = server.capacity
        self.logs = server.logs
        self.apps: dict[str, App] = {}
        self.functions: dict[str, Function] = {}
        self.calls: dict[str, Call] = {}
        self.containers: dict[str, Container] = {}
        self.loop = asyncio.get_event_loop()
        self.autoscaler = None  # set by the server once both exist
        # Called as listener(container, how) when a container exits (the gateway's hook).
        self.exit_listeners: list[Callable[[Container, str], None]] = []
        self.closing = False    # shutting down: start nothing, fail nothing

    # ------------------------------------------------------------------ apps

    def create_app(self, name: str, ephemeral: bool, detach: bool, peer: Peer) -> App:
        app_id = new_id("ap")
        state = ("detached" if detach else "ephemeral") if ephemeral else "deploying"
        app = App(app_id, name, state, None if detach else peer)
        self.apps[app_id] = app
        if ephemeral and not detach:
            peer.apps.add(app_id)
        self.store.add_app(app_id, name, state)
        return app

    def publish_app(self, app_id: str):
        app = self._app(app_id)
        previous = self.store.deployed_app(app.name)
        if previous is not None and previous.app_id != app_id:
            self.stop_app(previous.app_id, "replaced by a new deployment")
        app.state = "deployed"
        app.peer = None
        self.store.set_app_state(app_id, "deployed")

    def stop_app(self, app_id: str, reason: str = "the app was stopped"):
        app = self.apps.pop(app_id, None)
        self.store.set_app_state(app_id, "stopped")
        if app is None:
            return
        app.state = "stopped"
        for fn in list(self.functions.values()):
            if fn.app is app:
                self._retire_function(fn, reason)
        self.logs.write(app_id, "system", "", "", f"app stopped: {reason}")
        self._close_logs_when_idle(app)

    def _close_logs_when_idle(self, app: App):
        """A stopped app's log stream ends once its last container has exited, so the
        lines it printed last still reach followers."""
        if not any(c.fn.app is app for c in self.containers.values()):
            self.logs.close_app(app.id)

    def _retire_function(self, fn: Function, reason: str):
        self.functions.pop(fn.id, None)
        err = ExecutionError(f"{fn.label}: {reason} before this input ran")
        while fn.queue:
            item = fn.queue.popleft()
            self._deliver_error(item, pb.INTERNAL_ERROR, err)
        self._drop_delayed(fn, None, pb.INTERNAL_ERROR, err)
        running = ExecutionError(f"{fn.label}: {reason} while this input was running")
        for c in list(fn.containers.values()):
            for item in c.inflight.values():
                self._release(item)
                self._deliver_error(item, pb.INTERNAL_ERROR, running)
            c.inflight.clear()
            self.stop_container(c, reason)

    def _app(self, app_id: str) -> App:
        app = self.apps.get(app_id)
        if app is None:
            raise LookupError(f"no running app with id {app_id}")
        return app

    # ------------------------------------------------------------------ functions

    def create_function(self, app_id: str, spec: pb.FunctionSpec) -> Function:
        app = self._app(app_id)
        fn = Function(new_id("fu"), app, spec)
        self.store.add_function(fn.id, app_id, spec.name, spec.SerializeToString())
        self._register(fn)
        return fn

    def _register(self, fn: Function):
        self.functions[fn.id] = fn
        if fn.parent is None:
            fn.app.functions[fn.spec.name] = fn
        if fn.spec.scaling.min_containers:
            self.autoscaler.poke(fn)

    def bind(self, function_id: str, params: bytes) -> Function:
        parent = self.get(function_id)
        if not parent.spec.is_class:
            raise ValueError(f"{parent.label} is not a class; only classes take parameters")
        fn = parent.bound.get(params)
        if fn is None:
            fn = Function(new_id("fu"), parent.app, parent.spec, params, parent)
            self.store.add_function(fn.id, parent.app.id, parent.spec.name,
                                    parent.spec.SerializeToString(), parent.id, params)
            parent.bound[params] = fn
            self._register(fn)
        return fn

    def get(self, function_id: str) -> Function:
        fn = self.functions.get(function_id)
        if fn is None:
            raise LookupError(f"no live function with id {function_id}; its app may have "
                              "been stopped or redeployed")
        return fn

    def lookup(self, app_name: str, app_id: str, name: str) -> Function:
        if app_id:
            app = self.apps.get(app_id)
        else:
            row = self.store.deployed_app(app_name)
            app = self.apps.get(row.app_id) if row else None
        if app is None:
            raise LookupError(f"no deployed app named {app_name!r}; deploy it first with "
                              "`ketch deploy FILE` or `app.deploy()`")
        fn = app.functions.get(name)
        if fn is None:
            names = ", ".join(sorted(app.functions)) or "none"
            raise LookupError(f"app {app.name!r} has no function or class named {name!r} "
                              f"(it has: {names})")
        return fn

    # ------------------------------------------------------------------ calls

    def create_call(self, peer: Peer, call_id: str, function_id: str, kind: int,
                    inputs, is_generator: bool) -> Call:
        fn = self.get(function_id)
        if call_id in self.calls or not call_id:
            raise ValueError(f"call id {call_id!r} is already in use")
        call = Call(call_id, fn, kind, None if kind == pb.SPAWN else peer, is_generator)
        self.calls[call_id] = call
        if call.durable:
            self.store.add_call(call_id, fn.id)
            if not inputs:
                peer.spawning.add(call_id)
        else:
            peer.calls.add(call_id)
        if inputs:
            # A spawn with its input in the create message is complete; a spawn_map
            # creates first and streams its inputs.
            self.add_inputs(call, inputs, last=kind == pb.SPAWN)
        return call

    def add_inputs(self, call: Call, inputs, last: bool = False):
        if call.cancelled:  # nothing more runs; the end of its inputs still ends it
            if last and not call.inputs_done:
                call.inputs_done = True
                if call.durable and call.finished:
                    self._finish_durable(call)
            return
        fn = call.fn
        items = []
        for msg in inputs:
            msg.input_id = f"in-{next(_ids)}"
            msg.call_id = call.id
            msg.is_generator = call.is_generator
            items.append(InputItem(call, msg))
        call.n_inputs += len(items)
        if call.durable:
            self.store.add_call_inputs(call.id, [(i.msg.idx, i.msg.SerializeToString())
                                                 for i in items])
        if last:
            call.inputs_done = True
            if call.durable and call.finished:
                self._finish_durable(call)
        fn.queue.extend(items)
        fn.last_active = time.monotonic()
        self.dispatch(fn)
        self.autoscaler.poke(fn)

    def resume_spawned(self):
        """After a restart: queue again every input of a spawned call that has no output."""
        for call_id, function_id in self.store.open_calls():
            fn = self.functions.get(function_id)
            if fn is None:
                self._fail_stored_call(call_id, "its app is no longer deployed")
                continue
            call = Call(call_id, fn, pb.SPAWN, None, False)
            call.inputs_done = True  # what was stored is all there will be
            self.calls[call_id] = call
            done = sum(1 for _, output in self.store.call_outputs(call_id) if output is not None)
            pending = self.store.pending_inputs(call_id)
            call.n_inputs = done + len(pending)
            call.n_final = done
            for _, data in pending:
                msg = pb.Input.FromString(data)
                msg.input_id = f"in-{next(_ids)}"  # ids are unique per server process
                fn.queue.append(InputItem(call, msg))
            if call.finished:
                self._finish_durable(call)
            elif fn.queue:
                self.autoscaler.poke(fn)

    def _fail_stored_call(self, call_id: str, why: str):
        data, message = serialize(ExecutionError(f"this call cannot run: {why}")), why
        for idx, output in self.store.call_outputs(call_id):
            if output is None:
                out = pb.Output(call_id=call_id, idx=idx, status=pb.INTERNAL_ERROR, data=data,
                                message=message)
                self.store.set_call_output(call_id, idx, out.SerializeToString())
        self.store.finish_call(call_id)

    def cancel_call(self, call_id: str, terminate_containers: bool):
        call = self.calls.get(call_id)
        if call is None:
            return
        call.cancelled = True
        fn = call.fn
        err = InputCancellation("the call was cancelled")
        kept = collections.deque()
        for item in fn.queue:
            if item.call is call:
                self._deliver_error(item, pb.CANCELLED, err)
            else:
                kept.append(item)
        fn.queue = kept
        self._drop_delayed(fn, call, pb.CANCELLED, err)
        for c in list(fn.containers.values()):
            ids = [i for i, item in c.inflight.items() if item.call is call]
            if not ids:
                continue
            if terminate_containers:
                for input_id in ids:
                    item = c.inflight.pop(input_id)
                    self._release(item)
                    self._deliver_error(item, pb.CANCELLED, err)
                c.requeue_on_exit = True
                self.stop_container(c, "its call was cancelled", kill=True)
            elif c.conn is not None:
                c.conn.send(pb.Frame(cancel_inputs=pb.CancelInputs(input_ids=ids)))
                # Sync code blocked in C (a sleep, a read) cannot be interrupted: if it has
                # not stopped after a grace period, its container is stopped instead.
                self.loop.call_later(CANCEL_GRACE_S, self._enforce_cancel, c, ids)

    def _enforce_cancel(self, c: Container, input_ids: list[str]):
        stuck = [i for i in input_ids if i in c.inflight]
        if not stuck or c.state == "stopping":
            return
        err = InputCancellation("the call was cancelled")
        for input_id in stuck:
            item = c.inflight.pop(input_id)
            self._release(item)
            self._deliver_error(item, pb.CANCELLED, err)
        c.requeue_on_exit = True
        self.stop_container(c, "a cancelled input did not stop", kill=True)

    def close_call(self, call_id: str):
        """The caller no longer wants outputs (a map that raised, or a closed connection)."""
        call = self.calls.get(call_id)
        if call is None or call.durable:
            return
        call.inputs_done = True
        self.cancel_call(call_id, terminate_containers=False)
        call.peer = None
        self.calls.pop(call_id, None)

    async def wait_output(self, call_id: str, timeout: float) -> list[pb.Output]:
        """Outputs of a spawned call once it is finished; raises TimeoutError otherwise."""
        row = self.store.call(call_id)
        if row is None:
            raise LookupError(f"no function call with id {call_id}")
        call = self.calls.get(call_id)
        if call is not None and not call.finished:
            fut = self.loop.create_future()
            call.waiters.append(fut)
            try:
                await asyncio.wait_for(asyncio.shield(fut), None if timeout < 0 else timeout)
            except asyncio.TimeoutError:
                raise TimeoutError(f"function call {call_id} has not finished") from None
            finally:
                if fut in call.waiters:
                    call.waiters.remove(fut)
        elif call is None and row[2] is None:
            raise TimeoutError(f"function call {call_id} has not finished")
        return [pb.Output.FromString(out) for _, out in self.store.call_outputs(call_id)
                if out is not None]

    def peer_closed(self, peer: Peer):
        for call_id in list(peer.calls):
            self.close_call(call_id)
        for call_id in peer.spawning:
            # A spawn_map whose client left before its last batch: what arrived is all.
            call = self.calls.get(call_id)
            if call is not None and not call.inputs_done:
                call.inputs_done = True
                if call.finished:
                    self._finish_durable(call)
        for app_id in list(peer.apps):
            app = self.apps.get(app_id)
            if app is not None and app.peer is peer:
                self.stop_app(app_id, "its client disconnected")
        for app_id, sub in peer.log_subs:
            self.logs.unsubscribe(app_id, sub)

    # ------------------------------------------------------------------ dispatch

    def dispatch(self, fn: Function):
        queue = fn.queue
        if not queue:
            return
        cap = fn.capacity()
        ready = [c for c in fn.containers.values()
                 if c.state == "ready" and len(c.inflight) < cap]
        if not ready:
            return
        ready.sort(key=lambda c: len(c.inflight))
        timeout = fn.spec.timeout_s
        call_later = self.loop.call_later
        while queue and ready:
            for c in list(ready):
                while queue and queue[0].call.cancelled:
                    self._deliver_error(queue.popleft(), pb.CANCELLED,
                                        InputCancellation("the call was cancelled"))
                if not queue:
                    break
                item = queue.popleft()
                item.container = c
                c.inflight[item.msg.input_id] = item
                item.timer = call_later(timeout, self._on_timeout, c, item)
                c.outbox.append(item.msg)
                if len(c.inflight) >= cap:
                    ready.remove(c)
        for c in fn.containers.values():
            if c.outbox and not c.flush_scheduled:
                c.flush_scheduled = True
                self.loop.call_soon(self._flush_container, c)

    def _flush_container(self, c: Container):
        c.flush_scheduled = False
        if c.outbox and c.conn is not None:
            for batch in batches_by_size(c.outbox):
                c.conn.send(pb.Frame(inputs=pb.InputBatch(inputs=batch)))
        c.outbox = []

    # ------------------------------------------------------------------ outputs

    def container_outputs(self, c: Container, outputs):
        fn = c.fn
        for out in outputs:
            item = c.inflight.get(out.input_id)
            if item is None:
                continue  # already timed out, cancelled or retried
            if out.status == pb.GENERATOR_ITEM:
                item.yielded += 1
                self._deliver(item.call, out)
                continue
            del c.inflight[out.input_id]
            if item.timer is not None:
                item.timer.cancel()
            if out.duration_s:
                avg = fn.avg_duration
                fn.avg_duration = out.duration_s if avg is None else 0.8 * avg + 0.2 * out.duration_s
            self._finish(item, out)
        if not c.inflight:
            c.idle_since = time.monotonic()
        fn.last_active = time.monotonic()
        self.dispatch(fn)

    def _finish(self, item: InputItem, out: pb.Output):
        """A final outcome for one attempt: retry it, or deliver it."""
        call = item.call
        if out.status in (pb.FAILURE, pb.TIMEOUT, pb.CRASHED) and not call.cancelled:
            policy = call.fn.spec.retries
            # A generator that has yielded is not re-run: its caller has those values.
            if item.msg.attempt < policy.max_retries and not item.yielded:
                self._retry(item, policy)
                return
        item.container = None
        self._deliver(call, out)

    def _retry(self, item: InputItem, policy: pb.RetryPolicy):
        attempt = item.msg.attempt
        item.msg.attempt = attempt + 1
        item.container = None
        if item.call.durable:  # a restart must not hand out the retries again
            self.store.set_call_input(item.call.id, item.msg.idx, item.msg.SerializeToString())
        delay = min(policy.initial_delay_s * policy.backoff_coefficient ** attempt,
                    policy.max_delay_s)
        fn = item.call.fn

        def requeue():
            del fn.delayed[item]
            fn.queue.appendleft(item)
            self.dispatch(fn)
            self.autoscaler.poke(fn)

        fn.delayed[item] = self.loop.call_later(max(delay, 0.0), requeue)

    def _drop_delayed(self, fn: Function, call: Call | None, status: int, err: BaseException):
        """Ends the inputs waiting out a retry backoff (of one call, or all) with an error."""
        for item in [i for i in fn.delayed if call is None or i.call is call]:
            fn.delayed.pop(item).cancel()
            self._deliver_error(item, status, err)

    def _deliver(self, call: Call, out: pb.Output):
        final = out.status in FINAL
        if call.durable:
            if final:
                self.store.set_call_output(call.id, out.idx, out.SerializeToString())
                call.n_final += 1
                if call.finished:
                    self._finish_durable(call)
            return
        if final:
            call.n_final += 1
        peer = call.peer
        if peer is not None:
            peer.outbox.append(out)
            if not peer.flush_scheduled:
                peer.flush_scheduled = True
                self.loop.call_soon(self._flush_peer, peer)
        if final and call.finished:
            self.calls.pop(call.id, None)
            if peer is not None:
                peer.calls.discard(call.id)

    def _finish_durable(self, call: Call):
        self.store.finish_call(call.id)
        self.calls.pop(call.id, None)
        for fut in call.waiters:
            if not fut.done():
                fut.set_result(None)

    def _flush_peer(self, peer: Peer):
        peer.flush_scheduled = False
        if peer.outbox:
            for batch in batches_by_size(peer.outbox):
                peer.conn.send(pb.Frame(outputs=pb.OutputBatch(outputs=batch)))
            peer.outbox = []

    def _deliver_error(self, item: InputItem, status: int, exc: BaseException, tb: str = ""):
        msg = item.msg
        out = pb.Output(input_id=msg.input_id, idx=msg.idx, call_id=msg.call_id, status=status,
                        data=serialize(exc), message=f"{type(exc).__name__}: {exc}",
                        traceback=tb)
        self._deliver(item.call, out)

    def _release(self, item: InputItem):
        if item.timer is not None:
            item.timer.cancel()
            item.timer = None
        item.container = None

    def _init_failed(self, c: Container, ready: pb.ContainerReady):
        """The container could not import the function or run @enter: the waiting inputs
        fail with that error instead of waiting for a container that will never work."""
        fn = c.fn
        c.exit_reason = "init failed"
        while fn.queue:
            item = fn.queue.popleft()
            self._deliver(item.call, pb.Output(
                input_id=item.msg.input_id, idx=item.msg.idx, call_id=item.call.id,
                status=pb.FAILURE, data=ready.data, message=ready.message,
                traceback=ready.traceback))

    # ------------------------------------------------------------------ timeouts

    def _on_timeout(self, c: Container, item: InputItem):
        if c.inflight.get(item.msg.input_id) is not item:
            return
        del c.inflight[item.msg.input_id]
        item.timer = None
        timeout = item.call.fn.spec.timeout_s
        err = FunctionTimeoutError(
            f"{item.call.fn.label} ran past its timeout of {timeout:g} s and its container "
            "was stopped; raise timeout= on the function if it needs longer")
        out = pb.Output(input_id=item.msg.input_id, idx=item.msg.idx, call_id=item.call.id,
                        status=pb.TIMEOUT, data=serialize(err), message=str(err))
        # The other inputs on that container did nothing wrong: they go back to the queue.
        c.requeue_on_exit = True
        self.stop_container(c, "an input timed out", kill=True)
        self._finish(item, out)

    # ------------------------------------------------------------------ containers

    def launch_container(self, fn: Function, reservation) -> Container:
        """Records a starting container at once (so the autoscaler counts it) and starts
        it in the background."""
        c = Container(new_id("ta"), fn)
        c.reservation = reservation
        fn.containers[c.id] = c
        self.containers[c.id] = c
        asyncio.ensure_future(self._start_container(c))
        return c

    async def _start_container(self, c: Container):
        fn = c.fn
        try:
            launch = self._launch_spec(c)
            self.logs.write(fn.app.id, "system", fn.label, c.id,
                            f"starting container {c.id} for {fn.label}")
            startup = fn.spec.startup_timeout_s or fn.spec.timeout_s
            c.startup_timer = self.loop.call_later(startup, self._startup_timed_out, c, startup)
            c.handle = await self.runtime.start(
                launch, lambda source, text: self._container_line(c, source, text),
                lambda exit: self._container_exited(c, exit))
        except Exception as exc:  # the backend could not start it at all
            log.exception("starting container %s failed", c.id)
            self._container_exited(c, ContainerExit(returncode=None),
                                   startup_error=f"the runtime could not start it: {exc}")
            return
        if c.state == "stopping":  # stopped while it was being created
            self.runtime.kill(c.handle)

    def _launch_spec(self, c: Container) -> ContainerLaunch:
        fn = c.fn
        server = self.server
        env = {k: v for k, v in os.environ.items() if _passes_through(k)}
        image = server.images.require(fn.spec.image_id) if fn.spec.image_id else None
        if image is not None:
            env.update(image.env)
        env.update(fn.spec.env)
        env.update(server.secrets.env_for(fn.spec.secret_ids))
        env.update({
            "KETCH_SERVER_ADDR": server.container_address,
            "KETCH_TOKEN": server.token,
            "KETCH_CONTAINER_ID": c.id,
            "KETCH_APP_ID": fn.app.id,
            "PYTHONUNBUFFERED": "1",
        })
        res = fn.spec.resources
        return ContainerLaunch(
            container_id=c.id, env=env, cpu=res.cpu_request, memory_mib=res.memory_request_mib,
            cpu_limit=res.cpu_limit, memory_limit_mib=res.memory_limit_mib,
            gpus=c.reservation.gpus if c.reservation else [],
            code_paths=_code_paths(fn.spec), ephemeral_disk_mib=fn.spec.ephemeral_disk_mib,
            **(image.launch_fields() if image is not None else {}),
            mounts=server.volumes.mounts_for(fn.spec))

    def _startup_timed_out(self, c: Container, limit: float):
        if c.state == "starting":
            c.exit_reason = f"it did not become ready within its startup timeout of {limit:g} s"
            self.stop_container(c, "startup timeout", kill=True)

    def container_connected(self, container_id: str, conn) -> Container:
        c = self.containers.get(container_id)
        if c is None or c.state != "starting" or c.conn is not None:
            raise LookupError(f"no container {container_id} is starting")
        c.conn = conn
        return c

    def container_ready(self, c: Container, ready: pb.ContainerReady):
        if c.state != "starting":
            return
        if not ready.ok:
            self._init_failed(c, ready)
            self.stop_container(c, "init failed", kill=True)
            return
        c.state = "ready"
        c.ready_at = c.idle_since = time.monotonic()
        c.fn.failed_starts = 0
        if c.startup_timer is not None:
            c.startup_timer.cancel()
        self.logs.write(c.fn.app.id, "system", c.fn.label, c.id, f"container {c.id} is ready")
        self.dispatch(c.fn)
        self.autoscaler.poke(c.fn)

    def container_spec(self, c: Container) -> pb.ContainerSpec:
        fn = c.fn
        return pb.ContainerSpec(container_id=c.id, function_id=fn.id, app_id=fn.app.id,
                                spec=fn.spec, class_params=fn.params or b"")

    def _container_line(self, c: Container, source: str, text: str):
        if source == "stderr":
            c.stderr_tail.append(text)
        self.logs.write(c.fn.app.id, source, c.fn.label, c.id, text)

    def stop_container(self, c: Container, reason: str, kill: bool = False):
        if c.state == "stopping":
            if kill and c.handle is not None:
                self.runtime.kill(c.handle)
            return
        was_starting = c.state == "starting"
        c.state = "stopping"
        if c.exit_reason is None:
            c.exit_reason = reason
        if c.handle is None:
            return  # start() kills it once the handle exists
        if kill:
            self.runtime.kill(c.handle)
        else:
            asyncio.ensure_future(self.runtime.stop(c.handle, grace_s=0.5 if was_starting
                                                    else 10.0))

    def _container_exited(self, c: Container, exit: ContainerExit, startup_error: str = ""):
        fn = c.fn
        self.containers.pop(c.id, None)
        fn.containers.pop(c.id, None)
        if self.closing:
            # Unfinished spawned inputs stay pending in the store for the next start.
            return
        if c.startup_timer is not None:
            c.startup_timer.cancel()
        if c.reservation is not None:
            self.capacity.release(c.reservation)
            c.reservation = None
        if c.conn is not None:
            c.conn.close()
        never_ready = c.ready_at is None
        if exit.returncode == 0 and fn.spec.volumes:
            self.server.volumes.commit_after_exit(fn.spec)  # Modal commits on a clean exit
        how = startup_error or exit.describe()
        for listener in self.exit_listeners:
            listener(c, how)
        self.logs.write(fn.app.id, "system", fn.label, c.id, f"container {c.id} stopped: {how}")
        inflight = list(c.inflight.values())
        c.inflight.clear()
        for item in inflight:
            self._release(item)
            if item.call.cancelled:
                self._deliver_error(item, pb.CANCELLED,
                                    InputCancellation("the call was cancelled"))
                continue
            if c.requeue_on_exit and not item.yielded:
                fn.queue.appendleft(item)
                continue
            err = ContainerCrashError(
                f"the container running {fn.label} ({c.id}) stopped while running this "
                f"input: {how}")
            self._finish(item, pb.Output(
                input_id=item.msg.input_id, idx=item.msg.idx, call_id=item.call.id,
                status=pb.CRASHED, data=serialize(err), message=str(err)))
        failed_start = never_ready and not c.requeue_on_exit and c.exit_reason != "scaled down"
        if failed_start:
            # Back off before the next start, so a function that cannot start does not
            # spin containers (a min_containers function keeps asking for one).
            fn.failed_starts += 1
            fn.start_after = time.monotonic() + min(
                START_BACKOFF_MAX_S, START_BACKOFF_S * 2 ** (fn.failed_starts - 1))
        others_alive = any(o.state != "stopping" for o in fn.containers.values())
        if failed_start and c.exit_reason != "init failed" and fn.id in self.functions \
                and fn.queue and (
                not others_alive or fn.failed_starts >= MAX_FAILED_STARTS):
            # It died before it could take work, and no other container can: fail what
            # waits rather than start failing containers forever.
            tail = "\n".join(c.stderr_tail)
            why = c.exit_reason if c.exit_reason and c.exit_reason != "startup timeout" else how
            err = ExecutionError(f"a container for {fn.label} failed to start: {why}" +
                                 (f"\nIts last output:\n{tail}" if tail else ""))
            while fn.queue:
                self._deliver_error(fn.queue.popleft(), pb.INTERNAL_ERROR, err)
        if fn.id in self.functions:
            self.dispatch(fn)
            self.autoscaler.poke(fn)
        elif fn.app.state == "stopped":
            self._close_logs_when_idle(fn.app)
        self.autoscaler.poke_all()  # freed resources may let another function start

    def container_conn_lost(self, c: Container):
        if c.state != "stopping" and c.id in self.containers:
            c.exit_reason = c.exit_reason or "lost its connection to the server"
            self.stop_container(c, "lost its connection", kill=True)

    def stop_container_by_id(self, container_id: str):
        c = self.containers.get(container_id)
        if c is None:
            raise LookupError(f"no running container {container_id}")
        c.requeue_on_exit = True
        self.stop_container(c, "stopped by `ketch container stop`")

    async def shutdown(self):
        self.closing = True
        for c in list(self.containers.values()):
            c.requeue_on_exit = True
            self.stop_container(c, "the server is shutting down")
        deadline = time.monotonic() + 5
        while self.containers and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for c in list(self.containers.values()):
            if c.handle is not None:
                self.runtime.kill(c.handle)

    def images_in_use(self) -> set[str]:
        """Images of live functions (running or deployed apps): not removable."""
        return {fn.spec.image_id for fn in self.functions.values() if fn.spec.image_id}


_PASS_PREFIXES = ("LANG", "LC_", "TZ", "OPENBLAS_", "OMP_", "MKL_", "CUDA_", "NVIDIA_",
                  "LD_LIBRARY_PATH", "SSL_CERT", "VIRTUAL_ENV", "PYENV", "HF_", "TORCH_")


def _code_paths(spec: pb.FunctionSpec) -> list[str]:
    """The user's module (its top-level package or file) that a container imports: an
    isolated container sees it and nothing else of the client's tree."""
    top = spec.module.split(".")[0]
    paths = []
    for root in spec.sys_path:
        for candidate in (os.path.join(root, top), os.path.join(root, top + ".py")):
            if os.path.exists(candidate):
                paths.append(candidate)
                break
    return paths


def _passes_through(name: str) -> bool:
    """Host variables a container inherits: locale, math-library and GPU settings. Others
    (the server's own secrets among them) stay out."""
    return name.startswith(_PASS_PREFIXES)


def runtime_python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"
