"""Containers forked from a zygote: what they hold and do not, a crashed zygote's
fallback to exec, and no zygote or container left after an app stops or the server is
killed. (The isolation tests of test_bwrap.py and test_security_network.py run on both
the forked and the exec path.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from isolation_helpers import needs_bwrap, run_client, start_server
from zygote_helpers import alive, descendants, wait_gone, zygotes_of

pytestmark = needs_bwrap

WHO = """
    import json
    from apps import forked
    with forked.app.run():
        print(json.dumps([forked.who.remote() for _ in range(1)]))
"""


@pytest.fixture
def srv(tmp_path):
    s = start_server(tmp_path / "srv", "bwrap", KETCH_ZYGOTE_IDLE_S="1",
                     KETCH_ZYGOTE_RETRY_S="30")
    yield s
    s.stop()


WHO_TWICE = """
    import json
    from apps import forked
    out = []
    for _ in range(2):  # two app runs, one client: within the zygotes' idle time (1 s)
        with forked.app.run():
            out.append(forked.who.remote())
    print(json.dumps(out))
"""


def test_a_forked_container_holds_only_its_own(srv):
    a, b = run_client(srv, WHO_TWICE)
    log = srv.log()
    # (under load the autoscaler may start a second container for a call: >= 2)
    assert log.count("forked from zygote") >= 2 and "starts by exec" not in log, log[-3000:]
    assert log.count("is ready for the host system") == 1, log[-3000:]  # one zygote, shared
    for out in (a, b):
        assert out["pid"] == 2                # pid 2 of its own pid namespace
        assert out["hostname"] == out["container_id"]
        # stdio, then only what its runtime opened: no descriptor of the zygote's (its
        # root, a file of the host) came along
        assert out["fds"]["0"] == "/dev/null" and out["fds"]["1"].startswith("pipe:")
        paths = [t for t in out["fds"].values() if t.startswith("/")]
        assert set(paths) <= {"/dev/null"}, out["fds"]
        assert out["no_new_privs"] == "1"
        assert out["token"].startswith("kc-")
    assert a["token"] != b["token"]           # each its own credential


def test_the_shared_parts_of_the_view_are_read_only_and_scratch_is_each_containers(srv):
    """A forked container's /usr and /etc come from its zygote's view at once: they stay
    read-only, and the tmpfs under /etc, like /tmp and the root's own directories, is
    each container's own."""
    paths = ["/usr/probe", "/etc/probe", "/etc/ssh/probe", "/tmp/probe", "/opt/ketch/probe"]
    run = f"""
        import json
        from apps import forked
        with forked.app.run():
            print(json.dumps(forked.write_each.remote({paths!r})))
    """
    first, second = run_client(srv, run), run_client(srv, run)
    assert srv.log().count("forked from zygote") >= 2
    for path in paths[:2]:
        assert first[path][0] == "Read-only file system", (path, first[path])
    for path in paths[2:]:
        assert first[path] == ["written", False], (path, first[path])
        assert second[path] == ["written", False], (path, second[path])  # not the first's


def test_a_crashed_zygote_falls_back_to_exec_and_says_so(srv):
    run_client(srv, WHO)
    (zygote,) = zygotes_of(srv.proc.pid)
    os.kill(zygote, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while "exited (code -9); its containers start by exec" not in srv.log():
        assert time.monotonic() < deadline, srv.log()[-3000:]
        time.sleep(0.05)
    (out,) = run_client(srv, WHO)
    assert out["pid"] == 2 and out["token"].startswith("kc-")
    log = srv.log()
    assert "this container starts by exec" in log
    assert log.count("forked from zygote") == 1  # the first container only


def test_no_zygote_outlives_its_last_container_after_app_stop(srv):
    run_client(srv, WHO)
    run_client(srv, IMAGE_WHO % [])
    assert srv.log().count("forked from zygote") >= 2 and "is ready for image" in srv.log()
    deadline = time.monotonic() + 15
    while zygotes_of(srv.proc.pid):
        assert time.monotonic() < deadline, "the zygote is still there after app stop"
        time.sleep(0.1)
    assert "retired: no containers" in srv.log()


def test_zygotes_and_forked_containers_die_with_a_killed_server(srv):
    client = subprocess.Popen(
        [sys.executable, "-c", "from apps import forked\n"
         "with forked.app.run(), forked.in_image.run():\n"
         "    forked.linger.spawn(60)\n    forked.linger_in_image.remote(60)\n"],
        env={**srv.env, "PYTHONPATH": "."},
        cwd=os.path.dirname(__file__), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while srv.log().count("forked from zygote") < 2:
            assert time.monotonic() < deadline, srv.log()[-3000:]
            time.sleep(0.05)
        zygotes = zygotes_of(srv.proc.pid)  # the host system's, and the image's
        assert len(zygotes) == 2, zygotes
        time.sleep(0.3)  # the containers' init and runtime exist by now
        procs = zygotes + [p for z in zygotes for p in descendants(z)]
        assert len(procs) >= 8, procs  # zygote, keeper, init, runtime, twice
        srv.kill()
        assert wait_gone(procs, 10) == [], [open(f"/proc/{p}/cmdline").read() for p in
                                            alive(procs)]
    finally:
        client.kill()
        client.wait()


IMAGE_WHO = """
    import json
    from apps import forked
    with forked.in_image.run():
        print(json.dumps(forked.who_in_image.remote(%r)))
"""
IMAGE_PATHS = ["/usr/probe", "/etc/probe", "/tmp/probe", "/root/probe", "/opt/ketch/site/ketch/probe"]


def test_an_image_container_forks_from_an_unprivileged_zygote(srv):
    first, second = (run_client(srv, IMAGE_WHO % IMAGE_PATHS) for _ in range(2))
    log = srv.log()
    assert log.count("forked from zygote") >= 2 and "starts by exec" not in log, log[-3000:]
    # one per app: an image's zygote ran the image's code, so no other app forks from it
    assert log.count("is ready for image") == 2, log[-3000:]
    for out in (first, second):
        assert out["debian"] and out["pid"] == 2 and out["no_new_privs"] == "1"
        assert out["hostname"] == out["container_id"] and out["token"].startswith("kc-")
        # root inside is an unprivileged range of host ids, and host root's files (the
        # image's, its code's) are root's inside
        inside, host, count = (int(x) for x in out["uid_map"])
        assert inside == 0 and host >= 0x10000000 and count == 65536
        assert out["root_owner"] == 0 and "apps" in out["root_files"]  # its code, bound in
        caps = int(out["cap_eff"], 16)  # Docker's defaults at most, as on the exec path
        assert caps & 1 and not any(caps & (1 << cap) for cap in (13, 16, 19, 21, 27))
        paths = [t for t in out["fds"].values() if t.startswith("/")]
        assert set(paths) <= {"/dev/null"}, out["fds"]
        # the image's layers are each container's own to write (its upper layer)...
        for path in ("/usr/probe", "/etc/probe", "/tmp/probe", "/root/probe"):
            assert out["writes"][path] == ["written", False], (path, out)
        # ...ketch's runtime is not
        assert out["writes"]["/opt/ketch/site/ketch/probe"][0] == "Read-only file system", out
    assert first["token"] != second["token"]


SNAPPED = """
    import json
    from apps import snapped
    with snapped.app.run():
        r = snapped.Snapped()
        print(json.dumps(list(r.report.map([3, 3]))))
"""


def test_snap_hooks_run_once_per_zygote_and_the_others_in_each_container(srv):
    a, b = run_client(srv, SNAPPED)
    log = srv.log()
    assert log.count("with a memory snapshot") == 1, log[-3000:]
    assert log.count("forked from zygote") == 2 and "starts by exec" not in log, log[-3000:]
    assert a["container"] != b["container"]          # two containers...
    assert a["snap_id"] == b["snap_id"]               # ...of one snapshot
    for out in (a, b):
        assert out["snap_pid"] != out["pid"] and out["enter_pid"] == out["pid"] == 2
    # a new app (a new code version) is a new snapshot
    (c, _) = run_client(srv, SNAPPED)
    assert c["snap_id"] != a["snap_id"]
    assert srv.log().count("with a memory snapshot") == 2


def test_a_snap_hook_that_leaves_a_thread_running_is_refused_and_the_function_still_runs(srv):
    out = run_client(srv, """
        import json
        from apps import snapped
        with snapped.app.run():
            print(json.dumps(snapped.Threaded().ping.remote()))
    """)
    assert out == "pong"  # by exec, with every hook run in the container
    log = srv.log()
    assert "threads still run after its import and @enter(snap=True) hooks (left-running)" \
        in log and "start them in an @enter(snap=False) hook instead" in log, log[-3000:]
    assert "forked from zygote" not in log
