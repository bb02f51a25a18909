"""Options changed at run time: update_autoscaler on functions and class instances (kept
across a restart, reset by a redeploy), get_current_stats, app.image and app.include."""

from __future__ import annotations

import json
import time

import pytest

import ketch
from ketch.exception import InvalidError


def containers(srv, function_name: str) -> list[dict]:
    out = srv.ketch("container", "list", "--json")
    assert out.returncode == 0, out.stderr
    return [c for c in json.loads(out.stdout) if c.get("function") == function_name or
            c.get("function_name") == function_name]


def wait_until(predicate, timeout: float = 20, what: str = ""):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_update_autoscaler_keeps_containers_warm_until_the_next_deploy(fresh_server):
    assert fresh_server.ketch("deploy", "apps/autoscaled.py").returncode == 0
    assert containers(fresh_server, "slow") == []
    out = fresh_server.python(
        "import ketch\n"
        "f = ketch.Function.from_name('autoscaled', 'slow')\n"
        "print(f.update_autoscaler(min_containers=1, scaledown_window=30))\n"
        "print(f.update_autoscaler(buffer_containers=0))\n")
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.strip().splitlines()
    assert "min_containers=1" in first and "max_containers=1" in first
    assert "scaledown_window=30" in first and "min_containers=1" in second
    wait_until(lambda: len(containers(fresh_server, "slow")) == 1, what="a warm container")
    # The server restarts: the override is kept, so a container is warm again.
    fresh_server.stop()
    fresh_server.start()
    wait_until(lambda: len(containers(fresh_server, "slow")) == 1,
               what="a warm container after the restart")
    # A deploy goes back to the decorator's settings (min_containers=0).
    assert fresh_server.ketch("deploy", "apps/autoscaled.py").returncode == 0
    time.sleep(2)
    assert containers(fresh_server, "slow") == []


def test_a_class_instance_scales_on_its_own(fresh_server):
    assert fresh_server.ketch("deploy", "apps/autoscaled.py").returncode == 0
    out = fresh_server.python(
        "import ketch\n"
        "Model = ketch.Cls.from_name('autoscaled', 'Model')\n"
        "m = Model(size=3)\n"
        "print(m.update_autoscaler(min_containers=1).min_containers, m.get.remote())\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "3"]
    wait_until(lambda: len(containers(fresh_server, "Model")) == 1, what="the instance's "
               "container")
    time.sleep(3)   # past the scaledown window: min_containers keeps it
    assert len(containers(fresh_server, "Model")) == 1


def test_get_current_stats_counts_backlog_and_runners(fresh_server):
    assert fresh_server.ketch("deploy", "apps/autoscaled.py").returncode == 0
    out = fresh_server.python(
        "import time, ketch\n"
        "f = ketch.Function.from_name('autoscaled', 'slow')\n"
        "print(f.get_current_stats())\n"
        "calls = [f.spawn(3) for _ in range(4)]\n"
        "deadline = time.time() + 20\n"
        "while time.time() < deadline:\n"
        "    s = f.get_current_stats()\n"
        "    if s.num_running_inputs:\n"
        "        break\n"
        "    time.sleep(0.1)\n"
        "print(s.backlog, s.num_total_runners, s.num_running_inputs, s.input_headroom)\n")
    assert out.returncode == 0, out.stderr
    idle, busy = out.stdout.strip().splitlines()
    assert idle == ("FunctionCurrentStats(backlog=0, num_total_runners=0, "
                    "num_running_inputs=0, input_headroom=0)")
    # max_containers=1: one container runs one input, three wait.
    assert busy.split() == ["3", "1", "1", "0"]


def test_update_autoscaler_refuses_bad_values(fresh_server):
    assert fresh_server.ketch("deploy", "apps/autoscaled.py").returncode == 0
    out = fresh_server.python(
        "import ketch\n"
        "f = ketch.Function.from_name('autoscaled', 'slow')\n"
        "for kw in ({'min_containers': -1}, {'max_containers': 0}, {'min_containers': 5}):\n"
        "    try:\n"
        "        f.update_autoscaler(**kw)\n"
        "    except ketch.exception.InvalidError as e:\n"
        "        print('refused:', e)\n")
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3, out.stdout + out.stderr
    assert "min_containers=-1" in lines[0] and "max_containers=0" in lines[1]
    assert "max_containers=1 is below min_containers=5" in lines[2]


def test_app_image_and_include(server):
    image = ketch.Image.debian_slim()
    main = ketch.App("includer", image=image)
    other = ketch.App("included")
    assert main.image is image and other.image is None

    @other.function(serialized=True)
    def double(x):
        return 2 * x

    assert main.include(other) is main
    assert set(main.registered_functions) == {"double"}
    with pytest.raises(InvalidError, match="already has a function"):
        main.include(other)
    plain = ketch.App("runs-included")
    plain.include(other)
    with plain.run():
        assert double.remote(21) == 42
