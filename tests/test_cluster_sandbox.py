"""Sandboxes' directory operations and snapshots on cluster nodes (issues 11 and 12), on the
session's real Ray cluster (tests/cluster_fixtures.py): a second ketch server, on the bwrap
runtime, joins it with agents in a Ray namespace of its own (KETCH_RAY_NAMESPACE), beside
the session's process-runtime server. Each operation runs on the sandbox's node; a new
layer travels to the server's store and on to the node that uses it next."""

from __future__ import annotations

import json
import textwrap

import pytest

from cluster_fixtures import ClusterServer
from isolation_helpers import needs_bwrap

pytestmark = [needs_bwrap, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def bwrap_cluster(ray_cluster, tmp_path_factory):
    srv = ClusterServer(tmp_path_factory.mktemp("ketch-cluster-bwrap"), ray_cluster)
    srv.runtime = "bwrap"
    srv.extra_env["KETCH_RAY_NAMESPACE"] = "ketch-sandboxes"
    try:
        srv.start()
        # (test_cluster.py, on the same worker, kills one node and adds another)
        srv.wait_nodes(len([n for n in ray_cluster.nodes if not n.killed]))
        yield srv
    finally:
        srv.stop()


def _ids(srv) -> dict[str, str]:
    listed = json.loads(srv.ketch("node", "list", "--json").stdout)
    return {n["address"]: n["id"] for n in listed["nodes"]}


def test_directory_and_filesystem_snapshots_travel_between_nodes(bwrap_cluster):
    out = bwrap_cluster.python(textwrap.dedent("""
    import json, ketch
    app = ketch.App.lookup("csb", create_if_missing=True)

    def sh(sb, cmd):
        return sb.exec("bash", "-c", cmd).stdout.read()

    one = ketch.Sandbox.create(app=app, memory=2048)   # only worker w2 has the room
    sh(one, "mkdir -p /work/proj/sub && echo one > /work/proj/a.txt && "
            "echo deep > /work/proj/sub/b.txt && ln -s /etc/hostname /work/proj/link && "
            "echo t > /tmp/t")
    dir_image = one.snapshot_directory("/work/proj")
    fs_image = one.snapshot_filesystem()
    try:
        one.snapshot_directory("/no/such")
        missing = "no error"
    except ketch.exception.NotFoundError as exc:
        missing = str(exc)
    # w2 now holds `one`: spread puts the next sandbox on another node
    two = ketch.Sandbox.create(app=app)
    sh(two, "mkdir /data && echo old > /data/x")
    two.mount_image("/data", dir_image)
    mounted = sh(two, "cat /data/a.txt /data/sub/b.txt; readlink /data/link; "
                      "echo new > /data/new && cat /data/new")
    two.unmount_image("/data")
    after = sh(two, "ls /data; cat /data/x")
    three = ketch.Sandbox.create(app=app, image=fs_image)   # the node with neither
    from_snapshot = sh(three, "cat /work/proj/a.txt /tmp/t")
    nodes = [sh(sb, "echo $KETCH_NODE_ID").strip() for sb in (one, two, three)]
    for sb in (one, two, three):
        sb.terminate()
    fn_app = ketch.App("csb-fn")

    @fn_app.function(image=fs_image, serialized=True)
    def read_it():
        import os
        return open("/work/proj/a.txt").read().strip(), os.environ["KETCH_NODE_ID"]

    with fn_app.run():
        from_function = read_it.remote()
    print(json.dumps({"nodes": nodes, "mounted": mounted.split(), "after": after.split(),
                      "from_snapshot": from_snapshot.split(), "missing": missing,
                      "function": from_function}))
    """), timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr + bwrap_cluster.log()[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    ids = _ids(bwrap_cluster)
    w2 = ids[bwrap_cluster.cluster.nodes[2].ip]
    assert seen["nodes"][0] == w2 and len(set(seen["nodes"])) == 3, (seen, ids)
    assert seen["mounted"] == ["one", "deep", "/etc/hostname", "new"]
    assert seen["after"] == ["x", "old"]
    assert seen["from_snapshot"] == ["one", "t"]
    assert "/no/such" in seen["missing"] and "node" in seen["missing"]
    assert seen["function"][0] == "one"


def test_cluster_from_id_is_scoped_to_the_workspace(bwrap_cluster):
    """Cluster.from_id from outside the gang (workspaces need the bwrap runtime, hence
    here): the caller's workspace finds its gang; another workspace gets "not found"."""
    made = bwrap_cluster.ketch("token", "create", "--workspace", "beta", "--json")
    assert made.returncode == 0, made.stderr
    beta = json.loads(made.stdout)["secret"]
    out = bwrap_cluster.python(textwrap.dedent(f"""
    import json, os, subprocess, sys, ketch
    app = ketch.App("gang-scope")

    @app.function(cpu=0.25, serialized=True)
    @ketch.clustered(size=2)
    def cluster_id():
        from ketch.experimental import get_cluster_info
        return get_cluster_info().cluster_id

    with app.run():
        cid = cluster_id.remote()
        ids = ketch.Cluster.from_id(cid).container_ids()
        other = subprocess.run(
            [sys.executable, "-c", "import ketch; ketch.Cluster.from_id(%r)" % cid],
            env={{**os.environ, "KETCH_TOKEN": {beta!r}}}, capture_output=True, text=True)
    print(json.dumps({{"cid": cid, "ids": ids, "other": other.stderr[-300:]}}))
    """), timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr + bwrap_cluster.log()[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["cid"].startswith("cl-") and len(seen["ids"]) == 2, seen
    assert "NotFoundError" in seen["other"] and "no running cluster" in seen["other"], seen


def test_tunnels_reach_a_sandbox_and_a_function_on_a_worker_node(bwrap_cluster):
    """A sandbox's encrypted port and ketch.forward(port) in a function's container, both
    on worker w2 (the only node with 2 GiB free): the tunnel listens on the server's host
    and reaches the port through w2's authenticated relay. A real HTTP GET each way."""
    out = bwrap_cluster.python(textwrap.dedent("""
    import json, os, time, urllib.request, ketch

    def get(url, deadline=20):
        end = time.monotonic() + deadline
        while True:   # the server inside may not listen yet: the tunnel closes, try again
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    return r.status, r.read().decode()
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.1)

    app = ketch.App.lookup("csb-tun", create_if_missing=True)
    sb = ketch.Sandbox.create("bash", "-c", "cd /tmp && echo hello-from-node > page.txt && "
                              "exec python3 -m http.server 8765 --bind 127.0.0.1",
                              app=app, memory=2048, encrypted_ports=[8765])
    url = sb.tunnels()[8765].url
    sb_answer = get(url + "/page.txt")
    sb_node = sb.exec("bash", "-c", "echo $KETCH_NODE_ID").stdout.read().strip()
    sb.terminate()

    fn_app = ketch.App("csb-fwd")

    @fn_app.function(memory=2048, serialized=True, timeout=120)
    def serve(queue_name):
        import http.server, os, threading, ketch as k

        class Hello(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(os.environ["KETCH_NODE_ID"].encode())

        httpd = http.server.HTTPServer(("127.0.0.1", 8766), Hello)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        q = k.Queue.from_name(queue_name)
        with k.forward(8766) as tunnel:
            q.put(tunnel.url, partition="url")
            q.get(partition="done", timeout=60)
        return "served"

    q = ketch.Queue.from_name("csb-fwd-q", create_if_missing=True)
    with fn_app.run():
        call = serve.spawn("csb-fwd-q")
        fn_answer = get(q.get(partition="url", timeout=60))
        q.put("ok", partition="done")
        served = call.get(timeout=60)
    print(json.dumps({"sb": [*sb_answer, sb_node], "fn": [*fn_answer, served]}))
    """), timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr + bwrap_cluster.log()[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    w2 = _ids(bwrap_cluster)[bwrap_cluster.cluster.nodes[2].ip]
    assert seen["sb"] == [200, "hello-from-node\n", w2], seen
    assert seen["fn"] == [200, w2, "served"], seen
