"""Functions for the bwrap runtime tests: what a container sees, and its limits."""

import os
import socket
import subprocess
import time

import ketch

# The isolation tests' image start path (isolation_helpers.START_PATHS)
app = ketch.App("isolated", image=ketch.Image.debian_slim()
                if os.environ.get("KETCH_TEST_APP_IMAGE") else None)


def _view() -> dict:
    pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    return {"pid": os.getpid(), "pids": pids, "hostname": socket.gethostname(),
            "container_id": os.environ.get("KETCH_CONTAINER_ID", ""),
            "root": sorted(os.listdir("/"))}


@app.function()
def view(paths: list[str]) -> dict:
    out = _view()
    out["exists"] = {p: os.path.exists(p) for p in paths}
    status = open("/proc/self/status").read()
    out["cap_eff"] = int(status.split("CapEff:")[1].split()[0], 16)
    try:
        out["shadow"] = open("/etc/shadow").read()
    except OSError as exc:
        out["shadow"] = f"unreadable: {exc.strerror}"
    return out


@app.function()
def write_then_read(path: str) -> bool:
    """Writes a file (anywhere writable) and says whether it was there before."""
    existed = os.path.exists(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("written by a container")
    return existed


@app.function(memory=(32, 96), retries=0)
def hog(mib: int) -> int:
    blocks = []
    for _ in range(mib):
        blocks.append(bytearray(1024 * 1024))  # touched: bytearray zero-fills
    return len(blocks)


@app.function()
def fork_until_refused(n: int) -> dict:
    children = []
    error = ""
    try:
        for _ in range(n):
            children.append(subprocess.Popen(["sleep", "30"]))
    except OSError as exc:
        error = exc.strerror or str(exc)
    for child in children:
        child.kill()
        child.wait()
    return {"started": len(children), "error": error}


@app.function(cpu=(0.25, 0.5), memory=(64, 256), scaledown_window=30)
def limited() -> str:
    return os.environ["KETCH_CONTAINER_ID"]


@app.function(ephemeral_disk=16)
def fill_scratch(mib: int) -> str:
    try:
        with open("/tmp/fill", "wb") as f:
            for _ in range(mib):
                f.write(b"\0" * (1024 * 1024))
                f.flush()
                os.fsync(f.fileno())
    except OSError as exc:
        return exc.strerror or str(exc)
    return "wrote all"


@app.function()
def wait_for_file(path: str, timeout: float) -> bool:
    """Lives until a file appears (or not): keeps a container running for a test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.02)
    return False


@app.function()
def kernel_settings_writable() -> dict:
    """Which of the kernel's knobs a (root) container could write."""
    result = {}
    for path in ("/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger"):
        try:
            with open(path, "r+b", buffering=0):
                result[path] = True
        except OSError:
            result[path] = False
    return result
