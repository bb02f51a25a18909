"""Inside a container of a `@ketch.clustered` gang: its rank and every rank's address, as
the server set them in the environment when it started the gang (Modal's ClusterInfo)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ._client import Client
from ._object import refuse_client
from ._sync import twin, twin_staticmethod
from .exception import InvalidError
from .proto import ketch_pb2 as pb

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
    """Modal's `Cluster`: a gang's id and, in rank order, its containers' ids and IPs, as
    one of its containers sees it (`from_context()`) or any client of its workspace
    (`from_id()`, which asks the server; the IPs then only for a member)."""

    def __init__(self, info: ClusterInfo, container_ids: list[str]):
        self._info = info
        self._container_ids = container_ids

    @staticmethod
    def from_context() -> "Cluster":
        info = get_cluster_info()
        return Cluster(info, os.environ[CONTAINERS_ENV].split(","))

    @twin_staticmethod
    async def from_id(cluster_id: str, *, client=None) -> "Cluster":
        """A running gang of this workspace by its id (`object_id`), from anywhere."""
        refuse_client("Cluster.from_id", client)
        if not isinstance(cluster_id, str) or not cluster_id:
            raise InvalidError(f"Cluster.from_id({cluster_id!r}): give a cluster id, as "
                               "Cluster.from_context().object_id has it")
        conn = await Client.get()
        got = (await conn.request(cluster_get=pb.ClusterGet(cluster_id=cluster_id))
               ).cluster_members
        ips = list(got.container_ips)
        inside = os.environ.get(ID_ENV) == cluster_id and RANK_ENV in os.environ
        info = ClusterInfo(rank=int(os.environ[RANK_ENV]) if inside else -1,
                           cluster_id=got.cluster_id, container_ips=ips,
                           container_ipv4_ips=list(ips))
        return Cluster(info, list(got.container_ids))

    def _member(self, what: str):
        if self._info.rank < 0:
            raise InvalidError(f"Cluster.{what} works in a container of cluster "
                               f"{self.object_id}; this process is not one")

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
        self._member("container_ips()")   # as in Modal: the addresses are the gang's own
        return list(self._info.container_ips)    # ketch's nodes speak IPv4 to each other

    @twin
    async def container_rank(self, container_id: str | None = None) -> int:
        if container_id is None:
            self._member("container_rank() without a container id")
            return self._info.rank
        if container_id not in self._container_ids:
            raise InvalidError(f"{container_id} is not a container of cluster "
                               f"{self.object_id}")
        return self._container_ids.index(container_id)
