"""`ketch run` and the other commands behave as Modal users expect (issue 10, bug 8/9)."""

from __future__ import annotations

import json
from pathlib import Path

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
