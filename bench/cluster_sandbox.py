"""A sandbox's snapshot_directory and mount_image on cluster nodes beside the same on one
machine, in one run (issues 11 and 12).

    sudo KETCH_TEST_IMAGES_DIR=/var/cache/ketch-test/images .venv/bin/python \
        bench/cluster_sandbox.py [--mib 64] [--reps 3] [--json PATH]

Builds the tests' cluster (tests/cluster_fixtures.py: the head and one worker, each in
its own network namespace, 1 CPU each; root needed) with a bwrap ketch server joined to
it, and a bwrap server without a cluster on this machine. In a sandbox without an image
it writes a directory of MIB MiB of random bytes and 200 small files, then measures:
- snapshot_directory of it in a sandbox on the worker, on the head's node (both through
  the node's agent: tar on the node, read by the server in chunks, hashed, unpacked) and
  on the one-machine server (a copy into the store);
- mount_image of that snapshot in a sandbox on the other node (the first mount pulls the
  layer into the node's cache, the next ones find it) and, on one machine, in the same
  sandbox.
Prints each p50 and the ratios to the one-machine figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

import conftest  # noqa: E402,F401  (first: cluster_fixtures imports from it)
from cluster_fixtures import ClusterServer, RayCluster  # noqa: E402
from isolation_helpers import start_server  # noqa: E402

CLIENT = r"""
import json, statistics, sys, time
import ketch
mode, mib, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
app = ketch.App.lookup("bench-sbx", create_if_missing=True)

def timed(fn):
    t = time.perf_counter()
    result = fn()
    return (time.perf_counter() - t) * 1000, result

if mode == "cluster":   # w2's 2048 MiB fits the worker only; then spread picks the head
    boxes = {"worker": ketch.Sandbox.create(app=app, memory=2048)}
    boxes["head"] = ketch.Sandbox.create(app=app)
else:
    boxes = {"local": ketch.Sandbox.create(app=app)}
out = {}
for name, sb in boxes.items():
    sb.exec("bash", "-c", f"mkdir -p /work/d && head -c {mib}M /dev/urandom > /work/d/big"
            " && for i in $(seq 200); do echo $i > /work/d/f$i; done").wait()
    out[f"{name}_node"] = sb.exec("bash", "-c", "echo $KETCH_NODE_ID").stdout.read().strip()
    snaps = [timed(lambda: sb.snapshot_directory("/work/d")) for _ in range(reps)]
    out[f"snapshot_{name}_p50_ms"] = statistics.median(t for t, _ in snaps)
    image = snaps[-1][1]
    other = boxes.get({"worker": "head", "head": "worker"}.get(name, ""), sb)
    mounts = [timed(lambda: other.mount_image(f"/m-{name}-{i}", image))[0]
              for i in range(reps + 1)]
    out[f"mount_{name}_first_ms"] = mounts[0]
    out[f"mount_{name}_cached_p50_ms"] = statistics.median(mounts[1:])
    seen = other.exec("bash", "-c", f"cat /m-{name}-0/f7").stdout.read().strip()
    assert seen == "7", seen
for sb in boxes.values():
    sb.terminate()
print("RESULT " + json.dumps(out))
"""


def client(srv, *argv: str) -> dict:
    run = subprocess.run([sys.executable, "-c", CLIENT, *argv], env=srv.env,
                         capture_output=True, text=True, timeout=900)
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    if run.returncode or not lines:
        raise RuntimeError(f"the client failed:\n{run.stdout[-2000:]}{run.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=64, help="the directory's size")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", default=str(BENCH / "results" / "cluster_sandbox.json"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kr-bench-sbx-"))
    images = os.environ.get("KETCH_TEST_IMAGES_DIR", "/var/cache/ketch-test/images")
    out: dict = {"mib": args.mib, "reps": args.reps, "load_before": os.getloadavg()}
    cluster = RayCluster(tmp, host_sys=True)   # bwrap on workers needs the host's /sys
    srv = local = None
    try:
        cluster.start()
        cluster.add_worker(memory_mib=3072)
        srv = ClusterServer(tmp / "server", cluster)
        srv.runtime = "bwrap"
        srv.extra_env["KETCH_IMAGES_DIR"] = images
        srv.start()
        srv.wait_nodes(2)
        local = start_server(tmp / "local", "bwrap")
        out.update(client(local, "local", str(args.mib), str(args.reps)))
        out.update(client(srv, "cluster", str(args.mib), str(args.reps)))
        for where in ("worker", "head"):
            out[f"snapshot_{where}_over_local"] = (out[f"snapshot_{where}_p50_ms"] /
                                                   out["snapshot_local_p50_ms"])
            out[f"mount_{where}_cached_over_local"] = (out[f"mount_{where}_cached_p50_ms"] /
                                                       out["mount_local_cached_p50_ms"])
        out["snapshot_worker_mb_per_s"] = args.mib / (out["snapshot_worker_p50_ms"] / 1000)
        out["load_after"] = os.getloadavg()
        out["server_log"] = [line for line in srv.log().splitlines() if "a layer of" in line]
    finally:
        for s in (local, srv):
            if s is not None:
                s.stop()
        cluster.stop()
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2))
    for key, value in out.items():
        print(f"{key:34} {value}")


if __name__ == "__main__":
    main()
