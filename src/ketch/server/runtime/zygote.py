"""Zygotes: one warmed interpreter per (image, Python, ketch) that forks containers.

A container started by exec pays a fresh interpreter and its imports (~60 ms); a fork of
a zygote that has them pays a few ms (`ketch._runtime.zygote` says what the forked
processes do). A zygote starts lazily, at the first container of its key, in the view
such a container has (the host system read-only, ketch at SITE, /proc, /dev), and is
shared by every function of that key on this server; a new Python or ketch is a new key,
so a new zygote; one with no containers for KETCH_ZYGOTE_IDLE_S goes away. Which
containers may fork is `eligible`'s to say. An image's zygote, and a memory snapshot's
(which imports the function's code and runs its snap=True hooks first), run the user's
code: they are unprivileged, in a user namespace of their own (`userns`), one per app,
and in a cgroup of their own (`_limits`), joined before their interpreter starts: what the
user's code starts there is bounded, and killed with the cgroup once the zygote is gone
(retired, crashed, the server stopped, or at the server's next start). Their containers'
keepers and inits move to the containers' own cgroups as they start.

A container forked from it gets everything the exec path gives (the same bubblewrap
arguments describe its root, interpreted by `_runtime.namespaces`): its own pid, mount
(its own overlay upper layer), ipc, uts and network namespaces, its cgroup (joined before
anything of the user's runs), the container's capabilities only, no_new_privs, its own
environment (its credential) and no descriptor but its stdio and network pipe.

A zygote that cannot start, or dies, costs nothing but speed: that container starts by
exec, and the log says so. Zygotes die with the server (parent-death signal, and their
control socket's end of file); forked containers die with it too (their status pipe).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import shutil
import socket
import time
from pathlib import Path

from ..._runtime import namespaces, supervisor, threadpools
from ..._runtime.zygote import CONTROL_FD_ENV, MAX_FDS, MAX_REQUEST, ROOT_FD_ENV, SNAPSHOT_ENV
from . import cgroups, userns
from .base import ContainerLaunch

log = logging.getLogger("ketch.runtime")

_START_TIMEOUT_S = 30.0
# The programs a zygote can run in a fork (its `_ENTRY_POINTS`), by the interpreter
# arguments the exec path would start them with.
_ENTRIES = {("-m", "ketch._runtime"): "container", ("-c", supervisor.BOOT): "supervisor"}
_SNAPSHOT_TIMEOUT_S = 300.0  # the user's imports and snap=True hooks run first
# An unprivileged zygote's bounds: processes and threads (its own, the native pools of what
# a snapshot loaded, its containers' keepers and inits until they move out), and a floor
# of memory for one that runs only an image's interpreter.
_PIDS_LIMIT = int(os.environ.get("KETCH_ZYGOTE_PIDS_LIMIT", "256"))
_MEMORY_FLOOR_MIB = int(os.environ.get("KETCH_ZYGOTE_MEMORY_MIB", "1024"))


def enabled() -> bool:
    return os.environ.get("KETCH_ZYGOTE", "1") != "0"


def eligible(launch: ContainerLaunch) -> str:
    """Why this container cannot be forked ("" when it can).

    The zygote without an image holds the privileges that making namespaces takes (root,
    all capabilities, the real root's descriptor), so nothing of a user's runs in it:
    only the host's own interpreter and packages, as the server's. An image's
    interpreter, its site-packages and their .pth files are the user's code, so an
    image's zygote runs unprivileged, in a user namespace of its own (`userns`). PYTHON*
    variables are read when an interpreter starts, which a fork skips."""
    if launch.gpus:
        return "GPU containers start by exec"
    if entry_of(launch) is None:
        return "only function and sandbox containers fork"
    if any(k.startswith("PYTHON") and k != "PYTHONUNBUFFERED" for k in launch.env):
        return "PYTHON* variables are read at interpreter start"
    return ""


def entry_of(launch: ContainerLaunch) -> str | None:
    """What a fork of a zygote runs for this container; None: nothing a zygote has."""
    return _ENTRIES.get(tuple(launch.entry))


def key_of(launch: ContainerLaunch, python: str) -> tuple:
    """What a zygote is shared by: the image's layers, its Python and this ketch; an
    image's zygote (which ran the image's code) only by one app's containers."""
    import ketch
    app = launch.env.get("KETCH_APP_ID", "") if launch.image_layers or launch.snapshot else ""
    # a memory snapshot's: one per function and code version (its spec names the bundle)
    snapshot = hashlib.sha256(launch.snapshot).hexdigest() if launch.snapshot else ""
    return (app, tuple(launch.image_layers), python, ketch.__version__, snapshot)


class Zygote:
    def __init__(self, key: tuple, proc: asyncio.subprocess.Process, control: socket.socket,
                 scratch: Path, args: list[str], ns: userns.UserNamespace | None = None,
                 layers: int = 0, cgroup: cgroups.Cgroup | None = None):
        self.key = key
        self.userns = ns        # an image's zygote: its user namespace
        self.cgroup = cgroup    # and its cgroup
        self.layers = layers
        # Its view, which containers bind parts of rather than mount them again.
        self.view_args = args
        self.view_root = f"{scratch}/.root"
        self.proc = proc
        self.control = control
        self.scratch = scratch
        self.containers = 0
        self.idle_since = time.monotonic()

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def fork(self, request: dict, fds: list[int]):
        """Asks for one container; raises OSError when the zygote is gone."""
        msg = json.dumps(request).encode()
        if len(fds) > MAX_FDS:
            raise OSError(f"the container needs {len(fds)} descriptors passed, more than a "
                          "zygote takes")
        if len(msg) > MAX_REQUEST:
            raise OSError(f"the container's description is {len(msg)} bytes, more than a "
                          "zygote takes")
        socket.send_fds(self.control, [msg], fds)
        self.containers += 1

    def release(self):
        self.containers -= 1
        self.idle_since = time.monotonic()

    def stop(self):
        self.control.close()  # its end of file: it exits
        if self.alive:
            self.proc.kill()
        if self.userns is not None:
            self.userns.close()
        if self.cgroup is not None:
            self.cgroup.kill_all()  # what the user's code left running

    def bounds_hit(self) -> str:
        """Which of its cgroup's bounds the code in it ran into, and what raises them."""
        if self.cgroup is None:
            return ""
        hit = []
        if self.cgroup.oom_kills():
            hit.append(f"it ran out of memory at {self.cgroup.limits.memory_limit_mib} MiB "
                       "(raise the function's memory= or KETCH_ZYGOTE_MEMORY_MIB)")
        if self.cgroup.pids_refused():
            hit.append(f"it was refused processes beyond {self.cgroup.limits.pids_max} "
                       "(KETCH_ZYGOTE_PIDS_LIMIT)")
        return "; ".join(hit)

    def remove_cgroup(self):
        """Once it is gone: its cgroup, and whatever still runs there."""
        if self.cgroup is not None:
            self.cgroup.remove()


class ZygotePool:
    def __init__(self, root: Path, make_box, cgroup_group: str, idle_s: float | None = None):
        """make_box(command, env, layers, scratch, code_dir) -> (bwrap.Sandbox of a
        zygote's view, its overlay's mount options); cgroup_group: the server's, where
        unprivileged zygotes get theirs."""
        self.root = root
        self.cgroup_group = cgroup_group
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True, exist_ok=True)
        self.make_box = make_box
        self.idle_s = idle_s if idle_s is not None else \
            float(os.environ.get("KETCH_ZYGOTE_IDLE_S", "60"))
        # A key whose zygote failed or crashed starts its containers by exec this long.
        self.retry_s = float(os.environ.get("KETCH_ZYGOTE_RETRY_S", "60"))
        self.zygotes: dict[tuple, Zygote] = {}
        self.starting: dict[tuple, asyncio.Future] = {}
        self.failed_at: dict[tuple, float] = {}
        self._seq = 0
        self._reaper: asyncio.Task | None = None

    async def get(self, key: tuple, launch: ContainerLaunch, python: str, env: dict
                  ) -> Zygote | None:
        """The key's zygote, started if need be; None when there is none to be had (the
        caller starts the container by exec)."""
        z = self.zygotes.get(key)
        if z is not None and z.alive:
            return z
        if time.monotonic() - self.failed_at.get(key, -1e9) < self.retry_s:
            log.info("the zygote for %s failed lately: this container starts by exec",
                     _describe(launch, python))
            return None
        if key not in self.starting:
            self.starting[key] = asyncio.ensure_future(self._start(key, launch, python, env))
        try:
            return await asyncio.shield(self.starting[key])
        except Exception as exc:  # noqa: BLE001 - any failure means: start by exec
            self.failed_at[key] = time.monotonic()
            log.warning("cannot start a zygote for %s: %s; its containers start by exec",
                        _describe(launch, python), exc)
            return None
        finally:
            self.starting.pop(key, None)

    async def _start(self, key: tuple, launch: ContainerLaunch, python: str, env: dict
                     ) -> Zygote:
        self._seq += 1
        scratch = self.root / f"z{self._seq}"
        scratch.mkdir()
        box, prep = self.make_box([python, "-m", "ketch._runtime.zygote"], env,
                                  list(launch.image_layers), scratch,
                                  launch.code_dir if launch.snapshot else "")
        argv = box.argv()
        args = argv[1:argv.index("--")]
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ns = cg = None
        zenv = box.environment()
        zenv[CONTROL_FD_ENV] = str(theirs.fileno())
        unprivileged = bool(launch.image_layers or launch.snapshot)  # it runs user code
        if launch.snapshot:
            # no GPU while the snap=True hooks run (Modal's rule; nor has its view one)
            zenv.update({SNAPSHOT_ENV: "1", "KETCH_CODE_DIR": "/root",
                         "CUDA_VISIBLE_DEVICES": ""})
            for name, value in threadpools.SNAPSHOT_ENV.items():  # no native pools to fork
                zenv.setdefault(name, value)
        try:
            if unprivileged:
                cg = await asyncio.to_thread(cgroups.Cgroup.create, f"zygote-{scratch.name}",
                                             _limits(launch), self.cgroup_group)
                ns = await asyncio.to_thread(userns.UserNamespace)
                keep = (theirs.fileno(), ns.fd)
                enter = functools.partial(userns.enter_view, _image_view(args),
                                          str(scratch), list(launch.image_layers), ns.fd,
                                          cg.procs_files)
            else:
                placeholder = os.open("/", os.O_PATH | os.O_DIRECTORY)
                zenv[ROOT_FD_ENV] = str(placeholder)
                keep = (theirs.fileno(), placeholder)
                enter = functools.partial(_enter_zygote_view, args, str(scratch), prep,
                                          placeholder)
            proc = await asyncio.create_subprocess_exec(
                *box.command, env=zenv, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True, pass_fds=keep, preexec_fn=enter)
        except BaseException:
            if ns is not None:
                ns.close()
            if cg is not None:
                cg.remove()
            raise
        finally:
            theirs.close()
            if not unprivileged:
                os.close(placeholder)
        z = Zygote(key, proc, ours, scratch, args, ns, len(launch.image_layers), cg)
        asyncio.ensure_future(self._watch(z, _describe(launch, python)))
        if launch.snapshot:
            ours.send(launch.snapshot)  # what it loads before it is ready
        ours.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            ready = await asyncio.wait_for(loop.sock_recv(ours, 16),
                                           _SNAPSHOT_TIMEOUT_S if launch.snapshot
                                           else _START_TIMEOUT_S)
        except BaseException:
            z.stop()
            raise
        ours.setblocking(True)
        if ready != b"ready":
            z.stop()
            raise OSError("it exited before it was ready (see the server's log)")
        self.zygotes[key] = z
        if self._reaper is None:
            self._reaper = asyncio.ensure_future(self._retire_idle())
        log.info("zygote %s (pid %d) is ready for %s", scratch.name, proc.pid,
                 _describe(launch, python))
        return z

    async def _watch(self, z: Zygote, what: str):
        while True:
            line = await z.proc.stdout.readline()
            if not line:
                break
            log.warning("zygote %s: %s", z.scratch.name, line.decode(errors="replace").rstrip())
        code = await z.proc.wait()
        z.stop()  # its descriptors (a crashed one's too)
        if self.zygotes.get(z.key) is z:  # not retired: it crashed
            del self.zygotes[z.key]
            self.failed_at[z.key] = time.monotonic()
            log.warning("the zygote for %s exited (code %s); its containers start by exec "
                        "for %g s, then a new zygote is tried", what, code, self.retry_s)
        hit = z.bounds_hit()
        if hit:
            log.warning("zygote %s (%s) was held to its bounds: %s", z.scratch.name, what, hit)
        await asyncio.to_thread(z.remove_cgroup)
        await asyncio.to_thread(shutil.rmtree, z.scratch, True)

    async def _retire_idle(self):
        while True:
            await asyncio.sleep(max(0.2, min(5.0, self.idle_s / 2)))
            now = time.monotonic()
            for key, z in list(self.zygotes.items()):
                if z.containers <= 0 and now - z.idle_since >= self.idle_s:
                    del self.zygotes[key]
                    log.info("zygote %s retired: no containers for %g s", z.scratch.name,
                             self.idle_s)
                    z.stop()

    def close(self):
        """At the server's stop: every zygote, and what their cgroups hold."""
        for z in self.zygotes.values():
            z.stop()
            z.remove_cgroup()
        self.zygotes.clear()
        if self._reaper is not None:
            self._reaper.cancel()


def _limits(launch: ContainerLaunch) -> cgroups.Limits:
    """An unprivileged zygote's cgroup: the CPU weight and memory request of the container
    it started for; its memory limit (the function's, or its request where it has none) no
    lower than KETCH_ZYGOTE_MEMORY_MIB; at most KETCH_ZYGOTE_PIDS_LIMIT processes."""
    memory = max(launch.memory_limit_mib or launch.memory_mib, _MEMORY_FLOOR_MIB)
    return cgroups.Limits(memory_limit_mib=memory, memory_request_mib=launch.memory_mib,
                          cpu_request=launch.cpu, pids_max=_PIDS_LIMIT)


def _image_view(args: list[str]) -> list[str]:
    """An image zygote's view from its bubblewrap arguments: /proc without the read-only
    covers a container puts on its own (a container may mount a /proc of its own only
    where one is fully visible)."""
    out = []
    for op in namespaces.split_ops(args):
        if op[0] == "--ro-bind" and op[-1].startswith("/proc/"):
            continue
        out += op
    return out


def _describe(launch: ContainerLaunch, python: str) -> str:
    image = f"image {Path(launch.image_layers[-1]).parent.name[:12]}" if launch.image_layers \
        else "the host system"
    what = " with a memory snapshot" if launch.snapshot else ""
    return f"{image}{what} ({python})"


def _enter_zygote_view(args: list[str], scratch: str, overlay: str, root_fd: int):
    """preexec_fn of a zygote: a private mount namespace, the image's layers stacked, a
    descriptor of that namespace's real root at root_fd, and a chroot into the container
    view the bubblewrap arguments describe (no pivot: the keepers return to the real root
    through root_fd; nothing of a user's runs in the zygote)."""
    try:
        namespaces.unshare(namespaces.CLONE_NEWNS)
        namespaces.mount(None, "/", None, namespaces.MS_REC | namespaces.MS_PRIVATE)
        if overlay:
            for sub in ("upper", "work", "root"):
                os.makedirs(f"{scratch}/{sub}", exist_ok=True)
            namespaces.mount("overlay", f"{scratch}/root", "overlay", 0, overlay)
        else:
            for sub in ("tmp", "home"):
                os.makedirs(f"{scratch}/{sub}", exist_ok=True)
        fd = os.open("/", os.O_PATH | os.O_DIRECTORY)
        os.dup2(fd, root_fd)
        os.close(fd)
        namespaces.build_root(args, f"{scratch}/.root")
        os.chroot(f"{scratch}/.root")
        os.chdir("/")
    except BaseException as exc:  # noqa: BLE001
        os.write(2, f"ketch: the zygote could not be set up: {exc}\n".encode())
        os._exit(126)
