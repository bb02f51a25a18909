"""Inside a container of a `@ketch.clustered` gang: its rank and every rank's address, as
the server set them in the environment when it started the gang (Modal's ClusterInfo)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ._sync import twin
from .exception import InvalidError

RANK_ENV = "KETCH_CLUSTER_RANK"
ID_ENV = "KETCH_CLUSTER_ID"
IPS_ENV = "KETCH_CLUSTER_IPS"     # comma-separated, in rank order
CONTAINERS_ENV = "KETCH_CLUSTER_CONTAINERS"   # the ranks' container ids, likewise


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


class Cluster:
    """Modal's `Cluster` as seen from inside one of its containers (`from_context()`):
    its id and, in rank order, its containers' ids and IPs."""

    def __init__(self, info: ClusterInfo, container_ids: list[str]):
        self._info = info
        self._container_ids = container_ids

    @staticmethod
    def from_context() -> "Cluster":
        info = get_cluster_info()
        return Cluster(info, os.environ[CONTAINERS_ENV].split(","))

    @staticmethod
    def from_id(cluster_id: str, *, client=None) -> "Cluster":
        raise InvalidError("Cluster.from_id() is not in ketch yet: inside a gang use "
                           "Cluster.from_context(); from outside, `ketch container list`")

    @property
    def object_id(self) -> str:
        return self._info.cluster_id

    @twin
    async def container_ids(self) -> list[str]:
        return list(self._container_ids)

    @twin
    async def container_ips(self, family: str = "ipv6") -> list[str]:
        if family not in ("ipv4", "ipv6"):
            raise InvalidError(f"family={family!r}: give 'ipv4' or 'ipv6'")
        return list(self._info.container_ips)    # ketch's nodes speak IPv4 to each other

    @twin
    async def container_rank(self, container_id: str | None = None) -> int:
        if container_id is None:
            return self._info.rank
        if container_id not in self._container_ids:
            raise InvalidError(f"{container_id} is not a container of cluster "
                               f"{self.object_id}")
        return self._container_ids.index(container_id)
