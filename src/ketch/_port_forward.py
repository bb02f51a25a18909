"""A port inside a container passed on from a Unix socket in its web directory, where the
server's tunnel connects (server/sandboxes/tunnels.py). Used by a sandbox's supervisor
for encrypted_ports/unencrypted_ports and by `ketch.forward` in a function's container.
Imports nothing but asyncio: the supervisor starts without the rest of the SDK."""

from __future__ import annotations

import asyncio
import os

PIPE_READ = 256 * 1024
WEB_DIR_ENV = "KETCH_WEB_DIR"


def socket_path(port: int) -> str:
    return os.path.join(os.environ[WEB_DIR_ENV], f"port-{port}.sock")


async def serve_port(port: int) -> asyncio.AbstractServer:
    """Connections to socket_path(port) go on to 127.0.0.1:port (this network's own)."""
    async def handle(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:   # nothing listens there (yet): the caller sees it closed
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer),
                             return_exceptions=True)

    path = socket_path(port)
    if os.path.exists(path):
        os.unlink(path)
    return await asyncio.start_unix_server(handle, path)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, on_bytes=None):
    """Bytes one way, with back pressure (drain), until either side closes."""
    try:
        while data := await reader.read(PIPE_READ):
            writer.write(data)
            await writer.drain()
            if on_bytes is not None:
                on_bytes()
    finally:
        try:
            writer.close()
        except RuntimeError:
            pass
