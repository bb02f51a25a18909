"""Isolated containers and image builds, beside the process backend and Ray, in one run.

    bench/run_core.sh --no-ray --quick   # once, to make bench/.venv-ray (Ray + ketch)
    bench/.venv-ray/bin/python bench/isolation.py [--reps 20] [--no-ray] [--skip-cold-build]
                                                  [--json PATH]
Run it as root on Linux with bubblewrap and mmdebstrap installed.

Measures:

1. cold start to the first result, p50/p99: the first `.remote()` of a fresh app's function
   (no container exists) on a `bwrap` server, in a cached image (`Image.debian_slim()`) and
   without an image (the machine's Python, read-only); the same on a `process` server; and a
   Ray actor's creation plus its first method call;
2. rebuild of an unchanged image (`debian_slim().pip_install("numpy")`), client to reply;
3. a cold build of `debian_slim().pip_install("numpy")` in an empty layer cache (mmdebstrap
   plus pip), and the pip step alone on a cached Debian base.

The layer cache is KETCH_IMAGES_DIR (default: the tests' /var/cache/ketch-test/images);
the cold build uses a fresh temporary cache. Writes bench/results/isolation.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from core import KetchServer, latency_summary, log, percentile  # noqa: E402

TARGET_COLD_P50_MS = 60.0
TARGET_REBUILD_S = 0.5
IMAGES_DIR = os.environ.get("KETCH_IMAGES_DIR", "/var/cache/ketch-test/images")


class Server(KetchServer):
    """core.py's server, on a chosen runtime and layer cache."""

    def __init__(self, runtime: str, images_dir: str):
        super().__init__()
        self.runtime = runtime
        self.images_dir = images_dir

    def start(self):
        env = {**os.environ, "KETCH_DATA_DIR": self.data_dir, "KETCH_SERVER_ADDR": self.address,
               "KETCH_IMAGES_DIR": self.images_dir}
        log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ketch.server", "--address", self.address,
             "--runtime", self.runtime, "--http-address", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=log_file,
            stderr=log_file, env=env)
        log_file.close()
        self._wait()
        os.environ.update({"KETCH_DATA_DIR": self.data_dir, "KETCH_SERVER_ADDR": self.address,
                           "KETCH_NO_AUTOSTART": "1"})
        from ketch._client import Client

        Client._instance = None  # the next request connects to this server

    def _wait(self):
        from core import tcp_ready

        deadline = time.monotonic() + 20
        while not tcp_ready(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{self.log_path.read_text()}")
            time.sleep(0.005)


def cold_starts(reps: int, image=None) -> dict:
    """First call of a fresh app's function, each rep, to its result."""
    import ketch

    import _isolation_app

    firsts = []
    for i in range(reps):
        app = ketch.App(f"bench-iso-{i}")
        fn = app.function(name="cold_noop", image=image)(_isolation_app.cold_noop)
        with app.run():
            t0 = time.perf_counter()
            assert fn.remote(i) == i
            firsts.append(time.perf_counter() - t0)
    return latency_summary(firsts)


def build_seconds(image, force: bool = False) -> float:
    from ketch import _sync
    from ketch._client import Client

    client = _sync.run(Client.get())
    image._built.clear()
    t0 = time.perf_counter()
    _sync.run(image._build(client, force=force))
    return time.perf_counter() - t0


def bench_bwrap(args, out: dict, errors: list):
    import ketch

    srv = Server("bwrap", IMAGES_DIR)
    srv.start()
    try:
        base = ketch.Image.debian_slim()
        numpy_image = base.pip_install("numpy")
        log("bwrap: building the images (cached after the first run)")
        out["first_build_s"] = build_seconds(numpy_image)
        log("bwrap: unchanged rebuild x20")
        rebuilds = [build_seconds(numpy_image) for _ in range(20)]
        out["rebuild_unchanged"] = {"p50_s": percentile(rebuilds, 50),
                                    "p99_s": percentile(rebuilds, 99)}
        log(f"bwrap: cold start in an image x{args.reps}")
        out["cold_image"] = cold_starts(args.reps, base)
        log(f"bwrap: cold start without an image x{args.reps}")
        out["cold_no_image"] = cold_starts(args.reps)
        if not args.skip_cold_build:
            log("bwrap: pip_install('numpy') alone on the cached base (forced)")
            out["numpy_step_s"] = build_seconds(
                base.pip_install("numpy", force_build=True))
    except Exception as exc:
        errors.append(("bwrap", exc))
    finally:
        srv.stop()
    if args.skip_cold_build:
        return
    fresh = tempfile.mkdtemp(prefix="ketch-bench-images-")
    srv = Server("bwrap", fresh)
    srv.start()
    try:
        log("bwrap: cold build of debian_slim().pip_install('numpy') in an empty cache")
        out["cold_build_numpy_s"] = build_seconds(ketch.Image.debian_slim().pip_install("numpy"))
    except Exception as exc:
        errors.append(("bwrap cold build", exc))
    finally:
        srv.stop()
        subprocess.run(["rm", "-rf", fresh])


def bench_process(args, out: dict, errors: list):
    srv = Server("process", tempfile.mkdtemp(prefix="ketch-bench-images-"))
    srv.start()
    try:
        log(f"process: cold start x{args.reps}")
        out["cold_no_image"] = cold_starts(args.reps)
    except Exception as exc:
        errors.append(("process", exc))
    finally:
        srv.stop()
        subprocess.run(["rm", "-rf", srv.images_dir])


def bench_ray(args, out: dict, errors: list):
    try:
        import ray
    except ImportError as exc:
        out["skipped"] = f"import ray failed ({exc}); run it with bench/.venv-ray/bin/python"
        return
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

        @ray.remote
        class Actor:
            def noop(self, x):
                return x

        ray.get(Actor.remote().noop.remote(0))  # the first worker pool start is not counted
        firsts = []
        log(f"Ray: actor create + first call x{args.reps}")
        for i in range(args.reps):
            t0 = time.perf_counter()
            a = Actor.remote()
            ray.get(a.noop.remote(i))
            firsts.append(time.perf_counter() - t0)
            ray.kill(a)
            time.sleep(0.2)
        out["cold_actor"] = latency_summary(firsts)
        out["version"] = ray.__version__
    except Exception as exc:
        errors.append(("Ray", exc))
    finally:
        try:
            ray.shutdown()
        except Exception:
            pass


def report(results: dict):
    b, p, r = results["bwrap"], results["process"], results["ray"]

    def ms(d, key="p50_ms"):
        return f"{d[key]:8.1f} ms" if d and key in d else "       -   "

    rows = [
        ("bwrap, cached image (debian_slim)", b.get("cold_image")),
        ("bwrap, no image (host Python, read-only)", b.get("cold_no_image")),
        ("process backend (no isolation)", p.get("cold_no_image")),
        ("Ray actor create + first call", r.get("cold_actor")),
    ]
    print(f"\ncold start to first result        {'p50':>11} {'p99':>11}   "
          f"(target p50 <= {TARGET_COLD_P50_MS:g} ms)")
    for name, d in rows:
        print(f"  {name:<42}{ms(d)} {ms(d, 'p99_ms')}")
    reb = b.get("rebuild_unchanged", {})
    if reb:
        print(f"\nunchanged image rebuild: p50 {reb['p50_s'] * 1000:.1f} ms, p99 "
              f"{reb['p99_s'] * 1000:.1f} ms (target <= {TARGET_REBUILD_S} s)")
    if "cold_build_numpy_s" in b:
        print(f"cold build debian_slim().pip_install('numpy'): {b['cold_build_numpy_s']:.1f} s "
              f"(empty cache); the pip step alone: {b.get('numpy_step_s', float('nan')):.1f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--skip-cold-build", action="store_true",
                        help="skip the cold numpy builds (they download packages)")
    parser.add_argument("--json", default=str(BENCH_DIR / "results" / "isolation.json"))
    args = parser.parse_args()
    results = {"machine": {"cpus": os.cpu_count(), "load": os.getloadavg(),
                           "platform": platform.platform()},
               "bwrap": {}, "process": {}, "ray": {}}
    errors: list = []
    bench_bwrap(args, results["bwrap"], errors)
    bench_process(args, results["process"], errors)
    if not args.no_ray:
        bench_ray(args, results["ray"], errors)
    results["errors"] = [f"{name}: {''.join(traceback.format_exception(exc))}"
                         for name, exc in errors]
    report(results)
    for e in results["errors"]:
        print(e, file=sys.stderr)
    Path(args.json).parent.mkdir(exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
