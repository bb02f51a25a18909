"""Everything a node agent needs from XFER's side, behind one object: it turns a launch the
server made (server paths for layers, code and volumes) into one for this node, and runs
the node's two relays.

    transfer = NodeTransfer(root, server_address, node_token, node_id, relay_secret,
                            server_socket=run.server_socket, web_dir=run.web_dir)
    relay_port = await transfer.start(node_ip)        # once, before any container
    fields = await transfer.localize(fields)          # per container, before it starts
    transfer.finished(container_id)                   # after it exits
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .fetch import ServerLink
from .layer_cache import LayerCache, launch_keys
from .relay import ServerRelay, WebRelay
from .volumes import copies_env, copy_dir, remove_copies


class NodeTransfer:
    def __init__(self, root: Path, server_address: str, node_token: str, node_id: str,
                 relay_secret: str, server_socket: Path, web_dir: Callable[[str], Path]):
        self.root = Path(root)
        self.link = ServerLink(server_address, node_token, node_id)
        self.cache = LayerCache(self.root / "cache", self.link)
        self.volumes = self.root / "volumes"
        self.server_relay = ServerRelay(Path(server_socket), server_address)
        self._web_dir = web_dir
        self.containers: set[str] = set()   # started here: the only ones the relay opens
        self.web_relay: WebRelay | None = None
        self.relay_secret = relay_secret

    async def start(self, host: str, port: int = 0) -> int:
        """Starts the relays; returns the web relay's port (for the server's registry)."""
        await self.server_relay.start()
        self.web_relay = WebRelay(host, port, self.relay_secret, self._known_web_dir)
        return await self.web_relay.start()

    def _known_web_dir(self, container_id: str) -> Path | None:
        return self._web_dir(container_id) if container_id in self.containers else None

    async def localize(self, fields: dict) -> dict:
        """A ContainerLaunch's fields (as dataclasses.asdict gives them) for this node: its
        layers and code from the node's cache, its volumes as copies."""
        fields = dict(fields)
        cid = fields["container_id"]
        keys, bundle = launch_keys(fields.get("image_layers", []), fields.get("code_dir", ""))
        if keys:
            fields["image_layers"] = [str(p) for p in await self.cache.ensure_layers(keys)]
        seeds, _ = launch_keys(fields.get("seed_layers", []), "")   # an image on the host
        if seeds:
            fields["seed_layers"] = [str(p) for p in await self.cache.ensure_layers(seeds)]
        if bundle:
            fields["code_dir"] = str(await self.cache.ensure_code(bundle))
        copies, mounts = [], []
        for i, mount in enumerate(fields.get("mounts", [])):
            mount = dict(mount)
            if mount.get("object_id"):
                mount["source"] = str(copy_dir(self.volumes, cid, i))
                copies.append((mount["target"], mount["object_id"], mount["read_only"]))
            mounts.append(mount)
        fields["mounts"] = mounts
        fields["env"] = {**fields.get("env", {}), **copies_env(copies)}
        self.containers.add(cid)
        return fields

    def finished(self, container_id: str):
        self.containers.discard(container_id)
        remove_copies(self.volumes, container_id)

    def stats(self) -> dict:
        """Pulls this node made, by kind and key (one per layer per node, once cached)."""
        return {f"{kind}:{key}": n for (kind, key), n in self.cache.pulls.items()}

    async def close(self):
        await self.server_relay.close()
        if self.web_relay is not None:
            await self.web_relay.close()
        await self.link.close()
