"""Container logs: appended to one file per app and fanned out to live subscribers."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

from ..proto import ketch_pb2 as pb

Subscriber = Callable[[pb.LogBatch], None]


class LogService:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, object] = {}
        self._subscribers: dict[str, set[Subscriber]] = {}

    def path(self, app_id: str) -> Path:
        return self.root / f"{app_id}.jsonl"

    def write(self, app_id: str, source: str, function_name: str, container_id: str,
              text: str):
        line = pb.LogLine(ts=time.time(), source=source, function_name=function_name,
                          container_id=container_id, text=text)
        handle = self._files.get(app_id)
        if handle is None:
            fd = os.open(self.path(app_id), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            handle = self._files[app_id] = open(fd, "a", buffering=1)
        handle.write(json.dumps([line.ts, source, function_name, container_id, text]) + "\n")
        subs = self._subscribers.get(app_id)
        if subs:
            batch = pb.LogBatch(app_id=app_id, lines=[line])
            for sub in list(subs):
                sub(batch)

    def history(self, app_id: str) -> list[pb.LogLine]:
        try:
            with open(self.path(app_id)) as handle:
                rows = [json.loads(line) for line in handle if line.strip()]
        except FileNotFoundError:
            return []
        return [pb.LogLine(ts=r[0], source=r[1], function_name=r[2], container_id=r[3],
                           text=r[4]) for r in rows]

    def subscribe(self, app_id: str, sub: Subscriber):
        self._subscribers.setdefault(app_id, set()).add(sub)

    def unsubscribe(self, app_id: str, sub: Subscriber):
        subs = self._subscribers.get(app_id)
        if subs:
            subs.discard(sub)

    def close_app(self, app_id: str):
        handle = self._files.pop(app_id, None)
        if handle is not None:
            handle.close()
        subs = self._subscribers.pop(app_id, None)
        if subs:
            end = pb.LogBatch(app_id=app_id, end=True)
            for sub in subs:
                sub(end)
