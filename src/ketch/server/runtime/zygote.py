"""Zygotes: one warmed interpreter per (image, Python, ketch) that forks containers.

A container started by exec pays a fresh interpreter and its imports (~60 ms); a fork of
a zygote that has them pays a few ms (`ketch._runtime.zygote` says what the forked
processes do). A zygote starts lazily, at the first container of its key, in the view
such a container has (the host system read-only, ketch at SITE, /proc, /dev), and is
shared by every function of that key on this server; a new Python or ketch is a new key,
so a new zygote; one with no containers for KETCH_ZYGOTE_IDLE_S goes away. Which
containers may fork (not those with an image: their interpreter is the user's) is
`eligible`'s to say.

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
import json
import logging
import os
import shutil
import socket
import time
from pathlib import Path

from ..._runtime import namespaces, supervisor
from ..._runtime.zygote import CONTROL_FD_ENV, MAX_REQUEST, ROOT_FD_ENV
from .base import ContainerLaunch

log = logging.getLogger("ketch.runtime")

_START_TIMEOUT_S = 30.0
# The programs a zygote can run in a fork (its `_ENTRY_POINTS`), by the interpreter
# arguments the exec path would start them with.
_ENTRIES = {("-m", "ketch._runtime"): "container", ("-c", supervisor.BOOT): "supervisor"}


def enabled() -> bool:
    return os.environ.get("KETCH_ZYGOTE", "1") != "0"


def eligible(launch: ContainerLaunch) -> str:
    """Why this container cannot be forked ("" when it can).

    A zygote holds the privileges that making namespaces takes (root, all capabilities,
    the real root's descriptor), so nothing of a user's may run in it: only the host's
    own interpreter and packages, as the server's. An image's interpreter, its
    site-packages and their .pth files are the user's code, so image containers start by
    exec until zygotes run unprivileged in a user namespace of their own. PYTHON*
    variables are read when an interpreter starts, which a fork skips."""
    if launch.image_layers:
        return "image containers start by exec"
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
    """What a zygote is shared by: the image's layers, its Python and this ketch."""
    import ketch
    return (tuple(launch.image_layers), python, ketch.__version__)


class Zygote:
    def __init__(self, key: tuple, proc: asyncio.subprocess.Process, control: socket.socket,
                 scratch: Path, args: list[str]):
        self.key = key
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


class ZygotePool:
    def __init__(self, root: Path, make_box, idle_s: float | None = None):
        """make_box(command, env, layers, scratch) -> (bwrap.Sandbox of a zygote's view,
        its overlay's mount options)."""
        self.root = root
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
                                  list(launch.image_layers), scratch)
        argv = box.argv()
        args = argv[1:argv.index("--")]
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        placeholder = os.open("/", os.O_PATH | os.O_DIRECTORY)
        zenv = box.environment()
        zenv.update({CONTROL_FD_ENV: str(theirs.fileno()), ROOT_FD_ENV: str(placeholder)})
        try:
            proc = await asyncio.create_subprocess_exec(
                *box.command, env=zenv, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True, pass_fds=(theirs.fileno(), placeholder),
                preexec_fn=functools.partial(_enter_zygote_view, args, str(scratch), prep,
                                             placeholder))
        finally:
            theirs.close()
            os.close(placeholder)
        z = Zygote(key, proc, ours, scratch, args)
        asyncio.ensure_future(self._watch(z, _describe(launch, python)))
        ours.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            ready = await asyncio.wait_for(loop.sock_recv(ours, 16), _START_TIMEOUT_S)
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
        if self.zygotes.get(z.key) is z:  # not retired: it crashed
            del self.zygotes[z.key]
            self.failed_at[z.key] = time.monotonic()
            log.warning("the zygote for %s exited (code %s); its containers start by exec "
                        "for %g s, then a new zygote is tried", what, code, self.retry_s)
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
        for z in self.zygotes.values():
            z.stop()
        self.zygotes.clear()
        if self._reaper is not None:
            self._reaper.cancel()


def _describe(launch: ContainerLaunch, python: str) -> str:
    image = f"image {Path(launch.image_layers[-1]).name[:12]}" if launch.image_layers \
        else "the host system"
    return f"{image} ({python})"


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
