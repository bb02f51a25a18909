"""The runtime backend of a cluster: it starts, stops and kills each container through the
agent on the node placement chose (`ContainerLaunch.node_id`), and turns the agents'
events (output lines, exits) and lost nodes into the same callbacks a local backend calls,
so the functions service does not know a cluster is there."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import time
from dataclasses import dataclass

from ..runtime import ContainerExit, ContainerLaunch, OnExit, OnLine, make_runtime
from .nodes import ClusterResources, NodeRecord

log = logging.getLogger("ketch.server")

# An agent answers an events call within its poll (5 s); one silent for this long is taken
# as lost (a hung agent: a dead node, Ray itself declares within ~15 s).
AGENT_SILENT_S = 30.0
KILLED_RECENTLY_S = 60.0   # a container killed this long before its node was lost went with it


@dataclass
class ClusterContainer:
    container_id: str
    node_id: str
    pid: int = 0


class ClusterRuntime:
    def __init__(self, backend: str, data_dir, nodes: ClusterResources):
        # The server's own machine keeps its run directory (the containers' server socket,
        # the gateway's view of web sockets) and answers what is asked of the backend.
        self.local = make_runtime(backend, data_dir)
        self.name = self.local.name
        self.run = self.local.run
        self.nodes = nodes
        self.server_address = ""            # as remote containers reach it, once joined
        self.root = None   # each container's scratch lives on its node, not under the server
        self._watch: dict[str, tuple[str, OnLine, OnExit]] = {}
        # Containers killed by a signal lately, by node: a dying node's agent may report its
        # containers' deaths before the node is seen lost, and their logs should say why.
        self._killed: collections.deque = collections.deque(maxlen=256)
        self.on_node_lost = lambda node: None

    def container_address(self, tcp_address: str) -> str:
        return self.local.container_address(tcp_address)

    def mount_support(self) -> str:
        return self.local.mount_support()

    async def start(self, launch: ContainerLaunch, on_line: OnLine, on_exit: OnExit
                    ) -> ClusterContainer:
        node = self.nodes.nodes.get(launch.node_id)
        if node is None or node.state != "alive":
            raise RuntimeError(f"its node {launch.node_id[:12] or '(none)'} is not alive")
        self._watch[launch.container_id] = (node.node_id, on_line, on_exit)
        try:
            pid = await node.agent.start.remote(dataclasses.asdict(launch))
        except Exception:
            self._watch.pop(launch.container_id, None)
            raise
        return ClusterContainer(launch.container_id, node.node_id, pid)

    async def stop(self, handle: ClusterContainer, grace_s: float = 5.0) -> None:
        node = self.nodes.nodes.get(handle.node_id)
        if node is not None and node.state == "alive":
            try:
                await node.agent.stop.remote(handle.container_id, grace_s)
            except Exception as exc:  # the node is going: its loss ends the container
                log.warning("stopping %s on %s: %s", handle.container_id, node.describe(), exc)

    def kill(self, handle: ClusterContainer) -> None:
        node = self.nodes.nodes.get(handle.node_id)
        if node is not None and node.state == "alive":
            node.agent.kill.remote(handle.container_id)

    def close(self) -> None:
        self.local.close()

    async def pump(self, node: NodeRecord):
        """Delivers one node's events until its agent stops answering."""
        after = 0
        while node.state == "alive":
            try:
                after, events = await asyncio.wait_for(
                    asyncio.wrap_future(node.agent.events.remote(after).future()),
                    AGENT_SILENT_S)
            except Exception as exc:
                why = "its agent stopped answering" if isinstance(exc, asyncio.TimeoutError) \
                    else f"its agent failed ({type(exc).__name__})"
                self.node_lost(node, why)
                return
            for event in events:
                self._deliver(event)

    def _deliver(self, event: dict):
        watched = self._watch.get(event["container_id"])
        if watched is None:
            return
        _, on_line, on_exit = watched
        if event["kind"] == "line":
            on_line(event["source"], event["text"])
        elif event["kind"] == "exit":
            node_id, _, _ = self._watch.pop(event["container_id"])
            if event["signal"]:
                self._killed.append((time.monotonic(), node_id, on_line))
            on_exit(ContainerExit(returncode=event["returncode"], signal=event["signal"],
                                  oom_killed=event["oom_killed"],
                                  memory_limit_mib=event["memory_limit_mib"]))

    def relay_for(self, container_id: str):
        """The gateway's way to a container on a node: its agent's web relay."""
        from ...node.relay import RelayTarget
        watched = self._watch.get(container_id)
        node = self.nodes.nodes.get(watched[0]) if watched else None
        return RelayTarget(*node.relay) if node is not None and node.relay else None

    def node_lost(self, node: NodeRecord, why: str):
        """Its containers are gone: each exits as lost, naming the node."""
        if node.state != "alive":
            return
        node.state, node.lost_because = "dead", why
        log.warning("%s was lost: %s", node.describe(), why)
        for at, node_id, on_line in self._killed:
            if node_id == node.node_id and time.monotonic() - at < KILLED_RECENTLY_S:
                on_line("system", f"its {node.describe()} was lost: {why}")
        for cid, (node_id, _, on_exit) in list(self._watch.items()):
            if node_id == node.node_id:
                del self._watch[cid]
                on_exit(ContainerExit(returncode=None, lost=f"{node.describe()}: {why}"))
        self.on_node_lost(node)
