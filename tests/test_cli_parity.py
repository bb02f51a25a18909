"""`ketch run` and the other commands behave as Modal users expect (issue 10, bug 8/9)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from conftest import ServerProcess, free_port
from isolation_helpers import needs_bwrap, start_server

ROOT = Path(__file__).parent.parent


def test_run_with_a_class_ends_cleanly_with_one_container_per_class(fresh_server):
    out = fresh_server.ketch("run", "apps/cli_parity.py::main")
    assert out.returncode == 0, out.stderr
    assert "warm 6 square 16" in out.stdout
    # No container refused or reported stopped at the end: the run stopped them.
    assert "is starting" not in out.stderr + out.stdout
    assert "stopped:" not in out.stderr, out.stderr
    assert "error" not in out.stderr.lower(), out.stderr
    apps = json.loads(fresh_server.ketch("app", "list", "--all", "--json").stdout)
    [app] = [a for a in apps if a["name"] == "cli-parity"]
    logs = fresh_server.ketch("app", "logs", app["app_id"]).stdout
    # Warm() is the class's default instance: it runs in the container min_containers
    # keeps, not in a second one started beside it.
    started = [line for line in logs.splitlines() if "starting container" in line]
    assert sum("Warm" in line for line in started) == 1, logs


@needs_bwrap
def test_run_on_bwrap_reports_no_stop_of_its_own_containers(tmp_path):
    # On bwrap a container still starting when the run ends (the map scaled up) cannot
    # heed SIGTERM yet: it was reported "killed by SIGTERM" or refused as an error.
    srv = start_server(tmp_path / "srv", "bwrap")
    try:
        for _ in range(2):
            out = srv.ketch("run", str(ROOT / "examples" / "hello.py"), "--n", "12")
            assert out.returncode == 0, out.stderr
            assert "stopped:" not in out.stderr and "is starting" not in out.stderr, out.stderr
    finally:
        srv.stop()


def test_required_and_typed_entrypoint_options(fresh_server):
    missing = fresh_server.ketch("run", "apps/cli_parity.py::needs_n")
    assert missing.returncode == 2, missing.stdout + missing.stderr
    assert "Missing option '--n'" in missing.stderr
    out = fresh_server.ketch("run", "apps/cli_parity.py::needs_n", "--n", "3")
    assert "n=3 extra=None blob=b'' note='none'" in out.stdout, out.stderr
    out = fresh_server.ketch("run", "apps/cli_parity.py::needs_n", "--n", "3", "--extra", "4",
                             "--blob", "hi")
    assert "n=3 extra=4 blob=b'hi' note='none'" in out.stdout, out.stderr
    bad = fresh_server.ketch("run", "apps/cli_parity.py::needs_n", "--n", "x")
    assert bad.returncode == 2 and "'x' is not a valid integer" in bad.stderr


def test_log_prefixes_are_printed_as_text(fresh_server):
    out = fresh_server.ketch("run", "apps/cli_parity.py::square", "--x", "5")
    assert out.returncode == 0, out.stderr
    [line] = [ln for ln in (out.stdout + out.stderr).splitlines() if "squaring 5" in ln]
    assert line.startswith("[square ") and line.endswith("] squaring 5"), line


def test_container_list_by_app_name_and_app_stop_by_id_prefix(fresh_server):
    for _ in range(2):
        run = fresh_server.ketch("run", "-d", "apps/cli_app.py::main")
        assert run.returncode == 0, run.stderr
    apps = json.loads(fresh_server.ketch("app", "list", "--json").stdout)
    ids = sorted(a["app_id"] for a in apps)
    table = fresh_server.ketch("app", "list", extra_env={"COLUMNS": "60"}).stdout
    assert all(i in table for i in ids)  # whole, however narrow the terminal
    listed = fresh_server.ketch("container", "list", "--app", "cli-app", "--json")
    assert {c["app_id"] for c in json.loads(listed.stdout)} == set(ids)
    nothing = fresh_server.ketch("container", "list", "--app", "no-such-app")
    assert nothing.returncode == 1 and "no app named 'no-such-app'" in nothing.stderr
    ambiguous = fresh_server.ketch("app", "stop", "ap-")
    assert ambiguous.returncode == 1
    assert "matches several apps" in ambiguous.stderr and all(i in ambiguous.stderr for i in ids)
    prefix = ids[0][:7]
    if sum(i.startswith(prefix) for i in ids) == 1:
        stopped = fresh_server.ketch("app", "stop", prefix)
        assert stopped.returncode == 0 and ids[0] in stopped.stdout, stopped.stderr
        left = json.loads(fresh_server.ketch("app", "list", "--json").stdout)
        assert [a["app_id"] for a in left] == [ids[1]]
    assert fresh_server.ketch("app", "stop", ids[1]).returncode == 0


def test_remote_traceback_reads_as_one_without_ketch_frames(fresh_server, tmp_path):
    app = tmp_path / "tb_app.py"
    app.write_text("import ketch\napp = ketch.App('tb')\n\n\ndef helper(x):\n    return 1 / x\n\n\n"
                   "@app.function()\ndef divide(x: int):\n    return helper(x)\n\n\n"
                   "@app.local_entrypoint()\ndef main():\n    divide.remote(0)\n")
    out = fresh_server.ketch("run", str(app))
    assert out.returncode == 1
    err = out.stderr
    assert "RemoteTraceback" not in err and "Remote traceback" not in err, err
    assert "/ketch/" not in err and "concurrent/futures" not in err, err
    frames = [line.split(", in ")[1] for line in err.splitlines()
              if line.startswith('  File "') and str(app) in line]
    assert frames == ["main", "divide", "helper"], err
    assert "    return 1 / x" in err and "ZeroDivisionError: division by zero" in err
    assert "^^^" not in err  # no carets drawn under the rebuilt remote lines


def test_gateway_port_in_use_is_said_loudly_and_shown_by_status(tmp_path):
    srv = ServerProcess(tmp_path / "srv")  # started by `ketch server start` below
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = f"127.0.0.1:{busy.getsockname()[1]}"
        try:
            start = srv.ketch("server", "start", "--gateway-address", taken)
            assert start.returncode == 0, start.stderr
            assert "Warning" in start.stderr and "gateway is down" in start.stderr
            assert "--gateway-address" in start.stderr
            status = json.loads(srv.ketch("server", "status", "--json").stdout)
            assert status["gateway"]["address"] is None
            assert taken in status["gateway"]["error"]
            assert "gateway:    down" in srv.ketch("server", "status").stdout
        finally:
            srv.ketch("server", "stop")
    free = f"127.0.0.1:{free_port()}"
    try:
        start = srv.ketch("server", "start", "--gateway-address", free,
                          "--runtime", "process")
        assert start.returncode == 0 and "Warning" not in start.stderr, start.stderr
        assert f"gateway:    http://{free}" in srv.ketch("server", "status").stdout
        assert json.loads(srv.ketch("server", "status", "--json").stdout)["runtime"] == \
            "process"
    finally:
        srv.ketch("server", "stop")
