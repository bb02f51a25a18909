"""The gateway to a container on this machine beside the gateway to a container on another
"node" through its web relay (ketch.node.relay), in one run.

    python bench/relay.py [--duration 8] [--connections 32] [--rounds 2] [--json PATH]

The node is a network namespace of its own joined by a veth pair (tests/node_fixtures.py),
running the relays as an agent would; the server's gateway reaches the relayed endpoint's
container through it (the node registry's answer, read from a file), the other directly.
Both containers run the same trivial ASGI app (bench/_relay_app.py) on the process runtime.
wrk (Debian: apt-get install wrk) measures requests/s for a 2-byte answer and MiB/s for a
1 MiB one, alternating local and relayed `--rounds` times; prints the best of each and the
ratios (target: relayed ≥ 0.8 × local), and writes JSON to bench/results/relay.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
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


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(url: str, args, pids: dict[str, int]) -> dict:
    """wrk's figures (after a warm-up), and the CPU each process spent per 1,000
    requests during the measured run."""
    subprocess.run(["wrk", "-t1", f"-c{args.connections}", "-d1s", url], capture_output=True,
                   check=True)
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
    result["cpu_ms_per_1k"] = {name: (after[name] - before[name]) * 1e6 / max(requests, 1)
                               for name in pids}
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", default=str(BENCH_DIR / "results" / "relay.json"))
    args = parser.parse_args()
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
            base = f"http://127.0.0.1:{srv.gateway_port}/relaybench--"
            runs: dict[str, list] = {}
            for _ in range(args.rounds):
                for name in ("local", "relayed"):
                    for size, path in (("small", "/"), ("1mib", "/big")):
                        runs.setdefault(f"{name}_{size}", []).append(measured(
                            base + name + path, args,
                            {"server": srv.proc.pid, "relay": relays.proc.pid}))
        finally:
            if relays is not None:
                relays.stop()
            srv.stop()
    best = {k: max(v, key=lambda r: r["rps"]) for k, v in runs.items()}
    ratios = {size: best[f"relayed_{size}"]["rps"] / best[f"local_{size}"]["rps"]
              for size in ("small", "1mib")}
    for key, r in best.items():
        extra = f"  {r['rps']:6.0f} MiB/s" if key.endswith("1mib") else ""
        cpu = "  ".join(f"{k} {v:.0f}" for k, v in r["cpu_ms_per_1k"].items())
        print(f"{key:16} {r['rps']:9.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
              f"p99 {r['p99_ms']:6.2f} ms{extra}  CPU ms/1k requests: {cpu}")
    for size, ratio in ratios.items():
        verdict = "meets" if ratio >= TARGET else "misses"
        print(f"relayed/local ({size}): {ratio:.2f} ({verdict} the {TARGET} target)")
    # Where the relay runs on a machine of its own, the gateway's CPU per request bounds
    # its throughput: requests per gateway CPU-second, relayed over local.
    per_cpu = {size: best[f"local_{size}"]["cpu_ms_per_1k"]["server"]
               / best[f"relayed_{size}"]["cpu_ms_per_1k"]["server"]
               for size in ("small", "1mib")}
    for size, ratio in per_cpu.items():
        print(f"gateway requests per CPU-second, relayed/local ({size}): {ratio:.2f}")
    out = {"args": vars(args), "runs": runs, "best": best, "ratios": ratios,
           "gateway_per_cpu_ratios": per_cpu,
           "cpus": os.cpu_count(), "load": os.getloadavg(), "at": time.time()}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
