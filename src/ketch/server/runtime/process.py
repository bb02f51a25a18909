"""The `process` backend: each container is a fresh interpreter in its own process group,
with its own working directory and environment, and no isolation beyond that.

Containers run the Python that runs the server, so functions without an image see this
machine's installed packages, as `concurrent.futures` workers would.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

from . import mountns
from .base import WEB_DIR_ENV, ContainerExit, ContainerLaunch, OnExit, OnLine, RunDir


class ProcessContainer:
    def __init__(self, proc: asyncio.subprocess.Process, workdir: Path):
        self.proc = proc
        self.pid = proc.pid
        self.workdir = workdir


class ProcessRuntime:
    name = "process"

    def __init__(self, data_dir: Path):
        self.root = Path(data_dir) / "containers"
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
