"""Modal's `modal.stream_type`: where a sandbox process's stdout or stderr goes."""

import subprocess
from enum import Enum

__all__ = ["StreamType"]


class StreamType(Enum):
    DEVNULL = subprocess.DEVNULL   # thrown away in the sandbox
    PIPE = subprocess.PIPE         # kept for this side to read (`p.stdout.read()`)
    STDOUT = subprocess.STDOUT     # printed on this side's stdout as it arrives

    def __repr__(self):
        return f"{self.__module__}.{self.__class__.__name__}.{self.name}"
