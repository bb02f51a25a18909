"""Queues: FIFO partitions of cloudpickled items, shared by every client and container.

Items live in SQLite, so a queue survives a server restart. A `get` that finds nothing
waits on an event of its partition that every `put` sets, so it wakes as soon as an item
arrives (no polling). Taking items is one transaction on the server's single event loop,
so each item goes to exactly one getter, in the order it was put.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from .objects import ObjectsService

MAX_ITEM_BYTES = 1024 * 1024
MAX_PARTITION_ITEMS = 5000
MAX_PARTITIONS = 100_000
MAX_PARTITION_KEY_BYTES = 64
DEFAULT_PARTITION_TTL_S = 24 * 3600.0
REPLY_BYTES = 32 * 1024 * 1024      # items per reply stay well under the frame limit
EXPIRY_SWEEP_S = 1.0


class QueueService:
    def __init__(self, objects: ObjectsService):
        self.objects = objects
        self.store = objects.store
        self.changed: dict[tuple[str, str], asyncio.Event] = {}
        self.counts: dict[tuple[str, str], int] = {}      # items per partition, cached
        self.expiries: dict[tuple[str, str], float] = {}  # as stored, cached
        # Waiting gets/puts by waiter id: None from the request's arrival until its task
        # runs, so a cancel read right behind the request still finds it.
        self.waits: dict[str, asyncio.Task | None] = {}
        self.waits_of: dict[str, set[str]] = {}           # owner id -> its waiter ids
        self.objects.on_delete["queue"] = self._deleted
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

    def owner_closed(self, owner_id: str):
        for waiter_id in self.waits_of.pop(owner_id, ()):
            task = self.waits.pop(waiter_id, None)
            if task is not None:
                task.cancel()

    async def _sweep_expired(self):
        while True:
            await asyncio.sleep(EXPIRY_SWEEP_S)
            for oid, partition in self.store.expired_partitions(time.time()):
                self._clear(oid, partition)

    # -- operations

    def require(self, oid: str):
        """Raises LookupError when the queue was deleted."""
        self.objects.get(oid, "queue")

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

    def take(self, oid: str, partition: str, n: int) -> list[tuple[int, bytes]]:
        """Removes and returns up to n items, oldest first, as (seq, value)."""
        rows = self.store.queue_take(oid, partition, n, REPLY_BYTES)
        if rows:
            self.counts[(oid, partition)] = max(0, self.count(oid, partition) - len(rows))
            self._signal(oid, partition)  # wakes putters waiting for room
        return rows

    def peek(self, oid: str, partition: str, after_seq: int, n: int
             ) -> list[tuple[int, bytes]]:
        return self.store.queue_peek(oid, partition, after_seq, n, REPLY_BYTES)

    def length(self, oid: str, partition: str | None) -> int:
        """Items in one partition, or in all of them (partition None)."""
        self.require(oid)
        if partition is None:
            return self.store.queue_len(oid, None)
        return self.count(oid, partition)

    def clear(self, oid: str, partition: str | None):
        self.require(oid)
        self._clear(oid, partition)

    def _clear(self, oid: str, partition: str | None):
        self.store.queue_clear(oid, partition)
        self._forget(oid, partition)

    def expect_wait(self, owner_id: str, waiter_id: str):
        """A get/put that will wait has arrived: from now on a cancel of it counts."""
        if waiter_id:
            self.waits[waiter_id] = None
            self.waits_of.setdefault(owner_id, set()).add(waiter_id)

    def cancel_wait(self, owner_id: str, waiter_id: str):
        """Ends a waiting get/put of this owner: it answers with nothing (at once, or as
        soon as it starts, when it was cancelled before it could)."""
        if waiter_id in self.waits_of.get(owner_id, ()):
            task = self.waits.pop(waiter_id, None)
            if task is not None:
                task.cancel()

    async def wait_until(self, owner_id: str, waiter_id: str, oid: str, partition: str,
                         timeout_s: float, attempt: Callable):
        """Runs attempt() now and after each change of the partition until it returns
        something true or timeout_s passes (< 0: no limit). Returns its last result."""
        deadline = None if timeout_s < 0 else time.monotonic() + timeout_s
        if waiter_id:
            if waiter_id not in self.waits:
                # Cancelled (or its owner gone) between expect_wait and now.
                self.waits_of.get(owner_id, set()).discard(waiter_id)
                raise asyncio.CancelledError
            self.waits[waiter_id] = asyncio.current_task()
            self.waits_of.setdefault(owner_id, set()).add(waiter_id)
        try:
            while True:
                self.require(oid)
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
                self.waits_of.get(owner_id, set()).discard(waiter_id)


def check_partition(name: str) -> str:
    if len(name.encode()) > MAX_PARTITION_KEY_BYTES:
        raise ValueError(f"Queue partition key {name[:20]!r}… is over "
                         f"{MAX_PARTITION_KEY_BYTES} bytes, the limit")
    return name


def check_items(values: list[bytes]):
    for value in values:
        if len(value) > MAX_ITEM_BYTES:
            raise ValueError(f"a Queue item is {len(value)} bytes pickled; the limit is "
                             f"{MAX_ITEM_BYTES // 1024} KiB. Put large data on a Volume or a "
                             "Dict and queue its key.")
    if len(values) > MAX_PARTITION_ITEMS:
        raise ValueError(f"put_many got {len(values)} items; a partition holds at most "
                         f"{MAX_PARTITION_ITEMS}")
