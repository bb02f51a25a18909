"""How a function that leaves its container fails the caller: sys.exit fails the input
(and the caller goes on), a crash names its real cause on both runtimes."""

from __future__ import annotations

from isolation_helpers import run_client

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
