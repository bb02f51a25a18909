"""Functions for the zygote tests: what a forked container is, and one that runs a while."""

import os
import socket
import time

import ketch

app = ketch.App("forked")


@app.function()
def who() -> dict:
    return _who()


def _who() -> dict:
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
    return _write_each(paths)


def _write_each(paths: list[str]) -> dict:
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


# The same in an image: forked from an unprivileged zygote of that image.
in_image = ketch.App("forked-image", image=ketch.Image.debian_slim())


@in_image.function()
def who_in_image(paths: list[str]) -> dict:
    status = open("/proc/self/status").read()
    return {**_who(), "writes": _write_each(paths),
            "uid_map": open("/proc/self/uid_map").read().split(),
            "root_owner": os.stat("/root").st_uid, "root_files": os.listdir("/root"),
            "cap_eff": status.split("CapEff:")[1].split()[0],
            "debian": os.path.exists("/etc/debian_version")}


@in_image.function()
def linger_in_image(seconds: float) -> str:
    time.sleep(seconds)
    return "done"
