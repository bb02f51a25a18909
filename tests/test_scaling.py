"""Autoscaling: min/max/buffer containers, scale to zero, concurrency, batching."""

import time

import pytest

from ketch import _sync
from ketch._client import Client
from ketch.proto import ketch_pb2 as pb


def containers(function_name: str) -> list:
    async def fetch():
        client = await Client.get()
        reply = await client.request(container_list=pb.ContainerList())
        return [c for c in reply.container_list_reply.containers
                if c.function_name == function_name]

    return _sync.run(fetch())


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def scaling_app(server):
    from apps import scaling

    with scaling.app.run():
        yield scaling


def test_min_containers_start_without_calls(scaling_app):
    assert wait_until(lambda: any(c.state == "ready" for c in containers("warm")))
    pid = scaling_app.warm.remote(1)
    assert pid in [c.pid for c in containers("warm")]


def test_scale_to_zero_after_scaledown_window(scaling_app):
    scaling_app.quick_to_leave.remote(1)
    assert containers("quick_to_leave")
    assert wait_until(lambda: not containers("quick_to_leave"), timeout=30)


def test_max_containers_is_never_exceeded(scaling_app):
    import threading

    peak = 0
    done = threading.Event()

    def watch():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, len(containers("capped")))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        pids = set(scaling_app.capped.map([0.3] * 8))
    finally:
        done.set()
        watcher.join()
    assert 1 <= len(pids) <= 2
    assert 1 <= peak <= 2


def test_fan_out_uses_several_containers(scaling_app):
    pids = set(scaling_app.fan_out.map([1.0] * 4))
    assert len(pids) >= 2


def test_buffer_containers_start_under_load(scaling_app):
    call = scaling_app.buffered.spawn(3)
    # One input in flight plus one buffer container.
    assert wait_until(lambda: len(containers("buffered")) >= 2, timeout=20)
    assert isinstance(call.get(timeout=30), int)


def test_concurrent_inputs_share_one_container(basic_app):
    results = list(basic_app.concurrent_sleep.map([1.0] * 4))
    pids = {pid for pid, _, _ in results}
    assert len(pids) == 1  # max_containers=1
    starts = [s for _, s, _ in results]
    ends = [e for _, _, e in results]
    assert max(starts) < min(ends)  # all four ran at the same time


def test_concurrent_async_inputs(basic_app):
    results = list(basic_app.concurrent_async.map([0.5] * 10))
    starts = [s for _, s, _ in results]
    ends = [e for _, _, e in results]
    assert len({pid for pid, _, _ in results}) == 1
    assert max(starts) < min(ends)


def test_batched_function_gets_lists(basic_app):
    out = list(basic_app.batch_double.map(range(16)))
    assert [value for value, _ in out] == [x * 2 for x in range(16)]
    assert max(size for _, size in out) > 1  # inputs really were batched


def test_batched_wrong_result_length_is_an_error(basic_app):
    with pytest.raises(TypeError, match="one result per input"):
        list(basic_app.batch_wrong_length.map([1, 2]))
