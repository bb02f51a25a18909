"""Control groups for containers: memory, CPU and pids limits, and how a container died.

Works with the unified hierarchy (cgroup v2) and with the legacy one (v1, one tree per
controller). Each server has a group of its own, `ketch/srv-<hash of its data dir>`, and
each container (or build step) gets `<that group>/<container id>` under every controller;
the server's own process stays outside them. At start a server removes what its group
still holds: containers that died while it was down, and never another server's.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("ketch.server")

ROOT = Path(os.environ.get("KETCH_CGROUP_ROOT", "/sys/fs/cgroup"))
_V1_CONTROLLERS = ("memory", "cpu", "pids")
BASE = "ketch"
_CFS_PERIOD_US = 100_000


@dataclass
class Limits:
    memory_limit_mib: int = 0      # hard limit; 0: none
    memory_request_mib: int = 0    # soft: what the kernel reclaims down to under pressure
    cpu_request: float = 0.0       # relative weight
    cpu_limit: float = 0.0         # hard quota in CPUs; 0: none
    pids_max: int = 0              # 0: none


def version() -> int:
    """2 for a unified hierarchy, 1 for the legacy one, 0 when neither is usable."""
    if (ROOT / "cgroup.controllers").exists():
        return 2
    if all((ROOT / c / "cgroup.procs").exists() for c in _V1_CONTROLLERS):
        return 1
    return 0


class Cgroup:
    """One container's cgroup(s)."""

    def __init__(self, name: str, dirs: list[Path], ver: int, limits: Limits):
        self.name = name
        self.dirs = dirs
        self.version = ver
        self.limits = limits

    @property
    def procs_files(self) -> list[str]:
        """Writing a pid to each of these puts that process in the container's cgroup."""
        return [str(d / "cgroup.procs") for d in self.dirs]

    @classmethod
    def create(cls, name: str, limits: Limits, group: str = BASE) -> "Cgroup":
        """`name` under `group` (a path below the hierarchy's root, see `server_group`)."""
        ver = version()
        if ver == 2:
            parent = ROOT / group
            parent.mkdir(parents=True, exist_ok=True)
            _enable_v2_controllers(parent)
            path = parent / name
            path.mkdir()
            cg = cls(name, [path], 2, limits)
        elif ver == 1:
            dirs = []
            for controller in _V1_CONTROLLERS:
                path = ROOT / controller / group / name
                path.mkdir(parents=True)
                dirs.append(path)
            cg = cls(name, dirs, 1, limits)
        else:
            raise OSError(f"no usable cgroup hierarchy under {ROOT}; the bwrap backend needs "
                          "cgroups (v1 or v2) for memory, CPU and pids limits")
        try:
            cg._apply()
        except OSError:
            cg.remove()
            raise
        return cg

    def _apply(self):
        lim = self.limits
        if self.version == 2:
            d = self.dirs[0]
            if lim.memory_limit_mib:
                _write(d / "memory.max", lim.memory_limit_mib << 20)
                _write(d / "memory.swap.max", 0, optional=True)
            if lim.memory_request_mib:
                _write(d / "memory.low", lim.memory_request_mib << 20, optional=True)
            if lim.cpu_request:
                _write(d / "cpu.weight", max(1, min(10000, round(lim.cpu_request * 100))))
            if lim.cpu_limit:
                _write(d / "cpu.max", f"{round(lim.cpu_limit * _CFS_PERIOD_US)} "
                                      f"{_CFS_PERIOD_US}")
            if lim.pids_max:
                _write(d / "pids.max", lim.pids_max)
            return
        memory, cpu, pids = self.dirs
        if lim.memory_limit_mib:
            _write(memory / "memory.limit_in_bytes", lim.memory_limit_mib << 20)
            # Where swap is accounted, the limit covers memory plus swap, so it bites.
            _write(memory / "memory.memsw.limit_in_bytes", lim.memory_limit_mib << 20,
                   optional=True)
        if lim.memory_request_mib:
            _write(memory / "memory.soft_limit_in_bytes", lim.memory_request_mib << 20,
                   optional=True)
        if lim.cpu_request:
            _write(cpu / "cpu.shares", max(2, round(lim.cpu_request * 1024)))
        if lim.cpu_limit:
            _write(cpu / "cpu.cfs_period_us", _CFS_PERIOD_US)
            _write(cpu / "cpu.cfs_quota_us", round(lim.cpu_limit * _CFS_PERIOD_US))
        if lim.pids_max:
            _write(pids / "pids.max", lim.pids_max)

    def pids_refused(self) -> int:
        """How often a fork failed at the pids limit (0 where that is not counted)."""
        path = self.dirs[0 if self.version == 2 else 2] / "pids.events"
        try:
            for line in path.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "max":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def oom_kills(self) -> int | None:
        """How many of the container's processes the kernel killed for memory; None when
        that cannot be read (the reason is logged), which is not the same as none."""
        path = (self.dirs[0] / "memory.events" if self.version == 2
                else self.dirs[0] / "memory.oom_control")
        try:
            for line in path.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError) as exc:
            log.warning("cannot tell whether the kernel killed processes for memory in %s: "
                        "%s", path, exc)
            return None
        return 0  # the file has no oom_kill count: no kill was recorded

    def usage(self) -> tuple[float, int] | None:
        """(CPU seconds used, memory bytes in use) of the container, or None when its
        files cannot be read (it is going away)."""
        try:
            if self.version == 2:
                d = self.dirs[0]
                stat = dict(line.split(" ", 1) for line in
                            (d / "cpu.stat").read_text().splitlines() if " " in line)
                return (int(stat["usage_usec"]) / 1e6,
                        int((d / "memory.current").read_text()))
            # v1: ketch makes no cpuacct group; its live processes' CPU times add up.
            memory, cpu, _ = self.dirs
            return (sum(process_cpu_seconds(int(pid)) for pid in
                        (cpu / "cgroup.procs").read_text().split()),
                    int((memory / "memory.usage_in_bytes").read_text()))
        except (OSError, ValueError, KeyError):
            return None

    def kill_all(self):
        for procs in self.procs_files:
            try:
                pids = Path(procs).read_text().split()
            except OSError:
                continue
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass

    def remove(self):
        """Removes the cgroup once its processes are gone (they may take a moment)."""
        for d in self.dirs:
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    self.kill_all()
                    time.sleep(0.01)
            else:
                log.warning("could not remove cgroup %s", d)


# A named cgroup v1 hierarchy with no controllers: only its mount option matters.
_FAVOR_NAME = "ketch-favordynmods"
_SYS_FSOPEN, _SYS_FSCONFIG, _SYS_FSMOUNT = 430, 431, 432
_FSCONFIG_SET_FLAG, _FSCONFIG_SET_STRING, _FSCONFIG_CMD_CREATE = 0, 1, 6
_favoring = False  # set once by favor_moves: then no caller needs warm_moves


def favor_moves() -> int | None:
    """Puts the kernel's cgroup threadgroup lock in the mode that favours moving
    processes between cgroups ("favordynmods"). Without it, the first move into a cgroup
    after a quiet while waits for an RCU grace period (8-20 ms measured) on every
    container's start path; with it, a move takes ~0.6 ms, and every fork and exit on the
    machine pays two memory barriers more (the kernel's documented trade-off).

    The lock is global, and cgroup v1 takes the option on any hierarchy: this mounts a
    named one with no controllers *detached* (attached nowhere: nothing in the mount
    table, and gone with the descriptor, so nothing is left after a kill -9). Where the
    kernel undoes the mode when that hierarchy goes, it lasts as long as the returned
    descriptor (hold it for the server's life); kernel 6.18 keeps it until reboot.
    None: not done (cgroup v2, where it is the operator's `favordynmods` remount of the
    unified hierarchy or the `cgroup_favordynmods=true` boot option; not root;
    KETCH_FAVOR_CGROUP_MOVES=0; a kernel before 6.0, which has no such option and needs
    none: its lock is always in that mode)."""
    global _favoring
    if version() != 1 or os.environ.get("KETCH_FAVOR_CGROUP_MOVES", "1") == "0":
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    fs = libc.syscall(_SYS_FSOPEN, b"cgroup", 1)  # FSOPEN_CLOEXEC
    if fs < 0:
        return None
    try:
        steps = ((_FSCONFIG_SET_FLAG, b"none", None), (_FSCONFIG_SET_STRING, b"name",
                 _FAVOR_NAME.encode()), (_FSCONFIG_SET_FLAG, b"favordynmods", None),
                 (_FSCONFIG_CMD_CREATE, None, None))
        for cmd, key, value in steps:
            if libc.syscall(_SYS_FSCONFIG, fs, cmd, key, value, 0) != 0:
                log.info("cgroup moves wait for an RCU grace period here: the kernel refused "
                         "the favordynmods option (%s)", os.strerror(ctypes.get_errno()))
                return None
        mnt = libc.syscall(_SYS_FSMOUNT, fs, 1, 0)  # FSMOUNT_CLOEXEC
    finally:
        os.close(fs)
    if mnt < 0:
        return None
    _favoring = True
    return mnt


def favoring() -> bool:
    """Whether `favor_moves` worked: a move into a cgroup then waits for no grace period."""
    return _favoring


def warm_moves():
    """Moves this process into the cgroup it is in already, which changes nothing but
    starts the RCU grace period that the kernel's first move into a cgroup after a quiet
    while waits for (its threadgroup lock's switch to writer mode: 10-20 ms): a
    container's move that follows within that while finds it passed. Best effort; not
    needed once `favor_moves` worked."""
    ver = version()
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if ver == 2 and controllers == "":
                    tree = ROOT
                elif ver == 1 and "pids" in controllers.split(","):
                    tree = ROOT / "pids"
                else:
                    continue
                (tree / path.lstrip("/") / "cgroup.procs").write_text(str(os.getpid()))
                return
    except OSError:
        pass


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_group(data_dir) -> str:
    """The group of the server with this data dir: its containers' cgroups go below it."""
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:16]
    return f"{BASE}/srv-{digest}"


def remove_stale(group: str) -> int:
    """Kills and removes every cgroup below `group` (a previous run's, found at start);
    returns how many there were."""
    ver = version()
    if ver == 0:
        return 0
    parents = [ROOT / group] if ver == 2 else [ROOT / c / group for c in _V1_CONTROLLERS]
    names = sorted({d.name for p in parents if p.is_dir() for d in p.iterdir() if d.is_dir()})
    for name in names:
        Cgroup(name, [p / name for p in parents], ver, Limits()).remove()
    if names:
        log.info("removed %d stale cgroups under %s, left by containers that outlived this "
                 "server's last run", len(names), group)
    return len(names)


def _enable_v2_controllers(parent: Path):
    """Lets `parent` and its children use memory, cpu and pids (so every group from the
    root down to it must enable them)."""
    chain = [parent, *parent.parents]
    for d in reversed(chain[:chain.index(ROOT) + 1]):
        control = d / "cgroup.subtree_control"
        enabled = control.read_text().split()
        wanted = [c for c in ("memory", "cpu", "pids") if c not in enabled]
        if wanted:
            _write(control, " ".join("+" + c for c in wanted))


def _write(path: Path, value, optional: bool = False):
    try:
        path.write_text(str(value))
    except FileNotFoundError:
        if not optional:
            raise
    except OSError as exc:
        if not optional:
            raise OSError(f"cannot set {path.name} to {value} in {path.parent}: "
                          f"{exc.strerror or exc}") from None

