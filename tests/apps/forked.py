"""Functions for the zygote tests: what a forked container is, and one that runs a while."""

import os
import shlex
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
# A build step that replaces a directory of the base: its layer marks it opaque, which an
# overlay in the zygote's user namespace must read too (or the base's files show through).
in_image = ketch.App("forked-image", image=ketch.Image.debian_slim().run_commands(
    "rm -rf /etc/apt/apt.conf.d && mkdir /etc/apt/apt.conf.d && touch /etc/apt/apt.conf.d/only"))


@in_image.function()
def who_in_image(paths: list[str]) -> dict:
    status = open("/proc/self/status").read()
    return {**_who(), "writes": _write_each(paths),
            "uid_map": open("/proc/self/uid_map").read().split(),
            "root_owner": os.stat("/root").st_uid, "root_files": os.listdir("/root"),
            "cap_eff": status.split("CapEff:")[1].split()[0],
            "debian": os.path.exists("/etc/debian_version"),
            "replaced": os.listdir("/etc/apt/apt.conf.d")}


@in_image.function()
def linger_in_image(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


# An image whose interpreter's startup (a .pth file) runs code in its zygote: it forks
# until the zygote's pids bound stops it, keeps three sleepers and itself (`sleep 3131`,
# `sleep 3132`), escaped from the zygote's process tree, and records how many it started
# (the forked containers find that in the module the zygote imported).
PROBE = '''
import os
import shlex
started = None
if os.environ.get("KETCH_ZYGOTE_CONTROL_FD"):  # only in a zygote
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() == 0:
            kids = []
            while len(kids) < 10000:
                try:
                    pid = os.fork()
                except OSError:
                    break
                if pid == 0:
                    os.execv("/bin/sleep", ["sleep", "3131"])
                kids.append(pid)
            for pid in kids[3:]:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            os.write(w, str(len(kids)).encode())
            os.execv("/bin/sleep", ["sleep", "3132"])
        os._exit(0)
    os.close(w)
    os.waitpid(child, 0)
    started = int(os.read(r, 16))
    os.close(r)
'''
_INSTALL = ("import os, site; d = site.getsitepackages()[0]; os.makedirs(d, exist_ok=True); "
            f"open(d + '/ketch_zygote_probe.py', 'w').write({PROBE!r}); "
            "open(d + '/ketch-zygote-probe.pth', 'w').write('import ketch_zygote_probe\\n')")
bombed = ketch.App("forked-bombed", image=ketch.Image.debian_slim().run_commands(
    "python3 -c " + shlex.quote(_INSTALL)))


@bombed.function()
def probe_started() -> dict:
    import ketch_zygote_probe
    return {"started": ketch_zygote_probe.started, "cgroup": open("/proc/self/cgroup").read(),
            "container_id": os.environ.get("KETCH_CONTAINER_ID", "")}
