"""The `bwrap` backend: isolated containers from bubblewrap, overlayfs and cgroups.

Each container gets its own pid, ipc, uts and mount namespaces. Its root file system is
either its image's layers stacked with overlayfs under a writable layer that is thrown
away when it exits, or (for functions without an image) this machine's system and Python
directories bound read-only over an empty root. Only declared mounts of the host are
visible. cgroups bound its memory, CPU and processes; a container the kernel killed for
memory is reported as such, with its limit.

bubblewrap 0.8 (Debian 12) cannot mount overlays itself, so the child first enters a
private mount namespace of its own, mounts the overlay there and hands the merged tree to
bubblewrap as the root; when the container's last process exits, the namespace and its
mounts vanish with it.

A function's container has a network namespace of its own: loopback, and (unless
block_network) an outbound network from slirp4netns (`usernet`), never the host's
loopback. It reaches the server on a Unix socket bound in at SERVER_SOCKET, and its web
endpoints listen in WEB_DIR, its own directory of the host's <data>/run, where only the
gateway reaches them. Image build steps share the host's network (pip needs it).

A container is forked from a warm zygote where it can be (`zygote`, `forked`), else exec'd.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import importlib
import logging
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import cgroups, nvidia, seed, usernet, zygote
from .base import (WEB_DIR_ENV, ContainerExit, ContainerLaunch, Mount, OnExit, OnLine,
                   RunDir, RuntimeUnavailable)
from ..._runtime.web import FALLBACK_SITE
from .forked import spawn_forked
from .process import _LINE_LIMIT, _pump, _signal_group

log = logging.getLogger("ketch.runtime")

# Where ketch's in-container runtime and its two dependencies appear in every container.
SITE = "/opt/ketch/site"
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Where a function's container finds the server's socket and makes its web sockets.
SERVER_SOCKET = "/run/ketch/server.sock"
WEB_DIR = "/run/ketch/web"
# Host directories a container without an image sees, read-only.
_HOST_SYSTEM = ("/usr", "/etc")
_MERGED_USR_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# ...less the host's secrets.
_HOST_SECRETS = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-")
_HOST_SECRET_DIRS = ("/etc/ssh", "/etc/ssl/private")
# Root inside a container keeps a Docker container's default capabilities, less two:
# enough to install packages and switch users, not to mount, load modules or trace; and
# neither CAP_MKNOD (no device cgroup here stops a made node, a disk's say, from being
# opened) nor CAP_NET_RAW (image build steps share the host's network: no sniffing it).
_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
         "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
         "CAP_SYS_CHROOT", "CAP_AUDIT_WRITE", "CAP_SETFCAP")
_OVERLAY_OPTS_MAX = 4000  # the kernel takes one page of mount options

_CLONE_NEWNS = 0x00020000
_MS_REC = 0x4000
_MS_PRIVATE = 0x40000
_libc = ctypes.CDLL(None, use_errno=True)

_PROC_READ_ONLY = ["/proc/sys", "/proc/sysrq-trigger", "/proc/fs", "/proc/irq", "/proc/bus"]
_PROC_HIDDEN = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"]


def bwrap_usable() -> bool:
    return not unusable_because()


@functools.lru_cache(maxsize=1)
def unusable_because() -> str:
    """Why the bwrap backend cannot run here ("" when it can): it needs bubblewrap, root,
    namespaces and a cgroup hierarchy it can write to."""
    exe = shutil.which("bwrap")
    if not exe:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    if os.geteuid() != 0:
        return "the server is not running as root"
    try:
        probe = subprocess.run([exe, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-ipc",
                                "--unshare-uts", "--unshare-net", "--proc", "/proc", "--dev",
                                "/dev", "true"],
                               capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap failed to run: {exc}"
    if probe.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {probe.stderr.decode().strip()}"
    try:
        cgroups.Cgroup.create(f"probe-{os.getpid()}", cgroups.Limits(pids_max=16)).remove()
    except OSError as exc:
        return f"cgroups are not usable: {exc}"
    return usernet.unavailable()


@functools.lru_cache(maxsize=1)
def runtime_binds() -> tuple[tuple[str, str], ...]:
    """(host path, container path) of ketch and what its container runtime imports. The
    web server's packages go to FALLBACK_SITE, which the runtime searches after the image's
    own packages (SITE is on PYTHONPATH, ahead of them: only what no image provides goes
    there)."""
    import cloudpickle
    import google.protobuf

    import ketch

    protobuf = os.path.dirname(google.protobuf.__file__)
    binds = [(os.path.dirname(ketch.__file__), f"{SITE}/ketch"),
             (os.path.dirname(cloudpickle.__file__), f"{SITE}/cloudpickle"),
             (protobuf, f"{SITE}/google/protobuf")]
    upb = os.path.join(os.path.dirname(protobuf), "_upb")  # protobuf's C implementation
    if os.path.isdir(upb):
        binds.append((upb, f"{SITE}/google/_upb"))
    web = ["uvicorn", "h11", "click", "websockets", "a2wsgi"]
    if sys.version_info < (3, 11):
        web.append("typing_extensions")  # uvicorn needs it there
    for name in web:
        path = importlib.import_module(name).__file__
        if os.path.basename(path) == "__init__.py":  # a package; else a module's one file
            path = os.path.dirname(path)
        binds.append((path, f"{FALLBACK_SITE}/{os.path.basename(path)}"))
    return tuple(binds)


@dataclass
class Sandbox:
    """One bubblewrap invocation: its root, binds, environment and command."""

    command: list[str]
    env: dict[str, str]
    scratch: Path                     # this sandbox's own files: its writable layer and
                                      # mount point (image) or its /tmp and /root (none)
    layers: list[str] = field(default_factory=list)   # lowest first; none: host system
    scratch_limit_mib: int = 0        # > 0: the writable layer lives in a tmpfs this big
    workdir: str = "/"
    hostname: str = "ketch"
    binds: list[Mount] = field(default_factory=list)
    gpus: list[int] = field(default_factory=list)
    cgroup: cgroups.Cgroup | None = None
    network: str = "host"             # "host" (image builds), "outbound" or "loopback"
    netstack: usernet.UserNet | None = None  # network="outbound": made by spawn
    seeded: list[str] = field(default_factory=list)  # host system: `seed.lay`'s entries

    def argv(self) -> list[str]:
        args = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc",
                "--unshare-uts", "--hostname", self.hostname, "--cap-drop", "ALL"]
        for cap in _CAPS:
            args += ["--cap-add", cap]
        if self.layers:
            args += ["--bind", str(self.scratch / "root"), "/"]
            # The host's name resolution, where the image has files to take its place
            # (a mount point made here would end up in a build step's layer).
            for name in ("resolv.conf", "hosts"):
                if os.path.exists(f"/etc/{name}") and \
                        any(os.path.lexists(f"{layer}/etc/{name}") for layer in self.layers):
                    args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        else:
            for path in _HOST_SYSTEM:
                if os.path.isdir(path):
                    args += ["--ro-bind", path, path]
            for path in _HOST_SECRETS:
                if os.path.exists(path):
                    args += ["--ro-bind", "/dev/null", path]
            for path in _HOST_SECRET_DIRS:
                if os.path.isdir(path):
                    args += ["--tmpfs", path]
            for name in _MERGED_USR_LINKS:
                host = f"/{name}"
                if os.path.islink(host):
                    args += ["--symlink", os.readlink(host), host]
                elif os.path.isdir(host):
                    args += ["--ro-bind", host, host]
            # Scratch space on the host's disk (or a bounded tmpfs), thrown away after.
            args += ["--bind", str(self.scratch / "tmp"), "/tmp",
                     "--bind", str(self.scratch / "home"), "/root"]
            args += seed.binds(self.scratch, self.seeded)
            for prefix in sorted({sys.prefix, sys.base_prefix, sys.exec_prefix}):
                if not prefix.startswith("/usr/"):
                    args += ["--ro-bind", prefix, prefix]
        args += ["--proc", "/proc", "--dev", "/dev"]
        # bubblewrap leaves /proc/sys and friends writable for a root container: a write to
        # kernel.core_pattern would run code on the host. Make them read-only, hide the rest.
        for path in _PROC_READ_ONLY:
            if os.path.exists(path):
                args += ["--ro-bind", path, path]
        for path in _PROC_HIDDEN:
            if os.path.exists(path):
                args += ["--ro-bind", "/dev/null", path]
        for host, inside in runtime_binds():
            args += ["--ro-bind", host, inside]
        for m in self.binds:
            args += ["--ro-bind" if m.read_only else "--bind", m.source, m.target]
        if self.gpus:
            args += nvidia.bwrap_args(self.gpus)
        args += ["--chdir", self.workdir or "/", "--"]
        return args + self.command

    def environment(self) -> dict[str, str]:
        env = dict(self.env)
        env["PYTHONPATH"] = ":".join(p for p in (env.get("PYTHONPATH"), SITE) if p)
        if self.gpus:
            env = nvidia.container_env(self.gpus, env)
        if self.netstack:
            env.update(self.netstack.env())
        return env

    def preexec(self):
        """Runs in the child before bubblewrap: joins the cgroup, mounts the root and
        makes the network namespace."""
        return functools.partial(
            _enter_child, self.cgroup.procs_files if self.cgroup else [], str(self.scratch),
            self.scratch_limit_mib,
            _overlay_options(self.layers, self.scratch) if self.layers else "",
            self.network != "host")


def _overlay_options(layers: list[str], scratch: Path) -> str:
    # overlayfs lists the topmost lower layer first.
    lower = ":".join(reversed(layers))
    opts = f"lowerdir={lower},upperdir={scratch}/upper,workdir={scratch}/work"
    if len(opts) > _OVERLAY_OPTS_MAX:
        raise ValueError(f"this image has {len(layers)} layers, more than overlayfs can "
                         "stack in one mount; merge some steps (one pip_install with several "
                         "packages instead of several)")
    return opts


def _enter_child(procs_files: list[str], scratch: str, scratch_mib: int, overlay: str,
                 own_network: bool):
    """preexec_fn: joins the cgroup, then (in a mount namespace of its own, which ends
    with the container) bounds the scratch space and stacks the image's layers; and makes
    the network namespace. A failure is written where the container's output goes."""
    try:
        if own_network:
            usernet.enter_own_network()
        pid = str(os.getpid())
        for procs in procs_files:
            with open(procs, "w") as f:
                f.write(pid)
        if scratch_mib or overlay:
            _check(_libc.unshare(_CLONE_NEWNS), "unshare the mount namespace")
            _check(_libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None),
                   "make mounts private")
        if scratch_mib:
            _check(_libc.mount(b"tmpfs", scratch.encode(), b"tmpfs", 0,
                               f"size={scratch_mib}m,mode=0755".encode()),
                   "mount the scratch tmpfs")
        if not overlay:
            for sub in ("tmp", "home"):
                os.makedirs(f"{scratch}/{sub}", mode=0o1777 if sub == "tmp" else 0o700,
                            exist_ok=True)
            os.chmod(f"{scratch}/tmp", 0o1777)
            return
        for sub in ("upper", "work", "root"):
            os.makedirs(f"{scratch}/{sub}", exist_ok=True)
        _check(_libc.mount(b"overlay", f"{scratch}/root".encode(), b"overlay", 0,
                           overlay.encode()), "mount the image's layers with overlayfs")
    except OSError as exc:
        os.write(2, f"ketch: the container could not be set up: {exc}\n".encode())
        os._exit(126)


def _check(rc: int, what: str):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"cannot {what}: {os.strerror(err)}")


async def spawn(box: Sandbox, on_line: OnLine) -> tuple[asyncio.subprocess.Process, list]:
    """Starts the sandbox; returns the process and the tasks pumping its output."""
    box.scratch.mkdir(parents=True, exist_ok=True)
    if box.network == "outbound":
        box.netstack = usernet.UserNet()
    try:
        proc = await asyncio.create_subprocess_exec(
            *box.argv(), env=box.environment(), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True, limit=_LINE_LIMIT, preexec_fn=box.preexec(),
            pass_fds=box.netstack.pass_fds() if box.netstack else ())
    except BaseException:
        if box.netstack:
            box.netstack.abandon()
        raise
    if box.netstack:
        box.netstack.started(proc.pid)
    readers = [asyncio.ensure_future(_pump(proc.stdout, "stdout", on_line)),
               asyncio.ensure_future(_pump(proc.stderr, "stderr", on_line))]
    return proc, readers


class BwrapContainer:
    def __init__(self, proc, box: Sandbox, zygote: zygote.Zygote | None = None):
        self.proc = proc       # asyncio's Process, or a forked.ForkedProcess
        self.pid = proc.pid
        self.box = box
        self.zygote = zygote   # the zygote it was forked from, if it was

    @property
    def id_base(self) -> int:
        """Host id of its root in an image zygote's user namespace (0: host root's)."""
        return self.zygote.userns.base if self.zygote and self.zygote.userns else 0


class BwrapRuntime:
    name = "bwrap"

    def __init__(self, data_dir: Path, pids_limit: int | None = None):
        why = unusable_because()
        if why:
            raise RuntimeUnavailable(f"the bwrap runtime cannot run here: {why}. Use "
                                     "--runtime process (no isolation) instead")
        self.cgroup_group = cgroups.server_group(data_dir)
        cgroups.remove_stale(self.cgroup_group)  # containers that died while it was down
        self.favoring_moves = cgroups.favor_moves()  # held: see favor_moves
        self.root = Path(data_dir) / "containers"
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self.run = RunDir(data_dir)
        self.pids_limit = pids_limit if pids_limit is not None else \
            int(os.environ.get("KETCH_PIDS_LIMIT", "4096"))
        self.zygotes = zygote.ZygotePool(Path(data_dir) / "zygotes", _zygote_box,
                                         self.cgroup_group) if zygote.enabled() else None

    def mount_support(self) -> str:
        """Why volumes cannot be mounted ("" when they can: always, here)."""
        return ""

    def container_address(self, tcp_address: str) -> str:
        """The server's socket, bound in: a container has no way to the host's loopback."""
        return f"unix:{SERVER_SOCKET}"

    async def start(self, launch: ContainerLaunch, on_line: OnLine, on_exit: OnExit
                    ) -> BwrapContainer:
        env = dict(launch.env)
        binds = _code_binds(launch.code_dir) + list(launch.mounts)
        env["KETCH_CODE_DIR"] = "/root"   # the app's code is there, as on Modal
        if launch.image_layers:
            env.setdefault("PATH", IMAGE_PATH)
            env.setdefault("HOME", "/root")
            python = launch.python or "python3"
            workdir = launch.workdir or "/root"
        else:
            env.setdefault("PATH", os.environ.get("PATH", IMAGE_PATH))
            env["HOME"] = "/root"
            python = launch.python or os.path.normpath(sys.executable)
            workdir = launch.workdir or "/root"
        env.setdefault("TMPDIR", "/tmp")
        env[WEB_DIR_ENV] = WEB_DIR
        binds += [Mount(str(self.run.server_socket), SERVER_SOCKET),
                  Mount(str(self.run.make_web_dir(launch.container_id)), WEB_DIR,
                        read_only=False)]
        limits = cgroups.Limits(memory_limit_mib=launch.memory_limit_mib,
                                memory_request_mib=launch.memory_mib,
                                cpu_request=launch.cpu, cpu_limit=launch.cpu_limit,
                                pids_max=self.pids_limit)
        # On the loop: a few mkdirs and writes (~0.6 ms), less than a thread's hand-off.
        cg = cgroups.Cgroup.create(launch.container_id, limits, self.cgroup_group)
        box = Sandbox(command=[python, *launch.entry], env=env,
                      layers=list(launch.image_layers),
                      scratch=self.root / launch.container_id,
                      scratch_limit_mib=launch.ephemeral_disk_mib, workdir=workdir,
                      hostname=launch.container_id[:63], binds=binds, gpus=list(launch.gpus),
                      cgroup=cg, network="loopback" if launch.block_network else "outbound")
        try:
            if launch.seed_layers:   # an image on the host: a sandbox's snapshot
                if box.scratch_limit_mib:
                    raise ValueError("ephemeral_disk= with an image snapshotted from a "
                                     "sandbox without an image is not in ketch yet")
                box.seeded = await asyncio.to_thread(seed.lay, launch.seed_layers, box.scratch)
            z = await self._zygote_for(launch, python, env)
            try:
                proc, readers = await (
                    spawn_forked(z, box, _overlay_of(box), on_line, zygote.entry_of(launch))
                    if z else spawn(box, on_line))
            except OSError as exc:
                if not z:
                    raise
                log.warning("the zygote could not fork container %s (%s); it starts by "
                            "exec", launch.container_id, exc)
                z = None
                proc, readers = await spawn(box, on_line)
        except BaseException:
            cg.remove()
            shutil.rmtree(box.scratch, ignore_errors=True)
            self.run.remove_web_dir(launch.container_id)
            raise
        container = BwrapContainer(proc, box, z)
        if z is not None:
            log.info("container %s forked from zygote %s", launch.container_id, z.scratch.name)
        asyncio.ensure_future(self._watch(container, readers, on_exit, launch))
        return container

    async def _zygote_for(self, launch: ContainerLaunch, python: str, env: dict):
        """The zygote to fork this container from; None: start it by exec."""
        if self.zygotes is None or zygote.eligible(launch):
            return None
        # Nothing of the function's environment: a zygote's start takes no user input
        # (an image's PATH and protobuf choice are the image's, the same for its containers).
        zenv = {"PATH": env["PATH"] if launch.image_layers else os.environ.get("PATH", IMAGE_PATH),
                "HOME": "/root", "TMPDIR": "/tmp", "PYTHONUNBUFFERED": "1"}
        if "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION" in env:
            zenv["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = \
                env["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"]
        return await self.zygotes.get(zygote.key_of(launch, python), launch, python, zenv)

    async def _watch(self, container: BwrapContainer, readers, on_exit: OnExit,
                     launch: ContainerLaunch):
        code = await container.proc.wait()
        if container.zygote is not None:
            container.zygote.release()
        box = container.box
        await asyncio.wait(readers, timeout=2)
        kills = box.cgroup.oom_kills()  # None: unknown (logged); reported as no OOM
        oom = kills is not None and kills > 0
        box.cgroup.kill_all()
        await asyncio.to_thread(box.cgroup.remove)
        await asyncio.to_thread(shutil.rmtree, box.scratch, True)
        if box.netstack:
            await box.netstack.close()
        self.run.remove_web_dir(launch.container_id)
        # bubblewrap exits with its child's status; a signal shows as 128 + signal. An OOM
        # kill is one only if the container died of it (not a child it could survive).
        sig = -code if code < 0 else (code - 128 if code > 128 else None)
        oom = oom and (sig == signal.SIGKILL or code != 0)
        on_exit(ContainerExit(returncode=None if sig else code, signal=sig, oom_killed=oom,
                              memory_limit_mib=launch.memory_limit_mib))

    async def stop(self, handle: BwrapContainer, grace_s: float = 5.0):
        if handle.proc.returncode is not None:
            return
        # bubblewrap is pid 1's parent: it forwards nothing, so signal the runtime inside.
        _signal_cgroup(handle.box.cgroup, signal.SIGTERM,
                       skip=getattr(handle.proc, "init_pid", 0))
        try:
            await asyncio.wait_for(handle.proc.wait(), grace_s)
        except asyncio.TimeoutError:
            self.kill(handle)

    def close(self):
        """At the server's stop, after its containers: the zygotes and what they left."""
        if self.zygotes is not None:
            self.zygotes.close()

    def kill(self, handle: BwrapContainer):
        handle.box.cgroup.kill_all()
        if handle.pid > 0:  # 0: a forked one that never started (and 0 is our own group)
            _signal_group(handle.pid, signal.SIGKILL)


def _zygote_box(command: list[str], env: dict, layers: list[str], scratch: Path,
                code_dir: str = "") -> tuple[Sandbox, str]:
    """A zygote's view: its image's (or the host system's) root with ketch's runtime (and
    the app's code, for a memory snapshot's)."""
    box = Sandbox(command=command, env=env, layers=layers, scratch=scratch,
                  hostname="ketch-zygote", network="host", binds=_code_binds(code_dir))
    return box, _overlay_of(box)


def _overlay_of(box: Sandbox) -> str:
    return _overlay_options(box.layers, box.scratch) if box.layers else ""


def _code_binds(code_dir: str) -> list[Mount]:
    """The uploaded bundle's top-level entries, each bound read-only at /root/<entry>, so
    what an image put in /root stays beside them."""
    if not code_dir:
        return []
    return [Mount(os.path.join(code_dir, name), f"/root/{name}")
            for name in sorted(os.listdir(code_dir))]


def _signal_cgroup(cg: cgroups.Cgroup, sig: int, skip: int = 0):
    """Signals every process of the container except bubblewrap itself or a forked
    container's init (`skip`), which would die at once and take the others with it,
    without their grace period."""
    procs = Path(cg.procs_files[0])
    try:
        pids = [int(p) for p in procs.read_text().split()]
    except OSError:
        return
    for pid in pids:
        try:
            if pid == skip:
                continue
            if os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "bwrap":
                continue
            os.kill(pid, sig)
        except OSError:
            pass
