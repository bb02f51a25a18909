"""Fan-out: .map, .starmap, .for_each, .spawn, .spawn_map, FunctionCall."""

import itertools
import time

import pytest

import ketch


def test_map_in_order(basic_app):
    assert list(basic_app.square.map(range(50))) == [x * x for x in range(50)]


def test_map_zips_iterables_and_kwargs(basic_app):
    assert list(basic_app.add.map([1, 2, 3], [10, 20, 30], kwargs={"c": 100})) == [111, 122, 133]


def test_map_unordered(basic_app):
    out = list(basic_app.square.map(range(30), order_outputs=False))
    assert sorted(out) == [x * x for x in range(30)]


def test_map_raises_first_error(basic_app):
    with pytest.raises(KeyError, match="input 3 is bad"):
        list(basic_app.fail_on.map(range(6)))


def test_map_return_exceptions(basic_app):
    out = list(basic_app.fail_on.map(range(6), return_exceptions=True))
    assert out[:3] == [0, 1, 2] and out[4:] == [4, 5]
    assert isinstance(out[3], KeyError)


def test_map_is_lazy_over_an_endless_iterator(basic_app):
    # An infinite input stream works: inputs are sent in a bounded window.
    seen = 0
    for value in basic_app.identity.map(itertools.count()):
        seen += 1
        if value >= 3000:
            break
    assert seen == 3001


def test_map_over_a_generator(basic_app):
    def gen():
        for i in range(100):
            yield i

    assert sum(basic_app.square.map(gen())) == sum(i * i for i in range(100))


def test_starmap(basic_app):
    assert list(basic_app.add.starmap([(1, 2), (3, 4)])) == [3, 7]


def test_for_each(basic_app, tmp_path):
    assert basic_app.sleep_for.for_each([0, 0], [str(tmp_path / "a"), str(tmp_path / "b")]) \
        is None
    assert (tmp_path / "a").exists() and (tmp_path / "b").exists()


def test_map_needs_iterables(basic_app):
    with pytest.raises(ketch.exception.InvalidError):
        list(basic_app.square.map())
    with pytest.raises(ketch.exception.InvalidError, match="not iterable"):
        list(basic_app.square.map(5))


def test_spawn_and_get(basic_app):
    call = basic_app.square.spawn(9)
    assert call.object_id.startswith("fc-")
    assert call.get() == 81
    again = ketch.FunctionCall.from_id(call.object_id)
    assert again.get() == 81


def test_spawn_get_timeout(basic_app):
    call = basic_app.sleep_for.spawn(2)
    with pytest.raises(TimeoutError):
        call.get(timeout=0.1)
    assert call.get(timeout=10) == 2


def test_spawn_error_is_raised_on_get(basic_app):
    call = basic_app.fail_on.spawn(3)
    with pytest.raises(KeyError):
        call.get()


def test_gather(basic_app):
    calls = [basic_app.square.spawn(i) for i in range(5)]
    assert ketch.FunctionCall.gather(*calls) == [0, 1, 4, 9, 16]


def test_cancel(basic_app):
    call = basic_app.sleep_for.spawn(30)
    time.sleep(0.5)
    call.cancel()
    with pytest.raises(ketch.exception.InputCancellation):
        call.get(timeout=10)


def test_cancel_terminating_its_container(basic_app):
    call = basic_app.sleep_for.spawn(30)
    time.sleep(0.5)
    started = time.monotonic()
    call.cancel(terminate_containers=True)
    with pytest.raises(ketch.exception.InputCancellation):
        call.get(timeout=10)
    assert time.monotonic() - started < 5


def test_spawn_map_runs_every_input(basic_app, tmp_path):
    markers = [str(tmp_path / f"m{i}") for i in range(5)]
    assert basic_app.sleep_for.spawn_map([0] * 5, markers) is None
    deadline = time.time() + 20
    while time.time() < deadline and not all((tmp_path / f"m{i}").exists() for i in range(5)):
        time.sleep(0.05)
    assert all((tmp_path / f"m{i}").exists() for i in range(5))


def test_from_id_rejects_garbage():
    with pytest.raises(ketch.exception.InvalidError):
        ketch.FunctionCall.from_id("nope")


def test_unknown_call_id(server):
    with pytest.raises(ketch.exception.NotFoundError):
        ketch.FunctionCall.from_id("fc-0000000000000000").get(timeout=1)


def test_map_keeps_a_bounded_window_in_flight(basic_app):
    """A map pulls its inputs only as outputs come back: with the consumer paused, the
    sender stalls, so a million inputs cost no more memory than a thousand."""
    from ketch._functions import MAP_WINDOW, READ_AHEAD

    pulled = 0

    def inputs():
        nonlocal pulled
        for i in range(1_000_000):
            pulled += 1
            yield i

    # In flight at most a window; waiting to be put in order at most another window; and
    # what is read ahead from the generator.
    bound = 2 * MAP_WINDOW + READ_AHEAD + 1
    results = basic_app.identity.map(inputs())
    assert next(results) == 0
    time.sleep(1.0)  # the consumer is slow: the sender must stall at the window
    assert pulled <= bound
    for value in results:
        if value == 5000:
            break
    assert pulled <= 5000 + bound


def test_cancel_during_retry_backoff(basic_app):
    call = basic_app.fails_with_slow_retries.spawn()
    time.sleep(1.0)  # the first attempt has failed; the retry waits 10 s
    call.cancel()
    with pytest.raises(ketch.exception.InputCancellation):
        call.get(timeout=20)


def test_map_streams_from_a_trickling_generator(basic_app):
    import threading

    gate = threading.Event()

    def inputs():
        yield 1
        # The first result must come back before this generator can go on.
        assert gate.wait(20), "the map waited for more inputs instead of sending the first"
        yield 2

    results = basic_app.square.map(inputs())
    assert next(results) == 1
    gate.set()
    assert list(results) == [4]


def test_cancelled_remote_stops_running_on_the_server(basic_app):
    import asyncio

    from ketch import _sync
    from ketch._client import Client
    from ketch.proto import ketch_pb2 as pb

    async def give_up():
        try:
            await asyncio.wait_for(basic_app.sleep_for.remote.aio(30), 1.0)
        except asyncio.TimeoutError:
            pass

    asyncio.run(give_up())

    async def busy():
        client = await Client.get()
        reply = await client.request(container_list=pb.ContainerList())
        return sum(c.inputs_in_flight for c in reply.container_list_reply.containers
                   if c.function_name == "sleep_for")

    deadline = time.time() + 15
    while time.time() < deadline and _sync.run(busy()):
        time.sleep(0.1)
    assert _sync.run(busy()) == 0
