"""ketch on a Ray cluster beside Ray itself, on the same cluster, in one run (issue 11).

    sudo KETCH_TEST_IMAGES_DIR=/var/cache/ketch-test/images .venv/bin/python bench/cluster.py \
        [--runtime bwrap|process] [--parts map,warm,cold,layers,ray] [--json PATH]

Builds the tests' cluster (tests/cluster_fixtures.py: the head on a bridge, each worker in
its own network namespace, 1 CPU per node; root needed) and a ketch server joined to it,
on the bwrap backend by default (containers reach the server through their node's relay,
images travel as layers), then measures:
- warm `.remote` p50 to a container on a worker node vs on the head (pinned by GPUs
  declared to Ray: an L4 on the head, an H100 on w2), interleaved in blocks, beside a Ray
  actor's method call on the same worker;
- throughput of a map of one-second inputs (cpu=1) over 1, 2 and 3 nodes (as nodes
  join), beside the same work as Ray tasks (num_cpus=1) over 3 nodes;
- cold start (first call of a fresh ephemeral function) on the worker vs on the head,
  without an image, beside a Ray actor's creation + first call;
- cold start with an image (Image.debian_slim(), from the image cache KETCH_TEST_IMAGES_DIR
  names) on each node: its first start pulls the layers into the node's cache, the next
  ones find them there.
Targets (issue 11): remote warm p50 ≤ local + 0.3 ms; map ≥ 0.9 × linear; remote cold
start with cached layers ≤ 1.2 × local.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

import conftest  # noqa: E402  (the tests' server process helper)
from cluster_fixtures import RAY_ENV, ClusterServer, RayCluster  # noqa: E402

KETCH_CLIENT = r"""
import json, statistics, sys, time
import ketch
sys.path.insert(0, sys.argv[1])
out = {}
def p50_ms(fn, n=300, warm=30):
    for _ in range(warm):
        fn()
    times = []
    for _ in range(n):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000
mode = sys.argv[2]
if mode == "warm":
    # Interleaved blocks, so a change of the machine's load falls on both alike.
    head = ketch.Function.from_name("bench-cluster", "on_head")
    worker = ketch.Function.from_name("bench-cluster", "on_worker")
    samples = {"head": [], "worker": []}
    for f in (head, worker):
        for _ in range(30):
            f.remote(1)
    for r in range(12):
        for where in (("head", "worker") if r % 2 else ("worker", "head")):
            f = head if where == "head" else worker
            for _ in range(50):
                t = time.perf_counter(); f.remote(1)
                samples[where].append(time.perf_counter() - t)
    for where, times in samples.items():
        out[f"warm_{where}_p50_ms"] = statistics.median(times) * 1000
elif mode == "map":
    f = ketch.Function.from_name("bench-cluster", "one_second")
    n = int(sys.argv[3])
    list(f.map(range(n)))                      # warm: one container per node
    t = time.perf_counter(); nodes = list(f.map(range(3 * n)))
    out["s"] = time.perf_counter() - t
    out["inputs_per_s"] = 3 * n / out["s"]
    out["nodes_used"] = len(set(nodes))
elif mode == "cold":
    for where, gpu in (("head", "L4"), ("worker", "H100")):
        times = []
        for i in range(3):
            app = ketch.App(f"cold-{where}-{i}")
            def noop(x):
                return x
            f = app.function(gpu=gpu, serialized=True, name=f"noop{i}")(noop)
            with app.run():
                t = time.perf_counter(); f.remote(1); times.append(time.perf_counter() - t)
        out[f"cold_{where}_p50_ms"] = statistics.median(times) * 1000
elif mode == "layers":
    # An image no node has a layer of yet: each node's first start pulls them (the head's
    # agent too: its node cache is its own); the next starts (fresh apps, same image)
    # find them in the node's cache.
    image = ketch.Image.debian_slim()
    for where, gpu in (("head", "L4"), ("worker", "H100")):
        times = []
        for i in range(4):
            app = ketch.App(f"layers-{where}-{i}")
            def noop(x):
                return x
            f = app.function(image=image, gpu=gpu, serialized=True, name=f"img{i}")(noop)
            with app.run():
                t = time.perf_counter(); f.remote(1); times.append(time.perf_counter() - t)
        out[f"cold_{where}_image_first_ms"] = times[0] * 1000
        out[f"cold_{where}_image_cached_p50_ms"] = statistics.median(times[1:]) * 1000
print("RESULT " + json.dumps(out))
"""

RAY_CLIENT = r"""
import json, statistics, sys, time
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
ray.init(address=sys.argv[1], logging_level="ERROR")
worker_ip = sys.argv[2]
node = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["NodeManagerAddress"] == worker_ip)
pin = NodeAffinitySchedulingStrategy(node, soft=False)
out = {}
@ray.remote(num_cpus=0)
class A:
    def f(self, x):
        return x
cold = []
for _ in range(3):
    t = time.perf_counter(); a = A.options(scheduling_strategy=pin).remote(); ray.get(a.f.remote(1))
    cold.append(time.perf_counter() - t)
out["ray_actor_cold_p50_ms"] = statistics.median(cold) * 1000
for _ in range(30):
    ray.get(a.f.remote(1))
times = []
for _ in range(300):
    t = time.perf_counter(); ray.get(a.f.remote(1)); times.append(time.perf_counter() - t)
out["ray_actor_warm_p50_ms"] = statistics.median(times) * 1000
@ray.remote(num_cpus=1)
def one_second(x):
    time.sleep(1)
    return x
ray.get([one_second.remote(i) for i in range(3)])
t = time.perf_counter(); ray.get([one_second.remote(i) for i in range(9)])
out["ray_tasks_9x1s_s"] = time.perf_counter() - t
out["ray_tasks_inputs_per_s"] = 9 / out["ray_tasks_9x1s_s"]
print("RESULT " + json.dumps(out))
"""


def result(proc: subprocess.CompletedProcess) -> dict:
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"no result:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")


PARTS = ("map", "warm", "cold", "layers", "ray")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", default=str(BENCH / "results" / "cluster.json"))
    parser.add_argument("--runtime", choices=("bwrap", "process"), default="bwrap",
                        help="the backend on every node (layers travel only with bwrap)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"what to measure, of {','.join(PARTS)} (default: all)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if parts - set(PARTS):
        parser.error(f"unknown parts {sorted(parts - set(PARTS))}; choose from {PARTS}")
    if "layers" in parts and args.runtime != "bwrap":
        parser.error("the layers part needs --runtime bwrap (process images have no layers)")
    tmp = Path(tempfile.mkdtemp(prefix="kr-bench-"))
    # bwrap containers on workers need the machine's cgroups under /sys.
    cluster = RayCluster(tmp, host_sys=args.runtime == "bwrap")
    out: dict = {"runtime": args.runtime, "load_before": os.getloadavg(),
                 "cpus": os.cpu_count()}
    srv = None
    try:
        cluster.start(head_resources=["--num-gpus", "1", "--resources",
                                      json.dumps({"accelerator_type:L4": 1})])
        srv = ClusterServer(tmp / "server", cluster)
        srv.runtime = args.runtime
        # The tests' image cache: the Debian base is built once, not in the bench.
        srv.extra_env["KETCH_IMAGES_DIR"] = os.environ.get(
            "KETCH_TEST_IMAGES_DIR", "/var/cache/ketch-test/images")
        srv.start()
        srv.wait_nodes(1)
        deployed = srv.ketch("deploy", str(BENCH / "_cluster_app.py"), timeout=300)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr

        def ketch_client(*argv: str) -> dict:
            return result(subprocess.run(
                [sys.executable, "-c", KETCH_CLIENT, str(BENCH), *argv], env=srv.env,
                capture_output=True, text=True, timeout=600))

        maps = {}
        for n in (1, 2, 3):
            if n > 1:
                cluster.add_worker(memory_mib=1024, **({"gpus": 1, "gpu_kind": "H100"}
                                                      if n == 3 else {}))
                srv.wait_nodes(n)
            if "map" in parts:
                maps[n] = ketch_client("map", str(n))
                print(f"map over {n} node(s): {maps[n]}", flush=True)
        if maps:
            out["map"] = maps
            out["map_scaling_vs_linear"] = {
                n: maps[n]["inputs_per_s"] / (n * maps[1]["inputs_per_s"]) for n in (2, 3)}
        for part in ("warm", "cold", "layers"):
            if part in parts:
                out.update(ketch_client(part))
                print(f"{part}: {out}", flush=True)
        if "ray" in parts:
            out.update(result(subprocess.run(
                [sys.executable, "-c", RAY_CLIENT, f"{cluster.head_ip}:{cluster.port}",
                 cluster.nodes[2].ip], env={**os.environ, **RAY_ENV}, capture_output=True,
                text=True, timeout=600)))
        ratios = {
            "warm_worker_minus_head_ms": ("warm_worker_p50_ms", "-", "warm_head_p50_ms"),
            "cold_worker_over_head": ("cold_worker_p50_ms", "/", "cold_head_p50_ms"),
            "cold_worker_image_cached_over_head": ("cold_worker_image_cached_p50_ms", "/",
                                                   "cold_head_image_cached_p50_ms"),
            "cold_worker_first_pull_over_cached": ("cold_worker_image_first_ms", "/",
                                                   "cold_worker_image_cached_p50_ms"),
            "warm_worker_vs_ray_actor": ("warm_worker_p50_ms", "/", "ray_actor_warm_p50_ms"),
            "cold_worker_vs_ray_actor": ("cold_worker_p50_ms", "/", "ray_actor_cold_p50_ms"),
        }
        for name, (a, op, b) in ratios.items():
            if a in out and b in out:
                out[name] = out[a] - out[b] if op == "-" else out[a] / out[b]
        if maps and "ray_tasks_inputs_per_s" in out:
            out["map3_vs_ray_tasks"] = maps[3]["inputs_per_s"] / out["ray_tasks_inputs_per_s"]
        out["load_after"] = os.getloadavg()
    finally:
        if srv is not None:
            srv.stop()
        cluster.stop()
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2))
    for key, value in out.items():
        print(f"{key:32} {value}")


if __name__ == "__main__":
    main()
