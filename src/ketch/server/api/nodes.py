"""`ketch node list`: the cluster's nodes (or this machine), and what waits for a node;
`Cluster.from_id`: a gang's containers."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..cluster.view import node_list as build
from ..functions import gangs
from ..services import Services
from .context import Request


def node_list(svc: Services, req: Request, msg: pb.NodeList):
    fns = svc.functions
    waiting = [f"{fn.label} {fn.unplaceable}" for fn in fns.registry.functions.values()
               if fn.unplaceable and fn.app.workspace == req.workspace]
    req.reply(node_list_reply=build(
        svc.resources, [*fns.containers.values(),
         *(s for s in svc.sandboxes.sandboxes.values() if not s.done)],
        fns.launcher.node_id, waiting, svc.info.ray_address))


def cluster_get(svc: Services, req: Request, msg: pb.ClusterGet):
    ranks = gangs.members(svc.functions.registry.functions, req.workspace, msg.cluster_id)
    if not ranks:
        raise LookupError(f"no running cluster {msg.cluster_id!r} in this workspace (a "
                          "cluster lives while its gang's containers do)")
    req.reply(cluster_members=pb.ClusterMembers(
        cluster_id=msg.cluster_id, container_ids=[c.id for c in ranks],
        container_ips=ranks[0].gang[2]))
