"""The server's store on SQLite beside PostgreSQL, in one run.

    .venv/bin/python bench/store.py [--url postgresql://…] [--n 500] [--json PATH]

Without --url it starts a PostgreSQL of its own (as the tests do: tests/store_fixtures.py,
on 127.0.0.1 over TCP). Measures, for each backend:

1. The store alone, in this process: one round trip (`SELECT 1`); what a spawned call
   writes (the call, its input, its output, its end: 4 statements); a Dict entry put then
   read; a Queue item put then taken.
2. Through a ketch server (process runtime) whose store it is, from a client: a Dict put
   then get, and a `.spawn(x).get()` of a trivial function of an ephemeral app.

Prints p50 and mean in microseconds with the ratio PostgreSQL ÷ SQLite, and writes JSON
to bench/results/store.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

CLIENT = """
import json, statistics, sys, time
import ketch
n = int(sys.argv[1])
d = ketch.Dict.from_name("bench-store", create_if_missing=True)
app = ketch.App("bench-store")

@app.function(serialized=True)
def echo(x):
    return x

def timed(fn):
    out = []
    for i in range(n):
        t = time.perf_counter(); fn(i); out.append((time.perf_counter() - t) * 1e6)
    return out

out = {"dict put+get": timed(lambda i: (d.put(i, b"v" * 100), d.get(i)))}
with app.run():
    echo.spawn(0).get()     # its container starts
    out["spawn+get"] = timed(lambda i: echo.spawn(i).get())
print(json.dumps(out))
"""


def timed(n: int, fn) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1e6)
    return out


def store_ops(db, n: int) -> dict:
    from ketch.server.objects_store import ObjectsStore
    from ketch.server.store import Store

    store, objects = Store(db), ObjectsStore(db)
    objects.add("di-b", "dict", "b", "main")
    objects.add("qu-b", "queue", "b", "main")
    run = secrets.token_hex(3)

    def spawn_writes(i):
        cid = f"fc-{run}-{i}"
        store.add_call(cid, "fu-b", "main")
        store.add_call_inputs(cid, [(0, b"x" * 100)])
        store.set_call_output(cid, 0, b"y" * 100)
        store.finish_call(cid)

    return {
        "round trip": timed(n, lambda i: db.execute("SELECT 1").fetchone()),
        "spawn's writes": timed(n, spawn_writes),
        "dict put+get": timed(n, lambda i: (objects.dict_put("di-b", [(b"%d" % i, b"v")],
                                                             False),
                                            objects.dict_get("di-b", b"%d" % i))),
        "queue put+take": timed(n, lambda i: (objects.queue_put("qu-b", "", [b"v"], None),
                                              objects.queue_take("qu-b", "", 1, 1 << 20))),
    }


def through_server(url: str | None, n: int) -> dict:
    from conftest import ServerProcess

    data = Path(tempfile.mkdtemp(prefix="ketch-bench-store-"))
    srv = ServerProcess(data, extra_env={"KETCH_STORE_URL": url} if url else {}).start()
    try:
        run = subprocess.run([sys.executable, "-c", CLIENT, str(n)], env=srv.env,
                             capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            raise RuntimeError(run.stderr + srv.log())
        return json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        srv.stop()


def summary(samples: list[float]) -> dict:
    return {"p50_us": statistics.median(samples), "mean_us": statistics.fmean(samples),
            "n": len(samples)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an empty PostgreSQL database (default: start one)")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--json", default=str(ROOT / "bench/results/store.json"))
    args = parser.parse_args()
    from ketch.server.db import open_database

    pg = None
    url = args.url
    if url is None:
        from store_fixtures import PostgresServer

        pg = PostgresServer().start()
        url = pg.create_database()
    results: dict = {"machine": f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
                     "sqlite": {}, "postgresql": {}}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for kind, store_url in (("sqlite", None), ("postgresql", url)):
                db = open_database(store_url, Path(tmp))
                raw = store_ops(db, args.n)
                db.close()
                raw.update({f"server: {k}": v for k, v in
                            through_server(store_url, max(50, args.n // 5)).items()})
                results[kind] = {k: summary(v) for k, v in raw.items()}
    finally:
        if pg is not None:
            pg.stop()
    print(f"{'operation':28} {'SQLite p50':>11} {'PG p50':>9} {'PG/SQLite':>10}   (µs)")
    for op, lite in results["sqlite"].items():
        pgs = results["postgresql"][op]
        print(f"{op:28} {lite['p50_us']:11.1f} {pgs['p50_us']:9.1f} "
              f"{pgs['p50_us'] / lite['p50_us']:9.2f}x")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.json} ({results['machine']})")


if __name__ == "__main__":
    main()
