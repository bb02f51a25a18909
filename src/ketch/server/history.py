"""Call history: one record per call, what became of its inputs, kept for a while.

The call path tells it three things (`functions/calls.py`): a call was created, one of its
inputs ended, the call finished. Each costs a dict lookup and a few counters, so the
record of a `.map` of a million inputs is one record with counts by status, the first
few outcomes and the first failures (with their tracebacks), never a row per input.

Records live in memory (newest last) and are written to the store in one transaction
about once a second, so a restart keeps the history; they are dropped past an age and a
count (`KETCH_HISTORY_MAX_CALLS`, `KETCH_HISTORY_MAX_AGE_S`).

Web requests are aggregated, not recorded one by one: one record per web function per
minute, with its requests counted by outcome (status 5xx is a failure), beside the
gateway's per-request metrics.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
import time

from ..proto import ketch_pb2 as pb
from .logs import LogService
from .metrics import ServerMetrics

log = logging.getLogger("ketch.server")

STATUS = {pb.SUCCESS: "success", pb.FAILURE: "failure", pb.TIMEOUT: "timeout",
          pb.CRASHED: "crash", pb.CANCELLED: "cancelled", pb.INTERNAL_ERROR: "failure"}
STATUSES = ("running", "success", "failure", "timeout", "crash", "cancelled")
FAILED = frozenset({"failure", "timeout", "crash"})   # what `--status failed` means
KINDS = {pb.REMOTE: "remote", pb.MAP: "map", pb.SPAWN: "spawn"}

# Per call, bounded so that even 10,000 failed calls stay in the tens of megabytes:
MAX_FAILED_OUTCOMES = 20   # the first failures (their container, times and message)
MAX_TRACEBACKS = 3         # ... the first of which keep their traceback
MAX_OK_OUTCOMES = 5        # the first successes (their container and times)
MAX_CONTAINERS = 20        # container ids named
MAX_TRACEBACK_CHARS = 4096  # the end of a traceback is the part that says what broke
MAX_MESSAGE_CHARS = 512
FLUSH_S = 1.0
WEB_WINDOW_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS call_history (
    call_id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    created_at REAL NOT NULL,
    record BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS call_history_by_time ON call_history (created_at);
"""


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if not value > 0:
        raise SystemExit(f"ketch server: {name}={raw!r} must be a positive number")
    return value


class _Live:
    """A record being written. The call path updates plain Python fields (cheaper than a
    protobuf's); `sync` copies them into the record before it is read or stored."""

    __slots__ = ("rec", "stats", "counts", "started_at", "containers", "first_failure",
                 "n_ok_outcomes", "n_failed_outcomes")

    def __init__(self, rec: pb.CallRecord, stats):
        self.rec = rec
        self.stats = stats
        self.counts: dict[str, int] = dict(rec.counts)
        self.started_at = rec.started_at
        self.containers: set[str] = set(rec.container_ids)
        self.first_failure = ""
        self.n_ok_outcomes = self.n_failed_outcomes = 0
        for outcome in rec.outcomes:
            if outcome.status == "success":
                self.n_ok_outcomes += 1
            else:
                self.n_failed_outcomes += 1
                self.first_failure = self.first_failure or outcome.status

    def sync(self):
        rec = self.rec
        rec.counts.clear()
        rec.counts.update(self.counts)
        rec.started_at = self.started_at


class CallHistory:
    def __init__(self, db: sqlite3.Connection, metrics: ServerMetrics, logs: LogService,
                 max_calls: int | None = None, max_age_s: float | None = None):
        """Failed inputs' tracebacks also go to their app's log (`logs`), as the lines of
        their container, input and call."""
        self.db = db
        db.executescript(_SCHEMA)
        self.metrics = metrics
        self.logs = logs
        self.max_calls = max_calls or int(_env_number("KETCH_HISTORY_MAX_CALLS", 10_000))
        self.max_age_s = max_age_s or _env_number("KETCH_HISTORY_MAX_AGE_S", 7 * 86400)
        self.node = socket.gethostname()
        # call id -> (workspace, record), oldest first; every record kept is here.
        self.records: dict[str, tuple[str, pb.CallRecord]] = {}
        self._live: dict[str, _Live] = {}        # calls not finished yet
        self._dirty: set[str] = set()            # to write at the next flush
        self._flusher: asyncio.Task | None = None
        self._load()

    # ------------------------------------------------------------------ lifetime

    def _load(self):
        rows = self.db.execute(
            "SELECT call_id, workspace, record FROM call_history ORDER BY created_at DESC "
            "LIMIT ?", (self.max_calls,)).fetchall()
        for call_id, workspace, data in reversed(rows):
            rec = pb.CallRecord.FromString(data)
            if rec.status == "running" and rec.kind not in ("spawn", "spawn_map"):
                # Its caller's connection ended with the old server; a spawned call is
                # resumed from the store and finishes later.
                rec.status, rec.message = "failure", "the server stopped before it finished"
                self._dirty.add(call_id)
            self.records[call_id] = (workspace, rec)

    def start(self):
        self._flusher = asyncio.ensure_future(self._flush_forever())

    def close(self):
        if self._flusher is not None:
            self._flusher.cancel()
        self.flush()

    async def _flush_forever(self):
        while True:
            await asyncio.sleep(FLUSH_S)
            try:
                self.flush()
            except sqlite3.Error:
                log.exception("writing the call history failed; it is retried")

    def flush(self):
        """Writes changed records and drops the ones past the limits."""
        cutoff = time.time() - self.max_age_s
        dropped = False
        while self.records:
            oldest = next(iter(self.records))
            _, rec = self.records[oldest]
            if len(self.records) <= self.max_calls and rec.created_at >= cutoff:
                break
            del self.records[oldest]
            self._live.pop(oldest, None)
            self._dirty.discard(oldest)
            dropped = True
        for live in [v for v in self._live.values() if v.rec.kind == "web"
                     and v.rec.created_at + WEB_WINDOW_S < time.time()]:
            self._end_web_window(live)
        if not self._dirty and not dropped:
            return
        dirty, self._dirty = self._dirty, set()
        rows = [(cid, ws, rec.created_at, self._synced(cid, rec).SerializeToString())
                for cid in dirty if (entry := self.records.get(cid)) for ws, rec in [entry]]
        with self.db:
            self.db.execute("BEGIN")
            if rows:
                self.db.executemany("INSERT OR REPLACE INTO call_history VALUES (?, ?, ?, ?)",
                                    rows)
            self.db.execute("DELETE FROM call_history WHERE created_at < ?", (cutoff,))
            self.db.execute(
                "DELETE FROM call_history WHERE call_id NOT IN (SELECT call_id FROM "
                "call_history ORDER BY created_at DESC LIMIT ?)", (self.max_calls,))

    # ------------------------------------------------------------------ the call path

    def call_created(self, call, source: str, streamed: bool):
        """`streamed`: its inputs follow the create message (a map, a spawn_map)."""
        fn = call.fn
        kind = KINDS.get(call.kind, "remote")
        if kind == "spawn" and streamed:
            kind = "spawn_map"
        rec = pb.CallRecord(call_id=call.id, app_id=fn.app.id, app_name=fn.app.name,
                            function_name=fn.label, kind=kind, source=source,
                            status="running", created_at=time.time(), node=self.node)
        self._add(call.id, fn.app.workspace, rec, self.metrics.stats_for(fn))

    def _add(self, call_id: str, workspace: str, rec: pb.CallRecord, stats):
        self.records[call_id] = (workspace, rec)
        self._live[call_id] = _Live(rec, stats)
        self._dirty.add(call_id)
        if len(self.records) > self.max_calls:
            oldest = next(iter(self.records))
            del self.records[oldest]
            self._live.pop(oldest, None)

    def input_ended(self, call, out: pb.Output, item=None):
        """`item` (the server's InputItem, when there is one) says where and since when
        it ran."""
        live = self._live.get(call.id)
        if live is None:
            live = self._revive(call)
        status = STATUS.get(out.status, "failure")
        counts = live.counts
        counts[status] = counts.get(status, 0) + 1
        stats = live.stats
        stats.inputs[status] = stats.inputs.get(status, 0) + 1
        now = time.time()
        duration = out.duration_s
        if duration:
            stats.duration.observe(duration)
        container_id, started = (item.ran_on, item.sent_at) if item is not None else ("", 0.0)
        if started and (not live.started_at or started < live.started_at):
            live.started_at = started
        rec = live.rec
        if container_id and container_id not in live.containers \
                and len(live.containers) < MAX_CONTAINERS:
            live.containers.add(container_id)
            rec.container_ids.append(container_id)
        ok = status == "success"
        if ok and live.n_ok_outcomes < MAX_OK_OUTCOMES or \
                not ok and live.n_failed_outcomes < MAX_FAILED_OUTCOMES:
            if ok:
                live.n_ok_outcomes += 1
            else:
                live.n_failed_outcomes += 1
            with_traceback = not ok and live.n_failed_outcomes <= MAX_TRACEBACKS
            rec.outcomes.append(pb.InputOutcome(
                idx=out.idx, input_id=out.input_id, status=status,
                message=out.message[:MAX_MESSAGE_CHARS],
                traceback=out.traceback[-MAX_TRACEBACK_CHARS:] if with_traceback else "",
                container_id=container_id, started_at=started, finished_at=now))
            if not ok and status != "cancelled":
                self.logs.write(rec.app_id, "exception", rec.function_name, container_id,
                                (out.traceback[-MAX_TRACEBACK_CHARS:] or out.message).rstrip(),
                                out.input_id, call.id)
        if not ok and not live.first_failure:
            live.first_failure = status
            rec.message = out.message[:MAX_MESSAGE_CHARS]
        self._dirty.add(call.id)

    def call_finished(self, call):
        live = self._live.pop(call.id, None) or self._revive(call, keep=False)
        live.sync()
        rec = live.rec
        rec.n_inputs = call.n_inputs
        rec.finished_at = time.time()
        if call.cancelled or rec.counts.get("cancelled"):
            rec.status = "cancelled"
        else:
            rec.status = live.first_failure or "success"
        stats = live.stats
        stats.calls[rec.status] = stats.calls.get(rec.status, 0) + 1
        self._dirty.add(call.id)

    def _revive(self, call, keep: bool = True) -> _Live:
        """A call the history lost track of (a spawned call resumed after a restart, or
        one whose record was dropped for the count limit) gets a record again."""
        entry = self.records.get(call.id)
        stats = self.metrics.stats_for(call.fn)
        if entry is None:
            self.call_created(call, "", streamed=False)
            live = self._live[call.id]
        else:
            live = _Live(entry[1], stats)
            self._live[call.id] = live
        if not keep:
            self._live.pop(call.id, None)
        return live

    def web_request(self, fn, label: str, code: int, seconds: float = 0.0):
        """One web request answered: counted in its function's record of this minute
        (`fn` None, a request no endpoint matched, is not a call)."""
        if fn is None:
            return
        window = int(time.time() // WEB_WINDOW_S)
        call_id = f"web-{fn.id}-{label}-{window}"
        live = self._live.get(call_id)
        if live is None:
            # Last minute's record of this endpoint is complete.
            previous = self._live.pop(f"web-{fn.id}-{label}-{window - 1}", None)
            if previous is not None:
                self._end_web_window(previous)
            rec = pb.CallRecord(call_id=call_id, app_id=fn.app.id, app_name=fn.app.name,
                                function_name=fn.label, kind="web", source=label,
                                status="running", created_at=window * WEB_WINDOW_S,
                                node=self.node)
            self._add(call_id, fn.app.workspace, rec, self.metrics.stats_for(fn))
            live = self._live[call_id]
        status = "failure" if code >= 500 else "success"
        live.counts[status] = live.counts.get(status, 0) + 1
        live.rec.n_inputs += 1
        if status == "failure" and not live.first_failure:
            live.first_failure = status
            live.rec.message = f"HTTP {code}"
        self._dirty.add(call_id)

    def _end_web_window(self, live: _Live):
        rec = live.rec
        self._live.pop(rec.call_id, None)
        live.sync()
        rec.finished_at = rec.created_at + WEB_WINDOW_S
        rec.status = live.first_failure or "success"
        self._dirty.add(rec.call_id)

    # ------------------------------------------------------------------ queries

    def _synced(self, call_id: str, rec: pb.CallRecord) -> pb.CallRecord:
        live = self._live.get(call_id)
        if live is not None:
            live.sync()
        return rec

    def list(self, workspace: str, app: str = "", function: str = "", status: str = "",
             since: float = 0.0, limit: int = 100) -> list[pb.CallRecord]:
        """The newest calls of `workspace` first; `app` is a name, an id or an id prefix;
        `status` one of STATUSES or "failed" (failure, timeout or crash)."""
        if status and status not in STATUSES and status != "failed":
            raise ValueError(f"unknown call status {status!r}: use one of "
                             f"{', '.join(STATUSES)} or failed")
        out = []
        for ws, rec in reversed(list(self.records.values())):
            if ws != workspace or rec.created_at < since:
                continue
            if app and app not in (rec.app_name, rec.app_id) and not (
                    app.startswith("ap-") and rec.app_id.startswith(app)):
                continue
            if function and rec.function_name != function:
                continue
            if status and not (rec.status in FAILED if status == "failed"
                               else rec.status == status):
                continue
            brief = pb.CallRecord()
            brief.CopyFrom(self._synced(rec.call_id, rec))
            del brief.outcomes[:]
            out.append(brief)
            if len(out) >= limit:
                break
        return out

    def get(self, workspace: str, call_id: str) -> pb.CallRecord:
        entry = self.records.get(call_id)
        if entry is None or entry[0] != workspace:
            raise LookupError(f"no call {call_id} in the call history (`ketch call list` "
                              "shows the calls it keeps)")
        return self._synced(call_id, entry[1])
