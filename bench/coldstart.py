"""Cold starts on the bwrap runtime: forked from a zygote beside exec'd, in one run.

    python bench/coldstart.py [--reps 40] [--only web] [--json bench/results/coldstart.json]

Measures, each on a fresh server of its own:
1. function cold start: the first `.remote()` of a function with no container (a fresh
   App per repetition), with containers forked from a zygote (KETCH_ZYGOTE=1) and
   exec'd (KETCH_ZYGOTE=0); beside a fresh spawn-method ProcessPoolExecutor's first
   result;
2. web zero-to-first-response: an ASGI endpoint with no container, GET through the
   gateway, on both paths;
3. image function cold start (Debian image): one app, its container gone between
   repetitions (scaledown_window=1), so each first call is a new container, forked from
   the image's unprivileged zygote (one per app) or exec'd.
(Memory snapshots: bench/snapshot.py.) The first repetition of each warms what it may
(the zygote) and is left out. Writes every sample to the JSON file;
bench/plot_coldstart.py draws the figures.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from core import free_port, latency_summary, log, tcp_ready  # noqa: E402

TARGETS = {"cold_vs_spawn_pool_p50": 0.2, "cold_vs_spawn_pool_p99": 0.4,
           "web_first_response_p50_ms": 50.0}


class Server:
    """A ketch server (bwrap runtime, its gateway) with a data dir of its own."""

    def __init__(self, zygote: bool):
        self.data_dir = tempfile.mkdtemp(prefix="ketch-coldbench-")
        self.port, self.gw_port = free_port(), free_port()
        self.env = {"KETCH_DATA_DIR": self.data_dir, "KETCH_SERVER_ADDR":
                    f"127.0.0.1:{self.port}", "KETCH_NO_AUTOSTART": "1",
                    "KETCH_CONFIG_DIR": f"{self.data_dir}/config",
                    "KETCH_ZYGOTE": "1" if zygote else "0"}

    def __enter__(self):
        os.environ.update(self.env)
        self.log = open(Path(self.data_dir) / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ketch.server", "--address", f"127.0.0.1:{self.port}",
             "--gateway-address", f"127.0.0.1:{self.gw_port}", "--runtime", "bwrap",
             "--http-address", "127.0.0.1:0"],
            env={**os.environ}, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 30
        while not (tcp_ready(self.port) and tcp_ready(self.gw_port)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the ketch server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def function_cold(reps: int) -> list[float]:
    import ketch
    import _ketch_app

    firsts = []
    for i in range(reps + 1):
        app = ketch.App(f"bench-cold-{i}")
        fn = app.function(name="cold_noop")(_ketch_app.cold_noop)
        with app.run():
            t0 = time.perf_counter()
            assert fn.remote(i) == i
            firsts.append(time.perf_counter() - t0)
    return firsts[1:]


IMAGE_GONE_S = 3.5  # scaledown_window=1, then the container's stop


def image_cold(reps: int) -> list[float]:
    import ketch
    import _ketch_app

    app = ketch.App("bench-cold-image", image=ketch.Image.debian_slim())
    fn = app.function(name="cold_noop", scaledown_window=1)(_ketch_app.cold_noop)
    firsts = []
    with app.run():
        for i in range(reps + 1):
            t0 = time.perf_counter()
            assert fn.remote(i) == i
            firsts.append(time.perf_counter() - t0)
            time.sleep(IMAGE_GONE_S)
    return firsts[1:]


def web_cold(reps: int, gw_port: int) -> list[float]:
    import _web_app

    host = f"webbench--trivial-dev.localhost:{gw_port}"
    url = f"http://127.0.0.1:{gw_port}/"
    firsts = []
    for _ in range(reps + 1):
        with _web_app.bench.run():
            t0 = time.perf_counter()
            req = urllib.request.Request(url, headers={"Host": host})
            with urllib.request.urlopen(req, timeout=120) as resp:
                assert resp.status == 200 and resp.read() == b"ok"
            firsts.append(time.perf_counter() - t0)
    return firsts[1:]


def pool_cold(reps: int) -> list[float]:
    from _ketch_app import plain_noop

    ctx = multiprocessing.get_context("spawn")
    firsts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as ex:
            ex.submit(plain_noop, 1).result()
            firsts.append(time.perf_counter() - t0)
    return firsts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--image-reps", type=int, default=10)
    parser.add_argument("--only", choices=("function", "web", "image"), action="append",
                        help="measure only these parts (repeatable); all three by default")
    parser.add_argument("--json", default=str(BENCH_DIR / "results" / "coldstart.json"))
    args = parser.parse_args()
    parts = set(args.only or ("function", "web", "image"))
    samples: dict[str, list[float]] = {}
    if "function" in parts:
        log(f"ProcessPoolExecutor (spawn): first result x{args.reps}")
        samples["pool_spawn"] = pool_cold(args.reps)
    for path, zygote in (("fork", True), ("exec", False)):
        with Server(zygote) as srv:
            if "function" in parts:
                log(f"ketch ({path}): function cold start x{args.reps}")
                samples[f"cold_{path}"] = function_cold(args.reps)
            if "web" in parts:
                log(f"ketch ({path}): web zero-to-first-response x{args.reps}")
                samples[f"web_{path}"] = web_cold(args.reps, srv.gw_port)
            if "image" in parts:
                log(f"ketch ({path}): image function cold start x{args.image_reps}")
                samples[f"image_{path}"] = image_cold(args.image_reps)
    summary = {k: latency_summary(v) for k, v in samples.items()}
    ratios = {}
    if "function" in parts:
        pool = summary["pool_spawn"]
        ratios.update({
            "cold_vs_spawn_pool_p50": summary["cold_fork"]["p50_ms"] / pool["p50_ms"],
            "cold_vs_spawn_pool_p99": summary["cold_fork"]["p99_ms"] / pool["p99_ms"],
            "exec_vs_spawn_pool_p50": summary["cold_exec"]["p50_ms"] / pool["p50_ms"]})
    if "web" in parts:
        ratios["web_first_response_p50_ms"] = summary["web_fork"]["p50_ms"]
        ratios["web_fork_vs_exec_p50"] = summary["web_fork"]["p50_ms"] / \
            summary["web_exec"]["p50_ms"]
    if "image" in parts:
        ratios["image_fork_vs_exec_p50"] = summary["image_fork"]["p50_ms"] / \
            summary["image_exec"]["p50_ms"]
    print(f"{'measure':34} {'p50 ms':>9} {'p99 ms':>9}")
    for k, s in summary.items():
        print(f"{k:34} {s['p50_ms']:9.1f} {s['p99_ms']:9.1f}")
    for k, v in ratios.items():
        target = TARGETS.get(k)
        mark = "" if target is None else ("  ok" if v <= target else f"  MISSED (<= {target})")
        print(f"{k:34} {v:9.3f}{mark}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(
        {"summary": summary, "ratios": ratios, "targets": TARGETS, "cpus": os.cpu_count(),
         "load": os.getloadavg(), "samples_s": samples}, indent=1))


if __name__ == "__main__":
    main()
