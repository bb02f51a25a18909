"""Volumes: files written in containers, through the SDK and through the CLI, against a
real server; mounts in real containers."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import ketch
from ketch.exception import InvalidError, NotFoundError
from isolation_helpers import needs_bwrap, run_client, start_server

TESTS = Path(__file__).parent


@pytest.fixture(scope="module")
def state(server):
    from apps import state

    with state.app.run():
        yield state


def test_a_file_written_in_one_container_is_read_in_another(state):
    assert state.write_file.remote("greeting/hello.txt", "hello from a container") == 22
    assert state.read_file.remote("greeting/hello.txt") == "hello from a container"
    # ... and through the SDK, from outside any container.
    assert b"".join(state.vol.read_file("/greeting/hello.txt")) == b"hello from a container"
    entries = {e.path: e for e in state.vol.listdir("greeting")}
    assert entries["greeting/hello.txt"].type == ketch.FileEntryType.FILE
    assert entries["greeting/hello.txt"].size == 22


def test_read_only_mount_refuses_writes(state):
    assert state.try_write_read_only.remote("nope.txt") == "OSError"
    with pytest.raises(NotFoundError):
        state.vol.listdir("nope.txt")


def test_upload_list_read_copy_remove(server, tmp_path):
    local = tmp_path / "tree"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_text("A")
    (local / "sub" / "b.txt").write_text("B")
    with ketch.Volume.ephemeral() as vol:
        with vol.batch_upload() as batch:
            batch.put_directory(local, "/tree")
            batch.put_file(local / "a.txt", "/single.txt")
        names = sorted(e.path for e in vol.listdir("/", recursive=True))
        assert names == ["single.txt", "tree", "tree/a.txt", "tree/sub", "tree/sub/b.txt"]
        assert [e.path for e in vol.listdir("tree")] == ["tree/a.txt", "tree/sub"]
        assert sorted(e.path for e in vol.iterdir("tree")) == ["tree/a.txt", "tree/sub",
                                                              "tree/sub/b.txt"]
        # An existing file is replaced only with force=True.
        with pytest.raises(InvalidError, match="already exists"):
            with vol.batch_upload() as batch:
                batch.put_file(local / "sub" / "b.txt", "/single.txt")
        with vol.batch_upload(force=True) as batch:
            batch.put_file(local / "sub" / "b.txt", "/single.txt")
        assert b"".join(vol.read_file("single.txt")) == b"B"
        vol.copy_files(["tree/a.txt", "single.txt"], "copies")
        vol.copy_files(["tree/sub"], "tree2")
        assert sorted(e.path for e in vol.listdir("copies")) == ["copies/a.txt",
                                                                 "copies/single.txt"]
        assert b"".join(vol.read_file("tree2/b.txt")) == b"B"
        with pytest.raises(InvalidError, match="recursive=True"):
            vol.remove_file("tree")
        vol.remove_file("tree", recursive=True)
        vol.remove_file("single.txt")
        assert sorted(e.path for e in vol.listdir("/")) == ["copies", "tree2"]
        with pytest.raises(NotFoundError):
            vol.remove_file("single.txt")


def test_async_twins(server, tmp_path):
    import asyncio

    (tmp_path / "x.bin").write_bytes(b"xyz" * 1000)

    async def main():
        async with ketch.Volume.ephemeral() as vol:
            async with vol.batch_upload() as batch:
                batch.put_file(tmp_path / "x.bin", "x.bin")
            chunks = [c async for c in vol.read_file.aio("x.bin")]
            entries = await vol.listdir.aio("/")
            await vol.commit.aio()
            await vol.remove_file.aio("x.bin")
            return b"".join(chunks), [e.path for e in entries], await vol.listdir.aio("/")

    data, names, after = asyncio.run(main())
    assert data == b"xyz" * 1000 and names == ["x.bin"] and after == []


def test_paths_that_escape_the_volume_are_refused(state, tmp_path):
    vol = state.vol
    for bad in ("../outside", "a/../../outside", "/../etc/passwd"):
        with pytest.raises(InvalidError, match=r"'\.\.'"):
            vol.listdir(bad)
        with pytest.raises(InvalidError, match=r"'\.\.'"):
            b"".join(vol.read_file(bad))
    (tmp_path / "f").write_text("x")
    with pytest.raises(InvalidError, match=r"'\.\.'"):
        with vol.batch_upload() as batch:
            batch.put_file(tmp_path / "f", "../escaped")
    # A symlink made inside a container that points out of the volume leads nowhere.
    state.make_symlink.remote("to-etc", "/etc")
    for op in (lambda: vol.listdir("to-etc"), lambda: b"".join(vol.read_file("to-etc/passwd")),
               lambda: vol.copy_files(["to-etc/passwd"], "stolen")):
        with pytest.raises(InvalidError, match="symlink"):
            op()
    vol.remove_file("to-etc")  # the link itself may go


def test_mount_paths_are_checked_early(server):
    app = ketch.App("bad-mounts")
    vol = ketch.Volume.from_name("state-tests", create_if_missing=True)
    with pytest.raises(InvalidError, match="absolute"):
        app.function(volumes={"data": vol})(lambda: None)
    with pytest.raises(InvalidError, match="overlap"):
        app.function(volumes={"/a": vol, "/a/b": vol})(lambda: None)
    with pytest.raises(InvalidError, match="ketch.Volume"):
        app.function(volumes={"/a": "not a volume"})(lambda: None)


def test_a_mount_that_would_hide_the_system_fails_at_deploy(server):
    out = server.python(textwrap.dedent("""
        import ketch
        app = ketch.App("hide-usr")
        @app.function(volumes={"/usr/local": ketch.Volume.from_name("state-tests")},
                      serialized=True)
        def f():
            return 1
        try:
            with app.run():
                pass
        except ketch.exception.InvalidError as exc:
            print("REFUSED", exc)
    """))
    assert "REFUSED" in out.stdout and "/usr" in out.stdout, out.stderr


def test_a_missing_volume_fails_at_deploy(server):
    out = server.python(textwrap.dedent("""
        import ketch
        app = ketch.App("no-vol")
        @app.function(volumes={"/data": ketch.Volume.from_name("never-made")},
                      serialized=True)
        def f():
            return 1
        try:
            with app.run():
                pass
        except ketch.exception.NotFoundError as exc:
            print("MISSING", exc)
    """))
    assert "MISSING" in out.stdout and "never-made" in out.stdout, out.stderr


def test_large_files_stream_without_sitting_in_memory(server, tmp_path):
    """A 256 MiB file goes up and comes back with neither the client's nor the server's
    peak memory growing by anything near its size."""
    size = 256 * 1024 * 1024
    src = tmp_path / "big.bin"
    block = os.urandom(1024 * 1024)
    digest = hashlib.sha256()
    with open(src, "wb") as handle:
        for _ in range(size // len(block)):
            handle.write(block)
            digest.update(block)
    server_peak_before = _peak_rss_mib(server.proc.pid)
    out = server.python(textwrap.dedent(f"""
        import hashlib, json, ketch
        with ketch.Volume.ephemeral() as vol:
            with vol.batch_upload() as batch:
                batch.put_file({str(src)!r}, "big.bin")
            h = hashlib.sha256()
            n = 0
            for chunk in vol.read_file("big.bin"):
                h.update(chunk)
                n += len(chunk)
            # VmHWM, not ru_maxrss: the latter keeps the forking parent's peak across exec.
            peak = [int(line.split()[1]) // 1024 for line in open("/proc/self/status")
                    if line.startswith("VmHWM:")][0]
            print(json.dumps({{"sha": h.hexdigest(), "n": n, "peak_mib": peak}}))
    """), timeout=300, extra_env={"MALLOC_MMAP_THRESHOLD_": str(1024 * 1024)})
    # (A fixed mmap threshold makes glibc return freed chunks at once, so the peak
    # measures live data rather than what the allocator kept around.)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["n"] == size and result["sha"] == digest.hexdigest()
    assert result["peak_mib"] < 160, result
    assert _peak_rss_mib(server.proc.pid) - server_peak_before < 100


def test_a_refused_or_cut_short_upload_of_many_chunks_leaves_nothing(server, tmp_path):
    """An upload refused at its first chunk, or whose client dies midway, leaves neither
    the file nor a temporary file; the file it would have replaced is untouched."""
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 4 * 1024 * 1024 + 5))  # several chunks
    uploads = server.data_dir / "volumes" / ".uploads"
    vol = ketch.Volume.from_name("cut-short", create_if_missing=True)
    try:
        with vol.batch_upload() as batch:
            batch.put_file(tmp_path / "big.bin", "kept.bin")
        (tmp_path / "other.bin").write_bytes(b"other" * 1000)
        with pytest.raises(InvalidError, match="already exists"):
            with vol.batch_upload() as batch:
                batch.put_file(tmp_path / "other.bin", "kept.bin")
                batch.put_file(big, "kept.bin")
        assert b"".join(vol.read_file("kept.bin")) == big.read_bytes()

        # A client that dies while its upload is half sent (it reads from a pipe that
        # the test feeds, so it stops where the test wants).
        client = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
            import sys, ketch
            vol = ketch.Volume.from_name("cut-short")
            with vol.batch_upload() as batch:
                batch.put_file(sys.stdin.buffer, "cut.bin")
        """)], stdin=subprocess.PIPE, env={**server.env, "PYTHONPATH": str(TESTS)})
        client.stdin.write(os.urandom(9 * 1024 * 1024))
        client.stdin.flush()
        _wait_for(lambda: any(p.stat().st_size for p in uploads.glob("*.part")),
                  "the half-sent upload's temporary file")
        client.kill()
        client.wait()
        _wait_for(lambda: not list(uploads.glob("*.part")), "the temporary file to go")
        assert [e.path for e in vol.listdir("/")] == ["kept.bin"]
    finally:
        ketch.Volume.delete("cut-short")


def _wait_for(condition, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _peak_rss_mib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")


def test_volume_survives_a_server_restart_and_cli(fresh_server, tmp_path):
    (tmp_path / "model.bin").write_bytes(b"weights" * 100)
    k = fresh_server.ketch
    assert k("volume", "create", "models").returncode == 0
    dup = k("volume", "create", "models")
    assert dup.returncode == 1 and "already exists" in dup.stderr
    put = k("volume", "put", "models", str(tmp_path / "model.bin"), "/v1/")
    assert put.returncode == 0, put.stderr
    fresh_server.stop()
    fresh_server.start()
    ls = k("volume", "ls", "models", "v1", "--json")
    assert ls.returncode == 0, ls.stderr
    assert json.loads(ls.stdout) == [
        {"path": "v1/model.bin", "type": "file", "size": 700,
         "mtime": json.loads(ls.stdout)[0]["mtime"]}]
    get = k("volume", "get", "models", "v1/model.bin", "-")
    assert get.stdout == "weights" * 100
    dest = tmp_path / "out"
    assert k("volume", "get", "models", "/v1", str(dest)).returncode == 0
    assert (dest / "model.bin").read_bytes() == b"weights" * 100
    assert k("volume", "cp", "models", "v1/model.bin", "v2.bin").returncode == 0
    assert k("volume", "rm", "models", "v1", "-r").returncode == 0
    table = k("volume", "ls", "models")
    assert "v2.bin" in table.stdout and "v1" not in table.stdout
    listing = json.loads(k("volume", "list", "--json").stdout)
    assert [(v["name"], v["size"]) for v in listing] == [("models", 700)]
    assert k("volume", "delete", "models", "--yes").returncode == 0
    gone = k("volume", "ls", "models")
    assert gone.returncode == 1 and "no Volume named 'models'" in gone.stderr


def test_volume_cli_help_explains():
    out = subprocess.run([sys.executable, "-m", "ketch.cli", "volume", "--help"],
                         capture_output=True, text=True, timeout=60)
    for command in ("create", "list", "ls", "put", "get", "rm", "cp", "delete"):
        assert command in out.stdout


@needs_bwrap
def test_volumes_mount_in_the_bwrap_runtime_too(tmp_path):
    srv = start_server(tmp_path / "bwrap-server", "bwrap")
    try:
        result = run_client(srv, """
            import json, os, ketch
            vol = ketch.Volume.from_name("iso", create_if_missing=True)
            app = ketch.App("iso-vol")

            @app.function(volumes={"/data": vol}, serialized=True,
                          secrets=[ketch.Secret.from_dict({"FROM_SECRET": "yes"})])
            def write():
                with open("/data/made-in-bwrap.txt", "w") as handle:
                    handle.write(os.environ["FROM_SECRET"])
                vol.commit()
                return sorted(os.listdir("/data"))

            with app.run():
                listing = write.remote()
            print(json.dumps([listing, b"".join(vol.read_file("made-in-bwrap.txt")).decode()]))
        """)
        assert result == [["made-in-bwrap.txt"], "yes"]
    finally:
        srv.stop()


def test_a_file_written_by_one_run_is_read_by_the_next_after_a_restart(fresh_server):
    app_code = textwrap.dedent("""
        import sys, ketch
        vol = ketch.Volume.from_name("runs", create_if_missing=True)
        app = ketch.App("runs")

        @app.function(volumes={"/mnt/ketch-tests/runs": vol}, serialized=True)
        def write():
            with open("/mnt/ketch-tests/runs/state.txt", "w") as handle:
                handle.write("from run one")  # no commit(): a clean exit commits

        @app.function(volumes={"/mnt/ketch-tests/runs": vol}, serialized=True)
        def read():
            vol.reload()
            return open("/mnt/ketch-tests/runs/state.txt").read()

        with app.run():
            print(write.remote() if sys.argv[1] == "write" else read.remote())
    """)
    script = fresh_server.data_dir / "runs_app.py"
    script.write_text(app_code)
    first = subprocess.run([sys.executable, str(script), "write"], env=fresh_server.env,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    fresh_server.stop()
    fresh_server.start()
    second = subprocess.run([sys.executable, str(script), "read"], env=fresh_server.env,
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "from run one"


def test_writes_never_follow_symlinks_planted_in_the_volume(state, tmp_path):
    """A container may plant links; the server (root) must not write through them."""
    vol = state.vol
    host_file = tmp_path / "host-file"
    host_file.write_text("host data")
    host_dir = tmp_path / "host-dir"
    host_dir.mkdir()
    state.write_file.remote("plant/src.txt", "from the volume")
    state.make_symlink.remote("plant/link.txt", str(host_file))
    state.make_symlink.remote("plant/linkdir", str(host_dir))
    # Copying onto a planted link, or through one to a directory, is refused, and so is
    # an upload through it; nothing on the host changes.
    with pytest.raises(InvalidError, match="symlink"):
        vol.copy_files(["plant/src.txt"], "plant/link.txt")
    assert host_file.read_text() == "host data"
    with pytest.raises(InvalidError, match="symlink"):
        vol.copy_files(["plant/src.txt"], "plant/linkdir/new.txt")
    (tmp_path / "up").write_text("uploaded")
    with pytest.raises(InvalidError, match="symlink"):
        with vol.batch_upload() as batch:
            batch.put_file(tmp_path / "up", "plant/linkdir/up.txt")
    assert list(host_dir.iterdir()) == []
    # Copying into a directory where a link waits under the file's name replaces the link.
    state.write_file.remote("plant/into/.keep", "")
    state.make_symlink.remote("plant/into/src.txt", str(host_file))
    vol.copy_files(["plant/src.txt"], "plant/into")
    assert host_file.read_text() == "host data"
    assert b"".join(vol.read_file("plant/into/src.txt")) == b"from the volume"
    vol.remove_file("plant", recursive=True)
