"""Rolling redeploys, deployment history and rollback, through the CLI against a real
server: the old version finishes what it holds while new calls reach the new one."""

import json
import subprocess
import sys
import time

import pytest

APP = '''
import time
import ketch

app = ketch.App("rolling")


@app.function()
def version() -> str:
    return "{version}"


@app.function()
def slow(seconds: float) -> str:
    time.sleep(seconds)
    return "{version} after " + str(seconds)
'''


def _write(tmp_path, version: str):
    path = tmp_path / "rolling.py"
    path.write_text(APP.format(version=version))
    return path


def _deploy(srv, path, *args):
    out = srv.ketch("deploy", str(path), "--json", *args)
    assert out.returncode == 0, out.stderr + srv.log()
    return json.loads(out.stdout)


def _call(srv, fn: str, *args) -> str:
    run = srv.python("import ketch\n"
                     f"print(ketch.Function.from_name('rolling', {fn!r}).remote(*{args!r}))\n")
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_redeploy_lets_old_containers_finish_while_new_calls_reach_the_new_version(
        fresh_server, tmp_path):
    _deploy(fresh_server, _write(tmp_path, "v1"))
    # A caller that looked the function up before the redeploy, and keeps its handle.
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, ketch\n"
         "f = ketch.Function.from_name('rolling', 'slow')\n"
         "v = ketch.Function.from_name('rolling', 'version')\n"
         "call = f.spawn(6)\n"
         "print('spawned', flush=True)\n"
         "sys.stdin.readline()\n"            # the test redeploys meanwhile
         "print(v.remote(), flush=True)\n"   # the old handle now reaches the new version
         "print(call.get(timeout=60), flush=True)\n"],
        env=fresh_server.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "spawned"
        time.sleep(1.0)  # the slow input runs in a v1 container
        second = _deploy(fresh_server, _write(tmp_path, "v2"))
        assert second["version"] == 2
        # The deploy did not wait for the old input: the old version still drains.
        listed = json.loads(fresh_server.ketch("app", "list", "--json").stdout)
        states = sorted(a["state"] for a in listed if a["name"] == "rolling")
        assert states == ["deployed", "draining"], listed
        assert _call(fresh_server, "version") == "v2"
        holder.stdin.write("go\n")
        holder.stdin.flush()
        out, err = holder.communicate(timeout=60)
    finally:
        holder.kill()
    assert holder.returncode == 0, err
    assert out.split("\n")[:2] == ["v2", "v1 after 6"], out + err
    # Once drained the old version is gone: only the new one is listed as running.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listed = json.loads(fresh_server.ketch("app", "list", "--json").stdout)
        if [a["state"] for a in listed if a["name"] == "rolling"] == ["deployed"]:
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"the replaced version never stopped: {listed}")
    logs = fresh_server.ketch("app", "logs", second["app_id"]).stdout
    assert "Traceback" not in logs


def test_history_lists_each_deploy_and_rollback_redeploys_a_recorded_version(
        fresh_server, tmp_path):
    first = _deploy(fresh_server, _write(tmp_path, "v1"), "--tag", "release-1")
    assert first["version"] == 1
    _deploy(fresh_server, _write(tmp_path, "v2"), "--tag", "release-2")
    assert _call(fresh_server, "version") == "v2"

    out = fresh_server.ketch("app", "history", "rolling", "--json")
    assert out.returncode == 0, out.stderr
    history = json.loads(out.stdout)
    assert [(d["version"], d["tag"], d["current"]) for d in history] == \
        [(2, "release-2", True), (1, "release-1", False)]
    assert all(d["deployed_by"] == "admin" and d["deployed_at"] > 0 for d in history)
    assert history[0]["source_hash"] != history[1]["source_hash"]  # the code differs
    table = fresh_server.ketch("app", "history", "rolling").stdout
    assert "release-1" in table and "v2" in table and "current" in table

    back = fresh_server.ketch("app", "rollback", "rolling")   # the one before the current
    assert back.returncode == 0, back.stderr + fresh_server.log()
    assert "version 3" in back.stdout
    assert _call(fresh_server, "version") == "v1"
    assert _call(fresh_server, "slow", 0.1) == "v1 after 0.1"
    history = json.loads(fresh_server.ketch("app", "history", "rolling", "--json").stdout)
    assert (history[0]["version"], history[0]["rollback_of"], history[0]["tag"],
            history[0]["current"]) == (3, 1, "release-1", True)
    assert history[0]["source_hash"] == history[2]["source_hash"]

    again = fresh_server.ketch("app", "rollback", "rolling", "v2", "--json")
    assert again.returncode == 0, again.stderr
    rolled = json.loads(again.stdout)
    assert rolled["app"] == "rolling" and rolled["version"] == 4, rolled
    assert rolled["app_id"].startswith("ap-")
    assert _call(fresh_server, "version") == "v2"

    # The history is in the store: it outlives a restart, and so does the rolled-back app.
    fresh_server.stop()
    fresh_server.start()
    history = json.loads(fresh_server.ketch("app", "history", "rolling", "--json").stdout)
    assert [d["version"] for d in history] == [4, 3, 2, 1] and history[0]["current"]
    assert _call(fresh_server, "version") == "v2"


def test_rollback_and_history_errors_say_what_to_do(fresh_server, tmp_path):
    never = fresh_server.ketch("app", "history", "nothing-here")
    assert never.returncode == 1 and "was never deployed" in never.stderr
    _deploy(fresh_server, _write(tmp_path, "v1"))
    only = fresh_server.ketch("app", "rollback", "rolling")
    assert only.returncode == 1 and "no version before the current one" in only.stderr
    missing = fresh_server.ketch("app", "rollback", "rolling", "9")
    assert missing.returncode == 1 and "has no version 9" in missing.stderr
    bad = fresh_server.ketch("app", "rollback", "rolling", "latest")
    assert bad.returncode == 2 and "give a version number" in bad.stderr
    for out in (never, only, missing, bad):
        assert "Traceback" not in out.stderr


HELD = '''
import time
import ketch

app = ketch.App("held-over")


@app.function()
def slow() -> str:
    time.sleep({seconds})
    return "{version}"
'''


def test_a_spawned_call_of_a_draining_version_moves_to_its_successor_after_a_restart(
        fresh_server, tmp_path):
    path = tmp_path / "held.py"
    path.write_text(HELD.format(seconds=60, version="v1"))
    _deploy(fresh_server, path)
    spawn = fresh_server.python("import ketch\n"
                                "print(ketch.Function.from_name('held-over', 'slow')"
                                ".spawn().object_id)\n")
    call_id = spawn.stdout.strip()
    assert call_id, spawn.stderr
    time.sleep(2.0)   # its input runs in a v1 container, so v1 drains after the redeploy
    path.write_text(HELD.format(seconds=0, version="v2"))
    _deploy(fresh_server, path)
    listed = json.loads(fresh_server.ketch("app", "list", "--json").stdout)
    assert sorted(a["state"] for a in listed if a["name"] == "held-over") == \
        ["deployed", "draining"], listed
    fresh_server.kill()
    fresh_server.start()
    got = fresh_server.python("import ketch\n"
                              f"print(ketch.FunctionCall.from_id({call_id!r}).get(timeout=60))\n")
    assert got.stdout.strip() == "v2", got.stderr + fresh_server.log()
