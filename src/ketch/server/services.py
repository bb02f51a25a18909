"""The built services, bundled for the api: what a request handler may call.

`main` builds each service with exactly what it uses, then hands this bundle to every
connection's session. Nothing here builds anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .blobs import BlobStore
from .dashboard.logins import Logins
from .deployments import Deployments
from .dicts import DictService
from .functions.service import FunctionsService
from .gateway import Gateway
from .history import CallHistory
from .images import ImageService
from .http.side import HttpSide
from .logs import LogService
from .metrics import ServerMetrics
from .node_files import NodeFiles
from .objects import ObjectsService
from .objects_store import ObjectRow
from .queues import QueueService
from .resources import MachineResources
from .sandboxes import SandboxService
from .schedules import Scheduler
from .secrets import SecretService
from .store import Store
from .terminals import Terminals
from .tokens import Tokens
from .volumes import VolumeService


@dataclass(frozen=True)
class ServerInfo:
    """Facts about this server process that requests ask for or are checked against."""

    server_id: str
    address: str
    data_dir: Path
    started_at: float
    runtime: str            # the runtime backend's name
    ray_address: str = ""   # the Ray cluster it joined ("" on one machine)


@dataclass(frozen=True)
class Services:
    info: ServerInfo
    store: Store
    logs: LogService
    blobs: BlobStore
    resources: MachineResources
    functions: FunctionsService
    gateway: Gateway
    images: ImageService
    objects: ObjectsService
    dicts: DictService
    queues: QueueService
    secrets: SecretService
    volumes: VolumeService
    tokens: Tokens
    sandboxes: SandboxService
    request_shutdown: Callable[[], None]
    scheduler: Scheduler
    http: HttpSide               # the HTTP side: /metrics and the dashboard
    metrics: ServerMetrics
    history: CallHistory         # the calls of the last days, with their outcomes
    dashboard_logins: Logins
    deployments: Deployments
    node_files: NodeFiles        # layers and code bundles, for cluster nodes
    terminals: Terminals = field(default_factory=Terminals)   # interactive apps (run -i)

    def owner_closed(self, owner_id: str):
        """A connection closed: its queue waits end, its unfinished uploads and its
        ephemeral objects go."""
        self.queues.owner_closed(owner_id)
        self.volumes.owner_closed(owner_id)
        self.objects.owner_closed(owner_id)
        self.blobs.owner_closed(owner_id)
        self.sandboxes.tunnels.owner_closed(owner_id)

    async def object_contents(self, row: ObjectRow) -> tuple[int, list[str]]:
        """What a listing shows of an object: its size, asked of the service of its kind
        (a secret's is its number of keys), and a secret's key names (never values)."""
        if row.kind == "dict":
            return self.dicts.size(row.object_id), []
        if row.kind == "queue":
            return self.queues.length(row.object_id, None), []
        if row.kind == "secret":
            keys = self.secrets.keys(row.object_id)
            return len(keys), keys
        return await self.volumes.size(row.object_id), []
