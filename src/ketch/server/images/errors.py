"""How a build step fails: the reason, and the last of its output for the person."""

from __future__ import annotations

import collections

from ..errors import ServiceError

TAIL_LINES = 40


class BuildFailed(Exception):
    def __init__(self, reason: str, output: str):
        super().__init__(reason)
        self.reason = reason
        self.output = output


class ImageBuildError(ServiceError):
    """A build stopped: the message names the step and shows its output."""

    code = "execution"


class OutputTail:
    """The last lines a step printed."""

    def __init__(self):
        self.lines: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)

    def add(self, line: str):
        self.lines.append(line)

    def text(self) -> str:
        return "\n".join(self.lines)
