"""A container forked from a zygote, seen from the server: the same `Sandbox` as the exec
path (its bubblewrap arguments, environment, cgroup, network), sent to the zygote with the
container's stdout, stderr and status pipes; a process-like handle whose wait() ends
with the exit status the keeper reports on the status pipe."""

from __future__ import annotations

import asyncio
import os
import socket

from . import cgroups, usernet, userns
from ..._runtime import namespaces
from ..._runtime.zygote import BOX, INIT_WORD_MAX
from .base import OnLine
from .process import _LINE_LIMIT, _pump
from .zygote import Zygote

_INIT_TIMEOUT_S = 30.0   # for a forked init to say who it is


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
    is gone, or when an image zygote's init could not mount what it was given (nothing of
    the container's ran: the caller starts it by exec)."""
    # The grace period its cgroup move waits for, started now that its cgroup exists (the
    # warming write holds the cgroup lock through it: before, it would delay the mkdir).
    if not cgroups.favoring():
        asyncio.get_running_loop().run_in_executor(None, cgroups.warm_moves)
    if zygote.userns is not None:
        return await _spawn_in_userns(zygote, box, on_line, entry)
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
    keep, (out, err, status) = await _fork(zygote, request, box, [])
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
    return _started(ForkedProcess(pid, init, status, early_exit), keep, out, err, on_line)


async def _fork(zygote: Zygote, request: dict, box, extra: list[int]) -> tuple[list, list]:
    """Sends the fork request with the write ends of the container's stdout, stderr and
    status pipes, `extra` descriptors and the network's ready pipe; returns what keeps
    their readers alive and the three readers. When the zygote is gone, closes the pipes,
    abandons the network and raises."""
    pipes = [os.pipe() for _ in range(3)]  # stdout, stderr, status
    theirs = [w for _, w in pipes] + extra + ([box.netstack.ready_r] if box.netstack else [])
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
    return keep, [await _reader(r, keep) for r, _ in pipes]


def _started(proc: ForkedProcess, keep: list, out, err, on_line: OnLine
             ) -> tuple[ForkedProcess, list]:
    proc.keep = keep  # from here the container's handle holds them
    _LIVE.pop(id(keep), None)
    readers = [asyncio.ensure_future(_pump(out, "stdout", on_line)),
               asyncio.ensure_future(_pump(err, "stderr", on_line))]
    return proc, readers


def _image_request(zygote: Zygote, box) -> tuple[dict, list[int]]:
    """The fork request of a container of an image's zygote, and the descriptors of the
    binds the server made for it: the zygote reaches no host path, so every source that
    is not in its own view (the code, volumes, the server's socket, the scratch space)
    becomes a detached bind, idmapped into the zygote's user namespace."""
    argv = box.argv()
    view = set(namespaces.split_ops(zygote.view_args))
    image_root = ("--bind", f"{box.scratch}/root", "/")
    args, fds, kinds = [], [], []
    try:
        fds.append(namespaces.detached_bind(str(box.scratch), read_only=False))
        # The runtime's packages come from the zygote's own view, one recursive bind each.
        mine = namespaces.share_from(argv[1:argv.index("--")], zygote.view_args, "",
                                    namespaces.RUNTIME_DIRS)
        for op in namespaces.split_ops(mine):
            if op == image_root:
                op = ("--bind", f"{BOX}/s/root", "/")
            elif op[0] in ("--bind", "--ro-bind", "--dev-bind"):
                src, dst = op[1], op[2]
                if op in view:
                    op = (op[0], dst, dst)      # where the zygote's view has it
                elif not (src.startswith("/proc/") or src == "/dev/null"):
                    if op[0] == "--dev-bind":
                        raise OSError("device binds are not forked")
                    fds.append(zygote.userns.bind(src, read_only=op[0] == "--ro-bind"))
                    kinds.append(os.path.isdir(src))
                    op = (op[0], f"{BOX}/b{len(kinds) - 1}", dst)
            args += op
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    request = {"args": args, "env": box.environment(), "hostname": box.hostname,
               "own_network": box.network != "host", "userns": True, "binds": kinds,
               "ready_index": 4 + len(fds),
               "prep": {"procs": [], "scratch": f"{BOX}/s", "made": True,
                        "scratch_mib": box.scratch_limit_mib,
                        "overlay": userns.overlay_options(zygote.layers)}}
    return request, fds


async def _spawn_in_userns(zygote: Zygote, box, on_line: OnLine, entry: str = "container"
                           ) -> tuple[ForkedProcess, list]:
    box.scratch.mkdir(parents=True, exist_ok=True)
    zygote.userns.own(str(box.scratch))
    if not box.layers:  # its /tmp and /root: binds the server makes, so there first
        for sub, mode in (("tmp", 0o1777), ("home", 0o700)):
            os.makedirs(box.scratch / sub, mode=mode, exist_ok=True)
            os.chmod(box.scratch / sub, mode)
    request, mounts = _image_request(zygote, box)
    request["entry"] = entry   # what the fork runs, as on the host's zygote
    if box.network == "outbound":
        box.netstack = usernet.UserNet()
    cred, cred_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    cred.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    try:
        keep, (out, err, status) = await _fork(zygote, request, box,
                                               [cred_theirs.fileno()] + mounts)
    except BaseException:
        cred.close()
        raise
    finally:
        cred_theirs.close()
        for fd in mounts:
            os.close(fd)
    loop = asyncio.get_running_loop()
    net_started = box.netstack.started if box.netstack else (lambda pid: None)
    procs = box.cgroup.procs_files if box.cgroup else []
    try:
        if cgroups.favoring():
            pid = await _place_on_loop(cred, net_started, procs)
        else:
            pid = await asyncio.to_thread(
                _place_init, cred, lambda pid: loop.call_soon_threadsafe(net_started, pid),
                procs)
    except OSError:   # its init could not mount what the server gave it: nothing ran
        _LIVE.pop(id(keep), None)
        zygote.release()
        if box.netstack:
            box.netstack.abandon()
        raise
    finally:
        cred.close()
    if not pid and box.netstack:
        box.netstack.abandon()
    return _started(ForkedProcess(pid, pid, status, None), keep, out, err, on_line)


async def _place_on_loop(cred: socket.socket, started, procs_files: list[str]) -> int:
    """`_place_init` on the loop once the init's word is there. Where moves take well
    under a millisecond (`cgroups.favoring`), a thread costs more than the moves: after
    each of its syscalls it waits for the loop's thread to hand back the GIL (the go came
    10-13 ms later at load 2)."""
    loop = asyncio.get_running_loop()
    said = loop.create_future()
    loop.add_reader(cred.fileno(), lambda: said.done() or said.set_result(None))
    try:
        await asyncio.wait_for(said, _INIT_TIMEOUT_S)
    except asyncio.TimeoutError:
        return 0
    finally:
        loop.remove_reader(cred.fileno())
    return _place_init(cred, started, procs_files)


def _place_init(cred: socket.socket, started, procs_files: list[str]) -> int:
    """In one thread or on the loop (`_place_on_loop`), with no hop between the init's
    word and the go (each hop waits for a CPU on a busy machine): the host pid of the
    container's init, from the credentials the kernel attached to its message;
    slirp4netns started for it
    (`started`, on the loop) while keeper and init move into the container's cgroup (its
    keeper too: the zygote's cgroup, killed when the zygote goes, holds none of a running
    container's processes; in cgroup v1 the first move waits for an RCU grace period, the
    init mounting its root meanwhile); then the go. → the pid; 0 when the init ended
    before it said who it is (its stderr and status say why). Raises OSError when the
    init says it could not mount its binds (nothing of the container's ran)."""
    cred.settimeout(_INIT_TIMEOUT_S)
    try:
        msg, ancdata, _, _ = cred.recvmsg(INIT_WORD_MAX, socket.CMSG_SPACE(12))
    except OSError:
        return 0
    if msg.startswith(b"fail "):
        raise OSError(f"its init could not be set up: {msg[5:].decode(errors='replace')}")
    pid = next((int.from_bytes(data[:4], "little", signed=True)
                for level, kind, data in ancdata
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS), 0)
    if msg != b"init" or not pid:
        return 0
    started(pid)
    try:
        for procs in procs_files:
            for one in (_parent_of(pid), pid):
                with open(procs, "w") as f:
                    f.write(str(one))
        cred.send(b"go")
    except OSError:
        os.kill(pid, 9)  # not in its cgroup: it must not run
    return pid


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("PPid:"):
                return int(line.split()[1])
    raise OSError(f"no parent of {pid} found")
