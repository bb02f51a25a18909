"""A real ketch server process that has minted node credentials, as the cluster side does
in-process when it starts a node agent: the node-side code (ketch.node) is tested against
it over real sockets before (and besides) a Ray cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
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
            entry = table.get(container_id) or table.get("*")   # "*": every container
            return RelayTarget(**entry) if entry else None

        server.gateway.remote = remote
        await server.serve()

    asyncio.run(run())
""")


class NodeServer(ServerProcess):
    """A server whose node credentials the test holds (`node_token(name)`)."""

    def __init__(self, data_dir: Path, nodes: list[str], runtime: str = "process",
                 extra_env: dict | None = None, listen_host: str = "127.0.0.1"):
        super().__init__(data_dir, runtime=runtime, extra_env=extra_env)
        self.nodes = nodes
        self.listen = f"{listen_host}:{self.port}"   # clients here use 127.0.0.1

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "server.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCH, str(self.data_dir), self.listen,
             f"127.0.0.1:{self.gateway_port}", f"127.0.0.1:{self.http_port}", self.runtime,
             *self.nodes], env=self.env, stdout=log, stderr=log)
        wait_for_port(self.port)
        return self

    def node_token(self, name: str) -> str:
        return (self.data_dir / f"node-{name}.token").read_text()

    def admin_token(self) -> str:
        return (self.data_dir / "token").read_text().strip()

    def route_through(self, target: dict | None):
        """From now on the gateway reaches every container through this relay (None: directly)."""
        path = self.data_dir / "relay-routes.json"
        if target is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(json.dumps({"*": target}))


def _ip(*args: str, check: bool = True):
    subprocess.run(["ip", *args], check=check, capture_output=True, timeout=30)


class NodeNamespace:
    """A network namespace standing in for another machine: joined to the host by a veth
    pair on private addresses (host .1, node .2), so nothing relies on loopback. The
    namespace is held by a process of its own and entered through /proc (not `ip netns`,
    whose /run/netns other tests' namespaces share and may remount)."""

    def __init__(self, tag: int):
        self.host_if, self.ns_if = f"kx{tag}h", f"kx{tag}n"
        net = f"172.30.{tag % 250}"
        self.host_ip, self.node_ip = f"{net}.1", f"{net}.2"
        self.holder: subprocess.Popen | None = None

    def __enter__(self):
        try:
            self.holder = subprocess.Popen(["unshare", "--net", "sleep", "infinity"])
            netns = f"/proc/{self.holder.pid}/ns/net"
            deadline = time.monotonic() + 10
            while os.readlink(netns) == os.readlink("/proc/self/ns/net"):
                if time.monotonic() > deadline:
                    raise RuntimeError("unshare --net made no namespace")
                time.sleep(0.01)
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _ip("link", "set", self.ns_if, "netns", str(self.holder.pid))
            _ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            for args in (("addr", "add", f"{self.node_ip}/30", "dev", self.ns_if),
                         ("link", "set", self.ns_if, "up"), ("link", "set", "lo", "up")):
                subprocess.run(self._enter("ip", *args), check=True, capture_output=True,
                               timeout=30)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _enter(self, *argv: str) -> list[str]:
        return ["nsenter", f"--net=/proc/{self.holder.pid}/ns/net", *argv]

    def __exit__(self, *exc):
        _ip("link", "del", self.host_if, check=False)
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait()

    def popen(self, *argv: str, **kw) -> subprocess.Popen:
        return subprocess.Popen(self._enter(*argv), **kw)


# The node side of the relays, as an agent runs them: a web relay on the node's address
# for the containers whose web directories are under `run`, and a server socket relayed
# to the server's TCP address. Prints its port once both listen.
_RELAYS = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from ketch.node.relay import ServerRelay, WebRelay

    host, secret, run, sock, server = sys.argv[1:]

    def web_dir(container_id):
        d = Path(run) / "containers" / container_id
        return d if container_id and "/" not in container_id and d.is_dir() else None

    async def main():
        web = WebRelay(host, 0, secret, web_dir)
        port = await web.start()
        await ServerRelay(Path(sock), server).start()
        print(port, flush=True)
        await asyncio.Event().wait()

    try:
        from uvloop import run as run_loop
    except ImportError:
        run_loop = asyncio.run
    run_loop(main())
""")


class NodeRelays:
    """The relays of one simulated node, in its namespace."""

    def __init__(self, ns: NodeNamespace, secret: str, run_dir: Path, sock: Path,
                 server_address: str):
        self.ns, self.secret, self.sock = ns, secret, sock
        self.proc = ns.popen(sys.executable, "-c", _RELAYS, ns.node_ip, secret, str(run_dir),
                             str(sock), server_address, stdout=subprocess.PIPE)
        self.port = int(self.proc.stdout.readline())

    def target(self) -> dict:
        return {"host": self.ns.node_ip, "port": self.port, "secret": self.secret}

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.sock.unlink(missing_ok=True)
