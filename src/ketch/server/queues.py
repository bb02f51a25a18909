"""Queues: FIFO partitions of cloudpickled items, shared by every client and container.

Items live in SQLite, so a queue survives a server restart. A `get` that finds nothing
waits on an event of its partition that every `put` sets, so it wakes as soon as an item
arrives (no polling). Taking items is one transaction on the server's single event loop,
so each item goes to exactly one getter, in the order it was put.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Callable

from ..proto import ketch_pb2 as pb

if TYPE_CHECKING:
    from .api import Session
    from .main import Server

MAX_ITEM_BYTES = 1024 * 1024
MAX_PARTITION_ITEMS = 5000
MAX_PARTITIONS = 100_000
MAX_PARTITION_KEY_BYTES = 64
DEFAULT_PARTITION_TTL_S = 24 * 3600.0
REPLY_BYTES = 32 * 1024 * 1024      # items per reply stay well under the frame limit
EXPIRY_SWEEP_S = 1.0


class QueueService:
    def __init__(self, server: "Server"):
        self.objects = server.objects
        self.store = server.objects.store
        self.changed: dict[tuple[str, str], asyncio.Event] = {}
        self.counts: dict[tuple[str, str], int] = {}      # items per partition, cached
        self.expiries: dict[tuple[str, str], float] = {}  # as stored, cached
        self.waits: dict[str, asyncio.Task] = {}
        self.waits_of: dict["Session", set[str]] = {}
        self.objects.on_delete["queue"] = self._deleted
        self.objects.on_session_close.append(self._session_closed)
        self._sweeper: asyncio.Task | None = None

    def start(self):
        self._sweeper = asyncio.ensure_future(self._sweep_expired())

    def stop(self):
        if self._sweeper is not None:
            self._sweeper.cancel()

    # -- bookkeeping

    def count(self, oid: str, partition: str) -> int:
        n = self.counts.get((oid, partition))
        if n is None:
            n = self.counts[(oid, partition)] = self.store.queue_len(oid, partition)
        return n

    def _signal(self, oid: str, partition: str):
        event = self.changed.pop((oid, partition), None)
        if event is not None:
            event.set()

    def _forget(self, oid: str, partition: str | None):
        keys = [k for k in {*self.counts, *self.changed, *self.expiries}
                if k[0] == oid and (partition is None or k[1] == partition)]
        for key in keys:
            self.counts.pop(key, None)
            self.expiries.pop(key, None)
            self._signal(*key)

    def _deleted(self, oid: str):
        self._forget(oid, None)

    def _session_closed(self, session: "Session"):
        for waiter_id in self.waits_of.pop(session, ()):
            task = self.waits.pop(waiter_id, None)
            if task is not None:
                task.cancel()

    async def _sweep_expired(self):
        while True:
            await asyncio.sleep(EXPIRY_SWEEP_S)
            for oid, partition in self.store.expired_partitions(time.time()):
                self.clear(oid, partition)

    # -- operations

    def put(self, oid: str, partition: str, values: list[bytes], ttl: float) -> bool:
        n = self.count(oid, partition)
        if n + len(values) > MAX_PARTITION_ITEMS:
            return False
        if n == 0 and self.store.queue_partition_count(oid) >= MAX_PARTITIONS:
            raise ValueError(f"this Queue already has {MAX_PARTITIONS} partitions, the limit; "
                             "clear some, or use another Queue")
        # The expiry is stored only when it moves by a tenth of the TTL (a second at most):
        # one write fewer for most puts, and a partition ends at most that much early.
        expires_at = time.time() + ttl
        stored = self.expiries.get((oid, partition))
        if stored is not None and abs(expires_at - stored) < min(1.0, ttl / 10):
            expires_at = None
        else:
            self.expiries[(oid, partition)] = expires_at
        self.store.queue_put(oid, partition, values, expires_at)
        self.counts[(oid, partition)] = n + len(values)
        self._signal(oid, partition)
        return True

    def take(self, session: "Session", oid: str, partition: str, n: int):
        if session.conn.closed:
            return []  # nobody would receive them
        rows = self.store.queue_take(oid, partition, n, REPLY_BYTES)
        if rows:
            self.counts[(oid, partition)] = max(0, self.count(oid, partition) - len(rows))
            self._signal(oid, partition)  # wakes putters waiting for room
        return rows

    def clear(self, oid: str, partition: str | None):
        self.store.queue_clear(oid, partition)
        self._forget(oid, partition)

    def now_or_later(self, session: "Session", msg, partition: str, attempt: Callable,
                     reply: Callable):
        """Replies at once when attempt() succeeds or the caller will not wait; else
        returns a coroutine that waits (the api runs it)."""
        self.objects.get(msg.object_id, "queue")
        result = attempt()
        if result or msg.timeout_s == 0:
            reply(result)
            return None

        async def later():
            try:
                result = await self.wait_until(session, msg.waiter_id, msg.object_id,
                                               partition, msg.timeout_s, attempt)
            except asyncio.CancelledError:
                result = []  # the waiter gave up: an empty answer ends its request
            reply(result)

        return later()

    async def wait_until(self, session: "Session", waiter_id: str, oid: str, partition: str,
                         timeout_s: float, attempt: Callable):
        """Runs attempt() now and after each change of the partition until it returns
        something true or timeout_s passes (< 0: no limit). Returns its last result."""
        deadline = None if timeout_s < 0 else time.monotonic() + timeout_s
        if waiter_id:
            self.waits[waiter_id] = asyncio.current_task()
            self.waits_of.setdefault(session, set()).add(waiter_id)
        try:
            while True:
                self.objects.get(oid, "queue")
                result = attempt()
                if result:
                    return result
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return result
                event = self.changed.setdefault((oid, partition), asyncio.Event())
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                except asyncio.TimeoutError:
                    pass
        finally:
            if waiter_id:
                self.waits.pop(waiter_id, None)
                self.waits_of.get(session, set()).discard(waiter_id)


def _partition(name: str) -> str:
    if len(name.encode()) > MAX_PARTITION_KEY_BYTES:
        raise ValueError(f"Queue partition key {name[:20]!r}… is over "
                         f"{MAX_PARTITION_KEY_BYTES} bytes, the limit")
    return name


# -- request handlers

def queue_put(session: "Session", frame, msg: pb.QueuePut):
    svc = session.server.queues
    partition = _partition(msg.partition)
    values = list(msg.values)
    for value in values:
        if len(value) > MAX_ITEM_BYTES:
            raise ValueError(f"a Queue item is {len(value)} bytes pickled; the limit is "
                             f"{MAX_ITEM_BYTES // 1024} KiB. Put large data on a Volume or a "
                             "Dict and queue its key.")
    if len(values) > MAX_PARTITION_ITEMS:
        raise ValueError(f"put_many got {len(values)} items; a partition holds at most "
                         f"{MAX_PARTITION_ITEMS}")
    ttl = msg.partition_ttl_s if msg.partition_ttl_s > 0 else DEFAULT_PARTITION_TTL_S
    return svc.now_or_later(
        session, msg, partition, lambda: svc.put(msg.object_id, partition, values, ttl),
        lambda done: session.conn.reply(frame, count=pb.Count(n=len(values) if done else 0)))


def _reply_items(session: "Session", frame):
    def reply(rows):
        session.conn.reply(frame, queue_items=pb.QueueItems(values=[v for _, v in rows],
                                                            seqs=[s for s, _ in rows]))
    return reply


def queue_get(session: "Session", frame, msg: pb.QueueGet):
    svc = session.server.queues
    partition = _partition(msg.partition)
    n = max(1, min(msg.n or 1, MAX_PARTITION_ITEMS))
    return svc.now_or_later(session, msg, partition,
                            lambda: svc.take(session, msg.object_id, partition, n),
                            _reply_items(session, frame))


def queue_peek(session: "Session", frame, msg: pb.QueuePeek):
    svc = session.server.queues
    partition = _partition(msg.partition)
    n = max(1, min(msg.n or 100, MAX_PARTITION_ITEMS))

    def peek():
        return svc.store.queue_peek(msg.object_id, partition, msg.after_seq, n, REPLY_BYTES)

    return svc.now_or_later(session, msg, partition, peek, _reply_items(session, frame))


def queue_len(session: "Session", frame, msg: pb.QueueLen):
    svc = session.server.queues
    svc.objects.get(msg.object_id, "queue")
    if msg.total:
        n = svc.store.queue_len(msg.object_id, None)
    else:
        n = svc.count(msg.object_id, _partition(msg.partition))
    session.conn.reply(frame, count=pb.Count(n=n))


def queue_clear(session: "Session", frame, msg: pb.QueueClear):
    svc = session.server.queues
    svc.objects.get(msg.object_id, "queue")
    if msg.all and msg.partition:
        raise ValueError("clear() takes partition= or all=True, not both")
    svc.clear(msg.object_id, None if msg.all else _partition(msg.partition))
    session.conn.reply(frame, ok=pb.Ok())


def queue_cancel_wait(session: "Session", frame, msg: pb.QueueCancelWait):
    svc = session.server.queues
    if msg.waiter_id in svc.waits_of.get(session, ()):
        task = svc.waits.pop(msg.waiter_id, None)
        if task is not None:
            task.cancel()


HANDLERS = {
    "queue_put": queue_put,
    "queue_get": queue_get,
    "queue_peek": queue_peek,
    "queue_len": queue_len,
    "queue_clear": queue_clear,
    "queue_cancel_wait": queue_cancel_wait,
}
