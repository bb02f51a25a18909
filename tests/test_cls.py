"""Classes: parameters, @enter once per container, @exit, generator and async methods."""

import time

import pytest

import ketch


def test_parameters_and_enter_once(basic_app):
    a = basic_app.Counter(start=5)
    first = a.info.remote(1)
    second = a.info.remote(2)
    assert first["start"] == 5 and second["x"] == 2
    assert first["enters"] == 1 and second["enters"] == 1
    assert first["pid"] == second["pid"]  # same warm container


def test_distinct_parameters_get_their_own_containers(basic_app):
    a = basic_app.Counter(start=1).info.remote()
    b = basic_app.Counter(start=2).info.remote()
    assert (a["start"], b["start"]) == (1, 2)
    assert a["pid"] != b["pid"]


def test_default_parameters(basic_app):
    assert basic_app.Counter().info.remote()["start"] == 0


def test_method_generator(basic_app):
    assert list(basic_app.Counter(start=10).steps.remote_gen(3)) == [10, 11, 12]


def test_method_map(basic_app):
    out = list(basic_app.Counter(start=3).info.map([1, 2, 3]))
    assert [o["x"] for o in out] == [1, 2, 3]


def test_async_methods_and_enter(basic_app):
    m = basic_app.AsyncModel()
    assert m.predict.remote(2) == 12
    assert m.sync_predict.remote(2) == -2


def test_local_method_runs_enter(basic_app):
    assert basic_app.Counter(start=7).info.local(1)["start"] == 7


def test_bad_parameters_fail_early(basic_app):
    with pytest.raises(ketch.exception.InvalidError, match="no parameter 'nope'"):
        basic_app.Counter(nope=1)
    with pytest.raises(ketch.exception.InvalidError, match="by keyword"):
        basic_app.Counter(1)


def test_non_method_attribute(basic_app):
    with pytest.raises(AttributeError, match="ketch.method"):
        getattr(basic_app.Counter(), "setup")


def test_class_without_methods_is_refused():
    app = ketch.App("no-methods")
    with pytest.raises(ketch.exception.InvalidError, match="no @ketch.method"):
        @app.cls()
        class Empty:
            pass


def test_exit_hook_runs_when_container_stops(basic_app, tmp_path):
    from ketch import _sync
    from ketch._client import Client
    from ketch.proto import ketch_pb2 as pb

    marker = tmp_path / "exit-marker"
    pid = basic_app.Counter(start=99, exit_marker=str(marker)).info.remote()["pid"]

    async def stop_its_container():
        client = await Client.get()
        listed = await client.request(container_list=pb.ContainerList())
        mine = [c for c in listed.container_list_reply.containers if c.pid == pid]
        assert mine, "the container should still be warm"
        await client.request(container_stop=pb.ContainerStop(
            container_id=mine[0].container_id))

    _sync.run(stop_its_container())
    deadline = time.time() + 15
    while time.time() < deadline and not marker.exists():
        time.sleep(0.05)
    assert marker.read_text() == f"exited {pid}"
