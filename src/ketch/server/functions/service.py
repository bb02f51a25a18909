"""The functions service: apps, functions, calls and containers behind one face.

It composes the registry (apps and functions), the calls (queues, dispatch, outputs,
retries) and the containers (launch, ready, stop, exit, scaling), and takes the steps that
touch more than one of them: stopping an app, a container becoming ready, a container
exiting.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Callable

from ...exception import ExecutionError
from ...proto import ketch_pb2 as pb
from .. import schedule_times
from ..errors import ServiceError
from ..images import pickled_across_versions
from ..resources import MachineResources
from ..runtime import Runtime
from . import gangs, variants
from .call_graph import CallGraph
from .callbacks import History
from .calls import Calls
from .containers import Containers
from .launch import Launcher
from .limits import check_spec_numbers
from .model import AppRecord, Call, ContainerRecord, FunctionRecord, Peer, StopReason
from .registry import Registry

# Called as watcher(container, how) when a container exits (the gateway's hook).
ExitWatcher = Callable[[ContainerRecord, str], None]
# Called as watcher(container, seconds from its launch) when a container becomes ready.
ReadyWatcher = Callable[[ContainerRecord, float], None]
log = logging.getLogger("ketch.server")
# A web endpoint's label is part of a host name, where "--" separates workspace, app and
# label: one with "--" could take another workspace's URL.
_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
# Inputs queued in memory for one function, at most, before their senders are held (see
# queue_room): ten times what the SDK's map keeps in flight, so one map never waits on it.
MAX_QUEUED_INPUTS = 10_000
QUEUE_ROOM_POLL_S = 0.05  # how often a held sender looks again: a full queue drains slowly


class FunctionsService:
    def __init__(self, store, runtime: Runtime, resources: MachineResources, logs,
                 launcher: Launcher, history: History):
        self.store = store
        self.runtime = runtime
        self.resources = resources
        self.logs = logs
        loop = asyncio.get_event_loop()
        self.registry = Registry(store)
        self._containers = Containers(runtime, resources, logs, launcher, self.registry, loop,
                                      on_exit=self._container_exited)
        self.call_graph = CallGraph()
        self._calls = Calls(store, self.registry, loop, stop_container=self._containers.stop,
                            wants_containers=self._containers.poke, graph=self.call_graph,
                            history=history)
        self.launcher = launcher
        self._exit_watchers: list[ExitWatcher] = []
        self._ready_watchers: list[ReadyWatcher] = []

    # The live records, for reading.
    @property
    def apps(self) -> dict[str, AppRecord]:
        return self.registry.apps

    @property
    def functions(self) -> dict[str, FunctionRecord]:
        return self.registry.functions

    @property
    def calls(self) -> dict[str, Call]:
        return self._calls.calls

    @property
    def containers(self) -> dict[str, ContainerRecord]:
        return self._containers.containers

    def make_room(self, res: pb.Resources) -> bool:
        """Stops idle containers so that one more container asking for `res` fits (a
        sandbox is not kept out by warm containers); True if it will fit."""
        return self._containers.make_room(res)

    # ------------------------------------------------------------------ lifetime

    def restore(self):
        """Brings back deployed apps and the spawned calls that had not finished."""
        for fn in self.registry.restore():
            self._added(fn)
        self._calls.resume_spawned(self._successor_after_restart)

    def _successor_after_restart(self, function_id: str) -> FunctionRecord | None:
        found = self.registry.successor_after_restart(function_id)
        if found is None:
            return None
        fn, params = found
        return fn if params is None else self.bind(fn.app.workspace, fn.id, params)

    def start(self):
        self._containers.start_scaling()

    async def shutdown(self):
        await self._containers.shutdown()

    def watch_exits(self, watcher: ExitWatcher):
        """`watcher` hears of every container exit (the gateway fails or re-routes the
        requests it holds)."""
        self._exit_watchers.append(watcher)

    def watch_ready(self, watcher: ReadyWatcher):
        """`watcher` hears of every container that becomes ready (the metrics' cold
        starts)."""
        self._ready_watchers.append(watcher)

    # ------------------------------------------------------------------ apps

    def create_app(self, workspace: str, name: str, ephemeral: bool, detach: bool, peer: Peer
                   ) -> AppRecord:
        if not name:
            raise ValueError("an app needs a name")
        return self.registry.create_app(workspace, name, ephemeral, detach, peer)

    def publish_app(self, workspace: str, app_id: str):
        """Makes the app its name's deployed version. The one it replaces rolls over: new
        calls go to the new version, while its containers finish the inputs they hold."""
        app = self.registry.app(workspace, app_id)
        previous = self.store.deployed_app(app.name, workspace)
        if previous is not None and previous.app_id != app_id:
            self._roll_over(previous.app_id, app)
        app.state = "deployed"
        app.peer = None
        self.store.set_app_state(app_id, "deployed")
        log.info("deployed app %s (%s) in workspace %s with %d functions", app.name, app_id,
                 workspace, len(app.functions))

    def _roll_over(self, old_id: str, new: AppRecord):
        self.store.set_app_state(old_id, "stopped")
        old = self.registry.apps.get(old_id)
        if old is None:
            return
        old.state = "draining"
        for fn in [f for f in self.registry.functions.values() if f.app is old]:
            successor = new.functions.get((fn.parent or fn).spec.name)
            if successor is not None and fn.parent is not None:
                # A class bound to parameters: the new version's class, bound to the same
                # (unless the name is no longer a class).
                successor = self.bind(new.workspace, successor.id, fn.params) \
                    if successor.spec.is_class else None
            if successor is None:
                self._retire(fn, StopReason.REPLACED)
                continue
            fn.replaced_by = successor
            self._containers.poke(fn)
        self.logs.write(old_id, "system", "", "", "replaced by a new deployment; its "
                        "containers finish the inputs they hold")
        self._end_drained(old)

    def _end_drained(self, app: AppRecord):
        """A draining app whose functions hold no more work goes."""
        for fn in [f for f in self.registry.functions.values() if f.app is app]:
            if not fn.has_work():
                self.registry.successors[fn.id] = fn.replaced_by.id
                self._retire(fn, StopReason.REPLACED)
        if not any(f.app is app for f in self.registry.functions.values()):
            self.registry.apps.pop(app.id, None)
            app.state = "stopped"
            self.logs.write(app.id, "system", "", "", "app stopped: "
                            f"{StopReason.REPLACED.text()}")
            self._close_logs_when_idle(app)

    def stop_app_request(self, workspace: str, app_id: str, name: str):
        """A client's `app stop`, naming the app by id or by name."""
        self.stop_app(self.registry.running_app_id(workspace, app_id, name),
                      StopReason.STOPPED_BY_REQUEST)

    def stop_app(self, app_id: str, reason: StopReason = StopReason.APP_STOPPED):
        app = self.registry.apps.pop(app_id, None)
        self.store.set_app_state(app_id, "stopped")
        if app is None:
            return
        app.state = "stopped"
        draining = set()
        for fn in list(self.registry.functions.values()):
            # Its functions, and those of versions it replaced that still drain.
            if fn.app is app or (fn.replaced_by is not None and fn.replaced_by.app is app):
                self._retire(fn, reason)
                if fn.app is not app:
                    draining.add(fn.app)
        self.logs.write(app_id, "system", "", "", f"app stopped: {reason.text()}")
        log.info("stopped app %s (%s) in workspace %s: %s", app.name, app_id, app.workspace,
                 reason.text())
        self._close_logs_when_idle(app)
        for old in draining:
            self._end_drained(old)

    def _retire(self, fn: FunctionRecord, reason: StopReason):
        self.registry.functions.pop(fn.id, None)
        self._calls.fail_retired(fn, reason)
        for c in list(fn.containers.values()):
            self._containers.stop(c, reason)

    def _close_logs_when_idle(self, app: AppRecord):
        """A stopped app's log stream ends once its last container has exited, so the
        lines it printed last still reach followers."""
        if not any(c.fn.app is app for c in self.containers.values()):
            self.logs.close_app(app.id)

    def app_summaries(self, workspace: str) -> list[pb.AppInfo]:
        return self.registry.app_summaries(workspace)

    def log_app_id(self, workspace: str, app_id: str, name: str) -> str:
        return self.registry.any_app_id(workspace, app_id, name)

    def app_is_running(self, app_id: str) -> bool:
        return app_id in self.registry.apps

    # ------------------------------------------------------------------ functions

    def create_function(self, workspace: str, app_id: str, spec: pb.FunctionSpec
                        ) -> FunctionRecord:
        self._check(workspace, spec)
        fn = self.registry.create_function(workspace, app_id, spec)
        self._added(fn)
        return fn

    def _check(self, workspace: str, spec: pb.FunctionSpec):
        """Refuses a function this server could never run, saying why."""
        check_spec_numbers(spec)
        why = schedule_times.check(spec.schedule) if spec.HasField("schedule") else ""
        if why:
            raise ValueError(f"{spec.name}: {why}")
        for ep in spec.web_endpoints:
            if not _LABEL_RE.match(ep.label) or "--" in ep.label:
                raise ValueError(f"{spec.name}: web label {ep.label!r} must be lowercase "
                                 "letters, digits and single hyphens")
        if spec.ephemeral_disk_mib and self.runtime.name != "bwrap":
            raise ValueError(f"{spec.name}: ephemeral_disk= needs the bwrap runtime (this "
                             f"server runs {self.runtime.name}); start the server with "
                             "--runtime bwrap or remove ephemeral_disk=")
        if spec.block_network and self.runtime.name != "bwrap":
            raise ValueError(f"{spec.name}: block_network=True needs the bwrap runtime, which "
                             "gives each container a network namespace of its own (this "
                             f"server runs {self.runtime.name}, where containers share the "
                             "host's network); start the server with --runtime bwrap")
        self.launcher.check(spec, workspace)
        container_py = self.launcher.python_of(spec)
        if spec.pickled and spec.python_version and container_py and \
                spec.python_version != container_py:
            raise ServiceError(f"{spec.name}: " +
                               pickled_across_versions(spec.python_version, container_py),
                               code="version")

    def bind(self, workspace: str, function_id: str, params: bytes) -> FunctionRecord:
        fn, new = self.registry.bind(workspace, function_id, params)
        if new:
            self._added(fn)
        return fn

    def variant(self, workspace: str, function_id: str, overrides: pb.FunctionSpec,
                fields) -> FunctionRecord:
        """A copy of a live function with some options replaced, in containers of its own
        (with_options, with_concurrency, with_batching); the same overrides reuse it."""
        base = self.registry.get(workspace, function_id)
        spec = variants.apply(base.spec, overrides, fields)
        self._check(workspace, spec)
        fn, new = self.registry.variant(workspace, function_id, spec,
                                        variants.key(overrides, fields))
        if new:
            self._added(fn)
        return fn
    def placement_warning(self, fn: FunctionRecord) -> str:
        """What the deployer is told when this machine cannot run the function now."""
        if not fn.unplaceable:
            return ""
        return (f"{fn.label} {fn.unplaceable}. The app runs; calls of {fn.label} wait for a "
                f"node that can run it and fail after {fn.startup_limit_s:g} s (its "
                "startup_timeout=, else timeout=)")

    def resources_changed(self):
        """Nodes came or went: what no node could hold may fit now (or no longer)."""
        for fn in self.registry.functions.values():
            fn.unplaceable = gangs.unmet(self.resources, fn.spec) or ""
        self._containers.poke_all()

    def waiting_requests(self) -> list[pb.Resources]:
        """One request per container wanted that no node can hold (for an autoscaler
        that adds nodes)."""
        return [fn.spec.resources for fn in self.registry.functions.values()
                if fn.unplaceable and (fn.queue or fn.spec.scaling.min_containers)
                for _ in range(max(1, fn.spec.cluster_size))]   # a gang: all its ranks

    def _added(self, fn: FunctionRecord):
        # Kept as a state, not a refusal: a node added later may meet the request.
        fn.unplaceable = gangs.unmet(self.resources, fn.spec) or ""
        if fn.spec.scaling.min_containers:
            self._containers.poke(fn)

    def get(self, workspace: str, function_id: str) -> FunctionRecord:
        return self.registry.get(workspace, function_id)

    def update_autoscaler(self, workspace: str, function_id: str,
                          update: pb.FunctionUpdateAutoscaler) -> pb.Scaling:
        """Changes a live function's autoscaling until its app is deployed again (a new
        deploy makes new functions from their decorators); kept across restarts."""
        fn = self.registry.get(workspace, function_id)
        spec = pb.FunctionSpec()
        spec.CopyFrom(fn.spec)   # bound instances share their class's spec: not theirs
        for field in ("min_containers", "max_containers", "buffer_containers",
                      "scaledown_window_s"):
            if update.HasField(field):
                setattr(spec.scaling, field, getattr(update, field))
        check_spec_numbers(spec)
        scaling = spec.scaling
        if scaling.max_containers and scaling.max_containers < scaling.min_containers:
            raise ValueError(f"{fn.label}: max_containers={scaling.max_containers} is below "
                             f"min_containers={scaling.min_containers}")
        fn.spec = spec
        self.store.set_function_spec(fn.id, spec.SerializeToString())
        self._containers.poke(fn)
        return scaling

    def current_stats(self, workspace: str, function_id: str) -> pb.FunctionStats:
        fn = self.registry.get(workspace, function_id)
        live = fn.live_containers()
        running = fn.inflight()
        room = sum(max(0, fn.slots - len(c.inflight) - c.web_requests) for c in live
                   if c.state == "ready")
        return pb.FunctionStats(backlog=len(fn.queue) + len(fn.delayed) + fn.web_waiting,
                                num_total_runners=len(live), num_running_inputs=running,
                                input_headroom=room)

    def lookup(self, workspace: str, app_name: str, app_id: str, name: str) -> FunctionRecord:
        return self.registry.lookup(workspace, app_name, app_id, name)

    def is_live(self, fn: FunctionRecord) -> bool:
        return fn.id in self.registry.functions

    def wants_containers(self, fn: FunctionRecord):
        """Its pending work changed: the autoscaler looks at it again soon."""
        self._containers.poke(fn)

    def images_in_use(self, workspace: str) -> set[str]:
        """Image ids that the workspace's live functions (running or deployed apps) use."""
        return self.registry.images_in_use(workspace)

    # ------------------------------------------------------------------ calls

    def create_call(self, workspace: str, peer: Peer, call_id: str, function_id: str,
                    kind: int, inputs, is_generator: bool, source: str = "",
                    parent_input_id: str = "") -> Call:
        """`source` says what made the call ("" a client, "schedule" the scheduler);
        `parent_input_id` the input whose code made it, for call graphs."""
        fn = self.registry.get(workspace, function_id)
        if fn.unplaceable:
            self.logs.write(fn.app.id, "system", fn.label, "", f"{fn.label} {fn.unplaceable}"
                            f" (a call waits, at most {fn.startup_limit_s:g} s)")
        return self._calls.create_call(peer, call_id, fn, kind, inputs, is_generator,
                                       source, parent_input_id)

    def call_graph_of(self, workspace: str, call_id: str) -> list[pb.CallGraphInput]:
        return self.call_graph.graph(workspace, call_id)

    def add_inputs(self, workspace: str, call_id: str, inputs, last: bool):
        call = self._calls.calls.get(call_id)
        # Else closed meanwhile: nothing waits for these outputs.
        if call is not None and call.fn.app.workspace == workspace:
            self._calls.add_inputs(call, inputs, last=last)

    async def wait_output(self, workspace: str, call_id: str, timeout: float
                          ) -> list[pb.Output]:
        return await self._calls.wait_output(workspace, call_id, timeout)

    def queue_room(self, call_id: str):
        """None when the call's function can queue more inputs now; else a coroutine that
        ends once it can (or the function or call is gone)."""
        call = self._calls.calls.get(call_id)
        if call is None or len(call.fn.queue) < MAX_QUEUED_INPUTS:
            return None

        async def room():
            fn = call.fn
            while len(fn.queue) >= MAX_QUEUED_INPUTS and self.is_live(fn) \
                    and call_id in self._calls.calls:
                await asyncio.sleep(QUEUE_ROOM_POLL_S)

        return room()

    def cancel_call(self, workspace: str, call_id: str, terminate_containers: bool):
        self._calls.cancel_call_request(workspace, call_id, terminate_containers)

    def close_call(self, workspace: str, call_id: str):
        call = self._calls.calls.get(call_id)
        if call is not None and call.fn.app.workspace == workspace:
            self._calls.close_call(call_id)

    def peer_closed(self, peer: Peer):
        self._calls.peer_closed(peer)
        for app_id in list(peer.apps):
            app = self.registry.apps.get(app_id)
            if app is not None and app.peer is peer:
                self.stop_app(app_id, StopReason.CLIENT_DISCONNECTED)
        for app_id, sub in peer.log_subs:
            self.logs.unsubscribe(app_id, sub)

    # ------------------------------------------------------------------ containers

    def container_infos(self, workspace: str, app_id: str = "") -> list[pb.ContainerInfo]:
        return [pb.ContainerInfo(
            container_id=c.id, app_id=c.fn.app.id, app_name=c.fn.app.name,
            function_name=c.fn.label, state=c.state, started_at=c.started_at,
            inputs_in_flight=len(c.inflight) + c.web_requests,
            pid=getattr(c.handle, "pid", 0) or 0,
            node_id=(c.reservation.node_id if c.reservation else "") or self.launcher.node_id)
            for c in self.containers.values()
            if c.fn.app.workspace == workspace and (not app_id or c.fn.app.id == app_id)]

    def stop_container_by_id(self, workspace: str, container_id: str):
        self._containers.stop_by_id(workspace, container_id)

    def container_connected(self, container_id: str, conn) -> ContainerRecord:
        return self._containers.connected(container_id, conn)

    def container_spec(self, c: ContainerRecord) -> pb.ContainerSpec:
        return self._containers.spec_for(c)

    def container_conn_lost(self, c: ContainerRecord):
        self._containers.conn_lost(c)

    def container_outputs(self, c: ContainerRecord, outputs):
        self._calls.container_outputs(c, outputs)

    def container_ready(self, c: ContainerRecord, ready: pb.ContainerReady):
        if c.state != "starting":
            return
        if not ready.ok:
            self._calls.fail_queued(c.fn, ready)
            c.init_error = ready.message
            doing = ready.failed_while or "starting"
            self._containers.stop(c, StopReason.INIT_FAILED, kill=True,
                                  detail=f"it failed while {doing} ({ready.message})")
            return
        self._containers.mark_ready(c)
        for watcher in self._ready_watchers:
            watcher(c, time.time() - c.started_at)
        self._calls.dispatch(c.fn)
        self._containers.poke(c.fn)

    def _container_exited(self, c: ContainerRecord, how: str):
        fn = c.fn
        for watcher in self._exit_watchers:
            watcher(c, how)
        self._calls.settle_inflight(c, how)
        if fn.replaced_by is not None and fn.app.state == "draining":
            self._end_drained(fn.app)
        failed_start = self._containers.back_off_if_failed_start(c)
        if failed_start and c.stop_reason is not StopReason.INIT_FAILED and self.is_live(fn) \
                and fn.queue and self._containers.starts_look_hopeless(fn):
            # It died before it could take work, and no other container can: fail what
            # waits rather than start failing containers forever. (Init failures already
            # failed the waiting inputs with the function's own error.)
            self._calls.fail_queued_with(fn, _start_failure(c))
        if self.is_live(fn):
            self._calls.dispatch(fn)
            self._containers.poke(fn)
        elif fn.app.state == "stopped":
            self._close_logs_when_idle(fn.app)
        self._containers.poke_all()  # freed resources may let another function start


def _start_failure(c: ContainerRecord) -> ExecutionError:
    tail = "\n".join(c.stderr_tail)
    return ExecutionError(f"a container for {c.fn.label} failed to start: {c.stop_text}" +
                          (f"\nIts last output:\n{tail}" if tail else ""))
