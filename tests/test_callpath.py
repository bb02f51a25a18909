"""The call path's fast paths keep its semantics: the blocking face's hop, results handed
over in lists, the quiet CallCreate, plain-data pickling, shared input deadlines and the
autoscaler's ramp lift (issue 13, item 4 and 5)."""

import asyncio
import concurrent.futures
import time

import cloudpickle
import pytest

import ketch
from ketch import _sync
from ketch._serialization import deserialize, serialize
from ketch.proto import ketch_pb2 as pb
from ketch.server import autoscaler
from ketch.server.functions.model import AppRecord, ContainerRecord, FunctionRecord, \
    InputItem
from ketch.server.resources import MachineResources


# -- plain data pickling

@pytest.mark.parametrize("value", [
    ((1,), {}), 7, 2.5, "text", b"bytes", None, True,
    ((1, "a", b"x", None, 2.5, [1, 2, (3,)], {"k": [1.0]}), {"key": False}),
])
def test_plain_data_pickles_to_the_same_bytes_as_cloudpickle(value):
    assert serialize(value) == cloudpickle.dumps(value, protocol=5)
    assert deserialize(serialize(value)) == value


def test_what_is_not_plain_still_goes_through_cloudpickle():
    f = deserialize(serialize(((lambda x: x + 1,), {})))[0][0]   # by value
    assert f(1) == 2
    deep = [[[[1]]]]
    assert deserialize(serialize(deep)) == deep
    assert deserialize(serialize({1: "int key"})) == {1: "int key"}
    assert deserialize(serialize({"a", "b"})) == {"a", "b"}


# -- the blocking face

class _Face:
    @_sync.twin
    async def value(self, x):
        await asyncio.sleep(0)
        return x

    @_sync.twin
    async def fail(self):
        raise KeyError("from the loop")

    @_sync.twin
    async def cancelled(self):
        raise asyncio.CancelledError()

    @_sync.twin_chunked
    async def chunks(self, log: list):
        try:
            for start in range(0, 9, 3):
                yield [start, start + 1, start + 2]
        finally:
            log.append("closed")


def test_the_blocking_face_returns_raises_and_reports_cancellation():
    face = _Face()
    assert [face.value(i) for i in range(100)] == list(range(100))
    with pytest.raises(KeyError, match="from the loop"):
        face.fail()
    with pytest.raises(concurrent.futures.CancelledError):
        face.cancelled()


def test_chunked_results_are_flattened_on_both_faces_and_closed_early():
    face, log = _Face(), []
    assert list(face.chunks(log)) == list(range(9))
    got = []
    for x in face.chunks(log):
        got.append(x)
        if x == 4:
            break
    assert got == [0, 1, 2, 3, 4]

    async def aio():
        return [x async for x in face.chunks.aio(log)]

    assert asyncio.run(aio()) == list(range(9))
    deadline = time.monotonic() + 5
    while len(log) < 3 and time.monotonic() < deadline:   # the break's close is async
        time.sleep(0.01)
    assert log == ["closed"] * 3


# -- with a server

def test_map_hands_over_the_results_before_an_error_in_order(basic_app):
    got = []
    with pytest.raises(KeyError, match="input 40 is bad"):
        for value in basic_app.fail_on.map(range(80), kwargs={"bad": 40}):
            got.append(value)
    assert got == list(range(len(got))) and len(got) <= 40


def test_blocking_remotes_from_many_threads_beside_a_map_each_get_their_own(basic_app):
    """Caller threads write their calls to the socket themselves while ketch's loop
    writes a map's inputs on the same connection."""
    def calls(t):
        return [basic_app.square.remote(t * 100 + i) for i in range(10)]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        mapped = pool.submit(lambda: list(basic_app.square.map(range(100))))
        got = list(pool.map(calls, range(3)))
    assert got == [[(t * 100 + i) ** 2 for i in range(10)] for t in range(3)]
    assert mapped.result() == [i * i for i in range(100)]
    with pytest.raises(basic_app.CustomError):
        basic_app.raise_custom.remote()


def test_a_quiet_remote_of_a_stopped_app_fails_clearly(server):
    app = ketch.App("callpath-quiet")

    @app.function(serialized=True)
    def one(x):
        return x

    with app.run():
        assert one.remote(3) == 3
    with pytest.raises(ketch.exception.Error):
        one.remote(4)   # its function is gone: the create's error, not a hang


# -- the autoscaler's ramp

def _burst(n: int, sent_ago: float) -> FunctionRecord:
    spec = pb.FunctionSpec(name="hold", timeout_s=60, scaling=pb.Scaling(max_containers=n),
                           resources=pb.Resources(cpu_request=0.01, memory_request_mib=1))
    fn = FunctionRecord("fu-hold", AppRecord("ap-1", "app", "deployed", None), spec)
    for i in range(2):
        c = ContainerRecord(f"ta-{i}", fn)
        c.state = "ready"
        item = InputItem(None, pb.Input())
        item.sent_at = 1000.0 - sent_ago
        c.inflight[f"in-{i}"] = item
        fn.containers[c.id] = c
    fn.queue.extend(InputItem(None, pb.Input()) for _ in range(n - 2))
    return fn


def test_inputs_running_past_the_lift_start_every_wanted_container_at_once():
    res = MachineResources(cpu=64, memory_mib=1 << 16, gpus=[])

    def start(fn):
        return autoscaler.plan(fn, 0.0, res, [fn], list(fn.containers.values()),
                               wall_now=1000.0).start

    assert start(_burst(100, 0.01)) == 4          # tiny so far: it doubles (2 ready)
    assert start(_burst(100, autoscaler.RAMP_LIFT_S)) == 98
