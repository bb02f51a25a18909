"""A real ketch server process that has minted node credentials, as the cluster side does
in-process when it starts a node agent: the node-side code (ketch.node) is tested against
it over real sockets before (and besides) a Ray cluster."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import ServerProcess, wait_for_port

# Runs ketch.server's Server as `python -m ketch.server` does, after minting one node
# credential per name in argv (written to <data dir>/node-<name>.token). With a relay
# target file it routes the named container's web sockets through that node relay, the
# way the cluster's node registry tells the gateway.
_LAUNCH = textwrap.dedent("""
    import asyncio, json, logging, sys
    from pathlib import Path
    from ketch.node.relay import RelayTarget
    from ketch.server.main import Server

    data, address, gateway, http, runtime, *nodes = sys.argv[1:]
    logging.basicConfig(level=logging.INFO)

    async def run():
        server = Server(Path(data), address, runtime, gateway, http)
        for node in nodes:
            path = Path(data) / f"node-{node}.token"
            path.write_text(server.tokens.mint_node(node))
        routes = Path(data) / "relay-routes.json"

        def remote(container_id):   # the node registry's answer, read from a file
            try:
                table = json.loads(routes.read_text())
            except (OSError, ValueError):
                return None
            return RelayTarget(**table[container_id]) if container_id in table else None

        server.gateway.remote = remote
        await server.serve()

    asyncio.run(run())
""")


class NodeServer(ServerProcess):
    """A server whose node credentials the test holds (`node_token(name)`)."""

    def __init__(self, data_dir: Path, nodes: list[str], runtime: str = "process",
                 extra_env: dict | None = None):
        super().__init__(data_dir, runtime=runtime, extra_env=extra_env)
        self.nodes = nodes

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "server.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCH, str(self.data_dir), self.address,
             f"127.0.0.1:{self.gateway_port}", f"127.0.0.1:{self.http_port}", self.runtime,
             *self.nodes], env=self.env, stdout=log, stderr=log)
        wait_for_port(self.port)
        return self

    def node_token(self, name: str) -> str:
        return (self.data_dir / f"node-{name}.token").read_text()

    def admin_token(self) -> str:
        return (self.data_dir / "token").read_text().strip()
