"""Modal's `modal.container_process`: a process started in a sandbox."""

from ._container_process import ContainerProcess

__all__ = ["ContainerProcess"]
