"""Leftovers and limits (issue 9, item 8): cgroups that containers left when their server
was killed are removed when it starts again (and never another server's), and a build step
that exceeds its memory limit fails naming the step and the limit. bwrap, real cgroups."""

from __future__ import annotations

import os
import subprocess
import sys
import time


from conftest import TESTS
from isolation_helpers import needs_bwrap, run_client, start_server
from ketch.server.runtime import cgroups

pytestmark = needs_bwrap


def group_dirs(group: str) -> list:
    """Where a group's children live: one directory (v2) or one per controller (v1)."""
    if cgroups.version() == 2:
        return [cgroups.ROOT / group]
    return [cgroups.ROOT / c / group for c in ("memory", "cpu", "pids")]


def children(group: str) -> set[str]:
    return {d.name for p in group_dirs(group) if p.is_dir() for d in p.iterdir() if d.is_dir()}


def test_stale_cgroups_after_kill_9_are_removed_at_the_next_start(tmp_path):
    data = tmp_path / "server"
    srv = start_server(data, "bwrap")
    group = cgroups.server_group(data)
    other = group_dirs(f"{cgroups.BASE}/srv-another-server")
    client = None
    try:
        client = subprocess.Popen(
            [sys.executable, "-c", "from apps import basic\nwith basic.app.run():\n"
                                   "    basic.sleep_for.remote(120)\n"],
            env={**srv.env, "PYTHONPATH": str(TESTS)}, cwd=TESTS,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not children(group) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = children(group)
        assert left, "no container cgroup appeared under " + group
        if cgroups.version() == 1:  # the hierarchy that keeps moves fast (favor_moves)
            assert "name=ketch-favordynmods:" in open("/proc/self/cgroup").read()
        srv.kill()  # SIGKILL: the server cannot clean up
        client.kill()
        time.sleep(0.5)
        assert children(group) == left  # its containers died, their cgroups did not
        for d in other:  # another server's container, which must be left alone
            (d / "c-theirs").mkdir(parents=True)
        srv.start()
        assert children(group) == set()
        assert all((d / "c-theirs").is_dir() for d in other)
        assert f"stale cgroups under {group}" in srv.log()
    finally:
        if client is not None and client.poll() is None:
            client.kill()
        srv.stop()
        for d in other:
            for path in (d / "c-theirs", d):
                try:
                    path.rmdir()
                except OSError:
                    pass


def _build_outcome(tmp_path, command: str, **env) -> str:
    """Builds a fresh image whose second step runs `command` on a bwrap server started
    with `env`; returns "built" or the build's error message."""
    srv = start_server(tmp_path / "server", "bwrap", **env)
    try:
        return run_client(srv, f"""
            import json, ketch
            from ketch import _sync
            from ketch._client import Client
            from ketch.proto import ketch_pb2 as pb
            img = ketch.Image.debian_slim().run_commands(
                "echo {os.urandom(4).hex()}", {command!r})
            c = _sync.run(Client.get())
            try:
                _sync.run(c.request(image_build=pb.ImageBuild(
                    build_id="t", image=pb.ImageDef(steps=img._steps))))
                print(json.dumps("built"))
            except Exception as exc:
                print(json.dumps(str(exc)))
        """)
    finally:
        srv.stop()


def test_a_build_step_over_its_memory_limit_fails_naming_it(tmp_path):
    out = _build_outcome(tmp_path, "python3 -c 'b = bytearray(512 << 20); print(len(b))'",
                         KETCH_BUILD_MEMORY_MIB="64")
    assert out.startswith("image build failed at step 2/2 (run_commands"), out
    assert "out of memory at the build limit of 64 MiB" in out
    assert "KETCH_BUILD_MEMORY_MIB" in out


def test_build_steps_run_under_pids_and_cpu_limits_too(tmp_path):
    out = _build_outcome(tmp_path, "for i in $(seq 100); do sleep 5 & done; wait",
                         KETCH_BUILD_PIDS="20")
    assert out.startswith("image build failed at step 2/2 (run_commands"), out
    assert "build limit of 20 processes" in out and "KETCH_BUILD_PIDS" in out


def test_build_output_for_a_caller_that_reads_nothing_is_not_held(tmp_path):
    import socket

    import psutil

    import ketch
    from ketch.proto import ketch_pb2 as pb
    from wire_helpers import RawConn

    srv = start_server(tmp_path / "server", "bwrap")
    try:
        img = ketch.Image.debian_slim().run_commands(
            f"echo {os.urandom(4).hex()}",
            "yes 'a line of build output, printed over and over' | head -n 2000000")
        token = (srv.data_dir / "token").read_text().strip()
        watcher = RawConn(srv.address)
        watcher.hello(token)

        def images() -> int:
            return len(watcher.call(image_list=pb.ImageList()).image_list_reply.images)

        known = images()
        conn = RawConn(srv.address, timeout=300)
        conn.hello(token)
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        before = psutil.Process(srv.proc.pid).memory_info().rss
        conn.send(image_build=pb.ImageBuild(build_id="t", image=pb.ImageDef(steps=img._steps)))
        deadline = time.monotonic() + 240
        while images() == known:  # built, while its caller read nothing
            assert time.monotonic() < deadline, "the build did not finish"
            time.sleep(0.5)
        grew = psutil.Process(srv.proc.pid).memory_info().rss - before
        # 2,000,000 lines pushed to it unread once cost the server 611 MiB.
        assert grew < 64 << 20, f"the server's memory grew by {grew >> 20} MiB"
        conn.close()
    finally:
        srv.stop()
