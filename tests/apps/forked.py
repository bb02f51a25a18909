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
