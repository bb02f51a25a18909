"""Functions for the zygote tests: what a forked container is, and one that runs a while."""

import os
import socket
import time

import ketch

app = ketch.App("forked")


@app.function()
def who() -> dict:
    fds = {}
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass
    status = open("/proc/self/status").read()
    return {"pid": os.getpid(), "hostname": socket.gethostname(), "fds": fds,
            "no_new_privs": status.split("NoNewPrivs:")[1].split()[0],
            "token": os.environ.get("KETCH_TOKEN", ""),
            "container_id": os.environ.get("KETCH_CONTAINER_ID", "")}


@app.function()
def linger(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


@app.function()
def write_each(paths: list[str]) -> dict:
    """Tries to write each path; says what became of it and what was there before."""
    out = {}
    for path in paths:
        existed = os.path.exists(path)
        try:
            with open(path, "w") as f:
                f.write("written")
            out[path] = ["written", existed]
        except OSError as exc:
            out[path] = [exc.strerror, existed]
    return out
