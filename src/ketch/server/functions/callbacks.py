"""What the call path is given by the service that owns it: how to stop a container, and
who hears of each call's life."""

from __future__ import annotations

from typing import Protocol

from ...proto import ketch_pb2 as pb
from .model import Call, ContainerRecord, InputItem, StopReason


class StopContainer(Protocol):
    def __call__(self, c: ContainerRecord, reason: StopReason, kill: bool = False) -> None: ...


class History(Protocol):
    """Hears of every call's life (`server/history.py` records it)."""

    def call_created(self, call: Call, source: str, streamed: bool) -> None: ...

    def input_ended(self, call: Call, out: pb.Output, item: InputItem | None) -> None: ...

    def call_finished(self, call: Call) -> None: ...
