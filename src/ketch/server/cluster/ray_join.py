"""Joining a Ray cluster: `ray.init(address=…)`, one ketch node agent per alive node (a
detached actor, num_cpus=0, pinned to its node, restarted by Ray if it dies), new nodes
adopted as they join, dead ones reported, and what no node can hold asked of Ray's
autoscaler (`request_resources`), so KubeRay or a cloud cluster adds a node for it.

Ray's calls block: they run on one thread of their own, never on the server's loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from ...proto import ketch_pb2 as pb
from ..resources import MachineResources, parse_gpu
from .nodes import ClusterResources, NodeRecord
from .runtime import ClusterRuntime

log = logging.getLogger("ketch.server")

# The Ray namespace of the server's agents: servers sharing one Ray cluster give each its
# own (KETCH_RAY_NAMESPACE), so each has agents, containers and node directories of its own.
NAMESPACE = "ketch"
# How often the server asks Ray which nodes are alive: a new node is used within this,
# and a dead one (which Ray declares after its health checks fail) is noticed.
MEMBERSHIP_POLL_S = 1.0
# How long one try to place a gang's placement group waits for Ray (on the Ray thread);
# a gang that does not fit is tried again on the next scaling tick.
GANG_PLACE_WAIT_S = 2.0


class RayUnavailable(Exception):
    """Ray is not installed or its cluster cannot be reached; the message says what to do."""


def autoscaler_bundle(res: pb.Resources) -> dict:
    """A request as Ray's autoscaler reads resource shapes."""
    bundle = {"CPU": max(res.cpu_request, 0.001)}
    if res.memory_request_mib:
        bundle["memory"] = res.memory_request_mib * 1024 * 1024
    if res.gpu:
        kind, n = parse_gpu(res.gpu)[0]
        bundle["GPU"] = n
        if kind != "ANY":
            bundle[f"accelerator_type:{kind}"] = 0.001
    return bundle


class RayCluster:
    def __init__(self, address: str, server_id: str, backend: str, nodes: ClusterResources,
                 runtime: ClusterRuntime, on_change: Callable[[], None],
                 waiting: Callable[[], list[pb.Resources]],
                 transfer: Callable[[str, str], dict] = lambda node_id, ip: {}):
        self.address = address
        self.server_id = server_id
        self.backend = backend
        self.nodes = nodes
        self.runtime = runtime
        self.on_change = on_change      # nodes came or went: re-plan what waits
        self.waiting = waiting          # the requests that fit no node now
        self.transfer = transfer        # (node id, its IP) -> what its agent's NodeTransfer needs
        self.namespace = os.environ.get("KETCH_RAY_NAMESPACE") or NAMESPACE
        self._ray = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="ketch-ray")
        self._joining: set[str] = set()
        self._requested: list[dict] = []
        self._gangs: dict = {}          # cluster id -> the Ray placement group of its gang
        self._task: asyncio.Task | None = None
        self.head_ip = ""

    async def _call(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def join(self):
        """Connects to the cluster and adopts its nodes (raises RayUnavailable)."""
        self.head_ip = await self._call(self._init)
        await self._sync(wait=True)
        self._task = asyncio.ensure_future(self._watch())

    def _init(self) -> str:
        try:
            import ray
        except ImportError:
            raise RayUnavailable("--ray needs Ray on this machine: pip install 'ketch[ray]'")
        try:
            ray.init(address=self.address, namespace=self.namespace, log_to_driver=False,
                     logging_level=logging.WARNING)
        except Exception as exc:
            raise RayUnavailable(f"cannot join the Ray cluster at {self.address}: {exc}. "
                                 "Start it with `ray start --head` (and `ray start "
                                 "--address HEAD:6379` on each other node)") from exc
        self._ray = ray
        return ray.util.get_node_ip_address()

    async def _watch(self):
        while True:
            await asyncio.sleep(MEMBERSHIP_POLL_S)
            try:
                await self._sync()
            except Exception:
                log.exception("reading the Ray cluster's nodes failed")

    async def _sync(self, wait: bool = False):
        infos = await self._call(self._ray.nodes)
        alive = {i["NodeID"]: i for i in infos if i.get("Alive")}
        for node in list(self.nodes.alive()):
            if node.node_id not in alive:
                self.runtime.node_lost(node, "Ray declared it dead")
        new = [i for nid, i in alive.items()
               if nid not in self._joining and (nid not in self.nodes.nodes or
                                               self.nodes.nodes[nid].state != "alive")]
        adopting = [asyncio.ensure_future(self._adopt(i)) for i in new]
        if wait and adopting:   # else in the background: an agent on a dying node may
            await asyncio.wait(adopting)   # take long to fail, and must delay nothing
        await self._ask_autoscaler()

    async def _adopt(self, info: dict):
        node_id = info["NodeID"]
        self._joining.add(node_id)
        try:
            agent = await self._call(self._agent_for, node_id)
            ip = info.get("NodeManagerAddress", "")
            extra = self.transfer(node_id, ip)
            cap = await asyncio.wrap_future(agent.hello.remote(
                self.server_id, info.get("Resources", {}), {**extra, "ip": ip} if extra
                else None).future())
        except Exception as exc:
            log.warning("starting the ketch agent on Ray node %s failed: %s", node_id[:12], exc)
            return
        finally:
            self._joining.discard(node_id)
        node = NodeRecord(node_id, info.get("NodeManagerAddress", ""),
                          MachineResources(cap["cpu"], cap["memory_mib"], cap["gpus"]),
                          agent=agent)
        if extra and cap.get("relay_port"):
            node.relay = (ip, cap["relay_port"], extra["relay_secret"])
        self.nodes.nodes[node_id] = node
        log.info("%s joined: %g CPUs, %d MiB, GPUs %s", node.describe(), cap["cpu"],
                 cap["memory_mib"], cap["gpus"] or "none")
        asyncio.ensure_future(self.runtime.pump(node))
        self.on_change()

    def _agent_for(self, node_id: str):
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from ...node.agent import NodeAgent
        actor = self._ray.remote(NodeAgent).options(
            name=f"agent-{node_id}", namespace=self.namespace, lifetime="detached",
            get_if_exists=True, num_cpus=0, max_restarts=-1,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False))
        return actor.remote(node_id, self.backend, "",
                            "" if self.namespace == NAMESPACE else self.namespace)

    async def place_gang(self, name: str, res: pb.Resources, size: int) -> list[str] | None:
        """A placement group of `size` bundles of `res`, SPREAD over the nodes: the node of
        each bundle (in rank order), or None while Ray cannot place them all."""
        return await self._call(self._place_gang, name, autoscaler_bundle(res), size)

    def _place_gang(self, name: str, bundle: dict, size: int) -> list[str] | None:
        from ray.util.placement_group import placement_group, placement_group_table
        group = placement_group([bundle] * size, strategy="SPREAD", name=name)
        if not group.wait(GANG_PLACE_WAIT_S):
            self._ray.util.remove_placement_group(group)
            return None
        self._gangs[name] = group
        nodes = placement_group_table(group)["bundles_to_node_id"]
        return [nodes[i] for i in range(size)]

    async def release_gang(self, name: str):
        group = self._gangs.pop(name, None)
        if group is not None:
            await self._call(self._ray.util.remove_placement_group, group)

    async def _ask_autoscaler(self):
        bundles = [autoscaler_bundle(r) for r in self.waiting()]
        if bundles == self._requested:
            return
        self._requested = bundles
        from ray.autoscaler.sdk import request_resources
        await self._call(lambda: request_resources(bundles=bundles))
        if bundles:
            log.info("asked Ray's autoscaler for %s", bundles)

    def close(self):
        if self._task is not None:
            self._task.cancel()
        self._thread.shutdown(wait=False)
