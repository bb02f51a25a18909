"""What a cancelled Queue.get took goes back into the queue, or is reported as lost:
unit tests of `_queue._put_back` with a stand-in client, no server."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ketch import _queue
from ketch.exception import ConnectionError as KetchConnectionError
from ketch.exception import InvalidError, TimeoutError as KetchTimeoutError
from ketch.proto import ketch_pb2 as pb

GET = pb.QueueGet(object_id="qu-1", partition="p")


class FakeClient:
    """Answers queue_put requests with the given outcomes, in order (an exception is raised)."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.puts: list[pb.QueuePut] = []

    async def request(self, **body):
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        self.puts.append(body["queue_put"])
        return pb.Frame()


@pytest.fixture
def client(monkeypatch):
    holder = {}

    async def get(autostart=True):
        return holder["client"]

    monkeypatch.setattr(_queue.Client, "get", staticmethod(get))
    monkeypatch.setattr(_queue, "PUT_BACK_RETRY_S", 0)

    def use(*outcomes):
        holder["client"] = FakeClient(*outcomes)
        return holder["client"]

    return use


def reply_with(values) -> asyncio.Future:
    future = asyncio.get_running_loop().create_future()
    future.set_result(pb.Frame(queue_items=pb.QueueItems(values=values)))
    return future


def failed_with(exc) -> asyncio.Future:
    future = asyncio.get_running_loop().create_future()
    future.set_exception(exc)
    return future


def test_taken_items_go_back_after_a_lost_connection(client, caplog):
    fake = client(KetchConnectionError("lost"), None)

    async def main():
        await _queue.Queue._put_back(fake, GET, reply_with([b"a", b"b"]))

    asyncio.run(main())
    assert [list(p.values) for p in fake.puts] == [[b"a", b"b"]]
    assert fake.puts[0].object_id == "qu-1" and fake.puts[0].partition == "p"
    assert not caplog.records


def test_items_that_cannot_go_back_are_logged_as_lost(client, caplog):
    fake = client(InvalidError("queue is gone"))

    async def main():
        await _queue.Queue._put_back(fake, GET, reply_with([b"a"]))

    with caplog.at_level(logging.WARNING, logger="ketch"):
        asyncio.run(main())
    assert not fake.puts
    assert "1 item(s)" in caplog.text and "queue is gone" in caplog.text


def test_connection_lost_on_every_attempt_is_logged(client, caplog):
    fake = client(*[KetchConnectionError("lost")] * _queue.PUT_BACK_ATTEMPTS)

    async def main():
        await _queue.Queue._put_back(fake, GET, reply_with([b"a"]))

    with caplog.at_level(logging.WARNING, logger="ketch"):
        asyncio.run(main())
    assert "could not be put back" in caplog.text


def test_a_get_the_server_refused_took_nothing(client, caplog):
    fake = client()

    async def main():
        await _queue.Queue._put_back(fake, GET, failed_with(KetchTimeoutError("empty")))

    with caplog.at_level(logging.WARNING, logger="ketch"):
        asyncio.run(main())
    assert not fake.puts and not caplog.records


def test_a_get_whose_reply_never_comes_is_logged(client, caplog, monkeypatch):
    monkeypatch.setattr(_queue, "PUT_BACK_WAIT_S", 0.01)
    fake = client()

    async def main():
        await _queue.Queue._put_back(fake, GET, asyncio.get_running_loop().create_future())

    with caplog.at_level(logging.WARNING, logger="ketch"):
        asyncio.run(main())
    assert "no reply" in caplog.text
