"""Outbound network for a container in a network namespace of its own: slirp4netns.

slirp4netns is a TCP/IP stack in user space. It runs on the host, holds the tap device it
makes in the container's namespace and turns the container's packets into ordinary
sockets of its own, so the container reaches what any program on this machine reaches
outside it, never its loopback (`--disable-host-loopback`: 10.0.2.2 does not lead to the
host's 127.0.0.1; the container's own 127.0.0.1 is its own loopback). Its DNS forwarder
(10.0.2.3) is off, since it would query the host's resolver even on the host's loopback:
containers resolve names with the host's resolv.conf, through slirp4netns like any
traffic. It runs sandboxed (its own mount namespace, no capabilities but binding low
ports, seccomp), exits when the server closes its exit pipe (when the container exits, or
when the server dies), and offers the container nothing but the tap device (no API
socket).

The namespace is made before bubblewrap starts (`enter_own_network`, in the child between
fork and exec: bubblewrap's own --unshare-net races slirp4netns setting up loopback), so
it is the namespace of bubblewrap's pid. Starting slirp4netns takes a few milliseconds,
so it starts while the container's Python starts, and writes one byte, once the interface
is up, on a pipe whose other end the container holds (KETCH_NET_READY_FD): the
container's runtime reads it before it imports the user's code.
"""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import logging
import os
import shutil
import socket
import struct
import subprocess

from . import spawn

log = logging.getLogger("ketch.runtime")

READY_FD_ENV = "KETCH_NET_READY_FD"
_SLIRP = "slirp4netns"
_EXIT_WAIT_S = 2.0
_CLONE_NEWNET = 0x40000000
_SIOCSIFFLAGS = 0x8914
_IFF_UP_RUNNING = 0x1 | 0x40
_libc = ctypes.CDLL(None, use_errno=True)


def unavailable() -> str:
    """Why containers cannot have an outbound network here ("" when they can)."""
    if shutil.which(_SLIRP):
        return ""
    return "slirp4netns is not installed (apt-get install slirp4netns)"


def enter_own_network():
    """In a child about to exec bubblewrap: a new network namespace, its loopback up (the
    kernel gives it 127.0.0.1 and ::1). Raises OSError."""
    if _libc.unshare(_CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"cannot unshare the network namespace: {os.strerror(err)}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", _IFF_UP_RUNNING))


class UserNet:
    """The slirp4netns of one container."""

    def __init__(self):
        self.ready_r, self.ready_w = os.pipe()  # slirp4netns → the container: it is up
        self.proc: subprocess.Popen | None = None
        self._exit_w: int | None = None
        self._task: asyncio.Future | None = None

    def pass_fds(self) -> tuple[int, ...]:
        return (self.ready_r,)

    def env(self) -> dict[str, str]:
        return {READY_FD_ENV: str(self.ready_r)}

    def started(self, bwrap_pid: int):
        """bubblewrap runs in its namespace (holding its end of the pipe): attach in the
        background."""
        self._drop("ready_r")
        self._task = asyncio.ensure_future(self._attach(bwrap_pid))

    def abandon(self):
        """bubblewrap did not start."""
        self._drop("ready_r", "ready_w")

    def _drop(self, *names: str):
        """Closes these pipe ends, once each."""
        for name in names:
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                os.close(fd)

    async def _attach(self, bwrap_pid: int):
        try:
            if os.stat(f"/proc/{bwrap_pid}/ns/net").st_ino == \
                    os.stat("/proc/self/ns/net").st_ino:
                raise ValueError("bubblewrap runs in the server's network namespace")
            exit_r, self._exit_w = os.pipe()
            try:
                # Popen, not the loop's subprocess_exec (`spawn`): on every start.
                self.proc = subprocess.Popen(
                    [_SLIRP, "--configure", "--mtu=65520", "--disable-host-loopback",
                     "--disable-dns", "--enable-sandbox", "--enable-seccomp",
                     f"--ready-fd={self.ready_w}",
                     f"--exit-fd={exit_r}", str(bwrap_pid), "tap0"],
                    pass_fds=(self.ready_w, exit_r), stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            finally:
                os.close(exit_r)
        except (OSError, ValueError) as exc:
            # The container reads end-of-file instead of the ready byte and says so.
            log.warning("a container's network could not be set up: %s", exc)
        finally:
            self._drop("ready_w")

    async def close(self):
        """The container exited: slirp4netns goes too."""
        if self._task is not None:
            if not self._task.done():
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._drop("ready_w", "_exit_w")
        if self.proc is not None and self.proc.poll() is None:
            if not await spawn.exits_within(self.proc, _EXIT_WAIT_S):
                self.proc.kill()
                self.proc.wait()

