"""Where a call's time goes: profiles the client, the server and a container while warm
`.remote()` calls or `.map`s of trivial inputs run (how docs/benchmarks.md's call-path
profile was made).

    .venv/bin/python bench/callpath_profile.py remote|map [--seconds 8] [--tool py-spy|strace|cpu]
                                                       [--out DIR]

py-spy (`pip install py-spy`): `py-spy record --native` on the client and the server, Python
frames only in the container (libunwind fails inside bwrap's namespaces), raw stacks in
DIR/{client,server,container}.txt and the heaviest frames printed. strace: `strace -c -f`
on each, system calls per call printed. cpu: the CPU time each process spent per input.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from core import KetchServer, log  # noqa: E402


def cpu_seconds(proc) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def busiest_container(server, work):
    """The container that serves `work()`: of the ketch processes started since the
    server, the one whose CPU time grows most meanwhile (a forked container need not sit
    below the server, and the zygote it came from idles)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline", "create_time"]):
        try:
            if proc.info["create_time"] >= server.create_time() and proc.pid != server.pid \
                    and "ketch" in " ".join(proc.info["cmdline"] or ()):
                found.append([proc, cpu_seconds(proc)])
        except psutil.Error:
            continue
    work()
    for entry in found:
        try:
            entry[1] = cpu_seconds(entry[0]) - entry[1]
        except psutil.Error:
            entry[1] = -1.0
    return max(found, key=lambda f: f[1])[0]


def top_frames(path: Path, n: int = 15) -> list[str]:
    """The frames most often at the top of the stack (idle waits included)."""
    own, total = collections.Counter(), 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        own[stack.split(";")[-1]] += int(count)
        total += int(count)
    return [f"{100 * c / total:5.1f}%  {frame[:110]}" for frame, c in own.most_common(n)]


def main(argv=None) -> int:
    import psutil

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=("remote", "map"))
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--tool", choices=("py-spy", "strace", "cpu"), default="py-spy")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="ketch-profile-"))
    out.mkdir(parents=True, exist_ok=True)

    srv = KetchServer()
    os.environ.update(KETCH_DATA_DIR=srv.data_dir, KETCH_SERVER_ADDR=srv.address,
                      KETCH_NO_AUTOSTART="1")
    srv.start()
    import _ketch_app

    try:
        with _ketch_app.app.run():
            noop = _ketch_app.noop
            list(noop.map(range(2000)))
            server = psutil.Process(srv.proc.pid)
            container = busiest_container(server, lambda: [noop.remote(1) for _ in range(300)])
            procs = {"client": psutil.Process(), "server": server, "container": container}
            spies = []
            for name, proc in procs.items():
                if args.tool == "py-spy":
                    cmd = [str(Path(sys.executable).parent / "py-spy"), "record", "-r", "250",
                           "-d", str(int(args.seconds)), "-f", "raw",
                           "-o", str(out / f"{name}.txt"), "-p", str(proc.pid)]
                    if name != "container":
                        cmd.insert(2, "--native")
                elif args.tool == "strace":
                    cmd = ["strace", "-c", "-f", "-o", str(out / f"{name}.strace"),
                           "-p", str(proc.pid)]
                else:
                    continue
                spies.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                              stderr=open(out / f"{name}.err", "w")))
            time.sleep(1.0)  # let them attach
            before = {name: cpu_seconds(proc) for name, proc in procs.items()}
            n, t0 = 0, time.monotonic()
            while time.monotonic() - t0 < args.seconds:
                if args.mode == "remote":
                    noop.remote(1)
                    n += 1
                else:
                    list(noop.map(range(20_000)))
                    n += 20_000
            wall = time.monotonic() - t0
            used = {name: cpu_seconds(proc) - before[name] for name, proc in procs.items()}
            for spy in spies:
                if args.tool == "strace":
                    spy.send_signal(2)
                spy.wait(60)
    finally:
        srv.stop()
    log(f"{args.mode}: {n} inputs in {wall:.1f} s ({n / wall:,.0f}/s); CPU per input: "
        + ", ".join(f"{name} {1e6 * s / n:.0f} µs" for name, s in used.items()))
    for name in procs:
        if args.tool == "py-spy" and (out / f"{name}.txt").exists():
            print(f"\n{name}: frames on top of the stack\n" + "\n".join(top_frames(out / f"{name}.txt")))
        elif args.tool == "strace" and (out / f"{name}.strace").exists():
            print(f"\n{name}: system calls per input")
            for line in (out / f"{name}.strace").read_text().splitlines():
                parts = line.split()
                if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                    print(f"  {parts[-1]:<16}{int(parts[3]) / n:8.2f}")
    print(f"\nraw output in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
