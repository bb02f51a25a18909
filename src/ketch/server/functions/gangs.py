"""The gangs of `@ketch.clustered(size=N)` functions: N containers started together (all
of the N reservations or none, so a gang never half-starts and holds resources waiting
for the rest), each told its rank and every rank's IP; each input goes to every rank
and only rank 0's output counts; one container's end ends the gang.

A function has one gang at a time: its containers are that gang's. The reservations
come from the same placement as single containers (on a cluster: spread, the emptiest
node first), so a gang of N one-CPU containers lands on N nodes.
"""

from __future__ import annotations

import time

from ...proto import ketch_pb2 as pb
from .model import ContainerRecord, FunctionRecord, StopReason, new_id

LOCAL_IP = "127.0.0.1"   # without a cluster every rank runs on this machine


def _ip_of(resources, reservation) -> str:
    nodes = getattr(resources, "nodes", None)     # ClusterResources: the node's address
    node = nodes.get(reservation.node_id) if nodes is not None else None
    return node.address if node is not None else LOCAL_IP


def scale(fn: FunctionRecord, containers) -> None:
    """Starts, keeps or ends `fn`'s gang (`containers`: the functions' Containers)."""
    size = fn.spec.cluster_size
    gang = list(fn.containers.values())
    if gang:
        ended = [c for c in gang if c.state == "stopping"]
        if ended or len(gang) < size:
            why = ended[0].stop_text if ended else "it exited"
            for c in gang:
                containers.stop(c, StopReason.GANG_ENDED, detail=why)
            return
        rank0 = min(gang, key=lambda c: c.gang[0])
        idle_s = time.monotonic() - rank0.idle_since
        if not fn.queue and rank0.idle and not fn.spec.scaling.min_containers and \
                idle_s > fn.spec.scaling.scaledown_window_s:
            for c in gang:
                containers.stop(c, StopReason.SCALED_DOWN)
        return
    wanted = fn.queue or fn.spec.scaling.min_containers
    if not wanted or fn.unplaceable or time.monotonic() < fn.start_after:
        return
    reservations = []
    for _ in range(size):
        r = containers.resources.reserve(fn.spec.resources, fn.spec.image_id)
        if r is None:       # all or none: the gang waits until all of it fits
            for held in reservations:
                containers.resources.release(held)
            return
        reservations.append(r)
    cluster_id = new_id("cl")
    ips = [_ip_of(containers.resources, r) for r in reservations]
    for rank, r in enumerate(reservations):
        containers.launch(fn, r, gang=(rank, cluster_id, ips))


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


def env_of(c: ContainerRecord) -> dict[str, str]:
    """What a gang's container reads in get_cluster_info() (ketch._cluster)."""
    if c.gang is None:
        return {}
    rank, cluster_id, ips = c.gang
    return {"KETCH_CLUSTER_RANK": str(rank), "KETCH_CLUSTER_ID": cluster_id,
            "KETCH_CLUSTER_IPS": ",".join(ips)}
