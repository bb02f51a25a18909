"""Deployed apps: from_name from other processes, stop, redeploy, server restarts."""

import json
import time
from pathlib import Path

import pytest


def test_deploy_then_call_from_another_process(fresh_server):
    out = fresh_server.ketch("deploy", "apps/basic.py")
    assert out.returncode == 0, out.stderr
    assert "deployed app basic" in out.stdout
    code = (
        "import ketch\n"
        "f = ketch.Function.from_name('basic', 'square')\n"
        "Counter = ketch.Cls.from_name('basic', 'Counter')\n"
        "print(f.remote(6), Counter(start=2).info.remote(1)['start'])\n")
    run = fresh_server.python(code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["36", "2"]


def test_deploy_json_output(fresh_server):
    out = fresh_server.ketch("deploy", "apps/basic.py", "--json")
    data = json.loads(out.stdout)
    assert data["app"] == "basic" and "square" in data["functions"]
    assert "Counter" in data["classes"]


def test_from_name_of_unknown_app_says_so(fresh_server):
    run = fresh_server.python(
        "import ketch\n"
        "try:\n"
        "    ketch.Function.from_name('nope', 'f').remote(1)\n"
        "except ketch.exception.NotFoundError as e:\n"
        "    print('NotFound:', e)\n")
    assert "NotFound: no deployed app named 'nope'" in run.stdout, run.stderr


def test_stopped_app_is_gone(fresh_server):
    assert fresh_server.ketch("deploy", "apps/basic.py").returncode == 0
    stop = fresh_server.ketch("app", "stop", "basic")
    assert stop.returncode == 0, stop.stderr
    run = fresh_server.python(
        "import ketch\n"
        "try:\n"
        "    ketch.Function.from_name('basic', 'square').remote(1)\n"
        "except ketch.exception.NotFoundError:\n"
        "    print('gone')\n")
    assert run.stdout.strip() == "gone", run.stderr


def test_redeploy_replaces_previous_version(fresh_server):
    assert fresh_server.ketch("deploy", "apps/basic.py").returncode == 0
    assert fresh_server.ketch("deploy", "apps/basic.py").returncode == 0
    listed = json.loads(fresh_server.ketch("app", "list", "--json").stdout)
    assert [a["state"] for a in listed if a["name"] == "basic"] == ["deployed"]


@pytest.mark.parametrize("how", ["terminate", "kill"])
def test_spawned_call_survives_server_restart(fresh_server, how):
    assert fresh_server.ketch("deploy", "apps/basic.py").returncode == 0
    spawn = fresh_server.python(
        "import ketch\n"
        "call = ketch.Function.from_name('basic', 'sleep_for').spawn(1.5)\n"
        "print(call.object_id)\n")
    assert spawn.returncode == 0, spawn.stderr
    call_id = spawn.stdout.strip()
    time.sleep(0.3)  # let it start running in a container
    if how == "kill":
        fresh_server.kill()
    else:
        fresh_server.stop()
    fresh_server.start()
    get = fresh_server.python(
        "import ketch\n"
        f"print(ketch.FunctionCall.from_id({call_id!r}).get(timeout=60))\n")
    assert get.returncode == 0, get.stderr + fresh_server.log()
    assert get.stdout.strip() == "1.5"
    # The deployed app came back with the server.
    again = fresh_server.python(
        "import ketch\nprint(ketch.Function.from_name('basic', 'square').remote(3))\n")
    assert again.stdout.strip() == "9", again.stderr


def test_from_name_handle_follows_a_redeploy(fresh_server):
    assert fresh_server.ketch("deploy", "apps/basic.py").returncode == 0
    code = (
        "import subprocess, sys, ketch\n"
        "f = ketch.Function.from_name('basic', 'square')\n"
        "Counter = ketch.Cls.from_name('basic', 'Counter')\n"
        "c = Counter(start=4)\n"
        "print(f.remote(2), c.info.remote()['start'])\n"
        "subprocess.run([sys.executable, '-m', 'ketch.cli', 'deploy', 'apps/basic.py'],\n"
        "               check=True, capture_output=True)\n"
        "print(f.remote(3), c.info.remote()['start'])\n")
    run = fresh_server.python(code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["4", "4", "9", "4"]


def test_redeploy_lets_a_running_input_finish_on_the_old_version(fresh_server):
    # A rolling redeploy (issue 10): the old version's container finishes what it holds.
    assert fresh_server.ketch("deploy", "apps/basic.py").returncode == 0
    spawn = fresh_server.python(
        "import ketch\n"
        "print(ketch.Function.from_name('basic', 'sleep_for').spawn(2).object_id)\n")
    call_id = spawn.stdout.strip()
    time.sleep(1.0)
    assert fresh_server.ketch("deploy", "apps/basic.py").returncode == 0
    get = fresh_server.python(
        "import ketch\n"
        f"print(ketch.FunctionCall.from_id({call_id!r}).get(timeout=30))\n")
    assert get.returncode == 0, get.stderr
    assert get.stdout.strip() == "2"


def test_get_rides_out_a_server_restart(fresh_server):
    import subprocess
    import sys

    assert fresh_server.ketch("deploy", "apps/basic.py").returncode == 0
    waiter = subprocess.Popen(
        [sys.executable, "-c",
         "import ketch\n"
         "call = ketch.Function.from_name('basic', 'sleep_for').spawn(3)\n"
         "print('spawned', flush=True)\n"
         "print(call.get(timeout=60), flush=True)\n"],
        env={**fresh_server.env, "PYTHONPATH": str(Path(__file__).parent)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert waiter.stdout.readline().strip() == "spawned"
        time.sleep(0.5)  # get() is waiting now
        fresh_server.kill()  # its connection drops mid-wait
        fresh_server.start()
        out, err = waiter.communicate(timeout=60)
    finally:
        waiter.kill()
    assert waiter.returncode == 0, err
    assert out.strip() == "3"
