"""The nodes of the cluster as the server holds them, and their resources seen together:
`ClusterResources` answers what `MachineResources` answers on one machine (does a request
fit, reserve it, release it), placing each reservation on one node."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ...proto import ketch_pb2 as pb
from ..resources import MachineResources, Reservation, parse_gpu
from . import placement


@dataclass
class NodeRecord:
    node_id: str
    address: str
    resources: MachineResources
    state: str = "alive"            # "alive", then "dead" once Ray or its agent says so
    agent: object = None            # the Ray actor handle of its agent
    images: set[str] = field(default_factory=set)
    joined_at: float = field(default_factory=time.time)
    lost_because: str = ""
    relay: tuple = ()               # (ip, port, secret) of its agent's web relay

    def describe(self) -> str:
        return f"node {self.node_id[:12]} ({self.address})"


def wanted_text(res: pb.Resources) -> str:
    """A request as people read it: "cpu=4", "memory=2048 MiB", "1× H100"."""
    parts = []
    if res.gpu:
        parts.append(" or ".join(f"{n}× {'any GPU' if kind == 'ANY' else kind}"
                                 for kind, n in parse_gpu(res.gpu)))
    parts.append(f"cpu={res.cpu_request:g}")
    if res.memory_request_mib:
        parts.append(f"memory={res.memory_request_mib} MiB")
    return ", ".join(parts)


class ClusterResources:
    """The alive nodes' resources, placed per container by `placement.choose`."""

    def __init__(self):
        self.nodes: dict[str, NodeRecord] = {}
        # Places a @clustered gang as one Ray placement group (RayCluster, once joined).
        self.gang_placer = None

    def alive(self) -> list[NodeRecord]:
        return [n for n in self.nodes.values() if n.state == "alive"]

    # Totals, for the autoscaler's room-making and `server status`.
    @property
    def cpu(self) -> float:
        return sum(n.resources.cpu for n in self.alive())

    @property
    def memory_mib(self) -> int:
        return sum(n.resources.memory_mib for n in self.alive())

    @property
    def cpu_used(self) -> float:
        return sum(n.resources.cpu_used for n in self.alive())

    @property
    def memory_used(self) -> int:
        return sum(n.resources.memory_used for n in self.alive())

    @property
    def gpus(self) -> list[str]:
        return [g for n in self.alive() for g in n.resources.gpus]

    def unmet(self, res: pb.Resources) -> str | None:
        """Why no node of the cluster can ever hold this request (as it is now), or None."""
        nodes = self.alive()
        if any(n.resources.unmet(res) is None for n in nodes):
            return None
        if not nodes:
            return f"waits for {wanted_text(res)}: the cluster has no node yet"
        reasons = sorted({n.resources.unmet(res).split(": ", 1)[0] for n in nodes})
        gpus = self.gpus
        return (f"{' and '.join(reasons)}: no node of the cluster has it ({len(nodes)} "
                f"nodes, at most {max(n.resources.cpu for n in nodes):g} CPUs and "
                f"{max(n.resources.memory_mib for n in nodes)} MiB each, GPUs: "
                f"{', '.join(sorted(set(gpus))) or 'none'})")

    def reserve(self, res: pb.Resources, image_id: str = "") -> Reservation | None:
        node = placement.choose(self.alive(), res, image_id)
        if node is None:
            return None
        reservation = node.resources.reserve(res)
        reservation.node_id = node.node_id
        if image_id:
            node.images.add(image_id)
        return reservation

    def reserve_on(self, node_id: str, res: pb.Resources, image_id: str = ""
                   ) -> Reservation | None:
        """A reservation on the node Ray placed it on, or None if that node is full."""
        node = self.nodes.get(node_id)
        if node is None or node.state != "alive" or node.resources.fitting(res, 1) != 1:
            return None
        reservation = node.resources.reserve(res)
        reservation.node_id = node_id
        if image_id:
            node.images.add(image_id)
        return reservation

    def fitting(self, res: pb.Resources, n: int) -> int:
        fitted = 0
        for node in self.alive():
            fitted += node.resources.fitting(res, n - fitted)
            if fitted >= n:
                break
        return fitted

    def evictions_for(self, res: pb.Resources, candidates: list, stopping: list) -> list:
        """The fewest idle containers (of `candidates`, oldest idle first) to stop so that
        `res` fits on one node; none when containers `stopping` already make the room."""
        best = None
        for node in self.alive():
            r = node.resources
            mine = [c for c in candidates if c.reservation and
                    c.reservation.node_id == node.node_id]
            freed = [c.reservation for c in stopping if c.reservation and
                     c.reservation.node_id == node.node_id]
            evict = []
            for c in [None, *mine]:
                if c is not None:
                    evict.append(c)
                    freed.append(c.reservation)
                trial = MachineResources(r.cpu, r.memory_mib, r.gpus)
                trial.cpu_used = r.cpu_used - sum(f.cpu for f in freed)
                trial.memory_used = r.memory_used - sum(f.memory_mib for f in freed)
                trial.gpus_used = set(r.gpus_used) - {g for f in freed for g in f.gpus}
                if trial.fitting(res, 1):
                    if best is None or len(evict) < len(best):
                        best = list(evict)
                    break
        return best or []

    def release(self, r: Reservation):
        node = self.nodes.get(r.node_id)
        if node is not None:
            node.resources.release(r)
