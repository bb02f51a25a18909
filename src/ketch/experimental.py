"""Modal's `modal.experimental`. What ketch has works under Modal's name; every other name
says it is not in ketch yet and what to use instead."""

from __future__ import annotations

from ._cluster import ClusterInfo, get_cluster_info
from ._missing import not_yet
from ._partial import clustered as _clustered
from .exception import InvalidError

__all__ = ["ClusterInfo", "InvalidError", "clustered", "get_cluster_info"]


def clustered(size: int, broadcast: bool = True, rdma: bool = False,
              fabric_size: int | None = None):
    """Modal's older spelling of `@ketch.clustered(size=N)`."""
    if fabric_size is not None:
        raise InvalidError("clustered(fabric_size=...): ketch has no RDMA fabric")
    return _clustered(size=size, broadcast=broadcast, rdma=rdma)


_CLUSTERS = "cluster reservations and RDMA fabrics; use @ketch.clustered(size=N)"
_FLASH = "Flash (low-latency web serving); serve with @ketch.web_server or @ketch.asgi_app"
_STREAMS = "streams; use a ketch.Queue"
_INSIDE = "changing how a running container takes inputs; set @ketch.concurrent on the " \
          "function"

__getattr__ = not_yet(__name__, {
    "AppInfo": "listing deployed apps from code; use `ketch app list --json`",
    "list_deployed_apps": "listing deployed apps from code; use `ketch app list --json`",
    "AppLifecycle": "app lifecycles; use `ketch app list --all --json`",
    "get_app_lifecycle": "app lifecycles; use `ketch app list --all --json`",
    "get_app_objects": "listing an app's objects; use ketch.Function.from_name(app, name)",
    "stop_app": "stopping apps from code; use `ketch app stop NAME`",
    "image_delete": "deleting images from code; use `ketch image rm ID`",
    "DockerfileSpec": "Modal's image builder internals; use ketch.Image methods",
    "ImageBuilderVersion": "Modal's image builder versions; ketch has one builder",
    "OutboundPolicy": "outbound network policies; use block_network=True on the function",
    "stop_fetching_inputs": _INSIDE,
    "get_local_input_concurrency": _INSIDE,
    "set_local_input_concurrency": _INSIDE,
    **{name: _CLUSTERS for name in ("ClusterReservation", "ClusterReservationTask",
                                    "get_fabric_peers", "list_cluster_reservations")},
    **{name: _FLASH for name in ("flash_forward", "flash_get_containers", "http_server",
                                 "ServerManager", "server_forward")},
    **{name: _STREAMS for name in ("AppendResult", "Entry", "IdempotencyConflict", "Stream",
                                   "StreamInfo", "StreamToken", "StreamWriter")},
})
