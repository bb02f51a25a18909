"""How many containers each function wants, and asking the runtime for them.

Desired containers = inputs waiting or running ÷ inputs per container (`target_inputs`,
else `max_inputs`, else the batch size), plus `buffer_containers` while there is work,
never below `min_containers` nor above `max_containers`. Once the function's run time is
measured, it never wants more containers than would drain its backlog within about a
second, so a map of many tiny inputs runs on a few busy containers instead of many idle
ones; before that it doubles the count as containers become ready. Idle containers
beyond the desired count stop after `scaledown_window`.
Containers start only while the machine has room for their CPU, memory and GPU requests.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .functions import Function, FunctionsService

DRAIN_TARGET_S = 1.0
TICK_S = 0.25
RAMP_START = 2


class Autoscaler:
    def __init__(self, functions: "FunctionsService"):
        self.functions = functions
        self.capacity = functions.capacity
        self._poked: set[str] = set()
        self._scheduled = False
        self._task: asyncio.Task | None = None

    def start(self):
        self._task = asyncio.ensure_future(self._tick_forever())

    def stop(self):
        if self._task is not None:
            self._task.cancel()

    def poke(self, fn: "Function"):
        """Re-evaluate `fn` soon (in this loop iteration's callbacks)."""
        self._poked.add(fn.id)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_event_loop().call_soon(self._run_poked)

    def poke_all(self):
        for fn in list(self.functions.functions.values()):
            self.poke(fn)

    def _run_poked(self):
        self._scheduled = False
        poked, self._poked = self._poked, set()
        for fn_id in poked:
            fn = self.functions.functions.get(fn_id)
            if fn is not None:
                self.scale(fn)

    async def _tick_forever(self):
        while True:
            await asyncio.sleep(TICK_S)
            for fn in list(self.functions.functions.values()):
                self.scale(fn)

    def desired(self, fn: "Function") -> int:
        spec = fn.spec
        scaling = spec.scaling
        pending = len(fn.queue) + fn.inflight() + len(fn.delayed) + fn.web_waiting
        per = spec.target_inputs or fn.slots
        want = math.ceil(pending / per)
        if fn.avg_duration is not None and pending:
            by_rate = math.ceil(pending * fn.avg_duration / (fn.slots * DRAIN_TARGET_S))
            want = max(1, min(want, by_rate))
        if pending:
            want += scaling.buffer_containers
        want = max(want, scaling.min_containers)
        if scaling.max_containers:
            want = min(want, scaling.max_containers)
        return want

    def _evict_idle_for(self, fn: "Function"):
        """Stops idle containers of other functions (beyond their min_containers) until
        the request of `fn` would fit: a warm but idle container is a cache, not a claim."""
        res = fn.spec.resources
        cap = self.capacity
        stopping = [c for c in self.functions.containers.values() if c.state == "stopping"]
        cpu_short = cap.cpu_used + res.cpu_request - cap.cpu - sum(
            c.reservation.cpu for c in stopping if c.reservation)
        mem_short = cap.memory_used + res.memory_request_mib - cap.memory_mib - sum(
            c.reservation.memory_mib for c in stopping if c.reservation)
        if cpu_short <= 1e-9 and mem_short <= 0:
            return  # enough is already on its way out
        candidates = []
        for other in self.functions.functions.values():
            if other is fn:
                continue
            live = [c for c in other.containers.values() if c.state != "stopping"]
            spare = len(live) - other.spec.scaling.min_containers
            idle = sorted((c for c in live if c.state == "ready" and c.idle),
                          key=lambda c: c.idle_since)
            candidates.extend(idle[:max(0, spare)])
        candidates.sort(key=lambda c: c.idle_since)
        for c in candidates:
            if cpu_short <= 1e-9 and mem_short <= 0:
                break
            if c.reservation is not None:
                cpu_short -= c.reservation.cpu
                mem_short -= c.reservation.memory_mib
            self.functions.stop_container(c, "scaled down to make room")

    def scale(self, fn: "Function"):
        if fn.id not in self.functions.functions or self.functions.closing:
            return
        live = [c for c in fn.containers.values() if c.state != "stopping"]
        want = self.desired(fn)
        # After failed starts, containers wanted only to stay warm wait out a backoff;
        # waiting inputs still get one at once (and its error, if it fails again).
        if want > len(live) and (fn.queue or time.monotonic() >= fn.start_after):
            new = want - len(live)
            if fn.avg_duration is None:
                # Until run time is measured, grow by doubling as containers become ready,
                # so a burst of tiny inputs does not start a container per core's share.
                starting = sum(1 for c in live if c.state == "starting")
                ramp = max(RAMP_START, 2 * (len(live) - starting)) - starting
                new = max(min(new, ramp), fn.spec.scaling.min_containers - len(live))
            for _ in range(new):
                reservation = self.capacity.reserve(fn.spec.resources)
                if reservation is None:
                    # Waits for room; idle containers of other functions make way.
                    self._evict_idle_for(fn)
                    break
                self.functions.launch_container(fn, reservation)
        elif want < len(live):
            window = fn.spec.scaling.scaledown_window_s
            now = time.monotonic()
            idle = sorted((c for c in live if c.state == "ready" and c.idle
                           and now - c.idle_since >= window), key=lambda c: c.idle_since)
            for c in idle[:len(live) - want]:
                self.functions.stop_container(c, "scaled down")
