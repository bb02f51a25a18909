"""A container forked from a zygote, seen from the server: the same `Sandbox` as the exec
path (its bubblewrap arguments, environment, cgroup, network), sent to the zygote with the
container's stdout, stderr and status pipes; a process-like handle whose wait() ends
with the exit status the keeper reports on the status pipe."""

from __future__ import annotations

import asyncio
import os

from . import usernet
from ..._runtime import namespaces
from .base import OnLine
from .process import _LINE_LIMIT, _pump
from .zygote import Zygote


class ForkedProcess:
    """What the bwrap backend's watcher needs of a process: pid, returncode, wait()."""

    def __init__(self, pid: int, init_pid: int, status: asyncio.StreamReader,
                 early_exit: int | None):
        self.pid = pid              # the keeper's (host) pid, in the container's netns
        self.init_pid = init_pid    # pid 1 of the container, as the host sees it
        self.returncode: int | None = None
        self.keep: list = []        # its pipes' readers
        self._status = status
        self._done = asyncio.ensure_future(self._read_exit(early_exit))

    async def _read_exit(self, early_exit: int | None):
        if early_exit is not None:
            self.returncode = early_exit
            return early_exit
        code = -9  # the keeper went without a word: it was killed
        while True:
            line = await self._status.readline()
            if not line:
                break
            kind, _, value = line.decode().partition(" ")
            if kind == "exit":
                code = int(value)
        self.returncode = code
        return code

    async def wait(self) -> int:
        return await asyncio.shield(self._done)


# The pipes' readers of each forked container while it starts (then its handle holds
# them). asyncio's protocol holds its reader weakly, so a task waiting on one is otherwise
# only in a cycle (task, reader, waiter) that the garbage collector may take, pending.
_LIVE: dict[int, list] = {}


async def _reader(fd: int, keep: list) -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_LINE_LIMIT, loop=loop)
    keep.append(reader)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                 os.fdopen(fd, "rb", buffering=0))
    return reader


async def spawn_forked(zygote: Zygote, box, overlay: str, on_line: OnLine,
                       entry: str = "container") -> tuple[ForkedProcess, list]:
    """Starts the sandbox as a fork of the zygote, running `entry` (zygote.entry_of);
    returns the process and the tasks pumping its output. Raises OSError when the zygote
    is gone (nothing was started)."""
    box.scratch.mkdir(parents=True, exist_ok=True)
    argv = box.argv()
    cut = argv.index("--")
    if box.network == "outbound":
        box.netstack = usernet.UserNet()
    args = namespaces.share_from(argv[1:cut], zygote.view_args, zygote.view_root)
    request = {"args": args, "env": box.environment(), "hostname": box.hostname,
               "entry": entry,
               "own_network": box.network != "host",
               "prep": {"procs": box.cgroup.procs_files if box.cgroup else [],
                        "scratch": str(box.scratch), "scratch_mib": box.scratch_limit_mib,
                        "overlay": overlay}}
    pipes = [os.pipe() for _ in range(3)]  # stdout, stderr, status
    theirs = [w for _, w in pipes] + ([box.netstack.ready_r] if box.netstack else [])
    try:
        zygote.fork(request, theirs)
    except BaseException:
        for r, w in pipes:
            os.close(r)
            os.close(w)
        if box.netstack:
            box.netstack.abandon()
        raise
    for _, w in pipes:
        os.close(w)
    keep: list = []
    _LIVE[id(keep)] = keep
    out, err, status = [await _reader(r, keep) for r, _ in pipes]
    pid = init = 0
    early_exit = None
    while not init and early_exit is None:
        line = await status.readline()
        if not line:  # it failed before pid 1 existed: its stderr says why
            break
        kind, _, value = line.decode().partition(" ")
        if kind == "net":
            pid = int(value)
            if box.netstack:
                box.netstack.started(pid)
        elif kind == "init":
            init = int(value)
        elif kind == "exit":  # it could not be set up: its stderr says why
            early_exit = int(value)
    if box.netstack and not pid:
        box.netstack.abandon()
    proc = ForkedProcess(pid, init, status, early_exit)
    proc.keep = keep  # from here the container's handle holds them
    _LIVE.pop(id(keep), None)
    readers = [asyncio.ensure_future(_pump(out, "stdout", on_line)),
               asyncio.ensure_future(_pump(err, "stderr", on_line))]
    return proc, readers
