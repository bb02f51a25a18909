"""Two kernel-side costs of a container's start, as the server pays them, in one run:

    sudo .venv/bin/python bench/start_costs.py [--mib 150] [--reps 10]

1. a cgroup v1 move after a quiet while (three controllers, as a container's start does),
   as the machine is now, then while a named hierarchy with `favordynmods` is mounted (what
   the bwrap server does, `cgroups.favor_moves`). On Linux 6.18 the mode stays until
   reboot once set, so on a machine where a ketch server ran, both show the fast case;
2. starting a process (`true`) from one that holds --mib MiB, as the server does for each
   container's slirp4netns: uvloop's and asyncio's subprocess_exec, subprocess.Popen
   (vfork), os.posix_spawn.
Prints p50s; writes bench/results/start_costs.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "src"))

from ketch.server.runtime import cgroups  # noqa: E402

GROUP = "ketch-bench-moves"


def quiet_moves(reps: int) -> float:
    """p50 ms of moving a process between two cgroups after 0.3 s of quiet."""
    dirs = {c: cgroups.ROOT / c / GROUP for c in ("memory", "cpu", "pids")}
    for d in dirs.values():
        for sub in ("a", "b"):
            (d / sub).mkdir(parents=True, exist_ok=True)
    child = os.fork()
    if child == 0:
        signal.pause()
        os._exit(0)
    try:
        times = []
        for i in range(reps):
            time.sleep(0.3)
            t0 = time.perf_counter()
            for d in dirs.values():
                (d / "ab"[i % 2] / "cgroup.procs").write_text(str(child))
            times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        time.sleep(0.05)
        for d in dirs.values():
            for path in (d / "a", d / "b", d):
                path.rmdir()


def spawn_costs(mib: int, reps: int) -> dict:
    held = [bytearray(1 << 20) for _ in range(mib)]
    for block in held:  # touched: its pages are this process's to copy on a fork
        block[::4096] = b"x" * len(block[::4096])

    async def loop_spawn() -> float:
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            proc = await asyncio.create_subprocess_exec("true")
            times.append(time.perf_counter() - t0)
            await proc.wait()
        return statistics.median(times) * 1e3

    def timed(start) -> float:
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            wait = start()
            times.append(time.perf_counter() - t0)
            wait()
        return statistics.median(times) * 1e3

    res = {"asyncio subprocess_exec": asyncio.run(loop_spawn())}
    try:
        import uvloop
        res["uvloop subprocess_exec"] = uvloop.run(loop_spawn())
    except ImportError:
        pass
    res["subprocess.Popen"] = timed(lambda: subprocess.Popen(
        ["true"], stdin=subprocess.DEVNULL, pass_fds=()).wait)

    def posix_spawn():
        pid = os.posix_spawnp("true", ["true"], os.environ)
        return lambda: os.waitpid(pid, 0)

    res["os.posix_spawnp"] = timed(posix_spawn)
    del held
    return res


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=150)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--json", default=str(BENCH_DIR / "results" / "start_costs.json"))
    args = parser.parse_args()
    res: dict = {"load": os.getloadavg()}
    if cgroups.version() == 1 and os.geteuid() == 0:
        res["quiet_move_ms"] = {"now": quiet_moves(args.reps)}
        held = cgroups.favor_moves()
        res["quiet_move_ms"]["favordynmods held"] = quiet_moves(args.reps)
        if held is not None:
            os.close(held)
    res["spawn_ms"] = spawn_costs(args.mib, args.reps)
    for what, rows in res.items():
        if isinstance(rows, dict):
            for k, v in rows.items():
                print(f"{what:15} {k:26} {v:7.2f}")
    print(f"load {res['load'][0]:.1f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
