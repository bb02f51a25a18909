"""Warm `.remote()` (or `.map`) of two or more ketch source trees and ProcessPoolExecutor,
interleaved in short bursts, so that a shared machine's load falls on all of them alike.

    .venv/bin/python bench/callpath_ab.py [--rounds 20] [--calls 150] [--map N]
        NAME=TREE ... [--json PATH]

Each TREE is a directory holding a `src/ketch` (a `git archive` of another commit, or
this checkout). Every tree gets a process of its own with its `src` first on PYTHONPATH
and a ketch server of its own started from it (its containers run that tree's ketch);
the pool gets one more process. They start one after another and then take turns, round
by round, each running `--calls` warm calls (or, with `--map N`, one `.map` of N trivial
inputs) while the others wait. bench/callpath.py measures one tree against the pool; this
tells two trees apart when the load average moves more than the change does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent

# One contestant: reads a count per line (negative: one map of that many), answers with
# the latencies (or the rate) as a JSON list; 0 ends it.
_WORKER = r'''
import concurrent.futures, json, os, sys, time
tree, bench = sys.argv[1], sys.argv[2]
sys.path.insert(0, bench)
from _ketch_app import plain_noop
if tree == "pool":
    pool = concurrent.futures.ProcessPoolExecutor(os.cpu_count())
    call = lambda: pool.submit(plain_noop, 1).result()
    map_ = lambda n: list(pool.map(plain_noop, range(n)))
    stop = pool.shutdown
else:
    from core import KetchServer
    srv = KetchServer()
    os.environ.update(KETCH_DATA_DIR=srv.data_dir, KETCH_SERVER_ADDR=srv.address,
                      KETCH_NO_AUTOSTART="1")
    srv.start()
    import ketch, _ketch_app
    assert ketch.__file__.startswith(os.path.realpath(tree)), ketch.__file__
    running = _ketch_app.app.run()
    running.__enter__()
    call = lambda: _ketch_app.noop.remote(1)
    map_ = lambda n: list(_ketch_app.noop.map(range(n)))
    stop = lambda: (running.__exit__(None, None, None), srv.stop())
for _ in range(300):
    call()
map_(2000)
print("ready", flush=True)
perf = time.perf_counter
for line in sys.stdin:
    n = int(line)
    if n == 0:
        break
    if n < 0:
        t0 = perf(); map_(-n); print(json.dumps([-n / (perf() - t0)]), flush=True)
        continue
    out = []
    for _ in range(n):
        t0 = perf(); call(); out.append(perf() - t0)
    print(json.dumps(out), flush=True)
stop()
'''


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("trees", nargs="+", metavar="NAME=TREE")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--calls", type=int, default=150, help="warm calls per turn")
    p.add_argument("--map", type=int, default=0, help="measure one .map of N per turn")
    p.add_argument("--json", default=None, help="write the samples here")
    args = p.parse_args(argv)
    trees = dict(t.split("=", 1) for t in args.trees)
    trees["pool"] = "pool"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    procs = {}
    try:
        for name, tree in trees.items():
            tree_env = env if tree == "pool" else {**env, "PYTHONPATH": f"{tree}/src"}
            procs[name] = proc = subprocess.Popen(
                [sys.executable, "-c", _WORKER, os.path.abspath(tree) if tree != "pool"
                 else tree, str(BENCH_DIR)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                text=True, env=tree_env)
            if proc.stdout.readline().strip() != "ready":
                raise SystemExit(f"{name} did not start")
        load_before = os.getloadavg()
        turn = -args.map if args.map else args.calls
        samples = {name: [] for name in procs}
        for _ in range(args.rounds):
            for name, proc in procs.items():
                proc.stdin.write(f"{turn}\n")
                proc.stdin.flush()
                samples[name] += json.loads(proc.stdout.readline())
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.stdin.write("0\n")
                proc.stdin.flush()
                proc.wait(60)
    load_after = os.getloadavg()
    pool = statistics.median(samples["pool"])
    what = f"map of {args.map:,}, inputs/s" if args.map else "warm round trip, ms"
    print(f"{what}; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    summary = {}
    for name, values in samples.items():
        mid = statistics.median(values)
        q = statistics.quantiles(values, n=100)
        scale = 1 if args.map else 1e3
        summary[name] = {"p50": mid * scale, "p10": q[9] * scale, "p90": q[89] * scale,
                         "ratio_to_pool": mid / pool}
        print(f"{name:>10}: p50 {mid * scale:10.3f}  p10 {q[9] * scale:10.3f}  "
              f"p90 {q[89] * scale:10.3f}  ÷ pool {mid / pool:5.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "benchmark": "callpath_ab", "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "trees": trees, "settings": vars(args), "loadavg": [load_before, load_after],
            "summary": summary, "samples": samples}, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
