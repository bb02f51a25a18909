"""Memory snapshots: the cold start of a class whose @enter imports torch, with
enable_memory_snapshot (its containers fork from a zygote that ran the import once)
beside the same class without, in one run on one server.

    EMBEDDINGS_TORCH_WHEELS=/opt/wheels python bench/snapshot.py [--reps 8]

Each repetition waits for the class's container to go (scaledown_window=1), then times
the first `.remote()`: a new container, from the same zygote (same code version) with a
snapshot, from a fresh interpreter without. The first repetition of each (the image
build, the zygote's own start) is left out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from coldstart import Server  # noqa: E402
from core import latency_summary, log  # noqa: E402

TARGET = 0.1  # snapshot cold start / plain cold start, at p50
GONE_S = 3.5  # scaledown_window=1, then the container's stop


def cold_starts(cls, reps: int) -> list[float]:
    obj = cls()
    firsts = []
    for i in range(reps + 1):
        t0 = time.perf_counter()
        obj.first.remote(i)
        firsts.append(time.perf_counter() - t0)
        time.sleep(GONE_S)
    return firsts[1:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=8)
    parser.add_argument("--json", default=str(BENCH_DIR / "results" / "snapshot.json"))
    args = parser.parse_args()
    with Server(zygote=True) as srv:
        import _snapshot_app as bench_app
        samples = {}
        with bench_app.app.run():
            for name, cls in (("snapshot", bench_app.Snapped), ("plain", bench_app.Plain)):
                log(f"{name}: cold start x{args.reps}")
                samples[name] = cold_starts(cls, args.reps)
        forked = (Path(srv.data_dir) / "server.log").read_text().count("forked from zygote")
    summary = {k: latency_summary(v) for k, v in samples.items()}
    ratio = summary["snapshot"]["p50_ms"] / summary["plain"]["p50_ms"]
    print(f"{'measure':12} {'p50 ms':>9} {'p99 ms':>9}")
    for k, s in summary.items():
        print(f"{k:12} {s['p50_ms']:9.1f} {s['p99_ms']:9.1f}")
    mark = "ok" if ratio <= TARGET else f"MISSED (<= {TARGET})"
    print(f"snapshot / plain at p50: {ratio:.3f}  {mark}   (containers forked: {forked})")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(
        {"summary": summary, "ratio_p50": ratio, "target": TARGET, "forked": forked,
         "cpus": os.cpu_count(), "load": os.getloadavg(), "samples_s": samples}, indent=1))


if __name__ == "__main__":
    main()
