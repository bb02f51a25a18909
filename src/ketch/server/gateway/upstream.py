"""How the gateway reaches a web container: a Unix socket the container made in its web
directory (`RunDir.web_dir`), which nothing but the server can enter, or, for a container
on another cluster node, that node's web relay (ketch.node.relay), which opens the socket
there the same way.

The container chooses the socket's name and owns the directory's contents, so the name
must be a plain file name, and the file is opened without following links and checked to
be a socket before the gateway connects to it (through its open handle): a container
cannot point the gateway at another container's socket, or at any other on the host.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from ...node.relay import RelayTarget, connect_unix_nofollow, open_remote


async def connect(loop: asyncio.AbstractEventLoop, web_dir: Path, name: str) -> socket.socket:
    """A connected socket to `name` in `web_dir`; OSError when there is none."""
    return await connect_unix_nofollow(loop, web_dir, name)


async def connect_remote(loop: asyncio.AbstractEventLoop, target: RelayTarget,
                         container_id: str, name: str) -> socket.socket:
    """A connected socket to the socket `name` of a container on another node, through its
    node's relay; OSError when the relay refuses or cannot be reached."""
    return await open_remote(loop, target, container_id, name)
