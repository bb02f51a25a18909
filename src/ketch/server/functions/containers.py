"""Containers: launched when the autoscaler's plan asks, ready once their code loaded,
stopped with a reason, and forgotten when the runtime reports their exit. A function
whose containers keep dying while starting backs off before the next start.

The autoscaler is a pure policy (`autoscaler.plan`); this module applies its plans, when
poked after a change and on a steady tick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from ..._logtags import untag
from ..._timing import STARTING_STOP_GRACE_S, STOP_GRACE_S
from ...proto import ketch_pb2 as pb
from .. import autoscaler
from ..resources import MachineResources
from ..runtime import ContainerExit, Runtime
from . import gangs
from .launch import Launcher
from .model import ORDERED_STOPS, ContainerRecord, FunctionRecord, StopReason, new_id
from .registry import Registry

log = logging.getLogger("ketch.server")

# Every function is re-planned this often, so idle containers scale down after their
# window even when nothing happens to poke them.
SCALE_TICK_S = 0.25
MAX_FAILED_STARTS = 3
START_BACKOFF_S = 0.5
START_BACKOFF_MAX_S = 30.0
# On shutdown, containers get this long to exit after being asked to stop (their inputs
# go back to the store for the next server), then they are killed.
SHUTDOWN_WAIT_S = 5.0
# How often shutdown checks whether every container has exited.
SHUTDOWN_POLL_S = 0.05
# A container whose connection drops is usually exiting (a crash closes its socket before
# its process is reaped, and on bwrap a kill would hide the status behind the wrapper's):
# it gets this long to exit on its own, so its exit status says why, before it is killed.
LOST_CONNECTION_KILL_S = 1.0

# Called as on_exit(container, how) once the runtime reports that a container exited.
OnExit = Callable[[ContainerRecord, str], None]


class Containers:
    def __init__(self, runtime: Runtime, resources: MachineResources, logs,
                 launcher: Launcher, registry: Registry, loop: asyncio.AbstractEventLoop,
                 on_exit: OnExit):
        self.runtime = runtime
        self.resources = resources
        self.logs = logs
        self.launcher = launcher
        self.registry = registry
        self.loop = loop
        self.on_exit = on_exit
        self.containers: dict[str, ContainerRecord] = {}
        self.closing = False    # shutting down: start nothing, fail nothing
        self._poked: set[str] = set()
        self._poke_scheduled = False
        self._ticker: asyncio.Task | None = None

    # ------------------------------------------------------------------ scaling

    def start_scaling(self):
        self._ticker = asyncio.ensure_future(self._tick_forever())

    def stop_scaling(self):
        if self._ticker is not None:
            self._ticker.cancel()

    def poke(self, fn: FunctionRecord):
        """Re-plan `fn` soon (in this loop iteration's callbacks)."""
        self._poked.add(fn.id)
        if not self._poke_scheduled:
            self._poke_scheduled = True
            self.loop.call_soon(self._scale_poked)

    def poke_all(self):
        for fn in list(self.registry.functions.values()):
            self.poke(fn)

    def _scale_poked(self):
        self._poke_scheduled = False
        poked, self._poked = self._poked, set()
        for fn_id in poked:
            fn = self.registry.functions.get(fn_id)
            if fn is not None:
                self.scale(fn)

    async def _tick_forever(self):
        while True:
            await asyncio.sleep(SCALE_TICK_S)
            for fn in list(self.registry.functions.values()):
                self.scale(fn)

    def scale(self, fn: FunctionRecord):
        """Applies the autoscaler's plan for `fn`."""
        if fn.id not in self.registry.functions or self.closing:
            return
        if fn.spec.cluster_size:
            return gangs.scale(fn, self)
        plan = autoscaler.plan(fn, time.monotonic(), self.resources,
                               self.registry.functions.values(), self.containers.values(),
                               wall_now=time.time())
        for _ in range(plan.start):
            reservation = self.resources.reserve(fn.spec.resources, fn.spec.image_id)
            if reservation is None:
                break
            self.launch(fn, reservation)
        for c in plan.evict:
            self.stop(c, StopReason.EVICTED)
        for c in plan.scale_down:
            self.stop(c, StopReason.SCALED_DOWN)

    # ------------------------------------------------------------------ starting

    def launch(self, fn: FunctionRecord, reservation, gang=None) -> ContainerRecord:
        """Records a starting container at once (so the autoscaler counts it) and starts
        it in the background."""
        c = ContainerRecord(new_id("ta"), fn)
        c.reservation, c.gang = reservation, gang
        fn.containers[c.id] = c
        self.containers[c.id] = c
        asyncio.ensure_future(self._start(c))
        return c

    async def _start(self, c: ContainerRecord):
        fn = c.fn
        try:
            launch = self.launcher.launch_for(c)
            self.logs.write(fn.app.id, "system", fn.label, c.id,
                            f"starting container {c.id} for {fn.label}")
            log.info("starting container %s for %s of app %s (%s)", c.id, fn.label,
                     fn.app.name, fn.app.id)
            startup = fn.spec.startup_timeout_s or fn.spec.timeout_s
            c.startup_timer = self.loop.call_later(startup, self._startup_timed_out, c, startup)
            c.handle = await self.runtime.start(
                launch, lambda source, text: self._line(c, source, text),
                lambda exit: self._exited(c, exit))
        except Exception as exc:  # the backend could not start it at all
            log.exception("starting container %s failed", c.id)
            self._exited(c, ContainerExit(returncode=None),
                         start_error=f"the runtime could not start it: {exc}")
            return
        if c.state == "stopping":  # stopped while it was being created
            self.runtime.kill(c.handle)

    def _startup_timed_out(self, c: ContainerRecord, limit: float):
        if c.state == "starting":
            self.stop(c, StopReason.STARTUP_TIMEOUT, kill=True, detail=f"{limit:g} s")

    def connected(self, container_id: str, conn) -> ContainerRecord:
        c = self.containers.get(container_id)
        if c is not None and c.state == "stopping" and c.conn is None and c.handle is not None:
            # Stopped while it started (its app ended), before it could heed a SIGTERM: it
            # goes now, before the refusal below could reach it as an error to print.
            self.runtime.kill(c.handle)
        if c is None or c.state != "starting" or c.conn is not None:
            raise LookupError(f"no container {container_id} is starting")
        c.conn = conn
        return c

    def mark_ready(self, c: ContainerRecord):
        c.state = "ready"
        c.ready_at = c.idle_since = time.monotonic()
        c.fn.failed_starts = 0
        if c.startup_timer is not None:
            c.startup_timer.cancel()
        self.logs.write(c.fn.app.id, "system", c.fn.label, c.id, f"container {c.id} is ready")

    def spec_for(self, c: ContainerRecord) -> pb.ContainerSpec:
        fn = c.fn
        return pb.ContainerSpec(container_id=c.id, function_id=fn.id, app_id=fn.app.id,
                                spec=fn.spec, class_params=fn.params or b"",
                                interactive=fn.app.interactive)

    def _line(self, c: ContainerRecord, source: str, text: str):
        input_id, call_id, text = untag(text)
        if source == "stderr":
            c.stderr_tail.append(text)
        self.logs.write(c.fn.app.id, source, c.fn.label, c.id, text, input_id, call_id)

    # ------------------------------------------------------------------ stopping

    def stop(self, c: ContainerRecord, reason: StopReason, kill: bool = False,
             detail: str = "", kill_after: float = 0.0):
        if c.state == "stopping":
            if kill and c.handle is not None:
                self.runtime.kill(c.handle)
            return
        was_starting = c.state == "starting"
        c.state = "stopping"
        c.stopped_because(reason, detail)
        if c.handle is None:
            return  # _start() kills it once the handle exists
        if kill:
            self.runtime.kill(c.handle)
        elif kill_after:
            self.loop.call_later(kill_after, self._kill_if_running, c)
        else:
            grace = STARTING_STOP_GRACE_S if was_starting else STOP_GRACE_S
            asyncio.ensure_future(self.runtime.stop(c.handle, grace_s=grace))

    def make_room(self, res: pb.Resources, n: int = 1, machine=None, node_id: str = "",
                  exclude: FunctionRecord | None = None) -> bool:
        """Stops idle containers (oldest idle first, above their function's min_containers,
        none of `exclude`'s) until `n` containers asking for `res` fit on `machine` (a
        node's; this machine's by default) once those exit, as the autoscaler evicts for
        one of its own. True if they will fit then."""
        machine = machine or self.resources
        if not isinstance(machine, MachineResources):
            return False   # a cluster's: room is made on one node, by the placement's caller

        def here(c: ContainerRecord) -> bool:
            return c.reservation is not None and (not node_id or
                                                  c.reservation.node_id == node_id)

        trial = type(machine)(machine.cpu, machine.memory_mib, machine.gpus)
        trial.cpu_used, trial.memory_used = machine.cpu_used, machine.memory_used
        trial.gpus_used = set(machine.gpus_used)
        for c in self.containers.values():
            if here(c) and c.state == "stopping":       # their room comes as they exit
                trial.release(c.reservation)
        idle = sorted((c for c in self.containers.values() if here(c) and c.fn is not exclude
                       and c.state == "ready" and c.idle and not c.fn.spec.cluster_size),
                      key=lambda c: c.idle_since)
        for c in idle:
            if trial.fitting(res, n) >= n:
                return True
            if len(c.fn.live_containers()) > c.fn.spec.scaling.min_containers:
                self.stop(c, StopReason.EVICTED)
                trial.release(c.reservation)
        return trial.fitting(res, n) >= n

    def conn_lost(self, c: ContainerRecord):
        if c.state != "stopping" and c.id in self.containers:
            self.stop(c, StopReason.LOST_CONNECTION, kill_after=LOST_CONNECTION_KILL_S)

    def _kill_if_running(self, c: ContainerRecord):
        if c.id in self.containers and c.handle is not None:
            self.runtime.kill(c.handle)

    def stop_by_id(self, workspace: str, container_id: str):
        c = self.containers.get(container_id)
        if c is None or c.fn.app.workspace != workspace:
            raise LookupError(f"no running container {container_id}")
        c.requeue_on_exit = True
        self.stop(c, StopReason.CONTAINER_STOP)

    async def shutdown(self):
        self.closing = True
        self.stop_scaling()
        for c in list(self.containers.values()):
            c.requeue_on_exit = True
            self.stop(c, StopReason.SERVER_SHUTDOWN)
        deadline = time.monotonic() + SHUTDOWN_WAIT_S
        while self.containers and time.monotonic() < deadline:
            await asyncio.sleep(SHUTDOWN_POLL_S)
        for c in list(self.containers.values()):
            if c.handle is not None:
                self.runtime.kill(c.handle)

    # ------------------------------------------------------------------ exited

    def _exited(self, c: ContainerRecord, exit: ContainerExit, start_error: str = ""):
        self._forget(c)
        if self.closing:
            # Unfinished spawned inputs stay pending in the store for the next start.
            return
        self._free(c)
        if exit.returncode == 0:
            self.launcher.after_clean_exit(c.fn.spec)
        how = start_error or exit.describe()
        c.stopped_because(StopReason.START_FAILED if start_error else
                          StopReason.OOM_KILLED if exit.oom_killed else StopReason.CRASHED,
                          how)
        line = f"container {c.id} stopped: {how}"
        if c.stop_reason is StopReason.INIT_FAILED:
            line = f"container {c.id} stopped: {c.stop_text}"  # ketch's own kill: no signal
        elif c.stop_reason in ORDERED_STOPS and not exit.oom_killed:
            line = f"container {c.id} stopped ({c.stop_text}; {how})"  # not an error
        self.logs.write(c.fn.app.id, "system", c.fn.label, c.id, line)
        why = c.stop_text if c.stop_text == how else f"{c.stop_text} ({how})"
        log.info("container %s of %s (app %s) stopped: %s", c.id, c.fn.label,
                 c.fn.app.name, why)
        self.on_exit(c, how)

    def _forget(self, c: ContainerRecord):
        self.launcher.forget(c)
        self.containers.pop(c.id, None)
        c.fn.containers.pop(c.id, None)

    def _free(self, c: ContainerRecord):
        """Returns what the container held: its timer, resources and connection."""
        if c.startup_timer is not None:
            c.startup_timer.cancel()
        if c.reservation is not None:
            self.resources.release(c.reservation)
            c.reservation = None
        if c.conn is not None:
            c.conn.close()

    def back_off_if_failed_start(self, c: ContainerRecord) -> bool:
        """A container that died before it became ready (not stopped on purpose) delays
        the function's next start, so a function that cannot start does not spin
        containers (a min_containers function keeps asking for one). True if it did."""
        failed = c.ready_at is None and not c.requeue_on_exit and \
            c.stop_reason is not StopReason.SCALED_DOWN
        if failed:
            fn = c.fn
            fn.failed_starts += 1
            fn.start_after = time.monotonic() + min(
                START_BACKOFF_MAX_S, START_BACKOFF_S * 2 ** (fn.failed_starts - 1))
        return failed

    def starts_look_hopeless(self, fn: FunctionRecord) -> bool:
        """No other container of `fn` can take its work, or too many failed in a row."""
        others_alive = any(o.state != "stopping" for o in fn.containers.values())
        return not others_alive or fn.failed_starts >= MAX_FAILED_STARTS
