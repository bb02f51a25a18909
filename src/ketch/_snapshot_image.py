"""The Image a sandbox's `snapshot_filesystem()` and `Image.from_id` return: one the
server already holds."""

from __future__ import annotations

from ._client import Client
from ._image import Image
from .exception import InvalidError


class _SnapshotImage(Image):
    """An image the server already holds (a sandbox's snapshot, an id): nothing to
    build."""

    def __init__(self, server_id: str, image_id: str):
        super().__init__()
        self._server_id, self._image_id = server_id, image_id

    def _extend(self, kind: str, *args, **kwargs) -> "Image":
        raise NotImplementedError(f"image.{kind}() on an image the server already holds (a "
                                  "sandbox's snapshot, Image.from_id) is not in ketch yet: "
                                  "add the step to the image's definition and build that")

    def shell(self, shell_commands) -> "Image":
        return self._extend("shell")

    async def _build(self, client: Client, force: bool = False) -> str:
        if client.hello.server_id != self._server_id:
            raise InvalidError(f"image {self._image_id} is a snapshot made on another ketch "
                               "server")
        return self._image_id

    @property
    def object_id(self) -> str:
        return self._image_id


def snapshot_image(client: Client, image_id: str) -> Image:
    return _SnapshotImage(client.hello.server_id, image_id)

