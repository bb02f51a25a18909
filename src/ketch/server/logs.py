"""Container logs: appended to one file per app and fanned out to live subscribers.

Each line names its function and container and, when it was written while an input ran,
that input and its call, so a call's or a container's lines can be found again.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

from ..proto import ketch_pb2 as pb

Subscriber = Callable[[pb.LogBatch], None]
# Containers remembered with their app (so `ketch container logs ID` finds the log after
# the container is gone); the oldest are forgotten past this many.
MAX_KNOWN_CONTAINERS = 100_000


def matches(line: pb.LogLine, ref: pb.LogSubscribe) -> bool:
    """Whether a line passes a subscription's filters (function, call, container, since)."""
    return ((not ref.function_name or line.function_name == ref.function_name)
            and (not ref.call_id or line.call_id == ref.call_id)
            and (not ref.container_id or line.container_id == ref.container_id)
            and (not ref.since or line.ts >= ref.since))


class LogService:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, object] = {}
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._container_apps: dict[str, str] = {}

    def path(self, app_id: str) -> Path:
        return self.root / f"{app_id}.jsonl"

    def write(self, app_id: str, source: str, function_name: str, container_id: str,
              text: str, input_id: str = "", call_id: str = ""):
        line = pb.LogLine(ts=time.time(), source=source, function_name=function_name,
                          container_id=container_id, text=text, input_id=input_id,
                          call_id=call_id)
        handle = self._files.get(app_id)
        if handle is None:
            fd = os.open(self.path(app_id), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            handle = self._files[app_id] = open(fd, "a", buffering=1)
        row = [line.ts, source, function_name, container_id, text]
        if input_id or call_id:
            row += [input_id, call_id]
        handle.write(json.dumps(row) + "\n")
        if container_id and container_id not in self._container_apps:
            if len(self._container_apps) >= MAX_KNOWN_CONTAINERS:
                del self._container_apps[next(iter(self._container_apps))]
            self._container_apps[container_id] = app_id
        subs = self._subscribers.get(app_id)
        if subs:
            batch = pb.LogBatch(app_id=app_id, lines=[line])
            for sub in list(subs):
                sub(batch)

    def history(self, app_id: str, ref: pb.LogSubscribe | None = None) -> list[pb.LogLine]:
        """The app's stored lines, oldest first: those passing `ref`'s filters, the last
        `ref.tail` of them when it names a number."""
        try:
            with open(self.path(app_id)) as handle:
                rows = [json.loads(line) for line in handle if line.strip()]
        except FileNotFoundError:
            return []
        lines = [pb.LogLine(ts=r[0], source=r[1], function_name=r[2], container_id=r[3],
                            text=r[4], input_id=r[5] if len(r) > 6 else "",
                            call_id=r[6] if len(r) > 6 else "") for r in rows]
        if ref is not None:
            lines = [line for line in lines if matches(line, ref)]
            if ref.tail:
                lines = lines[-ref.tail:]
        return lines

    def app_of_container(self, container_id: str) -> str | None:
        """The app whose log has this container's lines (None: none this server saw)."""
        return self._container_apps.get(container_id)

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
