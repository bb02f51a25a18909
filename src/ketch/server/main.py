"""Assembles the server from its services and runs it.

    python -m ketch.server [--address 127.0.0.1:7419] [--runtime process]

Started by `ketch server start`, or in the background by the first client that finds no
server at a local address.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import secrets
import signal
import sys
import time
from pathlib import Path

from .. import _config, _wire
from . import datadir
from .api.session import Session
from .blobs import BlobStore
from .cluster.nodes import ClusterResources
from .cluster.ray_join import RayCluster, RayUnavailable
from .cluster.runtime import ClusterRuntime
from .dashboard import dashboard_routes
from .dashboard.logins import Logins
from .code import CodeStore
from .db import StoreUnavailable, open_database
from .dicts import DictService
from .deployments import DeploymentTable, Deployments
from .functions.launch import Launcher
from .sandboxes import SandboxService
from .sandboxes.launch import SandboxLauncher
from .sandboxes.records import SandboxTable
from .sandboxes.tunnels import Tunnels
from .functions.service import FunctionsService
from .images import ImageService
from .images.owners import ImageOwners
from .gateway import Gateway
from .gateway.tokens import ProxyTokens
from .history import CallHistory
from .http import HttpSide, metrics_routes
from .logs import LogService
from .metrics import ServerMetrics
from .node_files import NodeFiles
from .objects import ObjectsService
from .objects_store import ObjectsStore
from .queues import QueueService
from .resources import MachineResources
from .schedules import Scheduler, ScheduleTable, spawner
from .runtime import RuntimeUnavailable, default_runtime, make_runtime
from .secrets import SecretService
from .services import ServerInfo, Services
from .store import Store
from .tokens import NOT_ISOLATED, Tokens
from .volumes import VolumeService

log = logging.getLogger("ketch.server")

BLOB_RETENTION_S = 7 * 86400
# Old blobs are looked for this often: they are days old, so an hour late does not matter.
BLOB_SWEEP_S = 3600


def load_or_create_token(data_dir: Path) -> str:
    path = data_dir / "token"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        token = "kt-" + secrets.token_urlsafe(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
        return token


class Server:
    def __init__(self, data_dir: Path, address: str, runtime: str = "process",
                 gateway_address: str | None = None, http_address: str | None = None,
                 store_url: str | None = None, ray_address: str = "",
                 advertise_address: str = ""):
        self.data_dir = data_dir
        self.address = address
        host, port = ("", 0) if _wire.unix_path(address) else _wire.parse_address(address)
        # Containers reach the server over loopback even when it listens on all interfaces.
        self.container_address = f"127.0.0.1:{port}" if host in ("0.0.0.0", "::") else address
        # On a cluster, containers on other nodes reach it here (the head's IP by default).
        self.advertise_host = advertise_address or ("" if host in ("0.0.0.0", "::") else host)
        self.started_at = time.time()
        self.server_id = secrets.token_hex(4)
        datadir.create(data_dir)
        self.token = load_or_create_token(data_dir)
        self.db = open_database(store_url, data_dir)
        self.db.claim()   # two servers on one store would both run its apps and calls
        self.store = Store(self.db)
        self.blobs = BlobStore(data_dir / "blobs")
        self.code = CodeStore(data_dir / "code", self.blobs)
        self.logs = LogService(data_dir / "logs")
        if ray_address:
            self.resources = ClusterResources()
            self.runtime = ClusterRuntime(runtime, data_dir, self.resources)
        else:
            self.resources = MachineResources()
            self.runtime = make_runtime(runtime, data_dir)
        self.tokens = Tokens(self.db, self.token,
                             isolated=self.runtime.name != "process")
        self.objects = ObjectsService(ObjectsStore(self.db))
        self.dicts = DictService(self.objects)
        self.queues = QueueService(self.objects)
        self.secrets = SecretService(self.objects, data_dir)
        self.volumes = VolumeService(self.objects, data_dir, self.runtime)
        self.images = ImageService(self.runtime.name, data_dir, ImageOwners(self.db),
                                   self.secrets)
        self.metrics = ServerMetrics(self.db.size_bytes)
        self.history = CallHistory(self.db, self.metrics, self.logs)
        self.functions = FunctionsService(
            self.store, self.runtime, self.resources, self.logs,
            Launcher(self.images, self.secrets, self.volumes,
                     self.runtime.container_address(self.container_address), self.tokens,
                     self.code), self.history)
        self.cluster = RayCluster(
            ray_address, self.server_id, runtime, self.resources, self.runtime,
            self.functions.resources_changed, self.functions.waiting_requests,
            self._node_transfer) if ray_address else None
        if self.cluster is not None:
            self.resources.gang_placer = self.cluster

            def lost(node):
                self.tokens.drop_node(node.node_id)
                self.functions.resources_changed()
            self.runtime.on_node_lost = lost
        self.metrics.observe(self.functions)
        self.functions.watch_ready(self.metrics.container_ready)
        self.functions.watch_exits(self.metrics.container_exited)
        self.scheduler = Scheduler(ScheduleTable(self.db),
                                   lambda: self.functions.functions.values(),
                                   spawner(self.functions))
        self.deployments = Deployments(self.store, DeploymentTable(self.db), self.functions)
        self.proxy_db = self.db.companion("proxy-tokens")
        self.gateway = Gateway(self.functions, ProxyTokens(self.proxy_db),
                               gateway_address or _config.gateway_address(),
                               self.runtime.run.web_dir)
        if self.cluster is not None:
            self.gateway.remote = self.runtime.relay_for
        self.http = HttpSide(http_address or _config.http_address())
        self.gateway.watch_requests(self.metrics.gateway_request)
        self.gateway.watch_requests(self.history.web_request)
        self.sandboxes = SandboxService(
            self.runtime, self.resources, SandboxLauncher(self.functions.launcher),
            self.functions.registry.app, self.logs,
            Tunnels(self.gateway.host, self.runtime.run.web_dir,
                    lambda cid: self.gateway.remote(cid)), self.images,
            self.functions.containers.get, SandboxTable(self.db),
            self.functions.make_room)
        self.functions.watch_exits(self.sandboxes.function_container_exited)
        self.sandboxes.end_watchers.append(
            lambda sb: self.gateway.sandbox_connect.tokens.revoke_sandbox(sb.id))
        datadir.tighten(data_dir)   # what was made above, and what an older server left
        self.services = Services(
            info=ServerInfo(server_id=self.server_id, address=address, data_dir=data_dir,
                            started_at=self.started_at,
                            runtime=self.runtime.name, ray_address=ray_address),
            store=self.store, logs=self.logs, blobs=self.blobs, resources=self.resources,
            functions=self.functions, gateway=self.gateway, images=self.images,
            objects=self.objects, dicts=self.dicts, queues=self.queues, secrets=self.secrets,
            volumes=self.volumes, tokens=self.tokens, request_shutdown=self.request_shutdown,
            scheduler=self.scheduler, deployments=self.deployments,
            http=self.http, metrics=self.metrics, history=self.history,
            dashboard_logins=Logins(), sandboxes=self.sandboxes,
            node_files=NodeFiles(self.images.store, self.blobs))
        # The HTTP side's routes: /metrics, then the dashboard's (given self.services).
        self.http.add_routes(functools.partial(metrics_routes, self.metrics, self.tokens))
        self.http.add_routes(functools.partial(dashboard_routes, self.services))
        self._stop = asyncio.Event()

    async def serve(self):
        loop = asyncio.get_running_loop()
        # The gateway first: once the server answers, `server status` can tell whether
        # the gateway listens.
        await self._start_gateway()
        listener = await _wire.listen(self.address, lambda: Session(self.services).conn)
        # Containers of the bwrap runtime connect here; the run directory (0700) keeps
        # everyone else out, so the socket itself may let any user of a container in.
        container_listener = await _wire.listen(
            f"unix:{self.runtime.run.server_socket}", lambda: Session(self.services).conn,
            socket_mode=0o666)
        if self.cluster is not None:
            await self._join_cluster()
        self.functions.restore()
        self.objects.restore()
        self.sandboxes.restore()
        self.functions.start()
        self.scheduler.start()   # after restore: deployed schedules keep their place
        self.history.start()
        # After the listeners: its imports do not delay the server's first answer.
        http_started = asyncio.ensure_future(self._start_http())
        self.queues.start()
        blob_sweeper = asyncio.ensure_future(self._sweep_blobs())
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_shutdown)
        log.info("ketch server %s listening on %s (data in %s, store %s, runtime %s)",
                 self.server_id, self.address, self.data_dir, self.db.url, self.runtime.name)
        print(f"ketch server listening on {self.address}", flush=True)
        if not self.tokens.isolated:
            log.warning("containers are not isolated: %s", NOT_ISOLATED)
            print(f"ketch server: containers are not isolated: {NOT_ISOLATED}", flush=True)
        await self._stop.wait()
        blob_sweeper.cancel()
        await http_started
        listener.close()
        container_listener.close()
        self.gateway.close()
        self.queues.stop()
        self.scheduler.stop()
        await asyncio.gather(self.functions.shutdown(), self.sandboxes.shutdown())
        self.runtime.close()  # its zygotes, once no container needs them
        if self.cluster is not None:
            self.cluster.close()
        # Not before: nothing may wait between closing the listeners and the shutdown of
        # the functions, or a container starting then fails (and fails its inputs).
        await self.http.close()
        self.history.close()
        if self.proxy_db is not self.db:
            self.proxy_db.close()
        self.db.close()

    def _node_transfer(self, node_id: str, node_ip: str) -> dict:
        """What a node agent needs to pull layers and code and run its relays."""
        port = _wire.parse_address(self.address)[1]
        host = self.advertise_host or self.cluster.head_ip
        return {"server_address": f"{host}:{port}", "node_token": self.tokens.mint_node(node_id),
                "relay_secret": secrets.token_urlsafe(32)}

    async def _join_cluster(self):
        await self.cluster.join()
        port = _wire.parse_address(self.address)[1]
        host = self.advertise_host or self.cluster.head_ip
        self.functions.launcher.server_address = self.runtime.container_address(
            f"{host}:{port}")
        log.info("joined the Ray cluster at %s: %d nodes; containers reach this server at "
                 "%s:%d", self.cluster.address, len(self.resources.alive()), host, port)

    async def _sweep_blobs(self):
        while True:
            removed = await asyncio.get_running_loop().run_in_executor(
                None, self.blobs.remove_older_than, BLOB_RETENTION_S)
            if removed:
                log.info("removed %d blobs older than %d days", removed,
                         BLOB_RETENTION_S // 86400)
            await asyncio.sleep(BLOB_SWEEP_S)

    async def _start_gateway(self):
        """Web endpoints need the gateway, the rest of ketch does not: a busy port is
        reported (here and by get_web_url) without stopping the server."""
        try:
            await self.gateway.start()
        except OSError as exc:
            log.error("the gateway cannot listen on %s: %s. Web endpoints are unavailable; "
                      "set KETCH_GATEWAY_ADDR or --gateway-address to a free HOST:PORT.",
                      self.gateway.address, exc.strerror or exc)
            return
        print(f"ketch gateway listening on {self.gateway.host}:{self.gateway.port}",
              flush=True)

    async def _start_http(self):
        await self.http.start()
        if self.http.address:
            print(f"ketch HTTP side (/metrics) listening on {self.http.address}", flush=True)

    def request_shutdown(self):
        self._stop.set()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ketch.server",
                                     description="Run the ketch control plane server.")
    parser.add_argument("--address", default=None,
                        help="HOST:PORT to listen on (default: KETCH_SERVER_ADDR or "
                             f"{_config.DEFAULT_ADDRESS})")
    parser.add_argument("--data-dir", default=None, help="default: KETCH_DATA_DIR or "
                        "~/.local/share/ketch")
    parser.add_argument("--runtime", default=os.environ.get("KETCH_RUNTIME"),
                        choices=("bwrap", "process"),
                        help="container backend (default: bwrap where bubblewrap is "
                             "installed and namespaces work, else process)")
    parser.add_argument("--gateway-address", default=None,
                        help="HOST:PORT the web endpoint gateway listens on (default: "
                             f"KETCH_GATEWAY_ADDR or {_config.DEFAULT_GATEWAY_ADDRESS}; "
                             "port 0 picks a free one)")
    parser.add_argument("--http-address", default=None,
                        help="HOST:PORT of the HTTP side: /metrics and the dashboard "
                             f"(default: KETCH_HTTP_ADDR or {_config.DEFAULT_HTTP_ADDRESS}; "
                             "port 0 picks a free one)")
    parser.add_argument("--store", default=os.environ.get("KETCH_STORE_URL") or None,
                        help="the server's database: postgresql://USER:PASSWORD@HOST:PORT/DB "
                             "(default: KETCH_STORE_URL, else SQLite in the data directory)")
    parser.add_argument("--ray", dest="ray_address", default=os.environ.get("KETCH_RAY_ADDRESS"),
                        help="join this Ray cluster (HEAD_IP:6379 or auto, as ray.init takes "
                             "it; also KETCH_RAY_ADDRESS) and run containers on its nodes")
    parser.add_argument("--advertise-address",
                        default=os.environ.get("KETCH_ADVERTISE_ADDRESS"),
                        help="the IP other nodes' containers reach this server at (default: "
                             "the --address host, else this node's IP in the Ray cluster)")
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else _config.data_dir()
    try:
        _wire.parse_address(args.http_address or _config.http_address())
    except ValueError:
        sys.exit("ketch server: the HTTP address (--http-address or KETCH_HTTP_ADDR) must be "
                 "HOST:PORT, for example 127.0.0.1:7420")
    address = args.address or _config.server_address()
    if args.ray_address and not args.advertise_address and \
            address.split(":")[0] in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"ketch server: with --ray, containers on other nodes must reach the server, "
                 f"but it listens on {address}: listen on --address 0.0.0.0:PORT (or this "
                 "node's IP) and, if needed, name the reachable IP with --advertise-address")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        from uvloop import run as run_loop
    except ImportError:
        run_loop = asyncio.run

    async def run():
        try:
            server = Server(data_dir, address, args.runtime or default_runtime(),
                            args.gateway_address, args.http_address, args.store,
                            args.ray_address or "", args.advertise_address or "")
        except (RuntimeUnavailable, StoreUnavailable) as exc:
            sys.exit(f"ketch server: {exc}")
        try:
            await server.serve()
        except RayUnavailable as exc:
            sys.exit(f"ketch server: {exc}")

    try:
        run_loop(run())
    except OSError as exc:
        sys.exit(f"ketch server: cannot listen on {address}: {exc.strerror or exc}. Is another "
                 "server running there? (`ketch server status`)")
