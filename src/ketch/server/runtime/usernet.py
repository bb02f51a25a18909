"""Outbound network for a container in a network namespace of its own: slirp4netns.

slirp4netns is a TCP/IP stack in user space. It runs on the host, holds the tap device it
makes in the container's namespace and turns the container's packets into ordinary
sockets of its own, so the container reaches what any program on this machine reaches
outside it, never its loopback (`--disable-host-loopback`: 10.0.2.2 does not lead to the
host's 127.0.0.1; the container's own 127.0.0.1 is its own loopback). It runs sandboxed
(its own mount namespace, no capabilities but binding low ports, seccomp), exits when
the server closes its exit pipe (when the container exits, or when the server dies),
and offers the container nothing but the tap device (no API socket).

Starting it takes a few milliseconds, so it starts while the container's Python starts:
bubblewrap reports the namespace's pid on an info pipe, slirp4netns attaches, and writes
one byte, once the interface is up, on a pipe whose other end the container holds
(KETCH_NET_READY_FD): the container's runtime reads it before it imports the user's code.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil

log = logging.getLogger("ketch.runtime")

READY_FD_ENV = "KETCH_NET_READY_FD"
_SLIRP = "slirp4netns"
_EXIT_WAIT_S = 2.0
_INFO_MAX = 4096


def unavailable() -> str:
    """Why containers cannot have an outbound network here ("" when they can)."""
    if shutil.which(_SLIRP):
        return ""
    return "slirp4netns is not installed (apt-get install slirp4netns)"


class UserNet:
    """The slirp4netns of one container."""

    def __init__(self):
        self.info_r, self.info_w = os.pipe()    # bubblewrap → here: the namespace's pid
        self.ready_r, self.ready_w = os.pipe()  # slirp4netns → the container: it is up
        self.proc: asyncio.subprocess.Process | None = None
        self._exit_w: int | None = None
        self._task: asyncio.Future | None = None

    def bwrap_args(self) -> list[str]:
        return ["--unshare-net", "--info-fd", str(self.info_w)]

    def pass_fds(self) -> tuple[int, ...]:
        return (self.info_w, self.ready_r)

    def env(self) -> dict[str, str]:
        return {READY_FD_ENV: str(self.ready_r)}

    def started(self, bwrap_pid: int):
        """bubblewrap runs (holding its ends of the pipes): attach in the background."""
        self._drop("info_w", "ready_r")
        self._task = asyncio.ensure_future(self._attach(bwrap_pid))

    def abandon(self):
        """bubblewrap did not start."""
        self._drop("info_r", "info_w", "ready_r", "ready_w")

    def _drop(self, *names: str):
        """Closes these pipe ends, once each."""
        for name in names:
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                os.close(fd)

    async def _attach(self, bwrap_pid: int):
        try:
            pid = await _namespace_pid(self.info_r, bwrap_pid)
            exit_r, self._exit_w = os.pipe()
            try:
                self.proc = await asyncio.create_subprocess_exec(
                    _SLIRP, "--configure", "--mtu=65520", "--disable-host-loopback",
                    "--enable-sandbox", "--enable-seccomp", f"--ready-fd={self.ready_w}",
                    f"--exit-fd={exit_r}", str(pid), "tap0",
                    pass_fds=(self.ready_w, exit_r), stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            finally:
                os.close(exit_r)
        except (OSError, ValueError) as exc:
            # The container reads end-of-file instead of the ready byte and says so.
            log.warning("a container's network could not be set up: %s", exc)
        finally:
            self._drop("ready_w", "info_r")

    async def close(self):
        """The container exited: slirp4netns goes too."""
        if self._task is not None:
            if not self._task.done():
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._drop("ready_w", "info_r", "_exit_w")
        if self.proc is not None and self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.proc.wait(), _EXIT_WAIT_S)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def _namespace_pid(info_fd: int, bwrap_pid: int) -> int:
    """The pid bubblewrap reports on its info pipe, checked to be its own child in a
    network namespace other than the server's (slirp4netns must not attach to the host's)."""
    loop = asyncio.get_running_loop()
    data = b""
    info = None
    while info is None:
        ready = loop.create_future()
        loop.add_reader(info_fd, ready.set_result, None)
        try:
            await ready
        finally:
            loop.remove_reader(info_fd)
        chunk = os.read(info_fd, _INFO_MAX)
        if not chunk or len(data) > _INFO_MAX:
            raise ValueError("bubblewrap exited before it made the container's namespaces")
        data += chunk
        try:
            info = json.loads(data)
        except ValueError:
            continue  # more to come
    pid = int(info["child-pid"])
    with open(f"/proc/{pid}/status") as f:
        ppid = next(int(line.split()[1]) for line in f if line.startswith("PPid:"))
    netns = os.stat(f"/proc/{pid}/ns/net").st_ino
    if ppid != bwrap_pid or netns != info.get("net-namespace") or \
            netns == os.stat("/proc/self/ns/net").st_ino:
        raise ValueError(f"bubblewrap's report names pid {pid}, not its container's")
    return pid
