"""Waiting for a bwrap container's outbound network (slirp4netns) before user code runs."""

from __future__ import annotations

import os


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
        raise RuntimeError("the container's network could not be set up (slirp4netns did not "
                           "start); see the server's log")
