"""One request as its handler sees it: the frame, who sent it, and how to answer."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..._wire import FrameProtocol
from ...proto import ketch_pb2 as pb
from ..functions.model import ContainerRecord, Peer


# A caller this far behind misses pushed lines (and is told how many) rather than the
# server holding them for it: a client that follows and never reads cannot grow its memory.
PUSH_BACKLOG_BYTES = 8 * 1024 * 1024


@dataclass(slots=True)
class Request:
    frame: pb.Frame
    conn: FrameProtocol
    owner_id: str           # the connection's id: what it creates or waits on is keyed by it
    role: str               # "client" or "container"
    peer: Peer | None       # a client's calls, apps and log subscriptions
    container: ContainerRecord | None   # the container a container connection speaks for
    workspace: str          # what the request sees and touches belongs to this workspace
    raw: list | None = None  # the raw bytes after the frame, for routes that take them
    as_container: str = ""   # a client session opened with a container's own credential

    def reply(self, raw=None, **body):
        self.conn.reply(self.frame, raw, **body)

    def reply_error(self, code: str, message: str):
        self.conn.reply_error(self.frame, code, message)

    def send(self, frame: pb.Frame):
        """Pushes a frame that answers no request (log lines, build progress)."""
        self.conn.send(frame)

    @property
    def lagging(self) -> bool:
        """The caller is so far behind in reading that lines pushed to it (logs, build
        output) are better dropped than held: see PUSH_BACKLOG_BYTES."""
        return self.conn.unsent_bytes() > PUSH_BACKLOG_BYTES

    @property
    def closed(self) -> bool:
        """The caller went away: nobody would receive a reply."""
        return self.conn.closed


def wait_seconds(name: str, value: float) -> float:
    """A client's timeout: finite (negative: no limit). NaN or infinity in the loop's timers
    would break their order, so they are refused."""
    if not math.isfinite(value):
        raise ValueError(f"{name}={value!r}: give a finite number of seconds (negative: "
                         "wait without a limit)")
    return value
