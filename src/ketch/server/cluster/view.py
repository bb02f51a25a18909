"""The nodes as `ketch node list` shows them: one local node without a cluster, else each
Ray node with its capacity, what is in use and how many containers run there."""

from __future__ import annotations

import socket
from collections import Counter
from typing import Iterable

from ...proto import ketch_pb2 as pb
from ..resources import MachineResources
from .nodes import ClusterResources


def _info(node_id: str, address: str, state: str, r: MachineResources, containers: int,
          lost_because: str = "") -> pb.NodeInfo:
    return pb.NodeInfo(node_id=node_id, address=address, state=state, cpu=r.cpu,
                       cpu_used=r.cpu_used, memory_mib=r.memory_mib,
                       memory_used_mib=r.memory_used, gpus=r.gpus,
                       gpus_used=len(r.gpus_used), containers=containers,
                       lost_because=lost_because)


def node_list(resources, containers: Iterable, local_node_id: str, waiting: list[str],
              ray_address: str = "") -> pb.NodeListReply:
    """`containers`: every container the server holds (each with its reservation)."""
    counts = Counter((c.reservation.node_id if c.reservation else "") or local_node_id
                     for c in containers)
    if isinstance(resources, ClusterResources):
        nodes = [_info(n.node_id, n.address, n.state, n.resources, counts[n.node_id],
                       n.lost_because)
                 for n in sorted(resources.nodes.values(), key=lambda n: n.joined_at)]
    else:
        nodes = [_info(local_node_id, socket.gethostname(), "alive", resources,
                       counts[local_node_id])]
    return pb.NodeListReply(nodes=nodes, waiting=waiting, ray_address=ray_address)
