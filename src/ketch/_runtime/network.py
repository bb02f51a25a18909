"""Waiting for a bwrap container's outbound network (slirp4netns) before user code runs."""

from __future__ import annotations

import asyncio
import os

_FAILED = ("the container's network could not be set up (slirp4netns did not start); see "
           "the server's log")


def wait_for_network():
    """On the bwrap runtime the container's outbound network comes up while Python starts;
    the user's code, which may use it at import, waits for its ready byte."""
    fd = os.environ.pop("KETCH_NET_READY_FD", None)
    if fd is None:
        return
    try:
        ready = os.read(int(fd), 1)
    finally:
        os.close(int(fd))
    if not ready:
        raise RuntimeError(_FAILED)


async def network_ready():
    """wait_for_network on the event loop: no thread to start (the first exec of a
    sandbox waits on this)."""
    fd = os.environ.pop("KETCH_NET_READY_FD", None)
    if fd is None:
        return
    fd = int(fd)
    loop = asyncio.get_running_loop()
    readable = loop.create_future()
    loop.add_reader(fd, lambda: readable.done() or readable.set_result(None))
    try:
        await readable
        ready = os.read(fd, 1)
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    if not ready:
        raise RuntimeError(_FAILED)
