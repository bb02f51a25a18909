"""Containers forked from a zygote: what they hold and do not, a crashed zygote's
fallback to exec, and no zygote or container left after an app stops or the server is
killed. (The isolation tests of test_bwrap.py and test_security_network.py run on both
the forked and the exec path.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
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


ZYGOTE_PIDS = 32  # an unprivileged zygote's pids bound in these tests


@pytest.fixture
def srv(tmp_path, request):
    """A server whose zygote retires after 1 s idle (or the test's indirect parameter)."""
    s = start_server(tmp_path / "srv", "bwrap",
                     KETCH_ZYGOTE_IDLE_S=getattr(request, "param", "1"),
                     KETCH_ZYGOTE_RETRY_S="30", KETCH_ZYGOTE_PIDS_LIMIT=str(ZYGOTE_PIDS))
    yield s
    s.stop()


WHO_TWICE = """
    import json
    from apps import forked
    out = []
    for _ in range(2):  # two app runs, one client
        with forked.app.run():
            out.append(forked.who.remote())
    print(json.dumps(out))
"""


@pytest.mark.parametrize("srv", ["60"], indirect=True)  # one zygote for both, however slow
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
    """A forked container's /usr, /etc and the runtime's packages come from its zygote's
    view at once: they stay read-only, and the tmpfs under /etc, like /tmp and the root's
    own directories, is each container's own."""
    paths = ["/usr/probe", "/etc/probe", "/opt/ketch/site/probe", "/etc/ssh/probe",
             "/tmp/probe", "/opt/ketch/probe"]
    run = f"""
        import json
        from apps import forked
        with forked.app.run():
            print(json.dumps(forked.write_each.remote({paths!r})))
    """
    first, second = run_client(srv, run), run_client(srv, run)
    assert srv.log().count("forked from zygote") >= 2
    for path in paths[:3]:
        assert first[path][0] == "Read-only file system", (path, first[path])
    for path in paths[3:]:
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
    run_client(srv, """
        import json
        from apps import forked
        with forked.app.run(), forked.in_image.run():
            print(json.dumps([forked.who.remote(), forked.who_in_image.remote([])]))
    """)
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


IMAGE_WHO_TWICE = """
    import json
    from apps import forked
    out = []
    for paths in (%r, %r):  # two apps, one client
        with forked.in_image.run():
            out.append(forked.who_in_image.remote(paths))
    print(json.dumps(out))
"""
IMAGE_PATHS = ["/usr/probe", "/etc/probe", "/tmp/probe", "/root/probe",
               "/opt/ketch/site/ketch/probe"]


def test_an_image_container_forks_from_an_unprivileged_zygote(srv):
    first, second = run_client(srv, IMAGE_WHO_TWICE % (IMAGE_PATHS, IMAGE_PATHS))
    log = srv.log()
    assert log.count("forked from zygote") >= 2 and "starts by exec" not in log, log[-3000:]
    # one per app: an image's zygote ran the image's code, so no other app forks from it
    assert log.count("is ready for image") == 2, log[-3000:]
    for out in (first, second):
        assert out["debian"] and out["pid"] == 2 and out["no_new_privs"] == "1"
        assert out["replaced"] == ["only"], out["replaced"]   # the layer's opaque directory
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
    out = {}
    with snapped.app.run():
        out["two"] = list(snapped.Snapped().report.map([3, 3]))
        out["threaded"] = snapped.Threaded().ping.remote()
        out["native"] = snapped.NativeThreaded().ping.remote()
    with snapped.app.run():  # a new app: a new code version
        out["again"] = snapped.Snapped().report.remote(0)
    print(json.dumps(out))
"""


def test_memory_snapshots(srv):
    """snap=True hooks run once per zygote (code version), the others in each container;
    a snap hook that leaves a thread running is refused, and its function still runs."""
    out = run_client(srv, SNAPPED)
    a, b = out["two"]
    assert a["container"] != b["container"]          # two containers...
    assert a["snap_id"] == b["snap_id"]               # ...of one snapshot
    for one in (a, b, out["again"]):
        assert one["snap_pid"] != one["pid"] and one["enter_pid"] == one["pid"] == 2
        # OpenMP at one thread while the snapshot was taken, one per CPU after the fork
        assert one["snap_omp"] == ["1", 1] and one["omp"] == one["cpus"], one
    assert out["again"]["snap_id"] != a["snap_id"]   # a new version, a new snapshot
    log = srv.log()
    assert log.count("is ready for the host system with a memory snapshot") == 2, log[-3000:]
    assert log.count("forked from zygote") == 3, log[-3000:]
    # Threaded: by exec, with every hook run in the container, saying why
    assert out["threaded"] == "pong"
    assert "threads still run after its import and @enter(snap=True) hooks (left-running)" \
        in log and "start them in an @enter(snap=False) hook instead" in log, log[-3000:]
    assert "its containers start by exec" in log, log[-3000:]
    # NativeThreaded: a thread Python does not see is refused too, naming the fix
    assert out["native"] == "pong"
    assert "1 native thread(s) still run after its import and @enter(snap=True) hooks" \
        in log and "start other pools in an @enter(snap=False) hook" in log, log[-3000:]


BOMBED = """
    import json, sys
    from apps import forked
    with forked.bombed.run():
        print(json.dumps(forked.probe_started.remote()), flush=True)
        sys.stdin.readline()  # while the test looks at the host
"""


def _pids_group(proc_cgroup: str) -> str:
    """The pids controller's group in a /proc/<pid>/cgroup text (v1), or the group (v2)."""
    lines = [ln.split(":", 2) for ln in proc_cgroup.splitlines()]
    return next((p for _, c, p in lines if c == "pids"), None) or \
        next(p for h, _, p in lines if h == "0")


def _pids_cgroup(pid: int) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        return _pids_group(f.read())


def _probe_processes() -> list[int]:
    """The processes the image's .pth left running (apps/forked.py's PROBE)."""
    return [int(p) for p in os.listdir("/proc")
            if p.isdigit() and _cmdline(int(p)) in ("sleep 3131", "sleep 3132")]


def _status(pid: int, field: str) -> str:
    with open(f"/proc/{pid}/status") as f:
        return next(line.split()[1] for line in f if line.startswith(field + ":"))


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


@pytest.mark.parametrize("end", ["app stop", "server stop"])
def test_what_an_images_startup_code_starts_in_its_zygote_is_bounded_and_reaped(srv, end):
    """An image whose interpreter's startup forks (a .pth file), in its zygote: the forks
    stop at the zygote's cgroup's pids bound, the containers forked from it are in their
    own cgroups, and what it left running (escaped from its process tree) is killed with
    the zygote's cgroup once the zygote retires after the app stops, or the server stops."""
    client = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(BOMBED)], env={**srv.env, "PYTHONPATH": "."},
        cwd=os.path.dirname(__file__), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        line = client.stdout.readline()
        assert line, client.stderr.read() + srv.log()[-3000:]
        out = json.loads(line)
        assert "forked from zygote" in srv.log(), srv.log()[-3000:]
        # bounded: beside the zygote and the forking process, the bound's worth
        assert ZYGOTE_PIDS - 4 <= out["started"] < ZYGOTE_PIDS, out
        assert _pids_group(out["cgroup"]).endswith("/" + out["container_id"]), out  # its own
        (zygote,) = zygotes_of(srv.proc.pid)
        group = _pids_cgroup(zygote)
        assert "/zygote-" in group, group
        left = _probe_processes()
        assert len(left) == 4 and {_pids_cgroup(p) for p in left} == {group}, left
        v1 = os.path.exists("/sys/fs/cgroup/pids/cgroup.procs")
        group_dir = f"/sys/fs/cgroup{'/pids' if v1 else ''}{group}"
        with open(f"{group_dir}/cgroup.procs") as f:  # no keeper or init of a container
            held = {int(p) for p in f.read().split()}
        # but its two spare keepers and their inits, made ahead of the next containers
        spare = {p for p in held - {zygote, *left} if int(_status(p, "PPid")) == zygote}
        spare |= {p for p in held if int(_status(p, "PPid")) in spare}
        assert len(spare) <= 4 and held == {zygote, *left, *spare}, (held, spare)
        with open(f"{os.path.dirname(group_dir)}/{out['container_id']}/cgroup.procs") as f:
            procs = {int(p) for p in f.read().split()}
        # the container's keeper is in the container's cgroup, and leaves a stop's SIGTERM
        # to the runtime (its death would end the container at once)
        (keeper,) = [p for p in procs if int(_status(p, "PPid")) not in procs]
        assert int(_status(keeper, "PPid")) == zygote
        assert int(_status(keeper, "SigIgn"), 16) & (1 << (signal.SIGTERM - 1))
        if end == "server stop":
            srv.stop()
        else:
            client.stdin.write("\n")
            client.stdin.close()
            assert client.wait(60) == 0, client.stderr.read()
        assert wait_gone(left, 15) == [], [_cmdline(p) for p in alive(left)]
        deadline = time.monotonic() + 5
        while os.path.exists(group_dir):
            assert time.monotonic() < deadline, f"{group} is still there"
            time.sleep(0.1)
        if end == "app stop":
            assert "retired: no containers" in srv.log()
            assert f"was held to its bounds: it was refused processes beyond {ZYGOTE_PIDS}" \
                in srv.log(), srv.log()[-3000:]
    finally:
        client.kill()
        client.wait()
