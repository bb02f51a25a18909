"""Sandboxes beside the same commands run through `subprocess` and bare `bwrap`, in one run.

    .venv/bin/python bench/sandbox.py [--reps 20] [--mb 200] [--alive 50] [--json PATH]
                                      [--runtime bwrap|process]

Measures (each a p50 over --reps unless said):
1. create → first exec output: `Sandbox.create(app=...)`, then `sb.exec("echo", "hi")` and
   its stdout read, until the output is here (its terminate is off the clock; the next
   create follows at once); beside `subprocess.run(["echo", "hi"])` and a
   bare `bwrap ... echo hi` (new namespaces, the host's root read-only); then the same with
   `image=ketch.Image.debian_slim()`, a cached image (its layers built before the timing);
2. exec round trip of `true` in a warm sandbox, `p.wait()` included; beside the same two;
3. stdout throughput of `head -c N /dev/zero`, read chunk by chunk on this side; beside a
   `subprocess.Popen` pipe and a bare `bwrap` pipe;
4. --alive sandboxes alive at once: the time to create them, one `true` in each, and their
   memory (the PSS of every process under the server, less the idle server's);
5. (bwrap) measurement 1 again, without and with the image, on a second server whose
   containers all start by exec (KETCH_ZYGOTE=0): what forking the supervisor from the
   zygote (the host's, or the image's unprivileged one) saves, in the same run.

The bwrap runtime is used when it can run here (root, bubblewrap); else the process runtime.
Writes bench/results/sandbox.json. The machine may be shared: ratios matter more than
absolute figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from core import latency_summary, log  # noqa: E402
from isolation import IMAGES_DIR, Server  # noqa: E402

TARGETS = {"create_to_output_p50_ms": 50.0, "exec_true_p50_ms": 5.0, "stdout_mb_s": 200.0}
BWRAP = ["bwrap", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--unshare-pid",
         "--unshare-ipc", "--unshare-uts", "--unshare-net", "--die-with-parent", "--"]


def timed(fn, reps: int, after=None) -> dict:
    """p50 etc. of fn(); `after(what fn returned)` runs off the clock (e.g. a terminate)."""
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        got = fn()
        samples.append(time.perf_counter() - t0)
        if after is not None:
            after(got)
    return latency_summary(samples)


def create_and_echo(app, image=None):
    """Measure 1: the sandbox, once its first exec's output is here (terminated after)."""
    import ketch

    sb = ketch.Sandbox.create(app=app, image=image)
    assert sb.exec("echo", "hi").stdout.read() == "hi\n"
    return sb


def terminate(sb):
    sb.terminate()


def pipe_mb_s(argv: list[str], size: int) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
    got = 0
    while chunk := proc.stdout.read1(4 * 1024 * 1024):
        got += len(chunk)
    proc.wait()
    assert got == size
    return size / (time.perf_counter() - t0) / 1e6


def pss_mib(pid: int) -> float:
    import psutil
    total = 0
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            total += proc.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total / 2**20


def measure(reps: int, mb: int, alive: int, runtime: str) -> dict:
    import ketch

    app = ketch.App.lookup("bench-sandbox", create_if_missing=True)
    size = mb * 1024 * 1024
    have_bwrap = shutil.which("bwrap") is not None and os.geteuid() == 0
    res: dict = {"runtime": runtime}

    terminate(create_and_echo(app))  # warm-up: the first sandbox pays for imports, caches
    log("create → first exec output")
    res["create_to_output"] = {
        "ketch": timed(lambda: create_and_echo(app), reps, terminate),
        "subprocess": timed(lambda: subprocess.run(["echo", "hi"], capture_output=True), reps)}
    if have_bwrap:
        res["create_to_output"]["bwrap"] = timed(
            lambda: subprocess.run(BWRAP + ["echo", "hi"], capture_output=True), reps)
    if runtime == "bwrap":
        image = ketch.Image.debian_slim()
        terminate(create_and_echo(app, image))   # builds (or finds) its layers
        log("create → first exec output, cached debian_slim image")
        res["create_to_output_image"] = {
            "ketch": timed(lambda: create_and_echo(app, image), reps, terminate)}

    sb = ketch.Sandbox.create(app=app, timeout=3600)
    for _ in range(5):
        sb.exec("true").wait()
    log("exec round trip of true")
    res["exec_true"] = {
        "ketch": timed(lambda: sb.exec("true").wait(), reps * 5),
        "subprocess": timed(lambda: subprocess.run(["true"]), reps * 5)}
    if have_bwrap:
        res["exec_true"]["bwrap"] = timed(lambda: subprocess.run(BWRAP + ["true"]), reps)

    log(f"stdout throughput, {mb} MiB")

    def ketch_mb_s() -> float:
        t0 = time.perf_counter()
        p = sb.exec("head", "-c", str(size), "/dev/zero", text=False)
        got = sum(len(chunk) for chunk in p.stdout)
        assert got == size and p.wait() == 0
        return size / (time.perf_counter() - t0) / 1e6

    argv = ["head", "-c", str(size), "/dev/zero"]
    res["stdout_mb_s"] = {"ketch": max(ketch_mb_s() for _ in range(2)),
                          "subprocess": max(pipe_mb_s(argv, size) for _ in range(2))}
    if have_bwrap:
        res["stdout_mb_s"]["bwrap"] = max(pipe_mb_s(BWRAP + argv, size) for _ in range(2))
    sb.terminate()
    return res


def measure_alive(server_pid: int, alive: int) -> dict:
    import ketch

    app = ketch.App.lookup("bench-sandbox", create_if_missing=True)
    time.sleep(1)
    idle = pss_mib(server_pid)
    t0 = time.perf_counter()
    boxes = [ketch.Sandbox.create(app=app, timeout=600, memory=64, cpu=0.01)
             for _ in range(alive)]
    created_s = time.perf_counter() - t0
    assert all(b.exec("true").wait() == 0 for b in boxes)
    ready_s = time.perf_counter() - t0
    time.sleep(1)
    total = pss_mib(server_pid)
    for b in boxes:
        b.terminate()
    return {"n": alive, "create_s": created_s, "all_answered_s": ready_s,
            "server_idle_pss_mib": idle, "pss_mib": total - idle,
            "pss_per_sandbox_mib": (total - idle) / alive}


def measure_exec_path(reps: int) -> dict:
    import ketch

    os.environ["KETCH_ZYGOTE"] = "0"
    server = Server("bwrap", IMAGES_DIR)
    try:
        server.start()
        app = ketch.App.lookup("bench-sandbox", create_if_missing=True)
        terminate(create_and_echo(app))
        res = {"ketch": timed(lambda: create_and_echo(app), reps, terminate)}
        image = ketch.Image.debian_slim()
        terminate(create_and_echo(app, image))
        res["image"] = timed(lambda: create_and_echo(app, image), reps, terminate)
        return res
    finally:
        server.stop()
        del os.environ["KETCH_ZYGOTE"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--alive", type=int, default=50)
    parser.add_argument("--runtime", choices=("bwrap", "process"), default=None)
    parser.add_argument("--json", default=str(BENCH_DIR / "results" / "sandbox.json"))
    args = parser.parse_args(argv)
    from ketch.server.runtime.bwrap import bwrap_usable
    runtime = args.runtime or ("bwrap" if bwrap_usable() else "process")
    server = Server(runtime, IMAGES_DIR)
    server.start()
    os.environ.update({"KETCH_SERVER_ADDR": server.address, "KETCH_DATA_DIR": server.data_dir,
                       "KETCH_NO_AUTOSTART": "1",
                       "KETCH_CONFIG_DIR": str(Path(server.data_dir) / "config")})
    try:
        res = measure(args.reps, args.mb, args.alive, runtime)
        log(f"{args.alive} sandboxes alive at once")
        res["alive"] = measure_alive(server.proc.pid, args.alive)
    finally:
        server.stop()
    if runtime == "bwrap":
        log("create → first exec output, every container started by exec")
        res["create_to_output_exec_path"] = measure_exec_path(args.reps)
    res["machine"] = {"cpus": os.cpu_count(), "load_avg": os.getloadavg(),
                      "platform": platform.platform()}
    report(res)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(res, indent=2))


def report(res: dict):
    print(f"sandboxes on the {res['runtime']} runtime; {res['machine']['cpus']} CPUs, "
          f"load {res['machine']['load_avg'][0]:.1f}")
    for key, label, target in (("create_to_output", "create → first exec output p50",
                                TARGETS["create_to_output_p50_ms"]),
                               ("exec_true", "exec `true` round trip p50",
                                TARGETS["exec_true_p50_ms"])):
        row = res[key]
        ours = row["ketch"]["p50_ms"]
        others = "  ".join(f"{k} {v['p50_ms']:.2f} ms (ketch ×{ours / v['p50_ms']:.1f})"
                           for k, v in row.items() if k != "ketch")
        print(f"  {label}: ketch {row['ketch']['p50_ms']:.2f} ms (target ≤ {target:g})  {others}")
    if "create_to_output_exec_path" in res:
        forked = res["create_to_output"]["ketch"]["p50_ms"]
        by_exec = res["create_to_output_exec_path"]["ketch"]["p50_ms"]
        print(f"  create → first exec output p50, every container by exec: {by_exec:.2f} ms "
              f"(forked ×{forked / by_exec:.2f})")
    if "create_to_output_image" in res:
        forked = res["create_to_output_image"]["ketch"]["p50_ms"]
        by_exec = res.get("create_to_output_exec_path", {}).get("image", {}).get("p50_ms")
        versus = f"; every container by exec {by_exec:.2f} ms (forked ×{forked / by_exec:.2f})" \
            if by_exec else ""
        print(f"  create → first exec output p50, cached image: ketch {forked:.2f} ms "
              f"(target ≤ {TARGETS['create_to_output_p50_ms']:g}){versus}")
    row = res["stdout_mb_s"]
    others = "  ".join(f"{k} {v:.0f} MB/s (ketch ×{row['ketch'] / v:.2f})"
                       for k, v in row.items() if k != "ketch")
    print(f"  stdout throughput: ketch {row['ketch']:.0f} MB/s (target ≥ "
          f"{TARGETS['stdout_mb_s']:g})  {others}")
    a = res["alive"]
    print(f"  {a['n']} alive at once: created in {a['create_s']:.1f} s, all answered in "
          f"{a['all_answered_s']:.1f} s, {a['pss_mib']:.0f} MiB PSS "
          f"({a['pss_per_sandbox_mib']:.1f} MiB each; idle server {a['server_idle_pss_mib']:.0f})")


if __name__ == "__main__":
    main()
