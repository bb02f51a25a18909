"""`Queue`: FIFO queues kept by the server, for handing work between functions.

    q = ketch.Queue.from_name("jobs", create_if_missing=True)
    q.put_many([1, 2, 3])
    q.get()                       # 1; waits for an item when the queue is empty
    q.get(block=False)            # 2, or None when empty
    q.get(timeout=5)              # raises queue.Empty after 5 s with nothing

A queue has independent partitions (`partition="user-7"`); each is FIFO, and each item
goes to exactly one getter. A partition is cleared `partition_ttl` seconds (default a day)
after its last put. Limits, as in Modal: 1 MiB per pickled item, 5,000 items per
partition, 100,000 partitions, partition keys of 1-64 bytes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue as _stdlib_queue
from typing import Any

from . import _sync
from ._client import Client
from ._object import _Object
from ._serialization import deserialize, serialize
from .exception import ConnectionError as KetchConnectionError
from .exception import Error, InvalidError
from .proto import ketch_pb2 as pb

MAX_ITEM_BYTES = 1024 * 1024
_BATCH_BYTES = 32 * 1024 * 1024
_PEEK_PAGE = 100
# Putting taken items back: how long to wait for the cancelled get's reply, and how many
# connections to try the put on (a lost one is replaced by Client.get()).
PUT_BACK_WAIT_S = 10
PUT_BACK_ATTEMPTS = 3
PUT_BACK_RETRY_S = 0.5

log = logging.getLogger("ketch")


def _partition(partition: str | None) -> str:
    if partition is None:
        return ""
    if not isinstance(partition, str) or not 1 <= len(partition.encode()) <= 64:
        raise InvalidError(f"Queue partition key {partition!r}: give a str of 1 to 64 bytes, "
                           "or None for the default partition")
    return partition


def _timeout(block: bool, timeout: float | None) -> float:
    """The server's wait: < 0 forever, 0 not at all."""
    if not block:
        return 0.0
    if timeout is None:
        return -1.0
    if timeout < 0:
        raise InvalidError(f"timeout={timeout!r}: give a number of seconds ≥ 0, or None to "
                           "wait as long as it takes")
    return float(timeout)


def _pickle_items(values) -> list[bytes]:
    out = []
    for value in values:
        data = serialize(value)
        if len(data) > MAX_ITEM_BYTES:
            raise InvalidError(f"a Queue item is {len(data)} bytes pickled; the limit is "
                               f"{MAX_ITEM_BYTES // 1024} KiB. Put large data on a Volume or "
                               "in a Dict and queue its key.")
        out.append(data)
    return out


async def _put_values_back(object_id: str, partition: str, values: list[bytes]):
    """Puts pickled items back at the end of the partition, on a new connection if the
    one in use was lost; raises when that cannot be done."""
    for attempt in range(PUT_BACK_ATTEMPTS):
        try:
            client = await Client.get()
            await client.request(queue_put=pb.QueuePut(
                object_id=object_id, partition=partition, values=values,
                timeout_s=PUT_BACK_WAIT_S, partition_ttl_s=24 * 3600))
            return
        except KetchConnectionError:
            if attempt == PUT_BACK_ATTEMPTS - 1:
                raise
            await asyncio.sleep(PUT_BACK_RETRY_S)


class Queue(_Object):
    """A distributed FIFO queue. Every method has an `.aio` twin:
    `await q.get.aio()`."""

    _kind = "queue"
    _type_name = "Queue"

    async def _waiting(self, client: Client, field: str, msg):
        """Sends a request the server may hold open, telling it if we stop waiting."""
        msg.waiter_id = os.urandom(8).hex()
        request = asyncio.ensure_future(client.request(**{field: msg}))
        try:
            return await asyncio.shield(request)
        except asyncio.CancelledError:
            if not client.conn.closed:
                client.send(queue_cancel_wait=pb.QueueCancelWait(waiter_id=msg.waiter_id))
                if field == "queue_get":
                    await self._put_back(client, msg, request)
            raise

    @staticmethod
    async def _put_back(client: Client, msg: pb.QueueGet, request: asyncio.Future):
        """A get cancelled here may have taken items on the server just before it heard:
        they go back into the queue (at its end) rather than being lost. Runs while the
        cancellation propagates, so what cannot be saved is logged, not raised."""
        try:
            reply = await asyncio.wait_for(request, PUT_BACK_WAIT_S)
        except KetchConnectionError as exc:
            log.warning("a cancelled Queue.get lost its connection before its reply came; "
                        "items it may have taken are lost: %s", exc)
            return
        except Error:
            return  # the get failed on the server (timed out, queue deleted): it took nothing
        except TimeoutError:
            log.warning("a cancelled Queue.get got no reply within %s s; items it may have "
                        "taken are lost", PUT_BACK_WAIT_S)
            return
        values = list(reply.queue_items.values)
        if not values:
            return
        try:
            await _put_values_back(msg.object_id, msg.partition, values)
        except Exception as exc:
            log.error("%d item(s) taken by a cancelled Queue.get could not be put back and "
                      "are lost: %s", len(values), exc)

    # -- putting

    @_sync.twin
    async def put(self, v: Any, block: bool = True, timeout: float | None = None, *,
                  partition: str | None = None, partition_ttl: int = 24 * 3600) -> None:
        """Adds v at the end. When the partition is full (5,000 items), waits for room, or
        raises queue.Full when block=False or timeout passes."""
        await self._put([v], block, timeout, partition, partition_ttl)

    @_sync.twin
    async def put_many(self, vs: list, block: bool = True, timeout: float | None = None, *,
                       partition: str | None = None, partition_ttl: int = 24 * 3600) -> None:
        """Adds several items, in order."""
        await self._put(list(vs), block, timeout, partition, partition_ttl)

    async def _put(self, values, block, timeout, partition, partition_ttl):
        part = _partition(partition)
        wait = _timeout(block, timeout)
        items = _pickle_items(values)
        client = await Client.get()
        oid = await self._id()
        start = 0
        while start < len(items):
            end, size = start, 0
            while end < len(items) and (end == start or size + len(items[end]) <= _BATCH_BYTES):
                size += len(items[end])
                end += 1
            reply = await self._waiting(client, "queue_put", pb.QueuePut(
                object_id=oid, partition=part, values=items[start:end], timeout_s=wait,
                partition_ttl_s=float(partition_ttl)))
            if reply.count.n == 0:
                raise _stdlib_queue.Full(f"the Queue partition {part or '(default)'!r} is full "
                                         "(5,000 items)")
            start = end

    # -- getting

    async def _get(self, n: int, block: bool, timeout: float | None, partition) -> list:
        msg = pb.QueueGet(object_id=await self._id(), partition=_partition(partition), n=n,
                          timeout_s=_timeout(block, timeout))
        reply = await self._waiting(await Client.get(), "queue_get", msg)
        return [deserialize(v) for v in reply.queue_items.values]

    async def _give_back(self, result, *args, partition: str | None = None, **kwargs):
        """Items taken for a caller that gave up go back into the queue (at its end)."""
        items = result if isinstance(result, list) else [] if result is None else [result]
        if items:
            await self._put(items, True, 10, partition, 24 * 3600)

    @_sync.twin_taking(_give_back)
    async def get(self, block: bool = True, timeout: float | None = None, *,
                  partition: str | None = None) -> Any | None:
        """Removes and returns the first item. Waits for one when the queue is empty (up to
        timeout seconds, then raises queue.Empty); with block=False returns None at once."""
        items = await self._get(1, block, timeout, partition)
        if items:
            return items[0]
        if block:
            raise _stdlib_queue.Empty(f"no item arrived within {timeout} s")
        return None

    @_sync.twin_taking(_give_back)
    async def get_many(self, n_values: int, block: bool = True, timeout: float | None = None,
                       *, partition: str | None = None) -> list:
        """Removes and returns up to n_values items, waiting as get() does for the first."""
        if not isinstance(n_values, int) or n_values < 1:
            raise InvalidError(f"n_values={n_values!r}: give a positive int")
        items = await self._get(n_values, block, timeout, partition)
        if not items and block:
            raise _stdlib_queue.Empty(f"no item arrived within {timeout} s")
        return items

    # -- the rest

    @_sync.twin
    async def len(self, *, partition: str | None = None, total: bool = False) -> int:
        """Items in a partition, or in all of them with total=True."""
        if partition is not None and total:
            raise InvalidError("len() takes partition= or total=True, not both")
        client = await Client.get()
        reply = await client.request(queue_len=pb.QueueLen(
            object_id=await self._id(), partition=_partition(partition), total=total))
        return reply.count.n

    @_sync.twin
    async def clear(self, *, partition: str | None = None, all: bool = False) -> None:
        """Removes every item of a partition, or of all partitions with all=True."""
        if partition is not None and all:
            raise InvalidError("clear() takes partition= or all=True, not both")
        client = await Client.get()
        await client.request(queue_clear=pb.QueueClear(
            object_id=await self._id(), partition=_partition(partition), all=all))

    @_sync.twin
    async def iterate(self, *, partition: str | None = None, item_poll_timeout: float = 0.0):
        """Yields the items in order without removing them, then waits up to
        item_poll_timeout seconds for each further item before stopping."""
        part = _partition(partition)
        client = await Client.get()
        oid = await self._id()
        after = 0
        while True:
            reply = await self._waiting(client, "queue_peek", pb.QueuePeek(
                object_id=oid, partition=part, after_seq=after, n=_PEEK_PAGE,
                timeout_s=max(0.0, float(item_poll_timeout))))
            items = reply.queue_items
            if not items.values:
                return
            for value in items.values:
                yield deserialize(value)
            after = items.seqs[-1]
