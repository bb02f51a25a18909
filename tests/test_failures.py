"""Failure paths: user exceptions, crashes, kills, timeouts, retries, bad input."""

import threading
import time
import traceback

import pytest

import ketch
from ketch.exception import ContainerCrashError, FunctionTimeoutError, SerializationError


def test_user_exception_keeps_type_and_remote_traceback(basic_app):
    with pytest.raises(KeyError) as info:
        basic_app.fail_on.remote(3)
    text = "".join(traceback.format_exception(info.value))
    # Issue 10: the remote frames continue the local ones, as on Modal, without ketch's own
    # frames or a RemoteTraceback header between them.
    assert "RemoteTraceback" not in text and "/ketch/" not in text, text
    assert "basic.py" in text and "fail_on" in text


def test_custom_exception_attributes_survive(basic_app):
    with pytest.raises(basic_app.CustomError) as info:
        basic_app.raise_custom.remote()
    assert info.value.code == 42 and info.value.detail == "custom detail"


def test_crash_mid_input_names_exit_code(basic_app):
    with pytest.raises(ContainerCrashError, match="exited with code 5"):
        basic_app.crash.remote(5)
    # The function still works afterwards, in a new container.
    assert basic_app.square.remote(2) == 4


def test_kill_9_names_the_signal(basic_app):
    with pytest.raises(ContainerCrashError, match="SIGKILL"):
        basic_app.kill_self.remote()


def test_timeout_stops_container(basic_app):
    with pytest.raises(FunctionTimeoutError, match="timeout of 1 s"):
        basic_app.too_slow.remote()


def test_retries_until_success(basic_app, tmp_path):
    counter = tmp_path / "count"
    assert basic_app.flaky.remote(str(counter), 2) == 3
    assert counter.read_text() == "3"


def test_retry_exhaustion_raises_last_error(basic_app, tmp_path):
    counter = tmp_path / "count"
    with pytest.raises(RuntimeError, match="attempt 3 failed"):
        basic_app.flaky.remote(str(counter), 5)
    assert counter.read_text() == "3"  # one try and two retries


def test_crash_is_retried(basic_app, tmp_path):
    assert basic_app.crash_once.remote(str(tmp_path / "c")) == "survived"


def test_unpicklable_argument(basic_app):
    with pytest.raises(SerializationError, match="picklable"):
        basic_app.identity.remote(threading.Lock())


def test_unpicklable_result(basic_app):
    with pytest.raises(SerializationError, match="could not be pickled"):
        basic_app.unpicklable_result.remote()


def test_map_with_crash_does_not_hang(basic_app):
    out = list(basic_app.crash.map([1, 2], return_exceptions=True))
    assert all(isinstance(e, ContainerCrashError) for e in out)


def test_import_error_in_container_fails_inputs(server, tmp_path, monkeypatch):
    # A module that imports here but fails to import in the container.
    mod = tmp_path / "breaks_in_container.py"
    mod.write_text(
        "import ketch\n"
        "if not ketch.is_local():\n"
        "    raise ImportError('only works on my laptop')\n"
        "app = ketch.App('breaks')\n"
        "@app.function()\n"
        "def f(x):\n"
        "    return x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import breaks_in_container

    with breaks_in_container.app.run():
        with pytest.raises(ImportError, match="only works on my laptop") as info:
            breaks_in_container.f.remote(1)
        app_id = breaks_in_container.app.app_id
    # It says the module did not import, not only the traceback (which read like a crash),
    # and the container's end in the app log is that, not the SIGKILL that ketch sent it.
    said = "while importing module breaks_in_container in the function's container"
    assert any(said in note for note in info.value.__notes__)
    deadline = time.monotonic() + 10
    while "stopped: it failed while importing" not in (logs := "".join(
            (r := server.ketch("app", "logs", app_id)).stdout + r.stderr)) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "stopped: it failed while importing module breaks_in_container (ImportError: " \
        "only works on my laptop)" in " ".join(logs.split()), logs
    assert "SIGKILL" not in logs, logs
    # The traceback is the user's frames, without the runtime's or importlib's.
    assert "breaks_in_container.py" in logs and "importlib" not in logs, logs
    assert said in " ".join(logs.split()), logs


@pytest.mark.parametrize("kwargs, message", [
    ({"cpu": -1}, "cpu="),
    ({"cpu": (2, 1)}, "limit must be at least"),
    ({"memory": "lots"}, "memory="),
    ({"timeout": 0}, "timeout="),
    ({"timeout": 100000}, "timeout="),
    ({"retries": 11}, "retries="),
    ({"retries": "x"}, "retries="),
    ({"min_containers": 3, "max_containers": 2}, "below"),
    ({"max_containers": 0}, "max_containers="),
    ({"scaledown_window": 0}, "scaledown_window="),
    ({"env": {"A": 1}}, "env="),
    ({"gpu": "not a gpu!"}, "gpu="),
    ({"bogus": 1}, "unknown option"),
])
def test_bad_options_fail_at_decoration(kwargs, message):
    app = ketch.App("bad-options")
    with pytest.raises(ketch.exception.InvalidError, match=message):
        @app.function(**kwargs)
        def f():
            pass


def test_not_yet_supported_options_say_so():
    app = ketch.App("later")
    with pytest.raises(NotImplementedError, match="there are no regions"):
        @app.function(region="us-east")
        def f():
            pass
    with pytest.raises(ketch.exception.InvalidError, match="give ketch.Cron"):
        @app.function(schedule=object())
        def g():
            pass


def test_bad_retries_policy():
    with pytest.raises(ketch.exception.InvalidError, match="backoff_coefficient"):
        ketch.Retries(max_retries=2, backoff_coefficient=20)


def test_decorator_order_is_checked():
    app = ketch.App("order")
    with pytest.raises(ketch.exception.InvalidError, match="below @app.function"):
        @ketch.concurrent(max_inputs=2)
        @app.function(serialized=True)
        def f():
            pass


def test_bad_app_name():
    with pytest.raises(ketch.exception.InvalidError, match="App name"):
        ketch.App("no spaces allowed")


def test_resource_request_larger_than_machine_waits_then_fails(server, capfd):
    # Not refused (issue 10): the app runs with a warning, the call fails after its
    # startup timeout naming the request and the machine.
    app = ketch.App("huge")

    @app.function(cpu=500, serialized=True, startup_timeout=1)
    def f():
        pass

    with app.run():
        assert "Warning: f waits for cpu=500: this machine has" in capfd.readouterr().err
        with pytest.raises(ketch.exception.ResourceError, match="cpu=500.*within 1 s"):
            f.remote()


def test_gpu_request_without_gpus_waits_then_fails(server):
    app = ketch.App("gpu")

    @app.function(gpu="H100:8", serialized=True, startup_timeout=1)
    def f():
        pass

    with app.run():
        with pytest.raises(ketch.exception.ResourceError, match="8× H100: this machine has"):
            f.remote()


def test_pickled_function_across_python_versions_is_refused(server):
    from ketch import _sync
    from ketch._client import Client
    from ketch.proto import ketch_pb2 as pb

    async def go():
        client = await Client.get()
        app = await client.request(app_create=pb.AppCreate(name="pyver", ephemeral=True))
        # Only a function pickled by value needs the client's minor version (issue 10).
        spec = pb.FunctionSpec(name="f", module="m", qualname="f", python_version="2.7",
                               pickled=b"\x80\x05N.", timeout_s=10,
                               resources=pb.Resources(cpu_request=0.1))
        try:
            await client.request(function_create=pb.FunctionCreate(
                app_id=app.app_created.app_id, spec=spec))
        finally:
            await client.request(app_stop=pb.AppStop(app_id=app.app_created.app_id))

    with pytest.raises(ketch.exception.VersionError, match="Python 2.7 but its container "
                       "would run Python 3"):
        _sync.run(go())


def test_generator_that_yielded_is_not_rerun(basic_app, tmp_path):
    counter = tmp_path / "runs"
    got = []
    with pytest.raises(RuntimeError, match="failed after yielding"):
        for value in basic_app.yields_then_fails.remote_gen(str(counter)):
            got.append(value)
    assert got == ["first"]
    assert counter.read_text() == "1"


def test_enter_failure_reaches_caller_and_restarts_back_off(basic_app, server):
    import json
    import time

    with pytest.raises(RuntimeError, match="the model file is missing"):
        basic_app.NeverStarts().predict.remote(1)
    time.sleep(3)
    log = server.data_dir / "logs" / f"{basic_app.app.app_id}.jsonl"
    starts = [json.loads(line) for line in log.read_text().splitlines()]
    starts = [r[0] for r in starts
              if r[2] == "NeverStarts" and r[4].startswith("starting container")]
    # min_containers=1 has kept asking for a container since the session's app started, but
    # failed starts back off (0.5 s, 1 s, 2 s, ... up to 30 s) instead of spinning (about 30
    # starts in 3 s without it).
    elapsed = time.time() - starts[0]
    assert 1 <= len(starts) <= 8 + elapsed / 25, (len(starts), elapsed)


def test_big_batches_are_split_into_frames(basic_app):
    blobs = [bytes([i]) * 1_500_000 for i in range(60)]  # 90 MB in one map, 1.5 MB each
    out = list(basic_app.echo_bytes.map(blobs))
    assert [len(b) for b in out] == [1_500_000] * 60 and out[59][0] == 59


@pytest.mark.parametrize("remote, rel", [("/../../tmp/escaped", None),
                                         ("/data", "../../escaped")])
def test_image_steps_cannot_write_outside_the_image(server, tmp_path, remote, rel):
    """An image build request naming '..' is refused before anything is copied, whoever
    sends it (a container holds a client token too)."""
    from ketch import _sync
    from ketch._client import Client
    from ketch.proto import ketch_pb2 as pb

    (tmp_path / "f").write_text("x")
    args = [str(tmp_path / "f" if rel is None else tmp_path), remote] + ([rel] if rel else [])
    kind = "add_local_file" if rel is None else "add_local_dir"
    steps = [pb.ImageStep(kind="debian_slim"), pb.ImageStep(kind=kind, args=args)]

    async def build():
        client = await Client.get()
        await client.request(image_build=pb.ImageBuild(build_id="b1",
                                                       image=pb.ImageDef(steps=steps)))

    with pytest.raises(ketch.exception.InvalidError, match=r"'\.\.'"):
        _sync.run(build())
