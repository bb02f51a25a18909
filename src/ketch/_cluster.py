"""Inside a container of a `@ketch.clustered` gang: its rank and every rank's address, as
the server set them in the environment when it started the gang (Modal's ClusterInfo)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .exception import InvalidError

RANK_ENV = "KETCH_CLUSTER_RANK"
ID_ENV = "KETCH_CLUSTER_ID"
IPS_ENV = "KETCH_CLUSTER_IPS"     # comma-separated, in rank order


@dataclass(frozen=True)
class ClusterInfo:
    rank: int
    cluster_id: str
    container_ips: list[str]
    container_ipv4_ips: list[str]
    fabric_ids: list[str] = field(default_factory=list)   # ketch has no RDMA fabric


def get_cluster_info() -> ClusterInfo:
    """This container's place in its gang; outside one, InvalidError."""
    if RANK_ENV not in os.environ:
        raise InvalidError("get_cluster_info() works inside a container of a function "
                           "decorated @ketch.clustered(size=N)")
    ips = os.environ[IPS_ENV].split(",")
    return ClusterInfo(rank=int(os.environ[RANK_ENV]), cluster_id=os.environ[ID_ENV],
                       container_ips=ips, container_ipv4_ips=list(ips))
