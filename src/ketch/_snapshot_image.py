"""The Image a sandbox's `snapshot_filesystem()` returns: one the server already holds."""

from __future__ import annotations

from ._client import Client
from ._image import Image


def snapshot_image(client: Client, image_id: str) -> Image:
    return Image._held_image(client.hello.server_id, image_id)
