"""Modal's `modal.image`, for ported imports (`from ketch.image import Image`)."""

from ._image import Image

__all__ = ["Image"]
