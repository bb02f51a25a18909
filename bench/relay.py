"""The gateway to a container on this machine beside the gateway to a container on another
"node" through its web relay (ketch.node.relay), in one run.

    python bench/relay.py [--duration 2] [--connections 32] [--rounds 8] [--machines 2|1]
                          [--json PATH]

The node is a network namespace of its own joined by a veth pair (tests/node_fixtures.py),
running the relays as an agent would; the server's gateway reaches the relayed endpoint's
container through it (the node registry's answer, read from a file), the other directly.
Both containers run the same trivial ASGI app (bench/_relay_app.py) on the process runtime.
wrk (Debian: apt-get install wrk) measures requests/s for a 2-byte answer and MiB/s for a
1 MiB one in `--rounds` pairs of `--duration`-second slices, local and relayed back to back;
prints each pair's ratio and their median (target: relayed ≥ 0.8 × local) and the CPU a
request costs each process, and writes JSON to bench/results/relay.json.

`--machines 2` (the default) splits this machine's two CPUs as a cluster's two machines
would split the work: wrk and the server (its gateway) on one, the containers and the
node's relay on the other, so the relay's CPU is not taken from the gateway; the local
container runs on that other CPU too, so the two paths differ only by the relay and its
TCP hop. `--machines 1` leaves every process on every CPU: the relay then competes with
the gateway for the same two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))

from node_fixtures import NodeNamespace, NodeRelays, NodeServer  # noqa: E402
from web import _UNITS  # noqa: E402

TARGET = 0.8


def containers(srv: NodeServer) -> dict[str, str]:
    """function name -> its container's id, once both are up."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = srv.ketch("container", "list", "--json")
        rows = json.loads(listed.stdout or "[]")
        found = {r.get("function"): r.get("id") or r.get("container_id") for r in rows}
        if {"local", "relayed"} <= set(found):
            return found
        time.sleep(0.3)
    raise RuntimeError(f"the bench's containers did not start: {listed.stdout}")


def cpu_s(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / os.sysconf("SC_CLK_TCK"), int(fields[12]) / os.sysconf("SC_CLK_TCK")


def measured(url: str, args, pids: dict[str, int]) -> dict:
    """wrk's figures for one slice, and the CPU each process spent per 1,000 requests
    (all of it, and the kernel's part)."""
    before = {name: cpu_s(pid) for name, pid in pids.items()}
    out = subprocess.run(["wrk", "-t1", f"-c{args.connections}", "--latency",
                          f"-d{args.duration:g}s", url], capture_output=True, text=True,
                         check=True).stdout
    after = {name: cpu_s(pid) for name, pid in pids.items()}
    latency = {q: float(v) * _UNITS[u] for q, v, u in
               re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
              "p50_ms": latency["50"], "p99_ms": latency["99"], "requests": requests}
    spent = {name: [a - b for a, b in zip(after[name], before[name])] for name in pids}
    result["cpu_ms_per_1k"] = {name: sum(s) * 1e6 / max(requests, 1)
                               for name, s in spent.items()}
    result["sys_ms_per_1k"] = {name: s[1] * 1e6 / max(requests, 1)
                               for name, s in spent.items()}
    return result


def paired(args, urls: dict[str, str], pids: dict[str, dict[str, int]]) -> dict:
    """`--rounds` pairs of slices, local and relayed back to back (the order alternating, so
    a load that rises or falls through a pair favours neither): the machine's other work
    changes from second to second, and a ratio of two slices a second apart sees the same.
    Returns each slice and each pair's ratio."""
    for name, url in urls.items():   # warm-up: connections made, code paths hot
        subprocess.run(["wrk", "-t1", f"-c{args.connections}", "-d1s", url],
                       capture_output=True, check=True)
    slices: dict[str, list] = {"local": [], "relayed": []}
    for i in range(args.rounds):
        for name in (("local", "relayed") if i % 2 == 0 else ("relayed", "local")):
            slices[name].append(measured(urls[name], args, pids[name]))
    ratios = [r["rps"] / l["rps"] for l, r in zip(slices["local"], slices["relayed"])]
    return {"slices": slices, "pair_ratios": ratios}


def cpu_per_request(slices: list[dict]) -> float:
    """CPU µs per request of every process on the path, over all slices."""
    requests = sum(s["requests"] for s in slices)
    return sum(sum(s["cpu_ms_per_1k"].values()) * s["requests"] for s in slices) / requests


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=2, help="seconds per slice")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=8, help="pairs of slices per size")
    parser.add_argument("--machines", type=int, choices=(1, 2), default=2,
                        help="2: the head's side (wrk, the gateway) on CPU 0 and the "
                        "containers and the relay on CPU 1, as two machines would split the "
                        "work; 1: every process on every CPU")
    parser.add_argument("--json", default=str(BENCH_DIR / "results" / "relay.json"))
    args = parser.parse_args()
    if args.machines == 2:
        if len(os.sched_getaffinity(0)) < 2:
            parser.error("--machines 2 needs two CPUs")
        head_cpu, node_cpu = sorted(os.sched_getaffinity(0))[:2]
        os.sched_setaffinity(0, {head_cpu})   # the server and wrk inherit it
    root = Path(tempfile.mkdtemp(prefix="ketch-relaybench-"))
    with NodeNamespace(secrets.randbelow(200) + 20) as ns:
        srv = NodeServer(root / "server", [], listen_host="0.0.0.0").start()
        relays = None
        try:
            relays = NodeRelays(ns, secrets.token_urlsafe(32), srv.data_dir / "run",
                                root / "node-server.sock", f"{ns.host_ip}:{srv.port}")
            deployed = srv.ketch("deploy", str(BENCH_DIR / "_relay_app.py"), timeout=120)
            if deployed.returncode:
                raise RuntimeError(deployed.stderr + deployed.stdout)
            ids = containers(srv)
            (srv.data_dir / "relay-routes.json").write_text(
                json.dumps({ids["relayed"]: relays.target()}))
            container = {name: int((srv.data_dir / "container-pids" / cid).read_text()
                                   .split()[0]) for name, cid in ids.items()}
            if args.machines == 2:   # every thread of each (taskset -a)
                for pid in (*container.values(), relays.proc.pid):
                    subprocess.run(["taskset", "-a", "-cp", str(node_cpu), str(pid)],
                                   check=True, capture_output=True)
            pids = {"local": {"server": srv.proc.pid, "container": container["local"]},
                    "relayed": {"server": srv.proc.pid, "relay": relays.proc.pid,
                                "container": container["relayed"]}}
            base = f"http://127.0.0.1:{srv.gateway_port}/relaybench--"
            sizes = {size: paired(args, {name: base + name + path for name in pids}, pids)
                     for size, path in (("small", "/"), ("1mib", "/big"))}
        finally:
            if relays is not None:
                relays.stop()
            srv.stop()
    out = {"args": vars(args), "sizes": sizes, "cpus": os.cpu_count(),
           "load": os.getloadavg(), "at": time.time()}
    for size, run in sizes.items():
        for name, slices in run["slices"].items():
            rps = sorted(s["rps"] for s in slices)
            cpu = {k: sum(s["cpu_ms_per_1k"][k] for s in slices) / len(slices)
                   for k in slices[0]["cpu_ms_per_1k"]}
            sys_ = {k: sum(s["sys_ms_per_1k"][k] for s in slices) / len(slices)
                    for k in cpu}
            unit = " MiB/s" if size == "1mib" else " req/s"
            print(f"{name + '_' + size:16} median {statistics.median(rps):7.0f}{unit} "
                  f"(range {rps[0]:.0f}-{rps[-1]:.0f})  CPU µs/request: "
                  + "  ".join(f"{k} {v:.0f} ({sys_[k]:.0f} sys)" for k, v in cpu.items()))
        ratios = run["pair_ratios"]
        run["median_ratio"] = statistics.median(ratios)
        run["pairs_meeting"] = sum(r >= TARGET for r in ratios)
        # With every process on the same two cores, throughput follows the CPU a request
        # costs all of them together (two machines would split the relay's part off).
        run["cpu_ratio"] = (cpu_per_request(run["slices"]["local"])
                            / cpu_per_request(run["slices"]["relayed"]))
        verdict = "meets" if run["median_ratio"] >= TARGET else "misses"
        print(f"relayed/local ({size}): median {run['median_ratio']:.2f} of {len(ratios)} "
              f"pairs ({verdict} the {TARGET} target; {run['pairs_meeting']} pairs meet it; "
              f"each {' '.join(f'{r:.2f}' for r in ratios)}); CPU per request, local/relayed "
              f"{run['cpu_ratio']:.2f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
