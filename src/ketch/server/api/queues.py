"""Queues: put, get and peek answer at once or wait for the partition to change; len,
clear, and cancelling a wait."""

from __future__ import annotations

import asyncio
from typing import Callable

from ...proto import ketch_pb2 as pb
from ..queues import (DEFAULT_PARTITION_TTL_S, MAX_PARTITION_ITEMS, check_items,
                      check_partition)
from ..services import Services
from .context import Request, wait_seconds


def _now_or_later(svc: Services, req: Request, msg, partition: str, attempt: Callable,
                  reply: Callable):
    """Replies at once when attempt() succeeds or the caller will not wait; else returns
    a coroutine that waits (the session runs it)."""
    queues = svc.queues
    wait_seconds("timeout_s", msg.timeout_s)
    svc.objects.get(msg.object_id, "queue", req.workspace)
    result = attempt()
    if result or msg.timeout_s == 0:
        reply(result)
        return None

    queues.expect_wait(req.owner_id, msg.waiter_id)

    async def later():
        try:
            result = await queues.wait_until(req.owner_id, msg.waiter_id, msg.object_id,
                                             partition, msg.timeout_s, attempt)
        except asyncio.CancelledError:
            result = []  # the waiter gave up: an empty answer ends its request
        reply(result)

    return later()


def _reply_items(req: Request):
    def reply(rows):
        req.reply(queue_items=pb.QueueItems(values=[v for _, v in rows],
                                            seqs=[s for s, _ in rows]))
    return reply


def queue_put(svc: Services, req: Request, msg: pb.QueuePut):
    partition = check_partition(msg.partition)
    values = list(msg.values)
    check_items(values)
    ttl = wait_seconds("partition_ttl_s", msg.partition_ttl_s)
    ttl = ttl if ttl > 0 else DEFAULT_PARTITION_TTL_S
    return _now_or_later(
        svc, req, msg, partition, lambda: svc.queues.put(msg.object_id, partition, values, ttl),
        lambda done: req.reply(count=pb.Count(n=len(values) if done else 0)))


def queue_get(svc: Services, req: Request, msg: pb.QueueGet):
    partition = check_partition(msg.partition)
    n = max(1, min(msg.n or 1, MAX_PARTITION_ITEMS))

    def take():
        if req.closed:
            return []  # nobody would receive them
        return svc.queues.take(msg.object_id, partition, n)

    return _now_or_later(svc, req, msg, partition, take, _reply_items(req))


def queue_peek(svc: Services, req: Request, msg: pb.QueuePeek):
    partition = check_partition(msg.partition)
    n = max(1, min(msg.n or 100, MAX_PARTITION_ITEMS))
    return _now_or_later(
        svc, req, msg, partition,
        lambda: svc.queues.peek(msg.object_id, partition, msg.after_seq, n), _reply_items(req))


def queue_len(svc: Services, req: Request, msg: pb.QueueLen):
    partition = None if msg.total else check_partition(msg.partition)
    svc.objects.get(msg.object_id, "queue", req.workspace)
    req.reply(count=pb.Count(n=svc.queues.length(msg.object_id, partition)))


def queue_clear(svc: Services, req: Request, msg: pb.QueueClear):
    if msg.all and msg.partition:
        raise ValueError("clear() takes partition= or all=True, not both")
    svc.objects.get(msg.object_id, "queue", req.workspace)
    svc.queues.clear(msg.object_id, None if msg.all else check_partition(msg.partition))
    req.reply(ok=pb.Ok())


def queue_cancel_wait(svc: Services, req: Request, msg: pb.QueueCancelWait):
    svc.queues.cancel_wait(req.owner_id, msg.waiter_id)
