"""Calling functions: .remote, .local, generators, async, .aio twins, context helpers."""

import asyncio

import pytest

import ketch


def test_remote_returns_result(basic_app):
    assert basic_app.square.remote(7) == 49
    assert basic_app.add.remote(1, 2, c=3) == 6


def test_local_runs_in_this_process(basic_app):
    assert basic_app.square.local(5) == 25
    info = basic_app.whoami.local()
    assert info["local"] is True and info["input_id"] is None


def test_calling_a_function_directly_says_what_to_do(basic_app):
    with pytest.raises(ketch.exception.InvalidError, match=r"\.remote"):
        basic_app.square(3)


def test_context_inside_container(basic_app):
    info = basic_app.whoami.remote()
    assert info["local"] is False
    assert info["input_id"].startswith("in-")
    assert info["call_id"].startswith("fc-")
    import os

    assert info["pid"] != os.getpid()
    assert "containers" in info["cwd"]  # its own working directory
    assert ketch.is_local() is True


def test_env_reaches_container(basic_app):
    assert basic_app.with_env.remote() == "hi"
    assert basic_app.whoami.remote()["env"] is None


def test_async_user_function(basic_app):
    assert basic_app.async_double.remote(21) == 42


def test_aio_twins(basic_app):
    async def main():
        a = await basic_app.square.remote.aio(3)
        b = [x async for x in basic_app.square.map.aio([1, 2, 3])]
        c = [x async for x in basic_app.countdown.remote_gen.aio(3)]
        call = await basic_app.square.spawn.aio(4)
        d = await call.get.aio()
        return a, b, c, d

    assert asyncio.run(main()) == (9, [1, 4, 9], [3, 2, 1], 16)


def test_generators(basic_app):
    assert list(basic_app.countdown.remote_gen(5)) == [5, 4, 3, 2, 1]
    assert list(basic_app.async_countdown.remote_gen(3)) == [3, 2, 1]
    with pytest.raises(ketch.exception.InvalidError, match="remote_gen"):
        basic_app.countdown.remote(3)
    with pytest.raises(ketch.exception.InvalidError, match="not a generator"):
        list(basic_app.square.remote_gen(3))


def test_nested_call_from_container(basic_app):
    assert basic_app.call_square.remote(5) == 26


def test_large_arguments_and_results_go_through_blobs(basic_app):
    big = bytes(range(256)) * (3 * 1024 * 1024 // 256)  # 3 MiB, over the inline limit
    assert basic_app.echo_bytes.remote(big) == big
    out = basic_app.make_bytes.remote(5 * 1024 * 1024)
    assert len(out) == 5 * 1024 * 1024


def test_unhydrated_function_says_why():
    app = ketch.App("not-running")

    @app.function(serialized=True)
    def lonely(x):
        return x

    with pytest.raises(ketch.exception.ExecutionError, match="app.run"):
        lonely.remote(1)


def test_nested_function_needs_serialized():
    app = ketch.App("nested")
    with pytest.raises(ketch.exception.InvalidError, match="serialized=True"):
        @app.function()
        def inner(x):
            return x


def test_serialized_function_defined_in_a_test(server):
    app = ketch.App("serialized")
    offset = 10

    @app.function(serialized=True)
    def shifted(x):
        return x + offset

    with app.run():
        assert shifted.remote(1) == 11


def test_async_with_app_run(server):
    from apps import scaling

    async def main():
        async with scaling.app.run():
            return await scaling.fan_out.remote.aio(0)

    assert isinstance(asyncio.run(main()), int)


def test_modal_names_not_in_ketch_yet_say_so():
    with pytest.raises(AttributeError, match="SandboxSnapshot is not in ketch yet"):
        getattr(ketch, "SandboxSnapshot")
    assert not hasattr(ketch, "CloudBucketMount")


def test_runtime_option_changes_take_modals_keywords(basic_app):
    # Each returns a handle of its own (tests/test_variants.py runs them); the base's
    # handle is unchanged, and Modal's keywords are the only ones taken.
    wide = basic_app.square.with_concurrency(max_inputs=2)
    assert isinstance(wide, ketch.Function) and wide is not basic_app.square
    for name in ("with_options", "with_batching", "update_autoscaler"):
        with pytest.raises(TypeError, match="max_inputs"):
            getattr(basic_app.square, name)(max_inputs=2)
