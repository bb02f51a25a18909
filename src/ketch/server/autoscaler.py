"""How many containers each function wants: a pure policy, applied by the functions service.

Desired containers = inputs waiting or running ÷ inputs per container (`target_inputs`,
else `max_inputs`, else the batch size), plus `buffer_containers` while there is work,
never below `min_containers` nor above `max_containers`. Once the function's run time is
measured, it never wants more containers than would drain its backlog within about a
second, so a map of many tiny inputs runs on a few busy containers instead of many idle
ones; before that it doubles the count as containers become ready. Idle containers
beyond the desired count stop after `scaledown_window`.
Containers start only while the machine has room for their CPU, memory and GPU requests;
when it has none, idle containers of other functions make way.

`plan(fn, now, resources, functions, containers)` reads state and returns a `ScalePlan`;
it changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

from .functions.model import ContainerRecord, FunctionRecord
from .resources import MachineResources

DRAIN_TARGET_S = 1.0
RAMP_START = 2
# An input still running after this long is no tiny input: containers started now will
# find work when they are ready, so an unmeasured function stops ramping up (a burst of
# one-second inputs gets all its containers at once, not by doubling).
RAMP_LIFT_S = 0.25


@dataclass
class ScalePlan:
    start: int = 0                                   # containers to start for the function
    scale_down: list[ContainerRecord] = field(default_factory=list)  # its idle surplus
    evict: list[ContainerRecord] = field(default_factory=list)  # others', to make room


def desired(fn: FunctionRecord) -> int:
    spec = fn.spec
    scaling = spec.scaling
    pending = len(fn.queue) + fn.inflight() + len(fn.delayed) + fn.web_waiting
    per = spec.target_inputs or fn.slots
    want = math.ceil(pending / per)
    if fn.avg_duration is not None and pending:
        by_rate = math.ceil(pending * fn.avg_duration / (fn.slots * DRAIN_TARGET_S))
        want = max(1, min(want, by_rate))
    if fn.replaced_by is not None:
        return want  # a replaced version keeps no warm or buffer containers
    if pending:
        want += scaling.buffer_containers
    want = max(want, scaling.min_containers)
    if scaling.max_containers:
        want = min(want, scaling.max_containers)
    return want


def plan(fn: FunctionRecord, now: float, resources: MachineResources,
         functions: Iterable[FunctionRecord], containers: Iterable[ContainerRecord],
         wall_now: float | None = None) -> ScalePlan:
    """What to do for `fn` at monotonic time `now`. `functions` are the live functions
    and `containers` every container the server holds (both for making room);
    `wall_now` (the wall clock its inputs' send times use) lifts the ramp-up once one has
    run RAMP_LIFT_S."""
    if fn.unplaceable:
        return ScalePlan()  # nothing here can run it: it neither starts nor makes room
    live = fn.live_containers()
    want = desired(fn)
    # After failed starts, containers wanted only to stay warm wait out a backoff;
    # waiting inputs still get one at once (and its error, if it fails again).
    if want > len(live) and (fn.queue or now >= fn.start_after):
        new = want - len(live)
        if fn.avg_duration is None and not _running_long(live, wall_now):
            # Until run time is measured, grow by doubling as containers become ready,
            # so a burst of tiny inputs does not start a container per core's share.
            starting = sum(1 for c in live if c.state == "starting")
            ramp = max(RAMP_START, 2 * (len(live) - starting)) - starting
            new = max(min(new, ramp), fn.spec.scaling.min_containers - len(live))
        if new <= 0:
            return ScalePlan()
        fits = resources.fitting(fn.spec.resources, new)
        evict = [] if fits == new else _evictions(fn, fits, resources, functions, containers)
        return ScalePlan(start=fits, evict=evict)
    if want < len(live):
        # A replaced version's idle containers go at once: nothing new will reach them.
        window = 0.0 if fn.replaced_by is not None else fn.spec.scaling.scaledown_window_s
        idle = sorted((c for c in live if c.state == "ready" and c.idle
                       and now - c.idle_since >= window), key=lambda c: c.idle_since)
        return ScalePlan(scale_down=idle[:len(live) - want])
    return ScalePlan()


def _running_long(live: list[ContainerRecord], wall_now: float | None) -> bool:
    return wall_now is not None and any(
        0 < item.sent_at <= wall_now - RAMP_LIFT_S for c in live for item in c.inflight.values())


def _evictions(fn: FunctionRecord, starting: int, resources: MachineResources,
               functions: Iterable[FunctionRecord], containers: Iterable[ContainerRecord]
               ) -> list[ContainerRecord]:
    """Idle containers of other functions (beyond their min_containers) to stop until the
    request of `fn` would fit beside the `starting` ones the plan starts: a warm but idle
    container is a cache, not a claim."""
    res = fn.spec.resources
    stopping = [c for c in containers if c.state == "stopping" and c.reservation]
    wanted = starting + 1
    cpu_short = resources.cpu_used + wanted * res.cpu_request - resources.cpu - sum(
        c.reservation.cpu for c in stopping)
    mem_short = (resources.memory_used + wanted * res.memory_request_mib
                 - resources.memory_mib - sum(c.reservation.memory_mib for c in stopping))
    if cpu_short <= 1e-9 and mem_short <= 0 and not hasattr(resources, "evictions_for"):
        return []  # enough is already on its way out
    candidates = []
    for other in functions:
        if other is fn:
            continue
        live = other.live_containers()
        spare = len(live) - other.spec.scaling.min_containers
        idle = sorted((c for c in live if c.state == "ready" and c.idle),
                      key=lambda c: c.idle_since)
        candidates.extend(idle[:max(0, spare)])
    candidates.sort(key=lambda c: c.idle_since)
    on_one_node = getattr(resources, "evictions_for", None)
    if on_one_node is not None:   # a cluster: the room must be made on one node
        return on_one_node(res, candidates, stopping)
    evict = []
    for c in candidates:
        if cpu_short <= 1e-9 and mem_short <= 0:
            break
        if c.reservation is not None:
            cpu_short -= c.reservation.cpu
            mem_short -= c.reservation.memory_mib
        evict.append(c)
    return evict
