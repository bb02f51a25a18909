"""`sb.logs`: a sandbox's entrypoint output as its app's log keeps it (Modal's
SandboxLogsManager), readable after the sandbox ended. What exec'd processes print is not
there, as on Modal: read it from their streams."""

from __future__ import annotations

import asyncio
import datetime
from dataclasses import dataclass, field

from . import _sync
from ._client import Client
from .exception import InvalidError
from .proto import ketch_pb2 as pb

SOURCES = ("stdout", "stderr", "system")


@dataclass
class LogEntry:
    """One line of a log: `message` ends with its newline."""

    message: str
    timestamp: datetime.datetime
    source: str
    object_id: str
    context_ids: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


def _unix(where: str, when) -> float:
    if not isinstance(when, datetime.datetime):
        raise InvalidError(f"{where}: give a datetime.datetime (UTC, or naive for local time)")
    return when.timestamp()


def _check_source(source):
    if source is not None and source not in SOURCES:
        raise InvalidError(f"source={source!r}: give 'stdout', 'stderr' or 'system'")


class SandboxLogs:
    def __init__(self, sandbox_id: str, app_id: str):
        self._id, self._app_id = sandbox_id, app_id

    async def _lines(self, since: float = 0.0) -> list[pb.LogLine]:
        conn = await Client.get()
        lines: list[pb.LogLine] = []
        finished = asyncio.Event()
        key = self._app_id
        before = conn.log_handlers.get(key)

        def handler(batch: pb.LogBatch):
            lines.extend(line for line in batch.lines if line.container_id == self._id)
            if batch.end:
                finished.set()

        conn.log_handlers[key] = handler
        try:
            await conn.request(log_subscribe=pb.LogSubscribe(
                app_id=self._app_id, container_id=self._id, since=since, history=True,
                follow=False))
            await finished.wait()
        finally:
            if before is None:
                conn.log_handlers.pop(key, None)
            else:
                conn.log_handlers[key] = before
        return lines

    def _entry(self, line: pb.LogLine) -> LogEntry:
        when = datetime.datetime.fromtimestamp(line.ts, datetime.timezone.utc)
        return LogEntry(line.text + "\n", when, line.source, self._id, [self._id])

    @_sync.twin
    async def fetch(self, *, since: datetime.datetime, until: datetime.datetime | None = None,
                    source: str | None = None, search_text: str = ""):
        """Its lines from `since` to `until` (default: now), of one source and containing
        search_text if given, oldest first."""
        start = _unix("fetch(since=)", since)
        end = _unix("fetch(until=)", until) if until is not None else None
        _check_source(source)
        for line in await self._lines(start):
            if (end is None or line.ts <= end) and (source is None or line.source == source) \
                    and search_text in line.text:
                yield self._entry(line)

    @_sync.twin
    async def tail(self, entries: int = 100, *, source: str | None = None):
        """Its last `entries` lines (of one source if given), oldest first."""
        if isinstance(entries, bool) or not isinstance(entries, int) or entries < 1:
            raise InvalidError(f"tail(entries={entries!r}): give a positive number")
        _check_source(source)
        lines = [line for line in await self._lines() if source is None or
                 line.source == source]
        for line in lines[-entries:]:
            yield self._entry(line)
