"""Where a container goes: a pure rule over the nodes' free resources.

Spread, not pack: among the nodes where the request fits now, the one with the largest
share of its CPU free. ketch's work is mostly fan-out (maps, bursts of calls), where
containers on idle nodes run faster than containers stacked on one, and a node that dies
takes fewer containers with it. A node that already holds the function's image comes
first (its layers need no pull), and a request never lands where it does not fit, so a
node is never oversubscribed. Packing would free whole nodes for the Ray autoscaler to
remove; ketch leaves that to scale-down of idle containers, which empties nodes anyway.
"""

from __future__ import annotations

from typing import Iterable, Protocol

from ...proto import ketch_pb2 as pb
from ..resources import MachineResources


class Node(Protocol):
    node_id: str
    resources: MachineResources     # what the node has, and what its containers hold
    images: set[str]                # images whose layers the node already holds


def _free_cpu_share(node: Node) -> float:
    r = node.resources
    return (r.cpu - r.cpu_used) / r.cpu if r.cpu else 0.0


def choose(nodes: Iterable[Node], res: pb.Resources, image_id: str = "") -> Node | None:
    """The node to start a container with request `res` on, or None if none fits now."""
    fitting = [n for n in nodes if n.resources.fitting(res, 1) == 1]
    if not fitting:
        return None
    return max(fitting, key=lambda n: (bool(image_id) and image_id in n.images,
                                       _free_cpu_share(n),
                                       n.resources.memory_mib - n.resources.memory_used,
                                       n.node_id))
