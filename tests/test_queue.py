"""Queues against a real server: the SDK here, producers and consumers in real
containers, and the CLI."""

import asyncio
import json
import queue
import textwrap
import threading
import time

import pytest

import ketch
from ketch.exception import InvalidError, NotFoundError


@pytest.fixture(scope="module")
def state(server):
    from apps import state

    with state.app.run():
        yield state


def test_fifo_blocking_and_non_blocking(server):
    with ketch.Queue.ephemeral() as q:
        q.put("first")
        q.put_many([2, 3, {"four": 4}])
        assert q.len() == 4
        assert q.get() == "first"
        assert q.get_many(2) == [2, 3]
        assert q.get_many(10, block=False) == [{"four": 4}]
        assert q.get(block=False) is None
        assert q.get_many(3, block=False) == []
        with pytest.raises(queue.Empty):
            q.get(timeout=0.2)
        with pytest.raises(queue.Empty):
            q.get_many(2, timeout=0.2)


def test_partitions_are_independent(server):
    with ketch.Queue.ephemeral() as q:
        q.put(0)
        q.put(1, partition="foo")
        q.put_many([2, 3], partition="bar")
        assert q.len() == 1 and q.len(partition="bar") == 2 and q.len(total=True) == 4
        assert q.get(partition="bar") == 2
        assert q.get(block=False, partition="foo") == 1
        assert q.get(block=False, partition="foo") is None
        q.clear(partition="bar")
        assert q.len(partition="bar") == 0 and q.len() == 1
        q.put(5, partition="foo")
        q.clear(all=True)
        assert q.len(total=True) == 0
        with pytest.raises(InvalidError, match="1 to 64 bytes"):
            q.put(1, partition="x" * 65)
        with pytest.raises(InvalidError, match="1 to 64 bytes"):
            q.put(1, partition="")
        with pytest.raises(InvalidError, match="not both"):
            q.len(partition="foo", total=True)


def test_iterate_reads_without_taking(server):
    with ketch.Queue.ephemeral() as q:
        q.put_many(list(range(250)))
        assert list(q.iterate()) == list(range(250))
        assert q.len() == 250

        def later():
            time.sleep(0.3)
            q.put("late")

        threading.Thread(target=later).start()
        seen = []
        for item in q.iterate(item_poll_timeout=60):  # waits for the late item, then stops
            seen.append(item)
            if item == "late":
                break
        assert seen == list(range(250)) + ["late"] and q.len() == 251


def test_a_blocked_get_wakes_when_an_item_arrives(server):
    with ketch.Queue.ephemeral() as q:
        got = []
        getter = threading.Thread(target=lambda: got.append(q.get(timeout=60)))
        getter.start()
        time.sleep(0.2)  # let the get reach the server; the put must wake it either way
        q.put("wake up")
        getter.join(60)
        assert got == ["wake up"]


def test_a_cancelled_get_takes_no_item(server):
    """A get abandoned by its caller must not swallow the next item."""
    async def main():
        async with ketch.Queue.ephemeral() as q:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(q.get.aio(), 0.3)
            await q.put.aio("kept")
            return await q.get.aio(block=False)

    assert asyncio.run(main()) == "kept"


def test_full_partition_and_oversized_items(server):
    with ketch.Queue.ephemeral() as q:
        q.put_many(list(range(5000)))
        with pytest.raises(queue.Full):
            q.put("one too many", block=False)
        with pytest.raises(queue.Full):
            q.put("one too many", timeout=0.2)
        assert q.get() == 0
        q.put("fits now", block=False)
        with pytest.raises(InvalidError, match="limit is 1024 KiB"):
            q.put(b"x" * (1024 * 1024 + 1), partition="big")


def test_a_put_blocked_on_a_full_partition_waits_for_room(server):
    with ketch.Queue.ephemeral() as q:
        q.put_many(list(range(5000)))
        done = threading.Event()

        def putter():
            q.put("after room", timeout=60)
            done.set()

        thread = threading.Thread(target=putter)
        thread.start()
        time.sleep(0.2)
        assert q.get() == 0
        thread.join(60)
        assert done.is_set() and q.len() == 5000


def test_async_twins(server):
    async def main():
        async with ketch.Queue.ephemeral() as q:
            await q.put.aio(1)
            await q.put_many.aio([2, 3])
            n = await q.len.aio()
            first = await q.get.aio()
            rest = await q.get_many.aio(5)
            await q.put.aio(4)
            seen = [x async for x in q.iterate.aio()]
            await q.clear.aio()
            return n, first, rest, seen, await q.len.aio()

    assert asyncio.run(main()) == (3, 1, [2, 3], [4], 0)


def test_producer_and_consumers_in_containers_lose_and_duplicate_nothing(state):
    name = "handoff"
    ketch.Queue.delete(name, allow_missing=True)
    ketch.Queue.from_name(name, create_if_missing=True).hydrate()
    n, n_consumers = 2000, 4
    consumers = [state.consume.spawn(name) for _ in range(n_consumers)]
    state.produce.remote(name, n, n_consumers)
    got = [item for call in consumers for item in call.get(timeout=120)]
    assert len(got) == n and sorted(got) == list(range(n))
    # Each consumer saw its share in the order it was put.
    for call in consumers:
        part = call.get(timeout=10)
        assert part == sorted(part)


def test_missing_queue_says_what_to_do(server):
    with pytest.raises(NotFoundError, match="create_if_missing=True"):
        ketch.Queue.from_name("never-created-queue").put(1)


def test_partition_ttl_clears_a_partition(server):
    with ketch.Queue.ephemeral() as q:
        q.put("short-lived", partition="p", partition_ttl=1)
        q.put("long-lived")
        deadline = time.monotonic() + 30
        while q.len(partition="p") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert q.len(partition="p") == 0 and q.len() == 1


def test_queue_persists_across_restart_and_cli(fresh_server):
    k = fresh_server.ketch
    assert k("queue", "create", "jobs").returncode == 0
    out = fresh_server.python(textwrap.dedent("""
        import ketch
        q = ketch.Queue.from_name("jobs")
        q.put_many(["a", "b", "c"])
        q.put("x", partition="p1")
    """))
    assert out.returncode == 0, out.stderr
    fresh_server.stop()
    fresh_server.start()
    assert k("queue", "len", "jobs").stdout.strip() == "3"
    assert k("queue", "len", "jobs", "--total").stdout.strip() == "4"
    assert json.loads(k("queue", "len", "jobs", "--json").stdout) == {
        "queue": "jobs", "partition": None, "len": 3}
    assert json.loads(k("queue", "peek", "jobs", "2", "--json").stdout) == ["a", "b"]
    assert "'x'" in k("queue", "peek", "jobs", "-p", "p1").stdout
    listing = json.loads(k("queue", "list", "--json").stdout)
    assert [(x["name"], x["items"]) for x in listing] == [("jobs", 4)]
    assert k("queue", "clear", "jobs", "-p", "p1", "-y").returncode == 0
    assert k("queue", "len", "jobs", "--total").stdout.strip() == "3"
    got = fresh_server.python("import ketch; print(ketch.Queue.from_name('jobs').get_many(5))")
    assert got.stdout.strip() == "['a', 'b', 'c']"
    assert k("queue", "delete", "jobs", "-y").returncode == 0
    gone = k("queue", "len", "jobs")
    assert gone.returncode == 1 and "no Queue named 'jobs'" in gone.stderr


def test_cancelled_gets_lose_no_items(server):
    """Getters that give up (asyncio timeouts) while items arrive must not swallow them."""
    import random

    n = 1500

    async def main(q):
        got = []

        async def impatient():
            for _ in range(60):
                try:
                    got.append(await asyncio.wait_for(q.get.aio(timeout=5),
                                                      random.uniform(0.001, 0.02)))
                except asyncio.TimeoutError:
                    pass

        async def producer():
            for start in range(0, n, 50):
                await q.put_many.aio(list(range(start, start + 50)))
                await asyncio.sleep(0.005)

        await asyncio.gather(producer(), *(impatient() for _ in range(6)))
        while len(got) < n:
            item = await q.get.aio(timeout=5)
            if item is None:
                break
            got.append(item)
        return got

    with ketch.Queue.ephemeral() as q:
        got = asyncio.run(main(q))
    assert sorted(got) == list(range(n))
