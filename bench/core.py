"""ketch's core speed beside the tools a user would otherwise pick, in one run.

    bench/run_core.sh            # makes bench/.venv-ray (Ray + ketch) if missing, then runs this
    python bench/core.py [--quick] [--no-ray] [--json PATH]

Measures, for ketch, concurrent.futures.ProcessPoolExecutor and (when `import ray` works)
Ray:

1. warm round trip of a trivial function, p50 and p99;
2. map throughput over 20,000 trivial inputs;
3. cold start: the first call of a function that has no worker yet, to its result;
4. server start time and idle memory (ketch server vs `ray.init()`).

Each system runs alone (the others stopped or idle), one after another, in this one process
tree. Prints a table with ratios and the targets, and writes JSON to bench/results/core.json.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

try:
    import psutil
except ImportError:  # memory figures are skipped without it
    psutil = None

# Targets for ketch on a 2-core machine (docs/benchmarks.md).
TARGETS = {
    "warm_p50_ms": ("<=", 1.0),
    "map_inputs_per_s": (">=", 10_000.0),
    "cold_p50_ms": ("<=", 150.0),
    "server_start_ms": ("<=", 1000.0),
}


# -- helpers ---------------------------------------------------------------------------------

def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency_summary(samples_s: list[float]) -> dict:
    ms = [s * 1000 for s in samples_s]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "mean_ms": statistics.fmean(ms) if ms else float("nan"),
        "min_ms": min(ms) if ms else float("nan"),
        "max_ms": max(ms) if ms else float("nan"),
    }


def time_calls(call, n: int, warmup: int, budget_s: float) -> list[float]:
    """Times `call()` n times after `warmup` untimed calls; stops early past budget_s."""
    for _ in range(warmup):
        call()
    samples = []
    deadline = time.monotonic() + budget_s
    perf = time.perf_counter
    for _ in range(n):
        t0 = perf()
        call()
        samples.append(perf() - t0)
        if time.monotonic() > deadline:
            break
    return samples


def throughput(run_once, n_inputs: int, reps: int, budget_s: float) -> dict:
    """Runs `run_once()` (which processes n_inputs) up to `reps` times; inputs/s per rep."""
    rates = []
    deadline = time.monotonic() + budget_s
    for _ in range(reps):
        t0 = time.perf_counter()
        run_once()
        rates.append(n_inputs / (time.perf_counter() - t0))
        if time.monotonic() > deadline:
            break
    return {"n_inputs": n_inputs, "reps": len(rates), "inputs_per_s": statistics.median(rates),
            "all_inputs_per_s": rates}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tcp_ready(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def memory_of(procs) -> dict:
    """Summed RSS and PSS (MiB) of processes; PSS splits shared pages fairly."""
    rss = pss = 0
    names = []
    for p in procs:
        try:
            info = p.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
            names.append(p.name())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return {"rss_mib": rss / 2**20, "pss_mib": pss / 2**20, "processes": len(names),
            "names": sorted(names)}


def log(msg: str):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# -- ketch -----------------------------------------------------------------------------------

class KetchServer:
    """One `python -m ketch.server` with a fresh data dir on a free port."""

    def __init__(self):
        self.data_dir = tempfile.mkdtemp(prefix="ketch-bench-")
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(self.data_dir) / "server.log"

    def start(self) -> dict:
        """Launches it; returns ms until a TCP connect succeeds and until a hello is answered."""
        env = {**os.environ, "KETCH_DATA_DIR": self.data_dir, "KETCH_SERVER_ADDR": self.address}
        log_file = open(self.log_path, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ketch.server", "--address", self.address,
             "--http-address", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file, env=env)
        log_file.close()
        deadline = time.monotonic() + 20
        while not tcp_ready(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ketch server did not start; log:\n{self.log_path.read_text()}")
            time.sleep(0.002)
        t_tcp = time.perf_counter() - t0
        self._hello()
        t_hello = time.perf_counter() - t0
        return {"tcp_ms": t_tcp * 1000, "first_call_ms": t_hello * 1000}

    def _hello(self):
        """The first request a client makes (Hello with the token), on a raw connection."""
        from ketch import _wire
        from ketch._client import python_version
        from ketch.proto import ketch_pb2 as pb

        token = (Path(self.data_dir) / "token").read_text().strip()

        async def hello():
            conn = await _wire.open_connection(self.address)
            try:
                await conn.request(hello=pb.Hello(token=token, role="client",
                                                  python_version=python_version()))
            finally:
                conn.close()

        asyncio.run(hello())

    def processes(self):
        p = psutil.Process(self.proc.pid)
        return [p] + p.children(recursive=True)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            kids = []
            if psutil is not None:
                try:
                    kids = psutil.Process(self.proc.pid).children(recursive=True)
                except psutil.NoSuchProcess:
                    pass
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            for k in kids:  # containers the server should have stopped with itself
                try:
                    k.kill()
                except psutil.NoSuchProcess:
                    pass
        shutil.rmtree(self.data_dir, ignore_errors=True)


def bench_ketch_server_start(reps: int) -> dict:
    starts = []
    idle = None
    for i in range(reps):
        srv = KetchServer()
        try:
            starts.append(srv.start())
            if i == 0 and psutil is not None:
                time.sleep(1.0)  # let it settle: idle memory after start and one hello
                idle = memory_of(srv.processes())
        finally:
            srv.stop()
    return {
        "reps": len(starts),
        "tcp_p50_ms": statistics.median(s["tcp_ms"] for s in starts),
        "first_call_p50_ms": statistics.median(s["first_call_ms"] for s in starts),
        "all": starts,
        "idle_memory": idle,
    }


def bench_ketch(args, results: dict, errors: list):
    import ketch

    out = results["ketch"] = {"version": ketch.__version__}
    log("ketch: server start x%d" % args.server_reps)
    try:
        out["server_start"] = bench_ketch_server_start(args.server_reps)
    except Exception as exc:
        errors.append(("ketch server start", exc))

    srv = KetchServer()
    os.environ["KETCH_DATA_DIR"] = srv.data_dir
    os.environ["KETCH_SERVER_ADDR"] = srv.address
    os.environ["KETCH_NO_AUTOSTART"] = "1"  # this benchmark starts its own server
    srv.start()
    try:
        import _ketch_app

        with _ketch_app.app.run():
            noop = _ketch_app.noop
            log("ketch: warm round trip")
            try:
                samples = time_calls(lambda: noop.remote(1), args.calls, args.warmup,
                                     args.budget)
                out["warm"] = latency_summary(samples)
            except Exception as exc:
                errors.append(("ketch warm round trip", exc))

            log("ketch: map")
            try:
                list(noop.map(range(args.map_n // 10)))  # warm-up: let it scale to its size
                n = args.map_n

                def run_map():
                    got = list(noop.map(range(n)))
                    assert len(got) == n and got[-1] == n - 1, "map returned wrong results"

                out["map"] = throughput(run_map, n, args.map_reps, args.budget)
            except Exception as exc:
                errors.append(("ketch map", exc))
            if psutil is not None:  # server and its warm containers, the app still running
                out["memory_after_bench"] = memory_of(srv.processes())

        log("ketch: cold start x%d" % args.cold_reps)
        try:
            firsts, runs = [], []
            for i in range(args.cold_reps):
                app = ketch.App(f"bench-cold-{i}")
                fn = app.function(name="cold_noop")(_ketch_app.cold_noop)
                t0 = time.perf_counter()
                with app.run():
                    t1 = time.perf_counter()
                    assert fn.remote(i) == i
                    t2 = time.perf_counter()
                firsts.append(t2 - t1)
                runs.append(t1 - t0)
            out["cold"] = latency_summary(firsts)
            out["cold"]["app_run_enter_p50_ms"] = percentile([r * 1000 for r in runs], 50)
        except Exception as exc:
            errors.append(("ketch cold start", exc))

    finally:
        srv.stop()


# -- ProcessPoolExecutor -----------------------------------------------------------------

def bench_pool(args, results: dict, errors: list):
    from _ketch_app import plain_noop

    workers = args.cpus
    out = results["process_pool"] = {
        "max_workers": workers, "start_method": multiprocessing.get_start_method(),
        "map_chunksize": args.chunksize,
    }
    try:
        log("ProcessPoolExecutor: warm round trip")
        with concurrent.futures.ProcessPoolExecutor(workers) as ex:
            out["warm"] = latency_summary(time_calls(
                lambda: ex.submit(plain_noop, 1).result(), args.calls, args.warmup, args.budget))

            log("ProcessPoolExecutor: map")
            n = args.map_n
            list(ex.map(plain_noop, range(n // 10), chunksize=args.chunksize))
            out["map"] = throughput(
                lambda: list(ex.map(plain_noop, range(n), chunksize=args.chunksize)),
                n, args.map_reps, args.budget)
            out["map_chunksize_1"] = throughput(
                lambda: list(ex.map(plain_noop, range(n))), n, 1, args.budget)

        for method, key in ((None, "cold"), ("spawn", "cold_spawn")):
            log(f"ProcessPoolExecutor: cold start ({method or 'default'} start method)")
            ctx = multiprocessing.get_context(method)
            firsts = []
            for _ in range(args.cold_reps):
                t0 = time.perf_counter()
                ex = concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx)
                ex.submit(plain_noop, 1).result()
                firsts.append(time.perf_counter() - t0)
                ex.shutdown()
            out[key] = latency_summary(firsts)
    except Exception as exc:
        errors.append(("ProcessPoolExecutor", exc))


# -- Ray -------------------------------------------------------------------------------------

def bench_ray(args, results: dict, errors: list):
    try:
        import ray
    except ImportError as exc:
        results["ray"] = {"skipped": f"import ray failed ({exc}); run bench/run_core.sh"}
        log("Ray: skipped (not installed)")
        return
    out = results["ray"] = {"version": ray.__version__}
    try:
        log("Ray: ray.init()")
        before = set(p.pid for p in psutil.Process().children(recursive=True)) if psutil else set()
        t0 = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
        out["init_ms"] = (time.perf_counter() - t0) * 1000

        @ray.remote
        def noop(x):
            return x

        @ray.remote
        class Actor:
            def noop(self, x):
                return x

        # First task: Ray starts or hands over a worker process.
        ray.get(noop.remote(0))
        if psutil is not None:
            time.sleep(2.0)  # let prestarted workers come up: Ray at rest after init
            me = psutil.Process()
            procs = [me] + [p for p in me.children(recursive=True) if p.pid not in before]
            out["idle_memory"] = memory_of(procs)
            out["idle_memory"]["note"] = "the driver (this process) included, as for a ketch client"
            out["idle_memory_without_driver"] = memory_of(procs[1:])

        log("Ray: warm round trip (task)")
        out["warm_task"] = latency_summary(time_calls(
            lambda: ray.get(noop.remote(1)), args.calls, args.warmup, args.budget))

        log("Ray: warm round trip (actor)")
        actor = Actor.remote()
        out["warm_actor"] = latency_summary(time_calls(
            lambda: ray.get(actor.noop.remote(1)), args.calls, args.warmup, args.budget))
        ray.kill(actor)

        log("Ray: map (tasks)")
        n = args.map_n
        ray.get([noop.remote(i) for i in range(n // 10)])

        def run_map():
            got = ray.get([noop.remote(i) for i in range(n)])
            assert len(got) == n

        out["map"] = throughput(run_map, n, args.map_reps, args.budget)

        log("Ray: cold start (actor creation + first call)")
        firsts = []
        for i in range(args.cold_reps):
            t0 = time.perf_counter()
            a = Actor.remote()
            ray.get(a.noop.remote(i))
            firsts.append(time.perf_counter() - t0)
            ray.kill(a)
            time.sleep(0.2)  # let Ray reap the actor's worker
        out["cold_actor"] = latency_summary(firsts)
    except Exception as exc:
        errors.append(("Ray", exc))
    finally:
        try:
            ray.shutdown()
        except Exception:
            pass


# -- report ----------------------------------------------------------------------------------

def get(d: dict, *path):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def target_mark(key: str, value) -> str:
    if value is None:
        return ""
    op, limit = TARGETS[key]
    ok = value <= limit if op == "<=" else value >= limit
    return f"{'ok' if ok else 'MISS'} ({op} {limit:g})"


def fmt(value, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"


def ratio(ketch_v, other_v, lower_is_better: bool) -> str:
    """How many times better ketch is than the other (>1: ketch ahead)."""
    if ketch_v is None or other_v is None or ketch_v <= 0 or other_v <= 0:
        return ""
    r = other_v / ketch_v if lower_is_better else ketch_v / other_v
    return f"{r:.2f}x"


def build_rows(results: dict) -> list[dict]:
    k, pool, ray = results.get("ketch", {}), results.get("process_pool", {}), \
        results.get("ray", {})
    chunk = pool.get("map_chunksize")
    rows = [
        # metric, unit, lower is better, ketch value, target key, [(name, value)]
        ("warm round trip p50", "ms", True, get(k, "warm", "p50_ms"), "warm_p50_ms",
         [("ProcessPool submit().result()", get(pool, "warm", "p50_ms")),
          ("Ray task", get(ray, "warm_task", "p50_ms")),
          ("Ray actor method", get(ray, "warm_actor", "p50_ms"))]),
        ("warm round trip p99", "ms", True, get(k, "warm", "p99_ms"), None,
         [("ProcessPool submit().result()", get(pool, "warm", "p99_ms")),
          ("Ray task", get(ray, "warm_task", "p99_ms")),
          ("Ray actor method", get(ray, "warm_actor", "p99_ms"))]),
        (f"map {get(k, 'map', 'n_inputs') or ''} inputs", "/s", False,
         get(k, "map", "inputs_per_s"), "map_inputs_per_s",
         [(f"ProcessPool map(chunksize={chunk})", get(pool, "map", "inputs_per_s")),
          ("ProcessPool map(chunksize=1)", get(pool, "map_chunksize_1", "inputs_per_s")),
          ("Ray tasks, ray.get([...])", get(ray, "map", "inputs_per_s"))]),
        ("cold start p50", "ms", True, get(k, "cold", "p50_ms"), "cold_p50_ms",
         [(f"fresh ProcessPool ({pool.get('start_method')}), 1st result",
           get(pool, "cold", "p50_ms")),
          ("fresh ProcessPool (spawn), 1st result", get(pool, "cold_spawn", "p50_ms")),
          ("Ray actor create + first call", get(ray, "cold_actor", "p50_ms"))]),
        ("server start (to TCP connect)", "ms", True, get(k, "server_start", "tcp_p50_ms"),
         "server_start_ms", [("ray.init()", get(ray, "init_ms"))]),
        ("server start (to first call)", "ms", True,
         get(k, "server_start", "first_call_p50_ms"), "server_start_ms",
         [("ray.init()", get(ray, "init_ms"))]),
        ("idle memory, RSS", "MiB", True, get(k, "server_start", "idle_memory", "rss_mib"),
         None, [("Ray processes (no driver)", get(ray, "idle_memory_without_driver", "rss_mib"))]),
        ("idle memory, PSS", "MiB", True, get(k, "server_start", "idle_memory", "pss_mib"),
         None, [("Ray processes (no driver)", get(ray, "idle_memory_without_driver", "pss_mib"))]),
    ]
    out = []
    for metric, unit, lower, kv, tkey, others in rows:
        out.append({
            "metric": metric, "unit": unit, "lower_is_better": lower, "ketch": kv,
            "target": tkey and TARGETS[tkey], "target_met": (target_mark(tkey, kv) or None)
            if tkey else None,
            "others": [{"system": name, "value": v, "ketch_advantage": ratio(kv, v, lower)}
                       for name, v in others],
        })
    return out


def print_table(rows: list[dict], results: dict):
    w_metric = max(len(r["metric"]) for r in rows) + 2
    w_sys = max(len(o["system"]) for r in rows for o in r["others"]) + 2
    header = (f"{'metric':<{w_metric}}{'ketch':>12}  {'target':<16}"
              f"{'alternative':<{w_sys}}{'value':>12}  {'ketch adv.':>10}")
    print()
    print(header)
    print("-" * len(header))
    for r in rows:
        first = True
        for o in r["others"]:
            left = (f"{r['metric']:<{w_metric}}{fmt(r['ketch'], r['unit']):>12}  "
                    f"{(r['target_met'] or ''):<16}") if first else " " * (w_metric + 30)
            print(f"{left}{o['system']:<{w_sys}}{fmt(o['value'], r['unit']):>12}  "
                  f"{o['ketch_advantage']:>10}")
            first = False
    print()
    print("ketch adv. = how many times better ketch is (other/ketch for times and memory, "
          "ketch/other for throughput); > 1 means ketch is ahead.")
    ray = results.get("ray", {})
    if "skipped" in ray:
        print(f"Ray: {ray['skipped']}")
    pool = results.get("process_pool", {})
    print(f"ProcessPool: max_workers={pool.get('max_workers')}, start method "
          f"{pool.get('start_method')}; cold start = construct a 1-worker pool + first result "
          "(fork copies this warm process; spawn starts a fresh interpreter, as ketch does).")
    k = results.get("ketch", {})
    if get(k, "cold", "app_run_enter_p50_ms") is not None:
        print(f"ketch cold start times the first .remote() of a fresh App's function inside "
              f"`with app.run()`; entering app.run() itself took p50 "
              f"{k['cold']['app_run_enter_p50_ms']:.1f} ms more.")
    mem = get(k, "memory_after_bench")
    if mem:
        print(f"ketch server + containers after the run: {mem['rss_mib']:.0f} MiB RSS, "
              f"{mem['pss_mib']:.0f} MiB PSS in {mem['processes']} processes.")
    rmem = get(ray, "idle_memory")
    if rmem:
        print(f"Ray idle memory with the driver: {rmem['rss_mib']:.0f} MiB RSS, "
              f"{rmem['pss_mib']:.0f} MiB PSS in {rmem['processes']} processes.")


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                              capture_output=True, timeout=5).stdout.strip() or None
    except Exception:
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and repetitions")
    parser.add_argument("--no-ray", action="store_true", help="skip Ray even if installed")
    parser.add_argument("--json", default=str(BENCH_DIR / "results" / "core.json"))
    parser.add_argument("--cpus", type=int, default=2,
                        help="workers for ProcessPool and num_cpus for Ray (default 2)")
    parser.add_argument("--chunksize", type=int, default=100,
                        help="ProcessPoolExecutor.map chunksize (default 100)")
    args = parser.parse_args(argv)
    args.calls, args.warmup = (500, 50) if args.quick else (2000, 200)
    args.map_n, args.map_reps = (5000, 1) if args.quick else (20_000, 3)
    args.cold_reps = 5 if args.quick else 10
    args.server_reps = 3 if args.quick else 5
    args.budget = 30.0 if args.quick else 60.0  # seconds per measurement, at most

    results: dict = {}
    errors: list = []
    started = time.time()
    load_before = os.getloadavg()
    if load_before[0] > 0.5:
        log(f"warning: load average {load_before[0]:.2f} before the run; other work on this "
            "machine skews the figures")
    bench_ketch(args, results, errors)
    bench_pool(args, results, errors)
    if args.no_ray:
        results["ray"] = {"skipped": "--no-ray"}
    else:
        bench_ray(args, results, errors)

    rows = build_rows(results)
    print_table(rows, results)
    for where, exc in errors:
        print(f"\nERROR in {where}:", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)

    doc = {
        "benchmark": "core",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "duration_s": round(time.time() - started, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "loadavg_before": load_before,
                    "loadavg_after": os.getloadavg()},
        "ketch_commit": git_commit(),
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "targets": {k: {"op": op, "value": v} for k, (op, v) in TARGETS.items()},
        "table": rows,
        "results": results,
        "errors": [{"where": w, "error": f"{type(e).__name__}: {e}",
                    "traceback": "".join(traceback.format_exception(e))} for w, e in errors],
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"\nwrote {path} ({doc['duration_s']} s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
