"""One real multi-node Ray cluster for the test session, and a ketch server joined to it.

The head runs in this machine's own network namespace on a bridge; each worker node runs
`ray start` inside a network namespace of its own (`ip netns`, a veth pair into the
bridge, its own 10.x address), so a container on a worker reaches the server over a real
network path, never loopback. Nodes have 1 CPU each (Ray on 2 shared cores is slow) and
the dashboard is off. GPUs are declared to Ray where none exist (`--num-gpus 1` and an
`accelerator_type:H100` resource): placement is tested, CUDA is not.

Worker nodes are killed by killing every process in their namespace (as a machine that
loses power), never with `ray stop`, which would stop every Ray on the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from conftest import ServerProcess, free_port

RAY = Path(sys.executable).parent / "ray"
# A 10.x subnet and short names of our own, so parallel sessions on one machine differ.
_TAG = os.getpid() % 200 + 20
# Ray 2.60 turns token authentication on for a cluster started by hand; these clusters
# live on a private bridge of this machine, so the tests run them without it.
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def _can_run() -> str:
    """Why the cluster cannot run here ("" when it can)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return "Ray is not installed (pip install 'ketch[ray]')"
    if os.geteuid() != 0 or not shutil.which("ip"):
        return "network namespaces need root and iproute2"
    probe = f"krp{_TAG}"
    if _sh("ip", "netns", "add", probe, check=False).returncode != 0:
        return "ip netns does not work here"
    _sh("ip", "netns", "del", probe, check=False)
    return ""


class RayNode:
    def __init__(self, name: str, ip: str, proc: subprocess.Popen, netns: str = ""):
        self.name, self.ip, self.proc, self.netns = name, ip, proc, netns
        self.killed = False

    def kill(self):
        """Every process of the node dies at once, as when its machine goes: the node's
        `ray start` and all below it, and (for a worker) everything in its namespace —
        twice, for a worker its raylet forked while the first pass ran."""
        try:
            root = psutil.Process(self.proc.pid)
            netns = os.readlink(f"/proc/{root.pid}/ns/net") if self.netns else ""
            victims = {root, *root.children(recursive=True)}
        except (psutil.NoSuchProcess, OSError):
            netns, victims = "", set()
        for _ in range(2):
            if netns:
                for p in psutil.process_iter():
                    try:
                        if os.readlink(f"/proc/{p.pid}/ns/net") == netns:
                            victims.add(p)
                    except OSError:
                        pass
            for p in victims:
                try:
                    p.kill()
                except psutil.NoSuchProcess:
                    pass
            time.sleep(0.2)
        self.proc.wait()
        self.killed = True


class RayCluster:
    """Head on the bridge address; workers in their own namespaces."""

    def __init__(self, tmp: Path, host_sys: bool = False):
        # host_sys: workers enter their namespace with nsenter, keeping this machine's /sys
        # (`ip netns exec` mounts one of its own, without the cgroups bwrap needs).
        self.host_sys = host_sys
        self.subnet = f"10.77.{_TAG}"
        self.head_ip = f"{self.subnet}.1"
        self.bridge = f"krb{_TAG}"
        self.port = free_port()
        self.temp_dir = Path(f"/tmp/kr{_TAG}")   # short: Ray's socket paths live here
        self.logs = tmp
        self.nodes: list[RayNode] = []
        self.netns: list[str] = []
        self.links: list[str] = []

    def _ray_start(self, name: str, args: list[str], netns: str = "") -> subprocess.Popen:
        log = open(self.logs / f"ray-{name}.log", "ab")
        argv = [str(RAY), "start", "--block", "--disable-usage-stats", *args]
        if netns:
            argv = (["nsenter", f"--net=/run/netns/{netns}"] if self.host_sys else
                    ["ip", "netns", "exec", netns]) + argv
        # The node's agent keeps its containers' directories in the node's own temp dir.
        node_dir = self.temp_dir if name == "head" else Path(f"{self.temp_dir}{name}")
        env = {**os.environ, **RAY_ENV, "KETCH_NODE_DIR": str(node_dir / "ketch-node")}
        return subprocess.Popen(argv, stdout=log, stderr=log, env=env,
                                start_new_session=True)

    def start(self, head_resources: list[str] = ()):
        _sh("ip", "link", "add", self.bridge, "type", "bridge")
        self.links.append(self.bridge)
        _sh("ip", "addr", "add", f"{self.head_ip}/24", "dev", self.bridge)
        _sh("ip", "link", "set", self.bridge, "up")
        proc = self._ray_start("head", [
            "--head", "--node-ip-address", self.head_ip, "--port", str(self.port),
            "--num-cpus", "1", "--memory", str(1024 * 2**20),
            "--object-store-memory", str(80 * 2**20), "--include-dashboard", "false",
            "--temp-dir", str(self.temp_dir),
            "--ray-client-server-port", str(free_port()),
            "--dashboard-agent-listen-port", str(free_port()),
            "--dashboard-agent-grpc-port", str(free_port()),
            "--runtime-env-agent-port", str(free_port()),
            "--metrics-export-port", str(free_port()), *head_resources])
        self.nodes.append(RayNode("head", self.head_ip, proc))
        self._wait_head()

    def add_worker(self, memory_mib: int = 1024, gpus: int = 0, gpu_kind: str = ""
                   ) -> RayNode:
        """Starts a worker node; it joins in a few seconds (the server says when)."""
        i = len(self.netns) + 1
        ns, ip = f"kray{_TAG}w{i}", f"{self.subnet}.{10 + i}"
        self.netns.append(ns)
        # Each node its own temp dir (Ray's sockets and logs), as on its own machine.
        args = ["--address", f"{self.head_ip}:{self.port}", "--node-ip-address", ip,
                "--num-cpus", "1", "--memory", str(memory_mib * 2**20),
                "--object-store-memory", str(80 * 2**20),
                "--temp-dir", f"{self.temp_dir}w{i}"]
        if gpus:   # declared to Ray only: this machine has no such GPU
            args += ["--num-gpus", str(gpus),
                     "--resources", json.dumps({f"accelerator_type:{gpu_kind}": 1})]

        def start() -> subprocess.Popen:
            self._make_netns(i, ns, ip)
            return self._ray_start(f"w{i}", args, ns)

        node = RayNode(f"w{i}", ip, start(), ns)
        node.start_again = start
        self.nodes.append(node)
        return node

    def _make_netns(self, i: int, ns: str, ip: str):
        """A namespace with a veth into the bridge. It lives only while a process is in it
        (here /run/netns is not a mount of its own), so a failed start makes it afresh."""
        host_end, node_end = f"krv{_TAG}h{i}", f"krv{_TAG}n{i}"
        _sh("ip", "netns", "del", ns, check=False)
        _sh("ip", "link", "del", host_end, check=False)
        _sh("ip", "netns", "add", ns)
        _sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", node_end)
        if host_end not in self.links:
            self.links.append(host_end)
        _sh("ip", "link", "set", node_end, "netns", ns)
        _sh("ip", "link", "set", host_end, "master", self.bridge)
        _sh("ip", "link", "set", host_end, "up")
        for cmd in (["ip", "addr", "add", f"{ip}/24", "dev", node_end],
                    ["ip", "link", "set", node_end, "up"], ["ip", "link", "set", "lo", "up"],
                    # A default route, so Ray finds the node's IP at once (it asks the
                    # kernel for a route to 8.8.8.8; with none it waits for timeouts).
                    ["ip", "route", "add", "default", "via", self.head_ip]):
            _sh("ip", "netns", "exec", ns, *cmd)

    def restart_failed_starts(self):
        """A worker whose `ray start` gave up (its raylet timed out registering with an
        overloaded GCS, as happens on this shared machine) tries once more."""
        for node in self.nodes:
            if node.netns and node.proc.poll() is not None and not node.killed:
                node.proc = node.start_again()
                node.killed = True   # once

    def _wait_head(self, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.head_ip, self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the Ray head did not start; see {self.logs}")

    def stop(self):
        for node in reversed(self.nodes):
            if node.proc.poll() is None:
                node.kill()
        for ns in self.netns:
            _sh("ip", "netns", "del", ns, check=False)
        for link in self.links:
            _sh("ip", "link", "del", link, check=False)
        for i in range(len(self.netns) + 1):
            shutil.rmtree(f"{self.temp_dir}w{i}" if i else self.temp_dir, ignore_errors=True)


class ClusterServer(ServerProcess):
    """A ketch server joined to the cluster, listening on the bridge address so containers
    on worker nodes reach it through their namespace's network."""

    def __init__(self, data_dir: Path, cluster: RayCluster):
        super().__init__(data_dir, extra_env={
            "KETCH_RAY_ADDRESS": f"{cluster.head_ip}:{cluster.port}", **RAY_ENV})
        self.address = f"{cluster.head_ip}:{self.port}"
        self.cluster = cluster

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "server.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "ketch.server", "--address",
                                      self.address, "--runtime", self.runtime],
                                     env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the cluster server exited:\n{self.log()[-3000:]}")
            if "joined the Ray cluster" in self.log():
                # Clients find the admin token by themselves only at a local address.
                self.extra_env["KETCH_TOKEN"] = (self.data_dir / "token").read_text().strip()
                return self
            time.sleep(0.1)
        raise RuntimeError(f"the cluster server did not join:\n{self.log()[-3000:]}")

    def wait_nodes(self, n: int, timeout: float = 120) -> list[dict]:
        """Until `n` nodes are alive in `ketch node list`; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            out = self.ketch("node", "list", "--json")
            alive = [x for x in json.loads(out.stdout or "{}").get("nodes", [])
                     if x["state"] == "alive"] if out.returncode == 0 else []
            if len(alive) >= n:
                return alive
            self.cluster.restart_failed_starts()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(alive)} of {n} nodes joined:\n{self.log()[-3000:]}")
            time.sleep(0.3)


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    why = _can_run()
    if why:
        pytest.skip(f"no Ray cluster: {why}")
    cluster = RayCluster(tmp_path_factory.mktemp("ray-cluster"), host_sys=True)
    try:
        cluster.start()
        cluster.add_worker(memory_mib=1024)
        cluster.add_worker(memory_mib=3072, gpus=1, gpu_kind="H100")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def cluster_server(ray_cluster, tmp_path_factory):
    srv = ClusterServer(tmp_path_factory.mktemp("ketch-cluster"), ray_cluster)
    try:
        srv.start()
        srv.wait_nodes(len(ray_cluster.nodes))
        yield srv
    finally:
        srv.stop()
