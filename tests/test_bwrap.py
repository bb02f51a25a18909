"""The bwrap runtime: containers in their own namespaces, seeing only what they should,
held to their memory, CPU, process and disk limits."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from isolation_helpers import (START_PATHS, needs_bwrap, not_on_image, path_env, run_client,
                               skip_on_exec, start_server)

pytestmark = needs_bwrap

TESTS = Path(__file__).parent


@pytest.fixture(scope="module", params=START_PATHS)
def bwrap_server(tmp_path_factory, request):
    srv = start_server(tmp_path_factory.mktemp("bwrap-server"), "bwrap", KETCH_PIDS_LIMIT="40",
                       **path_env(request.param))
    srv.start_path = request.param
    yield srv
    srv.stop()


def test_container_sees_its_own_processes_and_only_declared_files(bwrap_server):
    not_on_image(bwrap_server, "an image has its own /home and /var (test_zygote.py checks "
                               "what an image container holds)")
    hidden = [str(TESTS / "test_bwrap.py"), str(bwrap_server.data_dir), "/var/cache",
              "/home"]
    shown = ["/root/apps/isolated.py", "/usr/bin/python3"]  # the uploaded code, at /root
    out = run_client(bwrap_server, f"""
        import json
        from apps import isolated
        with isolated.app.run():
            print(json.dumps(isolated.view.remote({hidden + shown!r})))
    """)
    # Its own pid namespace: bubblewrap is pid 1, the runtime is 2, and the host's
    # processes (this test's among them) are not there.
    assert out["pid"] == 2
    assert os.getpid() not in out["pids"] or os.getpid() < 10
    assert max(out["pids"]) < 50
    assert bwrap_server.proc.pid not in out["pids"]
    assert out["hostname"] == out["container_id"]  # its own uts namespace
    for path in hidden:
        assert out["exists"][path] is False, path
    for path in shown:
        assert out["exists"][path] is True, path
    # Root inside keeps Docker's default capabilities at most: no CAP_SYS_ADMIN (21,
    # mounts), CAP_SYS_MODULE (16), CAP_SYS_PTRACE (19), CAP_MKNOD (27) or CAP_NET_RAW
    # (13); and the host's password hashes stay out.
    for cap in (13, 16, 19, 21, 27):
        assert not out["cap_eff"] & (1 << cap), cap
    assert out["cap_eff"] & 1  # CAP_CHOWN
    assert out["shadow"] == "" or out["shadow"].startswith("unreadable")


def test_writes_stay_in_their_container(bwrap_server):
    run = """
        import json
        from apps import isolated
        with isolated.app.run():
            first = isolated.write_then_read.remote("/root/scratch/marker")
            again = isolated.write_then_read.remote("/root/scratch/marker")
            other = isolated.view.remote(["/root/scratch/marker"])["exists"]
        print(json.dumps({"first": first, "again": again, "other": other}))
    """
    out = run_client(bwrap_server, run)
    assert out["first"] is False and out["again"] is True  # the same container
    # Another container (of another function) never sees the first one's writes.
    assert out["other"] == {"/root/scratch/marker": False}
    # Thrown away when the container exited: a new one starts clean, and nothing of
    # the old one is left on the host.
    assert run_client(bwrap_server, run)["first"] is False
    # The app has stopped; its containers are on their way out.
    containers = bwrap_server.data_dir / "containers"
    deadline = time.monotonic() + 30
    while list(containers.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(containers.iterdir()) == []


def test_out_of_memory_is_reported_with_the_limit(bwrap_server):
    not_on_image(bwrap_server, "the limits are its cgroup's: the cgroup test shows an image "
                               "container in its own")
    out = run_client(bwrap_server, """
        import json
        from apps import isolated
        with isolated.app.run():
            try:
                isolated.hog.remote(400)
                print(json.dumps({"error": None}))
            except Exception as exc:
                print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
    """)
    assert out["error"] is not None
    assert "ContainerCrashError" in out["error"]
    assert "ran out of memory" in out["error"] and "96 MiB" in out["error"]


def test_pids_limit_stops_a_fork_storm(bwrap_server):
    not_on_image(bwrap_server, "the limits are its cgroup's: the cgroup test shows an image "
                               "container in its own")
    out = run_client(bwrap_server, """
        import json
        from apps import isolated
        with isolated.app.run():
            print(json.dumps(isolated.fork_until_refused.remote(200)))
    """)
    assert 0 < out["started"] < 40
    assert "temporarily unavailable" in out["error"].lower()


def test_cpu_and_memory_limits_are_set_in_the_cgroup(bwrap_server):
    if bwrap_server.start_path == "exec":  # the server sets them, the same for either path
        pytest.skip("the same on both start paths: run on the forked ones")
    from ketch.server.runtime import cgroups

    out = run_client(bwrap_server, """
        import json, os, time
        from apps import isolated
        from ketch.server.runtime import cgroups
        group = cgroups.server_group(os.environ["KETCH_DATA_DIR"])  # this server's own
        with isolated.app.run():
            cid = isolated.limited.remote()
            # While the container lives (scaledown_window=30), read its cgroup.
            if cgroups.version() == 2:
                d = cgroups.ROOT / group / cid
                cpu = (d / "cpu.max").read_text().split()
                mem = int((d / "memory.max").read_text())
                quota, period = int(cpu[0]), int(cpu[1])
            else:
                cpu_d = cgroups.ROOT / "cpu" / group / cid
                quota = int((cpu_d / "cpu.cfs_quota_us").read_text())
                period = int((cpu_d / "cpu.cfs_period_us").read_text())
                mem = int((cgroups.ROOT / "memory" / group / cid /
                           "memory.limit_in_bytes").read_text())
        print(json.dumps({"quota": quota, "period": period, "mem": mem, "cid": cid}))
    """)
    assert out["quota"] / out["period"] == pytest.approx(0.5)
    assert out["mem"] == 256 * 1024 * 1024
    # Gone with its container (which stops after the app has).
    group = cgroups.server_group(bwrap_server.data_dir)
    root = cgroups.ROOT / group if cgroups.version() == 2 else cgroups.ROOT / "memory" / group
    deadline = time.monotonic() + 30
    while (root / out["cid"]).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (root / out["cid"]).exists()


def test_ephemeral_disk_bounds_scratch_space(bwrap_server):
    out = run_client(bwrap_server, """
        import json
        from apps import isolated
        with isolated.app.run():
            print(json.dumps({"small": isolated.fill_scratch.remote(4),
                              "big": isolated.fill_scratch.remote(64)}))
    """)
    assert out["small"] == "wrote all"
    assert "no space left" in out["big"].lower()


def test_gpu_request_no_machine_has_waits_then_fails(bwrap_server):
    skip_on_exec(bwrap_server)  # it never starts a container
    from ketch.server.resources import _nvidia_gpus

    if _nvidia_gpus():
        pytest.skip("this machine has NVIDIA GPUs")
    out = run_client(bwrap_server, """
        import json
        import ketch
        app = ketch.App("gpu-app")
        @app.function(gpu="H100:2", serialized=True, startup_timeout=1)
        def f():
            return 1
        try:
            with app.run():
                f.remote()
            print(json.dumps({"error": None}))
        except Exception as exc:
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
    """)
    assert out["error"] and "ResourceError" in out["error"]
    assert "2× H100" in out["error"] and "none" in out["error"]


def test_kernel_settings_are_read_only(bwrap_server):
    out = run_client(bwrap_server, """
        import json
        from apps import isolated
        with isolated.app.run():
            print(json.dumps(isolated.kernel_settings_writable.remote()))
    """)
    assert out == {"/proc/sys/kernel/core_pattern": False, "/proc/sysrq-trigger": False}


def test_its_containers_started_the_way_asked(bwrap_server):
    """The tests above ran on forked containers, or on exec'd ones, as the server was told."""
    forked = bwrap_server.log().count("forked from zygote")
    assert forked > 5 if bwrap_server.start_path != "exec" else forked == 0
    if bwrap_server.start_path == "image":  # from the image's unprivileged zygote
        assert "is ready for image" in bwrap_server.log()
