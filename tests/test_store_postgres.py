"""A real ketch server on PostgreSQL: killed with `kill -9` and started again against the
same database and data directory, it resumes its deployed apps, spawned calls (and their
results), secrets and schedules; a store it cannot use stops `ketch server start` at
once, saying why."""

from __future__ import annotations

import json
import textwrap
import time

from conftest import ServerProcess, free_port

APP = textwrap.dedent("""
    import os, time
    import ketch

    app = ketch.App("pg-restart")

    @app.function(secrets=[ketch.Secret.from_name("pg-secret")])
    def token():
        return os.environ["TOKEN"]

    @app.function()
    def slow_square(x):
        time.sleep(1.0)
        return x * x

    @app.function(schedule=ketch.Period(hours=1))
    def hourly():
        pass
""")


def _next_run(srv: ServerProcess) -> float:
    listed = srv.ketch("app", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return next(a["next_run_at"] for a in json.loads(listed.stdout)
                if a["name"] == "pg-restart") or 0.0


def test_a_server_killed_resumes_from_postgresql(tmp_path, pg_url):
    srv = ServerProcess(tmp_path / "server", extra_env={"KETCH_STORE_URL": pg_url}).start()
    try:
        app_file = tmp_path / "pg_app.py"
        app_file.write_text(APP)
        made = srv.ketch("secret", "create", "pg-secret", "TOKEN=from-postgres")
        assert made.returncode == 0, made.stderr
        deployed = srv.ketch("deploy", str(app_file))
        assert deployed.returncode == 0, deployed.stderr + srv.log()
        deadline = time.monotonic() + 10
        while not (next_run := _next_run(srv)) and time.monotonic() < deadline:
            time.sleep(0.1)    # the scheduler takes a new deploy up within a quarter second
        assert next_run > time.time() + 3000
        spawn = srv.python("import ketch\n"
                           "f = ketch.Function.from_name('pg-restart', 'slow_square')\n"
                           "print(f.spawn(7).object_id)\n")
        assert spawn.returncode == 0, spawn.stderr
        call_id = spawn.stdout.strip()
        time.sleep(0.3)        # running in its container now

        srv.kill()             # SIGKILL: nothing is flushed on the way out
        srv.start()

        got = srv.python("import ketch\n"
                         f"print(ketch.FunctionCall.from_id({call_id!r}).get(timeout=60))\n"
                         "print(ketch.Function.from_name('pg-restart', 'token').remote())\n")
        assert got.returncode == 0, got.stderr + srv.log()
        assert got.stdout.split() == ["49", "from-postgres"]
        secrets = srv.ketch("secret", "list", "--json")
        assert "pg-secret" in secrets.stdout, secrets.stderr
        assert _next_run(srv) == next_run      # the schedule kept its place
        # All of it was in PostgreSQL: the data directory has no SQLite store.
        assert not (srv.data_dir / "ketch.db").exists()
    finally:
        srv.stop()


def test_server_start_takes_its_store_and_refuses_one_it_cannot_use(tmp_path, postgres):
    srv = ServerProcess(tmp_path / "server", port=free_port(),
                        extra_env={"KETCH_RUNTIME": "process"})
    srv.data_dir.mkdir(parents=True)
    # (A URL that is not PostgreSQL's is refused the same way: tests/test_store.py.)
    started = time.monotonic()
    run = srv.ketch("server", "start", "--store", postgres.url("nodb", password="hunter2"),
                    timeout=30)
    assert run.returncode != 0
    assert time.monotonic() - started < 10
    assert "cannot reach the PostgreSQL store postgresql://ketch:***@127.0.0.1" in run.stderr
    assert "hunter2" not in run.stderr + srv.log(), run.stderr
    # A store it can use: the server starts on it, and keeps nothing in SQLite.
    url = postgres.create_database()
    run = srv.ketch("server", "start", "--store", url, timeout=30)
    try:
        assert run.returncode == 0, run.stderr + srv.log()
        assert srv.ketch("dict", "list").returncode == 0
        assert not (srv.data_dir / "ketch.db").exists()
        # A second server on the same store would run its apps and calls twice.
        other = ServerProcess(tmp_path / "other", extra_env={"KETCH_RUNTIME": "process"})
        other.data_dir.mkdir(parents=True)
        second = other.ketch("server", "start", "--store", url, timeout=30)
        assert second.returncode != 0
        assert "another ketch server uses the store" in second.stderr, second.stderr
    finally:
        assert srv.ketch("server", "stop").returncode == 0
