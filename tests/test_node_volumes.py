"""Issue 11, item 6: volumes keep Modal's semantics on every node. A container on a node
other than the server's gets a copy (ketch._volume_copy), filled from the committed state
at its start; commit() publishes its changes file by file (different files merge, the same
file's last commit wins, removals travel), reload() brings others' commits and keeps its
own uncommitted ones, and a normal exit commits. Two nodes are two copy directories on a
real server; the last test runs a real container with its volume as a copy."""

from __future__ import annotations

import json
import textwrap

import pytest

from node_fixtures import NodeServer

TIMEOUT = 90

_TWO_NODES = textwrap.dedent("""
    import io, json, sys
    from pathlib import Path
    import ketch
    from ketch import _sync
    from ketch._volume_copy import VolumeCopy

    root = Path(sys.argv[1])
    vol = ketch.Volume.from_name("shared", create_if_missing=True)
    with vol.batch_upload(force=True) as batch:
        batch.put_file(io.BytesIO(b"v1"), "/model/weights.txt")
        batch.put_file(io.BytesIO(b"keep"), "/keep.txt")
    (root / "a").mkdir()
    (root / "b").mkdir()
    a, b = VolumeCopy(vol, root / "a"), VolumeCopy(vol, root / "b")
    run = _sync.run
    server = lambda path: b"".join(vol.read_file(path)).decode()
    out = {}
    run(a.pull()); run(b.pull())
    out["a_start"] = (root / "a/model/weights.txt").read_text()
    (root / "a/from_a.txt").write_text("A")
    (root / "b/from_b.txt").write_text("B")
    out["b_sees_a_before_commit"] = (root / "b/from_a.txt").exists()
    run(a.commit()); run(b.commit())
    out["server_files"] = sorted(e.path for e in vol.listdir("/", recursive=True)
                                 if e.type == 1)
    out["b_sees_a_before_reload"] = (root / "b/from_a.txt").exists()
    run(b.reload())
    out["b_after_reload"] = (root / "b/from_a.txt").read_text()
    (root / "a/model/weights.txt").write_text("from a")
    (root / "b/model/weights.txt").write_text("from b")
    run(a.commit()); run(b.commit())
    out["weights"] = server("model/weights.txt")
    (root / "a/keep.txt").unlink()
    run(a.commit())
    out["keep_on_server"] = any(e.path == "keep.txt" for e in vol.listdir("/"))
    (root / "b/from_b.txt").write_text("B2, not committed")
    run(a.reload()); run(b.reload())
    out["a_weights_after_reload"] = (root / "a/model/weights.txt").read_text()
    out["b_keep_after_reload"] = (root / "b/keep.txt").exists()
    out["b_own_uncommitted"] = (root / "b/from_b.txt").read_text()
    out["server_from_b"] = server("from_b.txt")
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def vol_server(tmp_path_factory):
    srv = NodeServer(tmp_path_factory.mktemp("node-volumes") / "server", []).start()
    yield srv
    srv.stop()


def test_two_nodes_keep_modals_volume_semantics(vol_server, tmp_path):
    done = vol_server.python(_TWO_NODES.replace("sys.argv[1]", repr(str(tmp_path))),
                             timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {
        "a_start": "v1",                        # the committed state at start
        "b_sees_a_before_commit": False,
        "server_files": ["from_a.txt", "from_b.txt", "keep.txt", "model/weights.txt"],
        "b_sees_a_before_reload": False,        # others' commits wait for reload()
        "b_after_reload": "A",
        "weights": "from b",                    # the same file: the last commit wins
        "keep_on_server": False,                # a removal is published
        "a_weights_after_reload": "from b",
        "b_keep_after_reload": False,           # and reaches the other node on reload
        "b_own_uncommitted": "B2, not committed",   # reload keeps uncommitted changes
        "server_from_b": "B",
    }


def test_a_container_pulls_at_start_and_commits_at_exit(vol_server, tmp_path):
    seed = vol_server.python(
        "import io, ketch\n"
        "v = ketch.Volume.from_name('copied-vol', create_if_missing=True)\n"
        "with v.batch_upload(force=True) as b:\n"
        "    b.put_file(io.BytesIO(b'hello'), '/seed.txt')\n"
        "print(v.object_id)\n")
    assert seed.returncode == 0, seed.stderr
    volume_id = seed.stdout.split()[-1]
    copy = tmp_path / "node-copy"
    copy.mkdir()
    env = {"TEST_COPIES": json.dumps([{"path": str(copy), "object_id": volume_id}]),
           "TEST_COPY_DIR": str(copy)}
    run = vol_server.python(textwrap.dedent("""
        import io, json
        from apps import copied
        with copied.app.run():
            first = copied.look_and_write.remote("one.txt")
            with copied.vol.batch_upload(force=True) as b:   # another node's commit
                b.put_file(io.BytesIO(b"later"), "/later.txt")
            second = copied.look_and_write.remote("two.txt", reload=True)
        print(json.dumps([first, second]))
    """), extra_env=env, timeout=TIMEOUT)
    assert run.returncode == 0, run.stderr
    first, second = json.loads(run.stdout.strip().splitlines()[-1])
    assert first == {"seed.txt": "hello"}                     # the committed state at start
    assert second == {"later.txt": "later", "one.txt": "written by one.txt",
                      "seed.txt": "hello"}                     # reload brought later.txt
    files = vol_server.python(
        "import ketch\n"
        "v = ketch.Volume.from_name('copied-vol')\n"
        "print(sorted(e.path for e in v.listdir('/')))\n")
    # The container exited normally when the app stopped: what it wrote was committed.
    assert files.stdout.strip() == str(["later.txt", "one.txt", "seed.txt", "two.txt"])
