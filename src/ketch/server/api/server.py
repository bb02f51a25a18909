"""The server's own requests: its status (anyone's, counting their workspace's apps and
containers), and shutting it down (the admin's)."""

from __future__ import annotations

import asyncio
import os

from ... import __version__
from ...proto import ketch_pb2 as pb
from ..services import Services
from .context import Request

# The Ok reply is written on the loop's next turn; shutting down this much later lets it
# reach the caller before the server closes its connection.
SHUTDOWN_AFTER_REPLY_S = 0.05


def server_status(svc: Services, req: Request, msg: pb.ServerStatus):
    info, cap, functions, gw, ws = (svc.info, svc.resources, svc.functions, svc.gateway,
                                    req.workspace)
    n_apps = sum(1 for a in functions.apps.values() if a.workspace == ws)
    n_containers = sum(1 for c in functions.containers.values() if c.fn.app.workspace == ws)
    req.reply(server_status_reply=pb.ServerStatusReply(
        version=__version__, pid=os.getpid(), started_at=info.started_at,
        data_dir=str(info.data_dir), address=info.address, n_apps=n_apps,
        n_containers=n_containers, cpu_capacity=cap.cpu,
        memory_capacity_mib=cap.memory_mib, cpu_reserved=cap.cpu_used,
        memory_reserved_mib=cap.memory_used, runtime=info.runtime, workspace=ws,
        gateway_address=f"{gw.host}:{gw.port}" if gw.listener is not None else "",
        gateway_error="" if gw.listener is not None else gw.start_error or "not started",
        http_address=svc.http.address,
        http_error="" if svc.http.address else svc.http.error or "starting"))


def server_shutdown(svc: Services, req: Request, msg: pb.ServerShutdown):
    req.reply(ok=pb.Ok())
    asyncio.get_running_loop().call_later(SHUTDOWN_AFTER_REPLY_S, svc.request_shutdown)
