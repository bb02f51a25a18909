"""ketch's Dicts, Queues and Volumes beside the same work done directly, in one run.

    .venv/bin/python bench/state.py [--quick] [--only PART ...] [--runtime process] [--json PATH]

Measures, against a fresh ketch server of its own:

1. Dict operations per second from one client: blocking put then get, one at a time;
   `.aio` calls with 64 in flight; `update()` in batches of 1,000. Beside a Python dict
   behind a threading.Lock doing the same puts and gets.
2. Queue items per second from one client: put then get one at a time; `put_many` /
   `get_many` in batches of 100. Beside queue.Queue (the stdlib's locked deque).
3. The same Dict and Queue work from 4 containers at once (aggregate ops/s over the span
   from the first start to the last end). Beside 4 threads sharing the locked dict and the
   queue.Queue.
4. Volume throughput for a 1 GiB file: upload through the SDK (`batch_upload`, written and
   fsynced by the server) and download (`read_file`); and a container writing (fsync +
   commit) and reading the file on its mount. Beside direct disk: writing the same bytes
   to a file on the same file system with fsync, and reading them back. Reads run twice:
   warm (the file in the page cache) and cold (its pages dropped with posix_fadvise
   first, so it comes from the disk).

Prints a table with ratios (ketch ÷ direct) and the targets, and writes JSON to
bench/results/state.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import sys
import threading
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from core import KetchServer, log  # noqa: E402

TARGETS = {"dict_ops_per_s": 5000.0, "queue_items_per_s": 5000.0, "volume_ratio": 0.5}
CHUNK = 4 * 1024 * 1024
N_WORKERS = 4
PARTS = ("dict", "queue", "containers", "volume")


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("nan")


# -- dicts -------------------------------------------------------------------------------------

def bench_dict(n: int) -> dict:
    import ketch

    out = {}
    with ketch.Dict.ephemeral() as d:
        d.put("warm-up", 0)
        t0 = time.perf_counter()
        for i in range(n):
            d[i] = i
        for i in range(n):
            d.get(i)
        out["ketch_one_at_a_time"] = rate(2 * n, time.perf_counter() - t0)

        async def in_flight():
            sem = asyncio.Semaphore(64)

            async def one(coro):
                async with sem:
                    await coro

            t = time.perf_counter()
            await asyncio.gather(*(one(d.put.aio(("a", i), i)) for i in range(n)))
            await asyncio.gather(*(one(d.get.aio(("a", i))) for i in range(n)))
            return rate(2 * n, time.perf_counter() - t)

        out["ketch_aio_64_in_flight"] = asyncio.run(in_flight())
        t0 = time.perf_counter()
        for start in range(0, n * 10, 1000):
            d.update({("b", i): i for i in range(start, start + 1000)})
        out["ketch_update_batches_of_1000"] = rate(n * 10, time.perf_counter() - t0)

    local: dict = {}
    lock = threading.Lock()
    t0 = time.perf_counter()
    for i in range(n):
        with lock:
            local[i] = i
    for i in range(n):
        with lock:
            local.get(i)
    out["direct_locked_dict"] = rate(2 * n, time.perf_counter() - t0)
    return out


# -- queues ------------------------------------------------------------------------------------

def bench_queue(n: int) -> dict:
    import ketch

    out = {}
    with ketch.Queue.ephemeral() as q:
        q.put("warm-up")
        q.get()
        t0 = time.perf_counter()
        for start in range(0, n, 5000):  # a partition holds 5,000 items
            m = min(5000, n - start)
            for i in range(m):
                q.put(i)
            for _ in range(m):
                q.get()
        out["ketch_one_at_a_time"] = rate(2 * n, time.perf_counter() - t0)
        t0 = time.perf_counter()
        total = n * 10
        for start in range(0, total, 5000):
            for b in range(start, min(total, start + 5000), 100):
                q.put_many(list(range(b, b + 100)))
            got = 0
            while got < min(5000, total - start):
                got += len(q.get_many(100))
        out["ketch_batches_of_100"] = rate(2 * total, time.perf_counter() - t0)

    local: queue.Queue = queue.Queue()
    t0 = time.perf_counter()
    for i in range(n):
        local.put(i)
    for _ in range(n):
        local.get()
    out["direct_queue_Queue"] = rate(2 * n, time.perf_counter() - t0)
    return out


# -- several containers at once ----------------------------------------------------------------

def bench_containers(n: int) -> dict:
    import ketch
    import _state_app as app_mod

    out = {}
    d = ketch.Dict.from_name("bench-state-dict", create_if_missing=True)
    d.clear()
    q = ketch.Queue.from_name("bench-state-queue", create_if_missing=True)
    q.clear(all=True)
    with app_mod.app.run():
        for label, fn, name in (("dict", app_mod.dict_worker, "bench-state-dict"),
                                ("queue", app_mod.queue_worker, "bench-state-queue")):
            list(fn.map([name] * N_WORKERS, range(N_WORKERS), [10] * N_WORKERS))  # warm
            results = list(fn.map([name] * N_WORKERS, range(N_WORKERS), [n] * N_WORKERS))
            start = min(r[0] for r in results)
            end = max(r[1] for r in results)
            out[f"{label}_ketch_{N_WORKERS}_containers"] = rate(sum(r[2] for r in results),
                                                                end - start)
    out[f"dict_direct_{N_WORKERS}_threads"] = _threads_dict(n)
    out[f"queue_direct_{N_WORKERS}_threads"] = _threads_queue(n)
    return out


def _threads_dict(n: int) -> float:
    shared: dict = {}
    lock = threading.Lock()

    def work(w):
        for i in range(n):
            with lock:
                shared[(w, i)] = i
        for i in range(n):
            with lock:
                shared.get((w, i))

    return _run_threads(work, 2 * n * N_WORKERS)


def _threads_queue(n: int) -> float:
    queues = [queue.Queue() for _ in range(N_WORKERS)]

    def work(w):
        for i in range(n):
            queues[w].put(i)
        for _ in range(n):
            queues[w].get()

    return _run_threads(work, 2 * n * N_WORKERS)


def _run_threads(work, total: int) -> float:
    threads = [threading.Thread(target=work, args=(w,)) for w in range(N_WORKERS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return rate(total, time.perf_counter() - t0)


# -- volumes -----------------------------------------------------------------------------------

def evict(path) -> None:
    """Drops a file's pages from the page cache, so the next read comes from the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_all(path) -> None:
    with open(path, "rb") as handle:
        while handle.read(CHUNK):
            pass


def bench_volume(size: int, workdir: Path, data_dir: Path) -> dict:
    import _state_app as app_mod

    mib = size / (1024 * 1024)
    src = workdir / "source.bin"
    block = os.urandom(CHUNK)
    with open(src, "wb") as handle:
        for _ in range(size // CHUNK):
            handle.write(block)
        handle.flush()
        os.fsync(handle.fileno())  # its write-back must not slow what is measured next

    def timed(fn) -> float:
        t0 = time.perf_counter()
        fn()
        return mib / (time.perf_counter() - t0)

    out = {}
    # Direct disk: the same bytes to a file on the same file system, fsynced; read back
    # from the page cache (warm) and from the disk (cold).
    direct = workdir / "direct.bin"

    def write_direct():
        with open(direct, "wb") as handle:
            for _ in range(size // CHUNK):
                handle.write(block)
            handle.flush()
            os.fsync(handle.fileno())

    def read_cold():
        evict(direct)
        t0 = time.perf_counter()
        read_all(direct)
        return mib / (time.perf_counter() - t0)

    # The best of two runs each, so the first run's warm-up never flatters ketch.
    out["direct_write_mib_s"] = max(timed(write_direct), timed(write_direct))
    out["direct_read_warm_mib_s"] = max(timed(lambda: read_all(direct)),
                                        timed(lambda: read_all(direct)))
    out["direct_read_cold_mib_s"] = max(read_cold(), read_cold())
    direct.unlink()

    vol = app_mod.vol

    def upload():
        with vol.batch_upload(force=True) as batch:
            batch.put_file(src, "/sdk.bin")

    def download():
        n = 0
        for chunk in vol.read_file("sdk.bin"):
            n += len(chunk)
        assert n == size, (n, size)

    out["sdk_upload_mib_s"] = timed(upload)
    out["sdk_download_warm_mib_s"] = timed(download)
    stored = data_dir / "volumes" / vol.object_id / "sdk.bin"
    evict(stored)
    out["sdk_download_cold_mib_s"] = timed(download)
    vol.remove_file("sdk.bin")

    with app_mod.app.run():
        timing = app_mod.volume_write_read.remote(size, CHUNK)
    for key, seconds in timing.items():
        out[f"container_{key[:-2]}_mib_s"] = mib / seconds
    src.unlink()
    return out


# -- main --------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer operations, 256 MiB file")
    parser.add_argument("--runtime", default=os.environ.get("KETCH_RUNTIME", "process"),
                        help="the server's container backend (default: process)")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS),
                        help="run only these parts (default: all)")
    parser.add_argument("--json", default=str(BENCH_DIR / "results" / "state.json"))
    args = parser.parse_args(argv)
    n = 2000 if args.quick else 10_000
    size = (256 if args.quick else 1024) * 1024 * 1024

    os.environ["KETCH_RUNTIME"] = args.runtime
    server = KetchServer()
    server.start()
    os.environ.update({"KETCH_SERVER_ADDR": server.address, "KETCH_DATA_DIR": server.data_dir,
                       "KETCH_NO_AUTOSTART": "1",
                       "KETCH_CONFIG_DIR": str(Path(server.data_dir) / "config")})
    results: dict = {"settings": {"n": n, "file_bytes": size, "runtime": args.runtime,
                                  "cpus": os.cpu_count(), "load": os.getloadavg()},
                     "errors": {}}
    load = os.getloadavg()[0]
    if load > 0.5:
        log(f"load average is {load:.2f}: other work on this machine skews the figures")
    try:
        for name, fn in (("dict", lambda: bench_dict(n)), ("queue", lambda: bench_queue(n)),
                         ("containers", lambda: bench_containers(n // 4)),
                         ("volume", lambda: bench_volume(size, Path(server.data_dir),
                                                         Path(server.data_dir)))):
            if name not in args.only:
                continue
            log(f"{name} ...")
            try:
                results[name] = fn()
            except Exception:
                results["errors"][name] = traceback.format_exc()
                log(results["errors"][name])
    finally:
        server.stop()
    report(results)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))
    return 1 if results["errors"] else 0


def report(r: dict):
    rows = []
    d, q, c, v = (r.get(k, {}) for k in ("dict", "queue", "containers", "volume"))

    def row(what, ketch_value, direct_value, unit, target=None):
        if ketch_value is None:
            return
        ratio = ketch_value / direct_value if direct_value else float("nan")
        target_text = "" if target is None else (
            f"≥ {target:,.0f} {unit}" + (" ✓" if ketch_value >= target else " ✗"))
        rows.append((what, f"{ketch_value:,.0f} {unit}",
                     f"{direct_value:,.0f} {unit}" if direct_value else "",
                     f"{ratio:.3f}" if direct_value else "", target_text))

    row("dict put+get, one at a time", d.get("ketch_one_at_a_time"),
        d.get("direct_locked_dict"), "ops/s", TARGETS["dict_ops_per_s"])
    row("dict put+get, .aio 64 in flight", d.get("ketch_aio_64_in_flight"),
        d.get("direct_locked_dict"), "ops/s")
    row("dict update, batches of 1,000", d.get("ketch_update_batches_of_1000"),
        d.get("direct_locked_dict"), "ops/s")
    row("queue put+get, one at a time", q.get("ketch_one_at_a_time"),
        q.get("direct_queue_Queue"), "items/s", TARGETS["queue_items_per_s"])
    row("queue put_many+get_many, 100", q.get("ketch_batches_of_100"),
        q.get("direct_queue_Queue"), "items/s")
    row(f"dict, {N_WORKERS} containers at once", c.get(f"dict_ketch_{N_WORKERS}_containers"),
        c.get(f"dict_direct_{N_WORKERS}_threads"), "ops/s")
    row(f"queue, {N_WORKERS} containers at once",
        c.get(f"queue_ketch_{N_WORKERS}_containers"),
        c.get(f"queue_direct_{N_WORKERS}_threads"), "items/s")
    for label, key, base in (
            ("volume upload (SDK)", "sdk_upload_mib_s", "direct_write_mib_s"),
            ("volume download (SDK), warm", "sdk_download_warm_mib_s", "direct_read_warm_mib_s"),
            ("volume download (SDK), cold", "sdk_download_cold_mib_s", "direct_read_cold_mib_s"),
            ("volume write in a container", "container_write_mib_s", "direct_write_mib_s"),
            ("volume read in a container, warm", "container_read_warm_mib_s",
             "direct_read_warm_mib_s"),
            ("volume read in a container, cold", "container_read_cold_mib_s",
             "direct_read_cold_mib_s")):
        if key in v:
            ratio = v[key] / v[base]
            rows.append((label, f"{v[key]:,.0f} MiB/s", f"{v[base]:,.0f} MiB/s",
                         f"{ratio:.3f}", "≥ 0.5 × direct" + (" ✓" if ratio >= 0.5 else " ✗")))
    width = [max(len(str(x[i])) for x in rows + [("", "ketch", "direct", "ratio", "target")])
             for i in range(5)]
    header = ("", "ketch", "direct", "ratio", "target")
    for line in [header] + rows:
        print("  ".join(str(cell).ljust(width[i]) for i, cell in enumerate(line)))
    for name, err in r["errors"].items():
        print(f"\n{name} failed:\n{err}")


if __name__ == "__main__":
    sys.exit(main())
