"""The gangs of `@ketch.clustered(size=N)` functions: N containers started together (all
of the N reservations or none, so a gang never half-starts and holds resources waiting
for the rest), each told its rank and every rank's IP; each input goes to every rank
and only rank 0's output counts; one container's end ends the gang.

A function has one gang at a time: its containers are that gang's. On a Ray cluster the
gang is one Ray placement group of N bundles (the function's cpu/memory/gpu), strategy
SPREAD: ranks go to different nodes where they can (as Modal gives each rank its own
host, and one node's loss ends fewer gangs), yet a gang still places when it fits on fewer
nodes than ranks; Ray places all bundles or none, and its autoscaler sees a group that
waits. Each rank then takes its reservation on its bundle's node. On one machine the N
reservations are taken together from the machine's resources, all or none; every rank's
address is then 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ...proto import ketch_pb2 as pb
from ..cluster.nodes import wanted_text as wanted
from .model import ContainerRecord, FunctionRecord, StopReason, new_id

log = logging.getLogger("ketch.server")

LOCAL_IP = "127.0.0.1"   # without a cluster every rank runs on this machine


def _ip_of(resources, reservation) -> str:
    nodes = getattr(resources, "nodes", None)     # ClusterResources: the node's address
    node = nodes.get(reservation.node_id) if nodes is not None else None
    return node.address if node is not None else LOCAL_IP


def unmet(resources, spec: pb.FunctionSpec) -> str | None:
    """Why `spec`'s containers (or its whole gang) can never start here as things are, or
    None: a gang of N needs N of its request at once, on the machine or the nodes."""
    why = resources.unmet(spec.resources)
    if why or spec.cluster_size <= 1:
        return why
    on_cluster = hasattr(resources, "alive")
    machines = [n.resources for n in resources.alive()] if on_cluster else [resources]
    held = sum(type(m)(m.cpu, m.memory_mib, m.gpus).fitting(spec.resources, spec.cluster_size)
               for m in machines)     # on empty machines: what could ever fit
    if held >= spec.cluster_size:
        return None
    where = f"the cluster's {len(machines)} nodes" if on_cluster else "this machine"
    return (f"waits for a gang of {spec.cluster_size}: only {held} of its containers "
            f"({wanted(spec.resources)}) fit at once on {where}")


def scale(fn: FunctionRecord, containers) -> None:
    """Starts, keeps or ends `fn`'s gang (`containers`: the functions' Containers)."""
    size = fn.spec.cluster_size
    gang = list(fn.containers.values())
    if gang:
        ended = [c for c in gang if c.state == "stopping"]
        if ended or len(gang) < size:
            _end(gang, containers, StopReason.GANG_ENDED,
                 ended[0].stop_text if ended else "it exited")
            return
        rank0 = min(gang, key=lambda c: c.gang[0])
        idle_s = time.monotonic() - rank0.idle_since
        if not fn.queue and rank0.idle and not fn.spec.scaling.min_containers and \
                idle_s > fn.spec.scaling.scaledown_window_s:
            _end(gang, containers, StopReason.SCALED_DOWN)
        return
    wanted = fn.queue or fn.spec.scaling.min_containers
    if not wanted or fn.unplaceable or time.monotonic() < fn.start_after or \
            fn.id in _placing:
        return
    placer = getattr(containers.resources, "gang_placer", None)
    if placer is not None:
        _placing.add(fn.id)
        asyncio.ensure_future(_place_on_ray(fn, containers, placer))
        return
    reservations = []
    for _ in range(size):
        r = containers.resources.reserve(fn.spec.resources, fn.spec.image_id)
        if r is None:       # all or none: the gang waits until all of it fits
            _release(containers.resources, reservations)
            containers.make_room(fn.spec.resources, size, exclude=fn)
            return
        reservations.append(r)
    _launch(fn, containers, new_id("cl"), reservations)


# Functions whose gang's placement group Ray is placing now: one try at a time each.
_placing: set[str] = set()


async def _place_on_ray(fn: FunctionRecord, containers, placer) -> None:
    """One try: Ray places the gang's placement group, then each rank's reservation is
    taken on its bundle's node; if Ray cannot, or ketch's own containers fill one of those
    nodes, the group goes and the next scaling tick tries again."""
    cluster_id = new_id("cl")
    try:
        nodes = await placer.place_gang(cluster_id, fn.spec.resources, fn.spec.cluster_size)
        if nodes is None or fn.containers or containers.closing or \
                fn.id not in containers.registry.functions:
            return await placer.release_gang(cluster_id) if nodes else None
        reservations = [containers.resources.reserve_on(n, fn.spec.resources,
                                                        fn.spec.image_id) for n in nodes]
        if None in reservations:
            _release(containers.resources, [r for r in reservations if r is not None])
            for node_id in {n for n, r in zip(nodes, reservations) if r is None}:
                node = containers.resources.nodes[node_id]
                containers.make_room(fn.spec.resources, nodes.count(node_id), node.resources,
                                     node_id, exclude=fn)
            return await placer.release_gang(cluster_id)
        _launch(fn, containers, cluster_id, reservations)
        log.info("gang %s of %s: Ray placement group (SPREAD) put its ranks on nodes %s",
                 cluster_id, fn.label, ", ".join(n[:12] for n in nodes))
    except Exception:
        log.exception("placing the gang of %s on Ray failed", fn.label)
    finally:
        _placing.discard(fn.id)


def _launch(fn: FunctionRecord, containers, cluster_id: str, reservations: list) -> None:
    ips = [_ip_of(containers.resources, r) for r in reservations]
    for rank, r in enumerate(reservations):
        containers.launch(fn, r, gang=(rank, cluster_id, ips))


def _release(resources, reservations: list) -> None:
    for r in reservations:
        resources.release(r)


def _end(gang: list[ContainerRecord], containers, reason: StopReason, detail: str = ""):
    """Stops every rank, and gives back the gang's placement group."""
    for c in gang:
        containers.stop(c, reason, detail=detail)
    placer = getattr(containers.resources, "gang_placer", None)
    if placer is not None:
        asyncio.ensure_future(placer.release_gang(gang[0].gang[1]))


def dispatch_targets(fn: FunctionRecord) -> list[ContainerRecord]:
    """The containers inputs are dispatched to: all of them, or a gang's rank 0 once every
    rank is ready (the others get copies of what rank 0 gets: `broadcast`)."""
    if not fn.spec.cluster_size:
        return list(fn.containers.values())
    gang = list(fn.containers.values())
    if len(gang) < fn.spec.cluster_size or any(c.state != "ready" for c in gang):
        return []
    return [min(gang, key=lambda c: c.gang[0])]


def broadcast(c: ContainerRecord, frame: pb.Frame) -> None:
    """Sends `frame` to `c` and, for a gang, to every other rank too."""
    c.conn.send(frame, now=True)
    if c.gang is not None:
        for other in c.fn.containers.values():
            if other is not c and other.conn is not None and other.state == "ready":
                other.conn.send(frame, now=True)


def members(functions, workspace: str, cluster_id: str) -> list[ContainerRecord]:
    """A running gang's containers in rank order (Cluster.from_id); [] when the workspace
    has no such gang (another workspace's is not found either)."""
    ranks = [c for fn in functions.values() if fn.app.workspace == workspace
             for c in fn.containers.values() if c.gang and c.gang[1] == cluster_id]
    return sorted(ranks, key=lambda c: c.gang[0])


def env_of(c: ContainerRecord) -> dict[str, str]:
    """What a gang's container reads in get_cluster_info() (ketch._cluster)."""
    if c.gang is None:
        return {}
    rank, cluster_id, ips = c.gang
    ranks = sorted((o for o in c.fn.containers.values() if o.gang and o.gang[1] == cluster_id),
                   key=lambda o: o.gang[0])     # all launched before any starts
    return {"KETCH_CLUSTER_RANK": str(rank), "KETCH_CLUSTER_ID": cluster_id,
            "KETCH_CLUSTER_IPS": ",".join(ips),
            "KETCH_CLUSTER_CONTAINERS": ",".join(o.id for o in ranks)}
