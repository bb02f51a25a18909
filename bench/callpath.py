"""The call path's speed beside ProcessPoolExecutor, in one run (issue 13, item 4).

    .venv/bin/python bench/callpath.py [--rounds 3] [--calls 2000] [--map-n 20000]
                                        [--json PATH] [--png PATH]

A ketch server of its own (its default runtime, bwrap where it can run) and a
ProcessPoolExecutor with as many workers as CPUs live side by side for the whole run; the
measurements alternate between them round by round, so what else the machine does falls on
both alike:

- warm round trip: `noop.remote(1)` vs `pool.submit(plain_noop, 1).result()`;
- map throughput: `list(noop.map(range(N)))` vs `list(pool.map(plain_noop, range(N)))`
  (chunksize=1, the pool's default).

Prints p50/p99 and inputs/s with the ratios the issue sets (map ≥ 2x the pool's, warm p50
≤ 2x the pool's), writes the samples to bench/results/callpath.json and, with --png, a
latency CDF of the warm round trips.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from core import KetchServer, git_commit, latency_summary, log  # noqa: E402


def warm_samples(call, n: int) -> list[float]:
    perf = time.perf_counter
    out = []
    for _ in range(n):
        t0 = perf()
        call()
        out.append(perf() - t0)
    return out


def rate(run, n: int) -> float:
    t0 = time.perf_counter()
    run()
    return n / (time.perf_counter() - t0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--calls", type=int, default=2000, help="warm calls per round and system")
    p.add_argument("--map-n", type=int, default=20_000)
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--json", default=str(BENCH_DIR / "results" / "callpath.json"))
    p.add_argument("--png", default=None, help="write a latency CDF plot here")
    p.add_argument("--before", default=None,
                   help="a callpath JSON of an earlier tree: its ketch curve joins the plot")
    p.add_argument("--replot", default=None,
                   help="plot this callpath JSON (with --png, --before) instead of running")
    args = p.parse_args(argv)
    if args.replot:
        doc = json.loads(Path(args.replot).read_text())
        plot_cdf(doc["samples"], args.png, doc["when"], _before(args.before))
        print(f"wrote {args.png}")
        return 0

    load_before = os.getloadavg()
    srv = KetchServer()
    os.environ.update(KETCH_DATA_DIR=srv.data_dir, KETCH_SERVER_ADDR=srv.address,
                      KETCH_NO_AUTOSTART="1")
    srv.start()
    import _ketch_app
    from _ketch_app import plain_noop

    res = {"ketch": {"warm": [], "map": []}, "pool": {"warm": [], "map": []}}
    n = args.map_n
    try:
        with _ketch_app.app.run(), \
                concurrent.futures.ProcessPoolExecutor(args.workers) as pool:
            noop = _ketch_app.noop
            log("warming up both")
            warm_samples(lambda: noop.remote(1), 300)
            list(noop.map(range(n // 10)))
            warm_samples(lambda: pool.submit(plain_noop, 1).result(), 300)
            list(pool.map(plain_noop, range(n // 10)))

            def ketch_map():
                got = list(noop.map(range(n)))
                assert got == list(range(n)), "ketch map returned wrong results"

            def pool_map():
                got = list(pool.map(plain_noop, range(n)))
                assert got == list(range(n))

            for r in range(args.rounds):
                log(f"round {r + 1}/{args.rounds}")
                res["ketch"]["warm"] += warm_samples(lambda: noop.remote(1), args.calls)
                res["pool"]["warm"] += warm_samples(
                    lambda: pool.submit(plain_noop, 1).result(), args.calls)
                res["ketch"]["map"].append(rate(ketch_map, n))
                res["pool"]["map"].append(rate(pool_map, n))
    finally:
        srv.stop()

    k_warm, p_warm = latency_summary(res["ketch"]["warm"]), latency_summary(res["pool"]["warm"])
    k_map, p_map = statistics.median(res["ketch"]["map"]), statistics.median(res["pool"]["map"])
    warm_ratio = k_warm["p50_ms"] / p_warm["p50_ms"]
    map_ratio = k_map / p_map
    print()
    print(f"{'':28}{'ketch':>14}{'ProcessPool':>14}{'ratio':>9}  target")
    print(f"{'warm round trip p50':28}{k_warm['p50_ms']:>11.3f} ms{p_warm['p50_ms']:>11.3f} ms"
          f"{warm_ratio:>8.2f}x  <= 2x {'ok' if warm_ratio <= 2 else 'MISS'}")
    print(f"{'warm round trip p99':28}{k_warm['p99_ms']:>11.3f} ms{p_warm['p99_ms']:>11.3f} ms"
          f"{k_warm['p99_ms'] / p_warm['p99_ms']:>8.2f}x")
    print(f"{f'map of {n:,} (chunksize=1)':28}{k_map:>12,.0f}/s{p_map:>12,.0f}/s"
          f"{map_ratio:>8.2f}x  >= 2x {'ok' if map_ratio >= 2 else 'MISS'}")
    print(f"map rounds: ketch {[round(x) for x in res['ketch']['map']]}, "
          f"pool {[round(x) for x in res['pool']['map']]}; load average before "
          f"{load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")

    doc = {"benchmark": "callpath", "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "ketch_commit": git_commit(),
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                       "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
           "settings": {k: v for k, v in vars(args).items() if k not in ("json", "png")},
           "summary": {"ketch_warm": k_warm, "pool_warm": p_warm, "warm_p50_ratio": warm_ratio,
                       "ketch_map_per_s": k_map, "pool_map_per_s": p_map,
                       "map_ratio": map_ratio},
           "samples": res}
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {path}")
    if args.png:
        plot_cdf(res, args.png, doc["when"], _before(args.before))
        print(f"wrote {args.png}")
    return 0


def _before(path: str | None) -> dict | None:
    if not path:
        return None
    doc = json.loads(Path(path).read_text())
    return {"warm": doc["samples"]["ketch"]["warm"],
            "commit": doc.get("ketch_commit") or Path(path).stem}


def plot_cdf(res: dict, png: str, when: str, before: dict | None = None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    curves = [(res["ketch"]["warm"], "ketch .remote()"),
              (res["pool"]["warm"], "ProcessPoolExecutor submit().result()")]
    if before is not None:
        curves.append((before["warm"], f"ketch .remote() before ({before['commit']}, "
                                       "a separate run)"))
    for samples, label in curves:
        ms = sorted(s * 1000 for s in samples)
        ax.plot(ms, [(i + 1) / len(ms) for i in range(len(ms))], label=label)
    ax.set_xscale("log")
    ax.set_xlabel("warm round trip (ms, log scale)")
    ax.set_ylabel("fraction of calls")
    ax.set_title(f"Warm round trip of a trivial function, one run ({when[:16]})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
