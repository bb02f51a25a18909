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
import collections
import logging
import os
import socket
import time

from ..proto import ketch_pb2 as pb
from .db import Database, migrate
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
# What the call path tells waits this long at most: after the frames of its loop turn are
# sent, and shared by the calls of a few milliseconds (one timer, not a loop turn each).
APPLY_AFTER_S = 0.005
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


class _Record:
    """One call's record as plain Python fields (cheaper to make and update on the call
    path than a protobuf's); `proto()` builds the message when it is read or stored."""

    __slots__ = ("call_id", "workspace", "app_id", "app_name", "function_name", "kind",
                 "source", "status", "created_at", "started_at", "finished_at", "n_inputs",
                 "counts", "containers", "outcomes", "node", "message", "stats",
                 "n_ok_outcomes", "n_failed_outcomes", "first_failure")

    def __init__(self, call_id: str, workspace: str, app_id: str, app_name: str,
                 function_name: str, kind: str, source: str, created_at: float, node: str,
                 stats):
        self.call_id = call_id
        self.workspace = workspace
        self.app_id = app_id
        self.app_name = app_name
        self.function_name = function_name
        self.kind = kind
        self.source = source
        self.status = "running"
        self.created_at = created_at
        self.started_at = 0.0
        self.finished_at = 0.0
        self.n_inputs = 0
        self.counts: dict[str, int] = {}
        self.containers: list[str] = []
        # (idx, input id, status, message, traceback, container id, started, finished)
        self.outcomes: list[tuple] = []
        self.node = node
        self.message = ""        # the first failure's
        self.stats = stats       # its function's counters (metrics.FunctionStats)
        self.n_ok_outcomes = self.n_failed_outcomes = 0
        self.first_failure = ""  # the status of its first input that did not succeed

    def proto(self, outcomes: bool = True) -> pb.CallRecord:
        rec = pb.CallRecord(
            call_id=self.call_id, app_id=self.app_id, app_name=self.app_name,
            function_name=self.function_name, kind=self.kind, source=self.source,
            status=self.status, created_at=self.created_at, started_at=self.started_at,
            finished_at=self.finished_at, n_inputs=self.n_inputs, counts=self.counts,
            container_ids=self.containers, node=self.node, message=self.message)
        if outcomes:
            rec.outcomes.extend(pb.InputOutcome(
                idx=o[0], input_id=o[1], status=o[2], message=o[3], traceback=o[4],
                container_id=o[5], started_at=o[6], finished_at=o[7]) for o in self.outcomes)
        return rec

    @classmethod
    def from_proto(cls, workspace: str, rec: pb.CallRecord, stats) -> "_Record":
        r = cls(rec.call_id, workspace, rec.app_id, rec.app_name, rec.function_name,
                rec.kind, rec.source, rec.created_at, rec.node, stats)
        r.status, r.started_at, r.finished_at = rec.status, rec.started_at, rec.finished_at
        r.n_inputs, r.counts, r.containers = rec.n_inputs, dict(rec.counts), \
            list(rec.container_ids)
        r.message = rec.message
        r.outcomes = [(o.idx, o.input_id, o.status, o.message, o.traceback, o.container_id,
                       o.started_at, o.finished_at) for o in rec.outcomes]
        failed = [o[2] for o in r.outcomes if o[2] != "success"]
        r.n_failed_outcomes = len(failed)
        r.n_ok_outcomes = len(r.outcomes) - len(failed)
        r.first_failure = failed[0] if failed else ""
        return r


class CallHistory:
    def __init__(self, db: Database, metrics: ServerMetrics, logs: LogService,
                 max_calls: int | None = None, max_age_s: float | None = None):
        """Failed inputs' tracebacks also go to their app's log (`logs`), as the lines of
        their container, input and call."""
        self.db = db
        migrate(db, "call_history", [_SCHEMA])
        self.metrics = metrics
        self.logs = logs
        self.max_calls = max_calls or int(_env_number("KETCH_HISTORY_MAX_CALLS", 10_000))
        self.max_age_s = max_age_s or _env_number("KETCH_HISTORY_MAX_AGE_S", 7 * 86400)
        self.node = socket.gethostname()
        # By call id, oldest first: all it keeps. Ordered so the oldest is found at once
        # (a dict deleted from at the front makes next(iter()) walk the holes).
        self.records: collections.OrderedDict[str, _Record] = collections.OrderedDict()
        self._web: dict[str, _Record] = {}       # this minute's web records, by key
        self._dirty: set[str] = set()            # to write at the next flush
        self._gone: list[str] = []               # to delete at the next flush
        self._flusher: asyncio.Task | None = None
        # What the call path told, applied a moment later (_apply, APPLY_AFTER_S): after
        # the frames that loop turn sends, so a call's round trip does not wait for its
        # record.
        self._told: collections.deque[tuple] = collections.deque()
        self._apply_scheduled = False
        self._loop = asyncio.get_event_loop()
        self._load()

    # ------------------------------------------------------------------ lifetime

    def _load(self):
        rows = self.db.execute(
            "SELECT call_id, workspace, record, created_at FROM call_history ORDER BY "
            "created_at DESC LIMIT ?", (self.max_calls,)).fetchall()
        for call_id, workspace, data, _ in reversed(rows):
            rec = _Record.from_proto(workspace, pb.CallRecord.FromString(data), None)
            if rec.status == "running" and rec.kind not in ("spawn", "spawn_map"):
                # Its caller's connection ended with the old server; a spawned call is
                # resumed from the store and finishes later.
                rec.status, rec.message = "failure", "the server stopped before it finished"
                self._dirty.add(call_id)
            self.records[call_id] = rec
        # What did not fit (a lower limit than the last server's) goes now.
        with self.db.transaction():
            self.db.execute("DELETE FROM call_history WHERE created_at < ?",
                            (time.time() - self.max_age_s,))
            if len(rows) == self.max_calls:
                self.db.execute("DELETE FROM call_history WHERE created_at < ?",
                                (rows[-1][3],))

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
            except self.db.Error:
                log.exception("writing the call history failed; it is retried")

    def flush(self):
        """Writes changed records and deletes the ones past the limits."""
        self._apply()
        cutoff = time.time() - self.max_age_s
        records = self.records
        while records:
            oldest = next(iter(records.values()))
            if len(records) <= self.max_calls and oldest.created_at >= cutoff:
                break
            self._drop_oldest()
        now = time.time()
        for key, rec in list(self._web.items()):
            if rec.created_at + WEB_WINDOW_S < now:
                self._end_web_window(key, rec)
        if not self._dirty and not self._gone:
            return
        dirty, self._dirty = self._dirty, set()
        gone, self._gone = self._gone, []
        rows = [(cid, rec.workspace, rec.created_at, rec.proto().SerializeToString())
                for cid in dirty if (rec := self.records.get(cid)) is not None]
        try:
            with self.db.transaction():
                self.db.executemany("INSERT INTO call_history (call_id, workspace, "
                                    "created_at, record) VALUES (?, ?, ?, ?) ON CONFLICT "
                                    "(call_id) DO UPDATE SET workspace = excluded.workspace, "
                                    "created_at = excluded.created_at, record = "
                                    "excluded.record", rows)
                self.db.executemany("DELETE FROM call_history WHERE call_id = ?",
                                    [(cid,) for cid in gone])
        except self.db.Error:
            self._dirty |= dirty       # written at the next flush
            self._gone += gone
            raise

    def _drop_oldest(self):
        call_id, _ = self.records.popitem(last=False)
        self._dirty.discard(call_id)
        self._gone.append(call_id)

    # ------------------------------------------------------------------ the call path

    def _tell(self, what):
        self._told.append(what)
        if not self._apply_scheduled:
            self._apply_scheduled = True
            self._loop.call_later(APPLY_AFTER_S, self._apply)

    def _apply(self):
        self._apply_scheduled = False
        told = self._told
        while told:
            what = told.popleft()
            what[0](*what[1:])

    def call_created(self, call, source: str, streamed: bool):
        """`streamed`: its inputs follow the create message (a map, a spawn_map)."""
        self._tell((self._created, call, source, streamed, time.time()))

    def input_ended(self, call, out: pb.Output, item=None):
        """`item` (the server's InputItem, when there is one) says where and since when
        it ran."""
        self._tell((self._ended, call, out, item, time.time()))

    def call_finished(self, call):
        self._tell((self._finished, call, call.n_inputs, time.time()))

    def _created(self, call, source: str, streamed: bool, now: float) -> _Record:
        fn = call.fn
        kind = KINDS.get(call.kind, "remote")
        if kind == "spawn" and streamed:
            kind = "spawn_map"
        app = fn.app
        rec = _Record(call.id, app.workspace, app.id, app.name, fn.label, kind, source,
                      now, self.node, self.metrics.stats_for(fn))
        self._add(rec)
        return rec

    def _add(self, rec: _Record):
        records = self.records
        records[rec.call_id] = rec
        self._dirty.add(rec.call_id)
        if len(records) > self.max_calls:
            self._drop_oldest()

    def _ended(self, call, out: pb.Output, item, now: float):
        rec = self.records.get(call.id)
        if rec is None or rec.stats is None:
            rec = self._revive(call, rec)
        status = STATUS.get(out.status, "failure")
        counts = rec.counts
        counts[status] = counts.get(status, 0) + 1
        stats = rec.stats
        stats.inputs[status] = stats.inputs.get(status, 0) + 1
        duration = out.duration_s
        if duration:
            stats.duration.observe(duration)
        container_id, started = (item.ran_on, item.sent_at) if item is not None else ("", 0.0)
        if started and (not rec.started_at or started < rec.started_at):
            rec.started_at = started
        if container_id and container_id not in rec.containers \
                and len(rec.containers) < MAX_CONTAINERS:
            rec.containers.append(container_id)
        ok = status == "success"
        if ok:
            # A .remote's record says where and when its one input ran.
            if rec.n_ok_outcomes >= MAX_OK_OUTCOMES or rec.kind == "remote":
                return
            rec.n_ok_outcomes += 1
        else:
            if not rec.first_failure:
                rec.first_failure = status
                rec.message = out.message[:MAX_MESSAGE_CHARS]
            if rec.n_failed_outcomes >= MAX_FAILED_OUTCOMES:
                return
            rec.n_failed_outcomes += 1
        traceback = out.traceback[-MAX_TRACEBACK_CHARS:] \
            if not ok and rec.n_failed_outcomes <= MAX_TRACEBACKS else ""
        rec.outcomes.append((out.idx, out.input_id, status, out.message[:MAX_MESSAGE_CHARS],
                             traceback, container_id, started, now))
        if not ok and status != "cancelled":
            self.logs.write(rec.app_id, "exception", rec.function_name, container_id,
                            (out.traceback[-MAX_TRACEBACK_CHARS:] or out.message).rstrip(),
                            out.input_id, call.id)

    def _finished(self, call, n_inputs: int, now: float):
        rec = self.records.get(call.id)
        if rec is None or rec.stats is None:
            rec = self._revive(call, rec)
        rec.n_inputs = n_inputs
        rec.finished_at = now
        if call.cancelled or rec.counts.get("cancelled"):
            rec.status = "cancelled"
        else:
            rec.status = rec.first_failure or "success"
        stats = rec.stats
        stats.calls[rec.status] = stats.calls.get(rec.status, 0) + 1
        # Written now: counts alone are not stored while it runs (the store is for
        # restarts, and a restart ends a caller's call anyway).
        self._dirty.add(call.id)

    def _revive(self, call, rec: _Record | None) -> _Record:
        """A call the history lost track of (a spawned call resumed after a restart, or
        one whose record was dropped for the count limit) gets its counters again, or a
        record again."""
        if rec is None:
            return self._created(call, "", False, time.time())
        rec.stats = self.metrics.stats_for(call.fn)
        return rec

    def web_request(self, fn, label: str, code: int, seconds: float = 0.0):
        """One web request answered: counted in its function's record of this minute
        (`fn` None, a request no endpoint matched, is not a call)."""
        if fn is None:
            return
        window = int(time.time() // WEB_WINDOW_S)
        key = f"{fn.id}-{label}"
        rec = self._web.get(key)
        if rec is not None and rec.created_at < window * WEB_WINDOW_S:
            self._end_web_window(key, rec)   # last minute's record is complete
            rec = None
        if rec is None:
            app = fn.app
            rec = _Record(f"web-{key}-{window}", app.workspace, app.id, app.name, fn.label,
                          "web", label, window * WEB_WINDOW_S, self.node,
                          self.metrics.stats_for(fn))
            self._add(rec)
            self._web[key] = rec
        status = "failure" if code >= 500 else "success"
        rec.counts[status] = rec.counts.get(status, 0) + 1
        rec.n_inputs += 1
        if status == "failure" and not rec.first_failure:
            rec.first_failure, rec.message = status, f"HTTP {code}"

    def _end_web_window(self, key: str, rec: _Record):
        del self._web[key]
        rec.finished_at = rec.created_at + WEB_WINDOW_S
        rec.status = rec.first_failure or "success"
        self._dirty.add(rec.call_id)

    # ------------------------------------------------------------------ queries

    def list(self, workspace: str, app: str = "", function: str = "", status: str = "",
             since: float = 0.0, limit: int = 100) -> list[pb.CallRecord]:
        """The newest calls of `workspace` first; `app` is a name, an id or an id prefix;
        `status` one of STATUSES or "failed" (failure, timeout or crash). Without their
        outcomes."""
        if status and status not in STATUSES and status != "failed":
            raise ValueError(f"unknown call status {status!r}: use one of "
                             f"{', '.join(STATUSES)} or failed")
        self._apply()
        out = []
        for rec in reversed(list(self.records.values())):
            if rec.workspace != workspace or rec.created_at < since:
                continue
            if app and app not in (rec.app_name, rec.app_id) and not (
                    app.startswith("ap-") and rec.app_id.startswith(app)):
                continue
            if function and rec.function_name != function:
                continue
            if status and not (rec.status in FAILED if status == "failed"
                               else rec.status == status):
                continue
            out.append(rec.proto(outcomes=False))
            if len(out) >= limit:
                break
        return out

    def get(self, workspace: str, call_id: str) -> pb.CallRecord:
        self._apply()
        rec = self.records.get(call_id)
        if rec is None or rec.workspace != workspace:
            raise LookupError(f"no call {call_id} in the call history (`ketch call list` "
                              "shows the calls it keeps)")
        return rec.proto()
