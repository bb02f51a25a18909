"""The gateway's view of one ready web container (see service.py)."""

from __future__ import annotations

from pathlib import Path

from ...proto import ketch_pb2 as pb
from ..functions.model import ContainerRecord
from .proxy import UpstreamConnection


class Backend:
    """The gateway's view of one ready web container: where its endpoints listen, and idle
    connections to them (keyed by endpoint method)."""

    def __init__(self, container: ContainerRecord, ready: pb.WebReady, web_dir: Path):
        self.container = container
        self.web_dir = web_dir
        self.unix_sockets = dict(ready.unix_sockets)
        self.idle: dict[str, list[UpstreamConnection]] = {}
        self.conns: set[UpstreamConnection] = set()
        self.dead = False

    def forget(self, up: UpstreamConnection):
        self.conns.discard(up)
        idle = self.idle.get(up.method)
        if idle and up in idle:
            idle.remove(up)

    def close(self):
        self.dead = True
        for up in list(self.conns):
            if up.transport is not None and up.exchange is None:
                up.transport.close()
