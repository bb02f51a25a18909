"""How a function that leaves its container fails the caller: sys.exit fails the input
(and the caller goes on), a crash names its real cause on both runtimes."""

from __future__ import annotations

import pytest

from isolation_helpers import needs_bwrap, run_client, start_server

DRIVE = """
    import json
    from apps import crashy
    out = {{}}
    with crashy.app.run():
        for name in {names!r}:
            try:
                out[name] = ["ok", getattr(crashy, name).remote()]
            except BaseException as exc:
                out[name] = [type(exc).__name__, str(exc)]
        out["after"] = crashy.square.remote(7)
    print(json.dumps(out))
"""


def test_sys_exit_fails_the_input_and_the_caller_goes_on(server):
    out = run_client(server, DRIVE.format(names=["sys_exit", "async_sys_exit"]), timeout=60)
    for name in ("sys_exit", "async_sys_exit"):
        kind, message = out[name]
        assert kind == "RemoteError", out
        assert "SystemExit(4)" in message
    assert out["after"] == 49


def _check_crash_causes(srv):
    out = run_client(srv, DRIVE.format(names=["hard_exit", "segfault"]), timeout=120)
    assert out["hard_exit"][0] == "ContainerCrashError"
    assert "exited with code 3" in out["hard_exit"][1]
    assert out["segfault"][0] == "ContainerCrashError"
    assert "SIGSEGV" in out["segfault"][1]
    assert out["after"] == 49


def test_crash_causes_on_the_process_runtime(server):
    _check_crash_causes(server)


@needs_bwrap
def test_crash_causes_on_the_bwrap_runtime(tmp_path):
    srv = start_server(tmp_path / "srv", "bwrap")
    try:
        _check_crash_causes(srv)
    finally:
        srv.stop()
