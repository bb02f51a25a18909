"""What a cancelled Queue.get took goes back into the queue, or is reported as lost:
`_queue._put_back` against the test server, with the get's reply in each state it can be
in when the caller gives up."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

import ketch
from ketch import _config, _queue, _sync
from ketch._client import Client
from ketch.proto import ketch_pb2 as pb


@pytest.fixture
def queue(server):
    q = ketch.Queue.from_name(f"put-back-{uuid.uuid4().hex[:8]}", create_if_missing=True)
    q.len()  # resolves its object id
    yield q
    ketch.Queue.delete(q._name, allow_missing=True)


def take(q, n: int, timeout_s: float = 0.0, own_connection: bool = False
         ) -> tuple[Client, pb.QueueGet, asyncio.Future]:
    """Sends a real get for n items, as Queue.get does, and returns its pending reply; on a
    connection of its own when the test will close it (the shared one holds the session's
    apps)."""
    async def send():
        client = await (Client._connect(_config.server_address()) if own_connection
                        else Client.get())
        msg = pb.QueueGet(object_id=q.object_id, partition="", n=n, timeout_s=timeout_s,
                          waiter_id=uuid.uuid4().hex)
        return client, msg, asyncio.ensure_future(client.request(queue_get=msg))
    return _sync.run(send())


def put_back(client, msg, request):
    _sync.run(_queue.Queue._put_back(client, msg, request))


def test_taken_items_go_back_at_the_end_of_the_queue(queue):
    queue.put_many([1, 2, 3])
    client, msg, request = take(queue, 2)
    put_back(client, msg, request)
    assert [queue.get(block=False) for _ in range(3)] == [3, 1, 2]


def test_taken_items_go_back_when_the_gets_connection_is_lost(queue):
    queue.put_many(["a", "b"])
    client, msg, request = take(queue, 2, own_connection=True)
    _sync.run(asyncio.wait_for(asyncio.shield(request), 10))  # the items are taken
    client.conn.close()
    put_back(client, msg, request)
    assert queue.len() == 2 and queue.get_many(2, block=False) == ["a", "b"]


def test_items_that_cannot_go_back_are_logged_as_lost(queue, caplog):
    queue.put("x")
    client, msg, request = take(queue, 1)
    _sync.run(asyncio.wait_for(asyncio.shield(request), 10))
    ketch.Queue.delete(queue._name)
    with caplog.at_level(logging.WARNING, logger="ketch"):
        put_back(client, msg, request)
    assert "1 item(s)" in caplog.text and "lost" in caplog.text


def test_a_get_the_server_refused_took_nothing(queue, caplog):
    ketch.Queue.delete(queue._name)
    client, msg, request = take(queue, 1)
    with caplog.at_level(logging.WARNING, logger="ketch"):
        put_back(client, msg, request)
    assert not caplog.records


def test_a_get_whose_reply_never_comes_is_logged(queue, caplog, monkeypatch):
    monkeypatch.setattr(_queue, "PUT_BACK_WAIT_S", 0.2)
    client, msg, request = take(queue, 1, timeout_s=-1)  # waits on an empty queue
    with caplog.at_level(logging.WARNING, logger="ketch"):
        put_back(client, msg, request)
    client.send(queue_cancel_wait=pb.QueueCancelWait(waiter_id=msg.waiter_id))
    assert "no reply" in caplog.text
