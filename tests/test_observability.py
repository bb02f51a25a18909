"""Seeing what ran (issue 15): the call history and logs through the CLI, for calls that
succeed, fail, time out, crash and are cancelled; /metrics in Prometheus text format,
refused without a valid token, its counters moving as calls run.

One server of this module's own runs tests/apps/observed.py from a separate process, so
the history and the counters hold only what these tests did.
"""

from __future__ import annotations

import json
import re
import textwrap
import time

import httpx
import pytest
from conftest import ServerProcess
from prometheus_client.parser import text_string_to_metric_families

RUN_CASES = textwrap.dedent("""
    import subprocess
    import sys
    import time
    import ketch
    from apps import observed as o

    def app_logs():
        return subprocess.run([sys.executable, "-m", "ketch.cli", "app", "logs", "observed"],
                              capture_output=True, text=True).stdout

    with o.app.run():
        print(o.greet.remote("ann"))
        try:
            o.explode.remote(3)
        except ValueError as exc:
            print("raised", exc)
        print(list(o.greet.map(["a", "b", "c"])))
        try:
            o.dawdle.remote(30)
        except ketch.exception.FunctionTimeoutError:
            print("timed out")
        try:
            o.crash.remote(3)
        except ketch.exception.ContainerCrashError:
            print("crashed")
        call = o.nap.spawn(30)
        print("spawned", call.object_id)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:   # it runs once its line is in the log
            if "napping 30" in app_logs():
                break
            time.sleep(0.1)
        call.cancel()
        time.sleep(2)   # sync code blocked in sleep() is stopped after a second's grace
""")


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("observed")).start()
    yield server
    server.stop()


def admin_token(srv: ServerProcess) -> str:
    return (srv.data_dir / "token").read_text().strip()


def ketch_json(srv: ServerProcess, *args: str):
    done = srv.ketch(*args, "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


def log_lines(srv: ServerProcess, *args: str) -> list[dict]:
    done = srv.ketch("app", "logs", "observed", *args, "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def ran(srv):
    """Every kind of ending, once; → {function: its newest record}."""
    done = srv.python(RUN_CASES, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "raised bad input 3" in done.stdout and "timed out" in done.stdout \
        and "crashed" in done.stdout, done.stdout
    deadline = time.monotonic() + 10
    while True:
        records = ketch_json(srv, "call", "list", "--app", "observed")
        by_fn = {}
        for rec in records:   # newest first
            by_fn.setdefault((rec["function"], rec["kind"]), rec)
        if all(r["status"] != "running" for r in by_fn.values()) \
                or time.monotonic() > deadline:
            return by_fn
        time.sleep(0.2)


def test_each_ending_has_its_status_in_call_list(ran):
    assert ran[("greet", "remote")]["status"] == "success"
    assert ran[("greet", "remote")]["inputs"] == 1
    mapped = ran[("greet", "map")]
    assert mapped["status"] == "success" and mapped["inputs"] == 3
    assert mapped["counts"] == {"success": 3}
    assert ran[("explode", "remote")]["status"] == "failure"
    assert ran[("explode", "remote")]["message"] == "ValueError: bad input 3"
    assert ran[("dawdle", "remote")]["status"] == "timeout"
    assert ran[("crash", "remote")]["status"] == "crash"
    assert "exited with code 3" in ran[("crash", "remote")]["message"]
    assert ran[("nap", "spawn")]["status"] == "cancelled"
    for rec in ran.values():
        assert rec["app"] == "observed" and rec["created_at"] <= rec["finished_at"]
        if rec["function"] != "nap":
            assert rec["containers"], rec   # each ran on a container it names


def test_call_list_filters(srv, ran):
    failed = ketch_json(srv, "call", "list", "--status", "failed")
    assert {r["function"] for r in failed} == {"explode", "dawdle", "crash"}
    greets = ketch_json(srv, "call", "list", "--function", "greet")
    assert {r["kind"] for r in greets} == {"remote", "map"}
    assert ketch_json(srv, "call", "list", "--app", "no-such-app") == []
    later = ketch_json(srv, "call", "list", "--since", "2099-01-01 00:00")
    assert later == []
    table = srv.ketch("call", "list", "--status", "timeout")
    assert table.returncode == 0 and "dawdle" in table.stdout and "greet" not in table.stdout
    bad = srv.ketch("call", "list", "--since", "yesterday-ish")
    assert bad.returncode != 0 and "10m" in bad.stderr


def test_call_show_gives_the_traceback_and_the_calls_log_lines(srv, ran):
    call_id = ran[("explode", "remote")]["call_id"]
    shown = ketch_json(srv, "call", "show", call_id)
    (outcome,) = shown["outcomes"]
    assert outcome["status"] == "failure" and outcome["idx"] == 0
    assert "ValueError: bad input 3" in outcome["traceback"]
    assert 'line' in outcome["traceback"] and "explode" in outcome["traceback"]
    assert outcome["container"] == shown["containers"][0]
    assert outcome["started_at"] <= outcome["finished_at"]
    texts = [line["text"] for line in shown["logs"]]
    assert "about to fail on 3" in texts
    assert all(line["call"] == call_id for line in shown["logs"])
    text = srv.ketch("call", "show", call_id)
    assert text.returncode == 0
    assert "Traceback (most recent call last)" in text.stdout
    assert "about to fail on 3" in text.stdout and "failure" in text.stdout
    missing = srv.ketch("call", "show", "fc-000000000000")
    assert missing.returncode != 0 and "call list" in missing.stderr


def test_timeout_crash_and_cancel_show_why(srv, ran):
    for fn, words in [("dawdle", "past its timeout"), ("crash", "exited with code 3")]:
        shown = ketch_json(srv, "call", "show", ran[(fn, "remote")]["call_id"])
        assert words in shown["outcomes"][0]["message"], shown
        assert shown["outcomes"][0]["container"]
    cancelled = ketch_json(srv, "call", "show", ran[("nap", "spawn")]["call_id"])
    assert cancelled["outcomes"][0]["status"] == "cancelled"
    assert [line["text"] for line in cancelled["logs"]] == ["napping 30"]


def test_log_lines_name_their_container_input_and_call(srv, ran):
    lines = log_lines(srv)
    user = [line for line in lines if line["source"] == "stdout"]
    assert {line["text"] for line in user} >= {"hello ann from greet", "hello a from greet",
                                               "about to fail on 3", "dawdling",
                                               "crashing now", "napping 30"}
    for line in user:
        assert line["container"].startswith("ta-") and line["input"].startswith("in-")
        assert line["call"].startswith("fc-")
    # The user's exception is in the app's log with its traceback.
    exceptions = [line for line in lines if line["source"] == "exception"]
    assert any("ValueError: bad input 3" in line["text"] and "Traceback" in line["text"]
               for line in exceptions)
    mapped = ran[("greet", "map")]["call_id"]
    assert {line["text"] for line in log_lines(srv, "--call", mapped)} == {
        "hello a from greet", "hello b from greet", "hello c from greet"}


def test_app_logs_filters_and_container_logs(srv, ran):
    greet = log_lines(srv, "--function", "greet")
    assert greet and all(line["function"] == "greet" for line in greet)
    assert len(log_lines(srv, "--tail", "2")) == 2
    assert log_lines(srv, "--since", "2099-01-01 00:00") == []
    assert log_lines(srv, "--since", "1h")
    container = ran[("crash", "remote")]["containers"][0]
    mine = log_lines(srv, "--container", container)
    assert mine and all(line["container"] == container for line in mine)
    done = srv.ketch("container", "logs", container, "--json")
    assert done.returncode == 0, done.stderr
    texts = [json.loads(line)["text"] for line in done.stdout.splitlines()]
    assert "crashing now" in texts and f"container {container} stopped: it exited with " \
        "code 3" in texts
    stamped = srv.ketch("app", "logs", "observed", "--function", "greet", "--timestamps")
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[greet ", stamped.stdout, re.M), \
        stamped.stdout
    missing = srv.ketch("container", "logs", "ta-000000000000")
    assert missing.returncode != 0 and "no logs of container" in missing.stderr


def test_server_log_records_containers_and_apps(srv, ran):
    log = srv.log()
    assert re.search(r"starting container ta-\w+ for greet of app observed", log)
    assert re.search(r"container ta-\w+ of crash \(app observed\) stopped: .*exited with "
                     r"code 3", log)
    assert re.search(r"container ta-\w+ of dawdle \(app observed\) stopped: an input timed "
                     r"out", log)
    assert re.search(r"stopped app observed \(ap-\w+\) in workspace main", log)


# ---------------------------------------------------------------------------- /metrics

def scrape(srv: ServerProcess, token: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(f"{srv.http_url()}/metrics", headers=headers, timeout=10)


def samples(text: str) -> dict:
    """{(sample name, frozen labels): value}"""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels) -> float:
    return sum(v for (n, ls), v in found.items()
               if n == name and set(labels.items()) <= ls)


def test_metrics_need_a_valid_token(srv):
    for token in (None, "kt-wrong", "x" * 10_000):
        answer = scrape(srv, token)
        assert answer.status_code == 401, token
        assert "Bearer" in answer.headers["www-authenticate"]
        assert "ketch_" not in answer.text
    for header in ("Bearer", "Basic " + admin_token(srv), admin_token(srv)):
        answer = httpx.get(f"{srv.http_url()}/metrics", timeout=10,
                           headers={"authorization": header})
        assert answer.status_code == 401, header


def test_metrics_count_calls_as_they_run(srv, ran):
    token = admin_token(srv)
    answer = scrape(srv, token)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    before = samples(answer.text)
    fn = {"workspace": "main", "app": "observed"}
    assert value(before, "ketch_function_inputs_total", function="explode",
                 status="failure", **fn) >= 1
    assert value(before, "ketch_function_calls_total", function="dawdle", status="timeout",
                 **fn) >= 1
    assert value(before, "ketch_function_calls_total", function="crash", status="crash",
                 **fn) >= 1
    assert value(before, "ketch_function_cold_start_seconds_count", function="greet",
                 **fn) >= 1
    assert value(before, "ketch_function_container_exits_total", function="crash",
                 **fn) >= 1
    assert value(before, "ketch_server_process_resident_memory_bytes") > 10 << 20
    assert value(before, "ketch_server_process_open_fds") > 3
    assert value(before, "ketch_server_store_bytes") > 0

    done = srv.python(textwrap.dedent("""
        import httpx
        from apps import observed as o
        with o.app.run():
            print(sum(len(r) for r in o.greet.map(["x"] * 20)))
            print(httpx.get(o.ping.get_web_url(), timeout=30).json())
            after = httpx.get(o.ping.get_web_url().rstrip("/") + "/nothing-here", timeout=30)
            print(after.status_code)
    """), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["80", "pong", "404"]
    after = samples(scrape(srv, token).text)
    grew = value(after, "ketch_function_inputs_total", function="greet", status="success",
                 **fn) - value(before, "ketch_function_inputs_total", function="greet",
                               status="success", **fn)
    assert grew == 20
    assert value(after, "ketch_function_input_duration_seconds_count", function="greet",
                 **fn) - value(before, "ketch_function_input_duration_seconds_count",
                               function="greet", **fn) == 20
    assert value(after, "ketch_gateway_requests_total", label="ping", code="200", **fn) == 1
    assert value(after, "ketch_gateway_request_duration_seconds_count", label="ping",
                 **fn) >= 1
    # Web requests are in the call history as one record per endpoint per minute.
    web = [r for r in ketch_json(srv, "call", "list", "--function", "ping")
           if r["kind"] == "web"]
    assert sum(r["inputs"] for r in web) >= 1


def test_live_gauges_and_container_usage(srv):
    token = admin_token(srv)
    code = textwrap.dedent("""
        import json, time, httpx, sys
        from prometheus_client.parser import text_string_to_metric_families
        from apps import observed as o
        url, token = sys.argv[1], sys.argv[2]
        with o.app.run():
            calls = [o.nap.spawn(15) for _ in range(3)]
            seen = {}
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                text = httpx.get(url, headers={"authorization": "Bearer " + token}).text
                seen = {}
                for fam in text_string_to_metric_families(text):
                    for s in fam.samples:
                        if s.labels.get("function") == "nap":
                            key = s.name + ":" + s.labels.get("state", "")
                            seen[key] = seen.get(key, 0) + s.value
                if seen.get("ketch_container_memory_bytes:", 0) > 0 and \\
                        seen.get("ketch_function_inputs_in_flight:", 0) >= 1:
                    break
                time.sleep(0.2)
            print(json.dumps(seen))
            for c in calls:
                c.cancel()
    """)
    done = srv.python(f"import sys; sys.argv = ['x', '{srv.http_url()}/metrics',"
                      f" {token!r}]\n" + code, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["ketch_function_inputs_in_flight:"] >= 1
    assert seen["ketch_function_containers:ready"] >= 1
    assert seen["ketch_container_memory_bytes:"] > 1 << 20
    assert "ketch_container_cpu_seconds_total:" in seen
    assert seen["ketch_function_queue_depth:"] >= 0


def test_a_workspace_token_sees_only_its_workspace(srv, ran):
    made = ketch_json(srv, "token", "create", "--workspace", "main", "--name", "prom")
    text = scrape(srv, made["secret"]).text
    found = samples(text)
    assert value(found, "ketch_function_calls_total", function="greet") >= 1
    assert all(dict(labels).get("workspace") == "main" for _, labels in found)
    assert "ketch_server_process_resident_memory_bytes" not in text
    revoke = srv.ketch("token", "revoke", made["token_id"])
    assert revoke.returncode == 0, revoke.stderr
    assert scrape(srv, made["secret"]).status_code == 401


def test_server_status_shows_the_http_side(srv):
    srv.http_url()   # it listens
    status = ketch_json(srv, "server", "status")
    assert status["http"] == {"address": f"127.0.0.1:{srv.http_port}", "error": None}


# ---------------------------------------------------------------------------- bounds

def test_history_is_bounded_and_survives_a_restart(tmp_path):
    srv = ServerProcess(tmp_path / "bounded",
                        extra_env={"KETCH_HISTORY_MAX_CALLS": "3"}).start()
    try:
        done = srv.python(textwrap.dedent("""
            from apps import observed as o
            with o.app.run():
                print([o.greet.remote(str(i)) for i in range(5)])
        """), timeout=120)
        assert done.returncode == 0, done.stderr
        time.sleep(1.5)   # written to the store about once a second
        kept = ketch_json(srv, "call", "list")
        assert len(kept) == 3
        srv.stop()
        srv.start()
        again = ketch_json(srv, "call", "list")
        assert [r["call_id"] for r in again] == [r["call_id"] for r in kept]
        assert all(r["status"] == "success" for r in again)
    finally:
        srv.stop()
