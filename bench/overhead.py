"""What recording calls and metrics costs (issue 15, item 5): the ketch part of
bench/core.py (warm round trip, map throughput, cold start), run from two source trees in
one sitting, alternating, so both see the same machine load.

    python bench/overhead.py --before /work/main --after . [--rounds 3] [--quick]

Each tree runs with its own interpreter (TREE/.venv/bin/python, or --python-before/-after)
and its own bench/core.py, so "before" measures exactly what that commit measured. Prints
the medians per tree and the ratios after/before; writes JSON to bench/results/overhead.json.
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

# Runs in a child process of the tree being measured: its bench_ketch, nothing else.
CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import core
args = core.argparse.Namespace(quick={quick}, calls={calls}, warmup={warmup},
                               map_n={map_n}, map_reps={map_reps}, cold_reps={cold_reps},
                               server_reps=1, budget=60.0)
results, errors = {{}}, []
core.bench_ketch(args, results, errors)
for where, exc in errors:
    print("ERROR", where, exc, file=sys.stderr)
out = results["ketch"]

# The server's own CPU time per input: what recording costs it, less swayed by the other
# work on a shared machine than wall-clock figures are.
import os, psutil
srv = core.KetchServer()
os.environ.update(KETCH_DATA_DIR=srv.data_dir, KETCH_SERVER_ADDR=srv.address,
                  KETCH_NO_AUTOSTART="1")
srv.start()
try:
    import _ketch_app
    server = psutil.Process(srv.proc.pid)

    def cpu():
        t = server.cpu_times()
        return t.user + t.system

    with _ketch_app.app.run():
        noop = _ketch_app.noop
        list(noop.map(range(2000)))
        for _ in range(100):
            noop.remote(1)
        c0 = cpu()
        for _ in range({map_reps}):
            assert len(list(noop.map(range({map_n})))) == {map_n}
        c1 = cpu()
        for _ in range({calls}):
            noop.remote(1)
        c2 = cpu()
    out["server_cpu_us_per_map_input"] = (c1 - c0) / ({map_reps} * {map_n}) * 1e6
    out["server_cpu_us_per_remote"] = (c2 - c1) / {calls} * 1e6
finally:
    srv.stop()
print("RESULT " + json.dumps(out))
"""

METRICS = [  # (name, path in bench_ketch's results, higher is better)
    ("warm p50 ms", ("warm", "p50_ms"), False),
    ("warm p99 ms", ("warm", "p99_ms"), False),
    ("map inputs/s", ("map", "inputs_per_s"), True),
    ("cold p50 ms", ("cold", "p50_ms"), False),
    ("server CPU us/map input", ("server_cpu_us_per_map_input",), False),
    ("server CPU us/.remote", ("server_cpu_us_per_remote",), False),
]


def run_tree(python: str, tree: Path, settings: dict) -> dict:
    code = CHILD.format(**settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETCH_")}
    env["PYTHONPATH"] = str(tree / "src")
    done = subprocess.run([python, "-c", code, str(tree / "bench")], env=env, cwd=tree,
                          capture_output=True, text=True, timeout=1800)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{tree}: no result\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def pick(result: dict, path: tuple) -> float | None:
    for key in path:
        if not isinstance(result, dict) or key not in result:
            return None
        result = result[key]
    return float(result)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, type=Path)
    parser.add_argument("--after", required=True, type=Path)
    parser.add_argument("--python-before")
    parser.add_argument("--python-after")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=str(BENCH_DIR / "results" / "overhead.json"))
    args = parser.parse_args(argv)
    settings = dict(quick=args.quick, calls=500 if args.quick else 2000,
                    warmup=50 if args.quick else 200, map_n=5000 if args.quick else 20_000,
                    map_reps=1 if args.quick else 3, cold_reps=3 if args.quick else 5)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    pythons = {name: getattr(args, f"python_{name}") or str(tree / ".venv" / "bin" / "python")
               for name, tree in trees.items()}
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    started = time.time()
    for i in range(args.rounds):
        order = ["before", "after"] if i % 2 == 0 else ["after", "before"]
        for name in order:
            print(f"[overhead] round {i + 1}/{args.rounds}: {name} ({trees[name]})",
                  file=sys.stderr, flush=True)
            runs[name].append(run_tree(pythons[name], trees[name], settings))

    rows = []
    for label, path, higher in METRICS:
        med = {}
        for name in runs:
            values = [v for r in runs[name] if (v := pick(r, path)) is not None]
            med[name] = statistics.median(values) if values else None
        ratio = med["after"] / med["before"] if med["before"] and med["after"] else None
        cost = None if ratio is None else ((1 / ratio - 1) if higher else (ratio - 1))
        rows.append({"metric": label, "before": med["before"], "after": med["after"],
                     "after_over_before": ratio, "cost": cost,
                     "each_before": [pick(r, path) for r in runs["before"]],
                     "each_after": [pick(r, path) for r in runs["after"]]})
    print(f"\n{'metric':<24}{'before':>12}{'after':>12}{'after/before':>14}{'cost':>9}")
    for row in rows:
        def f(v):
            return "-" if v is None else f"{v:,.3f}" if v < 100 else f"{v:,.0f}"
        cost = "-" if row["cost"] is None else f"{row['cost'] * 100:+.1f}%"
        print(f"{row['metric']:<24}{f(row['before']):>12}{f(row['after']):>12}"
              f"{f(row['after_over_before']):>14}{cost:>9}")
    print("(cost: how much worse after is than before; negative is better. Medians of "
          f"{args.rounds} alternating rounds; load average {os.getloadavg()[0]:.2f}.)")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({
        "benchmark": "overhead", "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "duration_s": round(time.time() - started, 1), "rounds": args.rounds,
        "settings": settings, "trees": {k: str(v) for k, v in trees.items()},
        "loadavg_after": os.getloadavg(), "rows": rows, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
