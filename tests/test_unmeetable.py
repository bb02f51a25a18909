"""Requests the machine cannot meet (cpu=500, 8 H100s): the app still runs, with a warning;
its other functions run; calls of that function wait, saying why, and fail after its
startup timeout naming what was asked and what the machine has."""

import json
import subprocess
import sys
import time


def test_deploy_warns_other_functions_run_and_calls_wait_then_fail(fresh_server):
    out = fresh_server.ketch("deploy", "apps/unmeetable.py")
    assert out.returncode == 0, out.stderr
    assert "Warning: huge waits for cpu=500: this machine has" in out.stderr
    assert "Warning: many_gpus waits for 8× H100: this machine has" in out.stderr
    assert "fail after 3 s" in out.stderr

    waiter = subprocess.Popen(
        [sys.executable, "-c",
         "import time, ketch\n"
         "f = ketch.Function.from_name('unmeetable', 'huge')\n"
         "start = time.monotonic()\n"
         "try:\n"
         "    f.remote(1)\n"
         "except ketch.exception.ResourceError as e:\n"
         "    print(round(time.monotonic() - start, 1), e)\n"],
        env=fresh_server.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        # While it waits: the other functions run, and `app list` says what waits for what.
        small = fresh_server.python(
            "import ketch\nprint(ketch.Function.from_name('unmeetable', 'small').remote(4))")
        assert small.stdout.strip() == "5", small.stderr
        listed = json.loads(fresh_server.ketch("app", "list", "--json").stdout)
        waiting = next(a["waiting"] for a in listed if a["name"] == "unmeetable")
        assert any(w.startswith("huge waits for cpu=500") for w in waiting), waiting
        assert any(w.startswith("many_gpus waits for 8× H100") for w in waiting), waiting
        # A spawned call's status says why it has not finished.
        status = fresh_server.python(
            "import ketch\n"
            "call = ketch.Function.from_name('unmeetable', 'many_gpus').spawn()\n"
            "try:\n"
            "    call.get(timeout=0.5)\n"
            "except TimeoutError as e:\n"
            "    print(e)\n")
        assert "has not finished (many_gpus waits for 8× H100: this machine has" in \
            status.stdout, status.stdout + status.stderr
        table = fresh_server.ketch("app", "list").stdout
        assert "unmeetable: huge waits for cpu=500: this machine has" in table
        out, err = waiter.communicate(timeout=30)
    finally:
        waiter.kill()
    assert waiter.returncode == 0, err
    waited, _, message = out.strip().partition(" ")
    assert 2.5 <= float(waited) < 10, out
    assert "huge waits for cpu=500: this machine has" in message
    assert "within 3 s" in message
    logs = fresh_server.ketch("app", "logs", "unmeetable").stdout
    assert "huge waits for cpu=500" in logs


def test_run_shows_the_wait_and_fails_clearly(fresh_server):
    out = fresh_server.ketch("run", "apps/unmeetable.py")
    assert out.returncode == 1
    assert "Warning: huge waits for cpu=500" in out.stderr
    assert "small gives 2" in out.stdout
    both = out.stdout + out.stderr
    assert "huge waits for cpu=500: this machine has" in both  # the wait, as it happens
    assert "Error: huge waits for cpu=500" in out.stderr and "within 3 s" in out.stderr
    assert "Traceback" not in out.stderr
