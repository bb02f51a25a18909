"""A forked container's runtime process (pid 2 of its pid namespace), from its fork to
the entry point; and a spare's runtime-to-be, forked ahead of its request.

The init forks the runtime once it has built the root, been moved into the container's
cgroup, pivoted and dropped its capabilities (`zygote._init`). A fork of the zygote's
interpreter costs its page tables (5-7 ms on a busy machine), so a spare's init forks
the runtime-to-be when the spare is made (`fork_ahead`): it says its pid to the keeper
(SCM_CREDENTIALS: the kernel says it as the keeper sees it) to be moved into the
container's cgroup with the init (for an image's zygote the init says it to the server),
then waits, holding only its end of a socket to the init, until the init has done all
that (`hand_over`): it enters the init's new root itself, keeps the same capabilities,
and goes on as `run`. Nothing of the container's runs in it before.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct

from . import container, namespaces, supervisor

READY_FD = 3  # where the runtime finds the network's ready pipe
# What a forked container runs (the request's "entry"): a function's runtime, or a
# sandbox's supervisor (which the runtime imports anyway: nothing more to warm).
ENTRY_POINTS = {"container": container.main, "supervisor": supervisor.main}
_MAX_HANDED = 2 << 20
_MAX_FDS = 80


def run(req: dict, fds: list[int], workdir: str):
    out, err, _status = fds[:3]
    at = req.get("ready_index", 3)
    ready = fds[at] if len(fds) > at else None
    os.dup2(out, 1)
    os.dup2(err, 2)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    env = dict(req["env"])
    if ready is not None:
        os.dup2(ready, READY_FD)
        env["KETCH_NET_READY_FD"] = str(READY_FD)
    keep = {0, 1, 2} | ({READY_FD} if ready is not None else set())
    for name in os.listdir("/proc/self/fd"):
        if int(name) not in keep:
            try:
                os.close(int(name))
            except OSError:
                pass
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(workdir)
    ENTRY_POINTS[req.get("entry", "container")]()


def fail(err: int, status: int | None, exc: BaseException):
    try:
        os.write(err, f"ketch: the container could not be set up: {exc}\n".encode())
        if status is not None:
            os.write(status, b"exit 126\n")
    finally:
        os._exit(126)


def fork_ahead(tell: socket.socket, close: list[int]) -> tuple[int, socket.socket]:
    """In a spare's init, before its request: → the runtime-to-be's pid (in the
    container's pid namespace) and the socket to hand it over on. It says who it is on
    `tell` and closes it and `close` (the init's own descriptors)."""
    go, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        try:
            go.close()
            ids = struct.pack("3i", os.getpid(), os.getuid(), os.getgid())
            tell.sendmsg([b"runtime"], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, ids)])
            tell.close()
            for fd in close:
                os.close(fd)
        except BaseException:  # noqa: BLE001 - the keeper sees its socket close unsaid
            os._exit(1)
        _wait(theirs)
    theirs.close()
    return pid, go


def said_runtime(told: socket.socket) -> int:
    """The keeper's side of `fork_ahead`: → the runtime-to-be's pid as the keeper sees
    it (`told` has SO_PASSCRED); 0 when the init went first."""
    msg, ancdata, _, _ = told.recvmsg(16, socket.CMSG_SPACE(12))
    pid = next((int.from_bytes(data[:4], "little", signed=True)
                for level, kind, data in ancdata
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS), 0)
    return pid if msg == b"runtime" else 0


def hand_over(go: socket.socket, req: dict, fds: list[int], settings: dict):
    """The init, pivoted and with only the container's capabilities, in its cgroup: the
    runtime-to-be may go on, with the container's descriptors and the new root's."""
    root = os.open("/", os.O_PATH | os.O_DIRECTORY)
    handed = {"env": req["env"], "entry": req.get("entry", "container"),
              "ready_index": req.get("ready_index", 3),
              "chdir": settings["chdir"], "caps": settings["caps"]}
    try:  # all but the status pipe (the keeper's: the init closed it), at their places
        socket.send_fds(go, [json.dumps(handed).encode()], [*fds[:2], *fds[3:], root])
    finally:
        os.close(root)
        go.close()


def _wait(go: socket.socket):
    try:
        msg, fds, _, _ = socket.recv_fds(go, _MAX_HANDED, _MAX_FDS)
    except OSError:
        os._exit(1)
    if not msg:  # the spare was not used: its init went
        os._exit(0)
    go.close()
    handed = json.loads(msg)
    root = fds.pop()
    fds.insert(2, -1)
    try:
        # The pivot moved this process's root with the init's; entered explicitly all
        # the same, so no reference to the detached old root can be left here.
        os.fchdir(root)
        os.chroot(".")
        os.close(root)
        namespaces.keep_only_caps(handed["caps"])
        namespaces.not_dumpable()  # as a fork of the init would be
        run(handed, fds, handed["chdir"])
    except BaseException as exc:  # noqa: BLE001 - said where the container's output goes
        fail(fds[1], None, exc)
