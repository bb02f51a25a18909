"""A burst from zero (issue 13, item 5): N one-second inputs to a function with no
container and max_containers=N, beside the same burst as Ray tasks, in one run.

    .venv/bin/python bench/burst.py [--n 100] [--seconds 1] [--reps 2] [--no-ray]
                                    [--json PATH]

ketch: a server of its own on the bwrap runtime (as root, with bubblewrap), each
repetition a fresh app (so no container exists) whose function asks cpu=0.02 (a cgroup CPU
weight, no quota) and memory=(64, 512) MiB (request, hard limit), so N=100 fit this
machine's scheduler; `fn.map(range(N))` with every input sleeping a second. Then the same
burst again on the containers it left warm.

Ray: `ray.init(address="local", num_cpus=N)` — a fresh local cluster with N CPU slots, so
N one-CPU tasks may all run at once — then N tasks right after init, and the same burst
again on the workers it started. Ray starts worker processes on demand, as many at once
as the machine has cores (2 here), and reuses each as soon as its task ends, so it runs
the burst on fewer than N workers. (Raising `worker_maximum_startup_concurrency` to N
made `ray.init` prestart N workers at once, which took over four minutes on this loaded
machine.) On cgroup v1 Ray runs in a cpu group of its own beside the `ketch` group that
holds every container, at the same weight (RayCpuGroup).

For each: time from the submit until every input has started (all running), until every
result is back (all finished), the spread of the input start times, and how many
containers or worker processes ran them. For ketch also when the server asked for each
container (its log) and when each container's interpreter had imported the code, which
says where the time went: the autoscaler's launches, bwrap and the interpreter start.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from core import KetchServer, git_commit, log, tcp_ready  # noqa: E402

_STARTING = re.compile(r"^(\S+ \S+) INFO ketch\.server: starting container (\S+) for hold ")


class BwrapServer(KetchServer):
    def start(self):
        env = {**os.environ, "KETCH_DATA_DIR": self.data_dir, "KETCH_SERVER_ADDR": self.address}
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ketch.server", "--address", self.address,
                 "--http-address", "127.0.0.1:0", "--runtime", "bwrap"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env)
        deadline = time.monotonic() + 20
        while not tcp_ready(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ketch server did not start:\n{self.log_path.read_text()}")
            time.sleep(0.01)

    def launches_since(self, t0: float) -> list[float]:
        """Seconds after t0 at which the server started each `hold` container (its log)."""
        out = []
        for line in self.log_path.read_text().splitlines():
            m = _STARTING.match(line)
            if m:
                when = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                if when >= t0 - 0.01:
                    out.append(when - t0)
        return out


def summarize(t0: float, t_end: float, rows: list[dict], n: int) -> dict:
    starts = sorted(r["started"] - t0 for r in rows)
    assert len(rows) == n and sorted(r["i"] for r in rows) == list(range(n)), "lost inputs"
    return {"all_running_s": starts[-1], "all_finished_s": t_end - t0,
            "first_start_s": starts[0], "median_start_s": statistics.median(starts),
            "workers": len({r["where"] for r in rows}),
            "imported_s": sorted({r["where"]: r["imported"] - t0 for r in rows}.values())}


def bench_ketch(args) -> dict:
    import ketch
    import _burst_app

    srv = BwrapServer()
    os.environ.update(KETCH_DATA_DIR=srv.data_dir, KETCH_SERVER_ADDR=srv.address,
                      KETCH_NO_AUTOSTART="1")
    srv.start()
    out = {"runtime": "bwrap", "cpu": args.cpu, "memory_mib": [args.memory, args.memory_limit],
           "cold": [], "warm": []}
    try:
        for rep in range(args.reps):
            app = ketch.App(f"bench-burst-{rep}")
            fn = app.function(name="hold", cpu=args.cpu, memory=(args.memory, args.memory_limit),
                              max_containers=args.n, timeout=120)(_burst_app.hold)
            with app.run():
                for key in ("cold", "warm"):
                    log(f"ketch: burst of {args.n} ({key}, rep {rep + 1})")
                    t0 = time.time()
                    rows = list(fn.map(range(args.n), kwargs={"seconds": args.seconds}))
                    res = summarize(t0, time.time(), rows, args.n)
                    if key == "cold":
                        res["launches_s"] = srv.launches_since(t0)
                    out[key].append(res)
    finally:
        if args.keep_log:
            Path(args.keep_log).write_text(srv.log_path.read_text())
        srv.stop()
    return out


class RayCpuGroup:
    """On cgroup v1, Ray (its driver — this process — and every process it starts) runs
    in a cpu group beside `ketch`, the group that holds every ketch container, with the
    same shares: on a busy machine each Ray process would otherwise compete on its own
    at the weight of the whole ketch group. Only the cpu controller moves (memory stays
    in the group this process was started in)."""

    def __init__(self, shares: int):
        self.base = Path("/sys/fs/cgroup/cpu")
        self.dir = self.base / f"bench-ray-{os.getpid()}"
        self.note = ""
        try:
            line = next(x for x in Path("/proc/self/cgroup").read_text().splitlines()
                        if x.split(":")[1].split(",").count("cpu"))
            self.home = self.base / line.split(":", 2)[2].lstrip("/")
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / "cpu.shares").write_text(str(shares))
            (self.dir / "cgroup.procs").write_text(str(os.getpid()))
            self.note = f"Ray ran in cpu group {self.dir} ({shares} shares, as ketch's)"
        except (OSError, StopIteration) as exc:
            self.dir = None
            self.note = f"Ray ran where this process runs (no cgroup v1 cpu group: {exc})"

    def close(self):
        if self.dir is None:
            return
        (self.home / "cgroup.procs").write_text(str(os.getpid()))
        for _ in range(50):  # Ray's processes are gone after ray.shutdown(), soon
            try:
                self.dir.rmdir()
                return
            except OSError:
                time.sleep(0.1)


def _ketch_shares() -> int:
    try:
        return int(Path("/sys/fs/cgroup/cpu/ketch/cpu.shares").read_text())
    except (OSError, ValueError):
        return 1024


def bench_ray(args) -> dict:
    try:
        import ray
    except ImportError as exc:
        return {"skipped": f"import ray failed ({exc})"}

    out = {"version": ray.__version__, "num_cpus": args.n, "cold": [], "warm": []}
    group = RayCpuGroup(_ketch_shares())
    out["cgroup"] = group.note
    try:
        _bench_ray(ray, args, out)
    finally:
        group.close()
    return out


def _bench_ray(ray, args, out: dict):
    for rep in range(args.reps):
        t_init = time.time()
        ray.init(address="local", num_cpus=args.n, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
        out.setdefault("init_s", []).append(time.time() - t_init)
        try:
            task = ray.remote(num_cpus=1)(_ray_hold)
            for key in ("cold", "warm"):
                log(f"Ray: burst of {args.n} tasks ({key}, rep {rep + 1})")
                t0 = time.time()
                rows = ray.get([task.remote(i, args.seconds) for i in range(args.n)])
                out[key].append(summarize(t0, time.time(), rows, args.n))
        finally:
            ray.shutdown()


def _ray_hold(i: int, seconds: float):
    """The same body as _burst_app.hold, defined here so Ray ships it by value."""
    started = time.time()
    time.sleep(seconds)
    return {"i": i, "started": started, "imported": started, "where": str(os.getpid())}


def report(results: dict):
    def med(system, key, field):
        runs = results.get(system, {}).get(key) or []
        return statistics.median(r[field] for r in runs) if runs else None

    print(f"\n{'burst of ' + str(results['settings']['n']):24}{'all running':>14}"
          f"{'all finished':>14}{'first start':>13}{'workers':>9}")
    for system, key, label in (("ketch", "cold", "ketch, from zero"),
                               ("ray", "cold", "Ray, right after init"),
                               ("ketch", "warm", "ketch, warm containers"),
                               ("ray", "warm", "Ray, warm workers")):
        if med(system, key, "all_running_s") is None:
            continue
        print(f"{label:24}{med(system, key, 'all_running_s'):>12.2f} s"
              f"{med(system, key, 'all_finished_s'):>12.2f} s"
              f"{med(system, key, 'first_start_s'):>11.2f} s"
              f"{med(system, key, 'workers'):>9.0f}")
    k, r = med("ketch", "cold", "all_running_s"), med("ray", "cold", "all_running_s")
    if k and r:
        print(f"ketch ÷ Ray, all running from zero: {k / r:.2f}; all finished: "
              f"{med('ketch', 'cold', 'all_finished_s') / med('ray', 'cold', 'all_finished_s'):.2f}"
              " (below 1: ketch sooner)")
    for run in results.get("ketch", {}).get("cold", []):
        launches, imported = run.get("launches_s") or [0.0], run["imported_s"]
        print(f"ketch from zero: {len(launches)} launches asked between {launches[0]:.2f} and "
              f"{launches[-1]:.2f} s; interpreters had imported the code between "
              f"{imported[0]:.2f} and {imported[-1]:.2f} s (median "
              f"{statistics.median(imported):.2f} s)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--cpu", type=float, default=0.02)
    p.add_argument("--memory", type=int, default=64)
    p.add_argument("--memory-limit", type=int, default=512)
    p.add_argument("--no-ray", action="store_true")
    p.add_argument("--keep-log", default=None, help="copy the ketch server's log here")
    p.add_argument("--json", default=str(BENCH_DIR / "results" / "burst.json"))
    args = p.parse_args(argv)
    load_before = os.getloadavg()
    results = {"benchmark": "burst", "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "ketch_commit": git_commit(),
               "settings": {k: v for k, v in vars(args).items() if k != "json"},
               "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before}}
    results["ketch"] = bench_ketch(args)
    results["ray"] = {"skipped": "--no-ray"} if args.no_ray else bench_ray(args)
    results["machine"]["loadavg_after"] = os.getloadavg()
    report(results)
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {path}; load average before {load_before[0]:.2f}, after "
          f"{os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
