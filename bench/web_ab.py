"""Web zero-to-first-response (or sandbox create → first exec output), forked path, of
two ketch source trees in one run: rounds alternate between them, so both see the same
load (this machine is shared).

    python bench/web_ab.py --base /work/main/src [--rounds 6 --reps 5]
                           [--measure web|sandbox|sandbox-image]

Each round starts, for each tree in turn, a fresh server (and client) from that tree
(PYTHONPATH), times `--reps` samples and stops it: `web`, first responses of the trivial
ASGI endpoint as bench/coldstart.py does (its first one, which starts the zygote, left
out); `sandbox` / `sandbox-image`, bench/sandbox.py's create → first exec output without
an image / on a cached debian_slim (after one untimed create). Prints p50/p99 of each
side and the ratio this tree / base. Give --base-python, a venv where the base is
installed editable: else the base's zygotes may import this tree's ketch (the venv's).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from core import latency_summary, log  # noqa: E402

ONE_SIDE = """
import json, sys
sys.path.insert(0, %r)
import coldstart
with coldstart.Server(True) as srv:
    print(json.dumps(coldstart.web_cold(%d, srv.gw_port)))
"""


SANDBOX_SIDE = """
import json, sys, time
sys.path.insert(0, %r)
import ketch, sandbox
from isolation import IMAGES_DIR, Server
server = Server("bwrap", IMAGES_DIR)
server.start()
try:
    app = ketch.App.lookup("bench-ab", create_if_missing=True)
    image = ketch.Image.debian_slim() if %r else None
    sandbox.terminate(sandbox.create_and_echo(app, image))
    samples = []
    for _ in range(%d):
        t0 = time.perf_counter()
        sb = sandbox.create_and_echo(app, image)
        samples.append(time.perf_counter() - t0)
        sandbox.terminate(sb)
    print(json.dumps(samples))
finally:
    server.stop()
"""


def one_round(src: str, python: str, reps: int, measure: str) -> list[float]:
    env = {**os.environ, "PYTHONPATH": src}
    code = ONE_SIDE % (str(BENCH_DIR), reps) if measure == "web" else \
        SANDBOX_SIDE % (str(BENCH_DIR), measure == "sandbox-image", reps)
    out = subprocess.run([python, "-c", code],
                         env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"the round with {src} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the other tree's src directory")
    parser.add_argument("--base-python", default=sys.executable,
                        help="the base's interpreter: one whose venv has the base installed "
                             "(editable), so that its zygotes import the base too")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--measure", choices=("web", "sandbox", "sandbox-image"),
                        default="web")
    parser.add_argument("--json", default=str(BENCH_DIR / "results" / "web_ab.json"))
    args = parser.parse_args()
    sides = {"this": str(BENCH_DIR.parent / "src"), "base": args.base}
    pythons = {"this": sys.executable, "base": args.base_python}
    samples: dict[str, list[float]] = {k: [] for k in sides}
    load = [os.getloadavg()]
    for r in range(args.rounds):
        for name, src in sides.items():
            log(f"round {r + 1}/{args.rounds}: {name} ({src})")
            samples[name] += one_round(src, pythons[name], args.reps, args.measure)
    load.append(os.getloadavg())
    summary = {k: latency_summary(v) for k, v in samples.items()}
    ratio = summary["this"]["p50_ms"] / summary["base"]["p50_ms"]
    print(f"{'side':8} {'p50 ms':>9} {'p99 ms':>9}")
    for k, s in summary.items():
        print(f"{k:8} {s['p50_ms']:9.1f} {s['p99_ms']:9.1f}")
    print(f"this / base at p50: {ratio:.3f}   load before/after {load[0][0]:.1f}/{load[1][0]:.1f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(
        {"measure": args.measure, "summary": summary, "ratio_p50": ratio, "sides": sides,
         "load": load,
         "cpus": os.cpu_count(), "samples_s": samples}, indent=1))


if __name__ == "__main__":
    main()
