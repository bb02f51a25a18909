"""The `process` backend: each container is a fresh interpreter in its own process group,
with its own working directory and environment, and no isolation beyond that.

Containers run the Python that runs the server, so functions without an image see this
machine's installed packages, as `concurrent.futures` workers would.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import sys
from pathlib import Path

from . import mountns
from .base import WEB_DIR_ENV, ContainerExit, ContainerLaunch, OnExit, OnLine, RunDir

log = logging.getLogger("ketch.server")


class ProcessContainer:
    def __init__(self, proc: asyncio.subprocess.Process, workdir: Path):
        self.proc = proc
        self.pid = proc.pid
        self.workdir = workdir


class ProcessRuntime:
    name = "process"

    def __init__(self, data_dir: Path):
        self.root = Path(data_dir) / "containers"
        # Outside the containers' own directories, which they may write.
        self.pids = Path(data_dir) / "container-pids"
        _reap_stale(self.pids)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self.run = RunDir(data_dir)

    def container_address(self, tcp_address: str) -> str:
        """Loopback TCP: a process container shares the host's network anyway."""
        return tcp_address

    async def start(self, launch: ContainerLaunch, on_line: OnLine, on_exit: OnExit
                    ) -> ProcessContainer:
        workdir = self.root / launch.container_id
        workdir.mkdir()
        env = dict(launch.env)
        env.setdefault("PATH", os.environ.get("PATH", "/usr/bin:/bin"))
        env["HOME"] = os.environ.get("HOME", str(workdir))
        env["TMPDIR"] = str(workdir)
        env[WEB_DIR_ENV] = str(self.run.make_web_dir(launch.container_id))
        if launch.code_dir:  # first on sys.path; the working directory stays its own
            env["KETCH_CODE_DIR"] = launch.code_dir
        if launch.gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in launch.gpus)
        argv = mountns.wrap([launch.python or sys.executable, *launch.entry],
                            launch.mounts)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=workdir, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True, limit=_LINE_LIMIT,
        )
        container = ProcessContainer(proc, workdir)
        self.pids.mkdir(mode=0o700, exist_ok=True)
        (self.pids / launch.container_id).write_text(f"{proc.pid} {_start_time(proc.pid)}")
        readers = [asyncio.ensure_future(_pump(proc.stdout, "stdout", on_line)),
                   asyncio.ensure_future(_pump(proc.stderr, "stderr", on_line))]
        asyncio.ensure_future(self._watch(container, readers, on_exit))
        return container

    async def _watch(self, container: ProcessContainer, readers, on_exit: OnExit):
        code = await container.proc.wait()
        # The group may hold the user's children; they go with the container.
        _signal_group(container.pid, signal.SIGKILL)
        await asyncio.wait(readers, timeout=2)
        shutil.rmtree(container.workdir, ignore_errors=True)
        (self.pids / container.workdir.name).unlink(missing_ok=True)
        self.run.remove_web_dir(container.workdir.name)
        if code < 0:
            on_exit(ContainerExit(returncode=None, signal=-code))
        else:
            on_exit(ContainerExit(returncode=code))

    def mount_support(self) -> str:
        """Why volumes cannot be mounted ("" when they can)."""
        return mountns.unavailable()

    async def stop(self, handle: ProcessContainer, grace_s: float = 5.0):
        if handle.proc.returncode is not None:
            return
        _signal_group(handle.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(handle.proc.wait(), grace_s)
        except asyncio.TimeoutError:
            self.kill(handle)

    def kill(self, handle: ProcessContainer):
        _signal_group(handle.pid, signal.SIGKILL)

    def close(self):
        pass  # nothing but its containers


def _signal_group(pid: int, sig: int):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _start_time(pid: int) -> str:
    """When the process started (clock ticks after boot), "" once it is gone: with its pid,
    it names one process even after the pid is reused."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return ""


def _reap_stale(pids: Path) -> int:
    """Kills the process groups of containers that outlived the last runtime on this data
    directory (a server, or a node agent Ray restarted, killed with -9: nothing stopped
    them); returns how many it killed. A group whose leader is gone is still the old one
    (the kernel reuses no pid while a group of that id lives); a leader pid that names a
    process started at another time was reused, and is left alone."""
    killed = 0
    for entry in pids.glob("*") if pids.is_dir() else ():
        try:
            pid, started = entry.read_text().split()
            pid = int(pid)
        except (OSError, ValueError):
            pid, started = 0, ""
        now = _start_time(pid) if pid > 1 else None
        if now is not None and now in ("", started):
            try:
                os.killpg(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        entry.unlink(missing_ok=True)
    if killed:
        log.info("killed %d containers left by this data directory's last run", killed)
    return killed


_LINE_LIMIT = 1024 * 1024


async def _pump(stream: asyncio.StreamReader, source: str, on_line: OnLine):
    while True:
        try:
            line = await stream.readline()
        except ValueError:  # a line past the limit: pass on what fits
            line = await stream.read(_LINE_LIMIT)
        if not line:
            return
        on_line(source, line.decode(errors="replace").rstrip("\n"))
