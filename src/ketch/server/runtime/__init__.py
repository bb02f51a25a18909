"""Container runtimes: the interface (base.py) and the backends that implement it, one of
which `make_runtime` picks by name."""

from __future__ import annotations

from .base import (ContainerExit, ContainerHandle, ContainerLaunch, Mount, OnExit, OnLine,
                   Runtime, RuntimeUnavailable)
from .bwrap import BwrapRuntime, bwrap_usable
from .process import ProcessRuntime

__all__ = ["ContainerExit", "ContainerHandle", "ContainerLaunch", "Mount", "OnExit", "OnLine",
           "Runtime", "RuntimeUnavailable", "default_runtime", "make_runtime"]


def default_runtime() -> str:
    """bwrap where bubblewrap is installed and namespaces work, else process."""
    return "bwrap" if bwrap_usable() else "process"


def make_runtime(name: str, data_dir, **options) -> Runtime:
    if name == "process":
        return ProcessRuntime(data_dir)
    if name == "bwrap":
        return BwrapRuntime(data_dir, **options)
    raise ValueError(f"unknown runtime backend {name!r}; this server has: process, bwrap")
