"""A node's first pull of a layer, three ways in one run: unpacked by GNU tar while it
downloads (what a node does), unpacked by Python's tarfile while it downloads (where a
node has no GNU tar), and the old way, downloaded and hashed whole, then unpacked by
tarfile.

    sudo python bench/layer_pull.py [--images DIR] [--key KEY] [--rounds 2] [--json PATH]

A real server (tests/node_fixtures.py) serves the layer from the image cache `--images`
(default: $KETCH_TEST_IMAGES_DIR, else /var/cache/ketch-test/images); `--key` defaults to
the largest layer it has already packed (the Debian base once a cluster test has run).
Each pull goes into a fresh node cache over the node's own credential, as an agent pulls.
Prints the wall time and CPU of each, and ratios to the old way; writes
bench/results/layer_pull.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))

from node_fixtures import NodeServer  # noqa: E402

from ketch.node import unpack  # noqa: E402
from ketch.node.fetch import ServerLink  # noqa: E402
from ketch.node.layer_cache import MAX_LAYER_BYTES, LayerCache  # noqa: E402


async def pull(srv: NodeServer, key: str, root: Path, how: str) -> None:
    link = ServerLink(srv.address, srv.node_token("n1"), "n1")
    try:
        if how == "after":   # the whole archive to a file, hashed, then unpacked
            archive, into = root / "archive", root / "fs"
            into.mkdir(parents=True)
            with open(archive, "wb") as out:
                await link.fetch("layer", key, out, MAX_LAYER_BYTES)
            await asyncio.to_thread(unpack.unpack_layer, archive, into, False)
        else:
            await LayerCache(root, link).ensure_layers([key])
    finally:
        await link.close()


def cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default=os.environ.get(
        "KETCH_TEST_IMAGES_DIR", "/var/cache/ketch-test/images"))
    parser.add_argument("--key", default="")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", default=str(BENCH_DIR / "results" / "layer_pull.json"))
    args = parser.parse_args()
    images = Path(args.images)
    packed = sorted((images / "archives").glob("*.tar"), key=lambda p: p.stat().st_size)
    key = args.key or (packed[-1].stem if packed else "")
    if not key:
        parser.error(f"no packed layer in {images}/archives: give --key")
    if unpack.gnu_tar() is None:
        parser.error("no GNU tar here: nothing to compare the tarfile ways with")
    size = (images / "archives" / f"{key}.tar").stat().st_size if packed else 0
    tmp = Path(tempfile.mkdtemp(prefix="ketch-layerpull-"))
    srv = NodeServer(tmp / "server", ["n1"], extra_env={"KETCH_IMAGES_DIR": str(images)})
    srv.start()
    runs: dict[str, list] = {"stream_tar": [], "stream_tarfile": [], "after": []}
    find_tar = unpack.gnu_tar
    try:
        for i in range(args.rounds):
            for how in (runs if i % 2 == 0 else reversed(list(runs))):
                root = tmp / f"{how}-{i}"
                unpack.gnu_tar = find_tar if how == "stream_tar" else (lambda: None)
                children = os.times()
                mine, server, t0 = time.process_time(), cpu(srv.proc.pid), time.monotonic()
                asyncio.run(pull(srv, key, root, "after" if how == "after" else "cache"))
                wall = time.monotonic() - t0
                after = os.times()
                runs[how].append({
                    "wall_s": wall, "node_cpu_s": time.process_time() - mine,
                    "tar_cpu_s": (after.children_user + after.children_system
                                  - children.children_user - children.children_system),
                    "server_cpu_s": cpu(srv.proc.pid) - server})
                print(f"{how:15} {runs[how][-1]}", flush=True)
                shutil.rmtree(root)
    finally:
        unpack.gnu_tar = find_tar
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    medians = {how: statistics.median(r["wall_s"] for r in rs) for how, rs in runs.items()}
    out = {"key": key, "archive_bytes": size, "runs": runs, "median_wall_s": medians,
           "over_after": {how: medians[how] / medians["after"] for how in medians},
           "load": os.getloadavg(), "cpus": os.cpu_count(), "at": time.time()}
    for how, m in medians.items():
        print(f"{how:15} median {m:6.2f} s  ({out['over_after'][how]:.2f} × the old way)")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
