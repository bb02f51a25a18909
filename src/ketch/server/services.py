"""The built services, bundled for the api: what a request handler may call.

`main` builds each service with exactly what it uses, then hands this bundle to every
connection's session. Nothing here builds anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .blobs import BlobStore
from .dicts import DictService
from .functions.service import FunctionsService
from .gateway import Gateway
from .images import ImageService
from .logs import LogService
from .objects import ObjectsService
from .queues import QueueService
from .resources import MachineResources
from .sandboxes import SandboxService
from .secrets import SecretService
from .store import Store
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

    def owner_closed(self, owner_id: str):
        """A connection closed: its queue waits end, its unfinished uploads and its
        ephemeral objects go."""
        self.queues.owner_closed(owner_id)
        self.volumes.owner_closed(owner_id)
        self.objects.owner_closed(owner_id)
        self.blobs.owner_closed(owner_id)
        self.sandboxes.tunnels.owner_closed(owner_id)
