"""Web endpoints: ketch's gateway beside the same ASGI app under uvicorn directly, in one run.

    python bench/web.py [--duration 10] [--connections 32] [--json PATH]

Needs wrk (Debian: apt-get install wrk). Measures with `wrk -t1 -c32 --latency`:

1. the trivial ASGI app of bench/_web_app.py served by `uvicorn` directly (one process,
   the same settings a ketch container uses);
2. the same app as a ketch `@asgi_app` endpoint, through the gateway (one container,
   `@concurrent(max_inputs=1000)`);
3. Ray Serve with the same app, when `import ray.serve` works here;
4. cold start: a request to an endpoint with no container, to its response (p50 of 5).

Each runs alone, one after another. Prints requests/s, p50 and p99 latency and the ratios,
and writes JSON to bench/results/web.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

TARGETS = {"rps_ratio": 0.5, "added_p50_ms": 1.0}
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listened on port {port} within {timeout} s")


def wrk(url: str, duration: float, connections: int, host: str | None = None) -> dict:
    """Runs wrk (after a 2 s warm-up) and returns requests/s and latency percentiles."""
    cmd = ["wrk", "-t1", f"-c{connections}", "--latency"]
    if host:
        cmd += ["-H", f"Host: {host}"]
    subprocess.run(cmd + ["-d2s", url], capture_output=True, check=True)
    out = subprocess.run(cmd + [f"-d{duration:g}s", url], capture_output=True, text=True,
                         check=True).stdout
    latency = {q: float(v) * _UNITS[u] for q, v, u in
               re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": latency["50"], "p99_ms": latency["99"],
            "non_2xx": int(errors.group(1)) if errors else 0}


def direct_uvicorn(args) -> dict:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "_web_app:app", "--port",
                             str(port), "--log-level", "warning", "--no-access-log"],
                            cwd=BENCH_DIR)
    try:
        wait_for_port(port)
        return wrk(f"http://127.0.0.1:{port}/", args.duration, args.connections)
    finally:
        proc.terminate()
        proc.wait()


def ray_serve(args) -> dict | None:
    try:
        import ray
        from ray import serve
    except ImportError:
        return None
    import _web_app

    @serve.deployment
    @serve.ingress(_web_app.build)  # a raw ASGI app goes in through a builder
    class Trivial:
        pass

    port = free_port()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(BENCH_DIR)}})
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(Trivial.bind(), route_prefix="/")
    try:
        return wrk(f"http://127.0.0.1:{port}/", args.duration, args.connections)
    finally:
        serve.shutdown()
        ray.shutdown()


def get(url: str, host: str) -> float:
    start = time.perf_counter()
    req = urllib.request.Request(url, headers={"Host": host})
    with urllib.request.urlopen(req, timeout=120) as resp:
        assert resp.status == 200 and resp.read() == b"ok"
    return time.perf_counter() - start


def ketch_gateway(args) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="ketch-webbench-"))
    port, gw_port = free_port(), free_port()
    env = {**os.environ, "KETCH_DATA_DIR": str(data_dir), "KETCH_SERVER_ADDR":
           f"127.0.0.1:{port}", "KETCH_NO_AUTOSTART": "1",
           "KETCH_CONFIG_DIR": str(data_dir / "config")}
    os.environ.update({k: v for k, v in env.items() if k.startswith("KETCH_")})
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 (the server writes it)
    server = subprocess.Popen([sys.executable, "-m", "ketch.server", "--address",
                               f"127.0.0.1:{port}", "--gateway-address",
                               f"127.0.0.1:{gw_port}", "--runtime", "process",
                               "--http-address", "127.0.0.1:0"],
                              env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_for_port(port)
        wait_for_port(gw_port)
        import _web_app

        host = f"webbench--trivial-dev.localhost:{gw_port}"
        url = f"http://127.0.0.1:{gw_port}/"
        cold = []
        for _ in range(args.cold):
            with _web_app.bench.run():
                cold.append(get(url, host))
        with _web_app.bench.run():
            get(url, host)
            result = wrk(url, args.duration, args.connections, host=host)
        result["cold_start_ms"] = statistics.median(cold) * 1000
        result["cold_start_all_ms"] = [round(c * 1000, 1) for c in cold]
        return result
    finally:
        server.terminate()
        server.wait()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--cold", type=int, default=5, help="cold starts to time")
    parser.add_argument("--json", default=str(BENCH_DIR / "results" / "web.json"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/web.py needs wrk: apt-get install wrk")
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"note: load average is {load:.2f}; other work on this machine skews the figures")
    results = {"settings": {"duration_s": args.duration, "connections": args.connections,
                            "wrk_threads": 1, "cpus": os.cpu_count(), "load_avg": load}}
    results["uvicorn"] = direct_uvicorn(args)
    results["ketch"] = ketch_gateway(args)
    ray = ray_serve(args)
    if ray is not None:
        results["ray_serve"] = ray
    direct, gw = results["uvicorn"], results["ketch"]
    results["rps_ratio"] = gw["rps"] / direct["rps"]
    results["added_p50_ms"] = gw["p50_ms"] - direct["p50_ms"]

    print(f"\n{'':34}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}")
    rows = [("uvicorn direct", direct), ("ketch gateway -> container", gw)]
    if ray is not None:
        rows.append(("Ray Serve", ray))
    for name, r in rows:
        print(f"{name:34}{r['rps']:>12,.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}")
    if ray is None:
        print("(Ray Serve skipped: `import ray.serve` fails in this environment)")
    print(f"\nketch ÷ uvicorn requests/s: {results['rps_ratio']:.2f} "
          f"(target ≥ {TARGETS['rps_ratio']})")
    print(f"ketch added p50 latency:    {results['added_p50_ms']:.2f} ms "
          f"(target ≤ {TARGETS['added_p50_ms']} ms)")
    if ray is not None:
        results["ray_rps_ratio"] = gw["rps"] / ray["rps"]
        print(f"ketch ÷ Ray Serve requests/s: {results['ray_rps_ratio']:.0f}")
    print(f"cold start (no container → response), p50 of {args.cold}: "
          f"{gw['cold_start_ms']:.0f} ms  {gw['cold_start_all_ms']}")
    if any(r.get("non_2xx") for _, r in rows):
        print("warning: some responses were not 2xx:", {n: r["non_2xx"] for n, r in rows})
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
