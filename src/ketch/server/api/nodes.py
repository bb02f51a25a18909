"""`ketch node list`: the cluster's nodes (or this machine), and what waits for a node."""

from __future__ import annotations

from ...proto import ketch_pb2 as pb
from ..cluster.view import node_list as build
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
