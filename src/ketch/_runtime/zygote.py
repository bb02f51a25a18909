"""The zygote: a warmed interpreter inside an image that forks containers.

It has imported the container runtime (asyncio, protobuf, the wire, the runners) and
waits, single-threaded and with no event loop, on a control socket only the server holds.
Each request (the container's bubblewrap arguments, environment and pipes, as SCM_RIGHTS)
becomes three processes:

- the **keeper** (forked from the zygote): enters fresh ipc, uts, network and pid
  namespaces, reports its host pid (for slirp4netns to attach), forks the init, and
  reports how it exited; it kills the init if the server goes (its status pipe breaks);
- the **init** (pid 1 of the new namespace): is moved into the container's cgroup by
  the keeper while it builds the root from the bubblewrap arguments
  (`namespaces.build_root`), pivots into it, keeps only the container's capabilities,
  forks the runtime and reaps orphans, exiting with the runtime's status (as
  bubblewrap's init does);
- every zygote keeps two **spare** keepers ahead of its next requests (`_make_spare`):
  its namespaces made and its init forked, both waiting for a request with a network of
  its own;
- the **runtime** (pid 2): its stdio and the network's ready pipe at 0-3, every other fd
  closed, the container's environment, then `container.main()` as after an exec.

The zygote's root is the image's (or the host system's) view with ketch at SITE, so what
it imported is where the container finds it. The host system's zygote (privileged, no
user code) holds a descriptor of its mount namespace's real root (ROOT_FD_ENV): a keeper
returns there to build its container's root from host paths before pivoting away. An
image's zygote, or a memory snapshot's (`_take_snapshot`: the user's code loaded first),
is the root of a user namespace of its own and reaches no host path ("userns" requests):
the init gives the server its pid (SCM_CREDENTIALS) to be moved into its cgroup, and
meanwhile attaches the binds the server passed as descriptors (`_enter_box`). It dies with the
server (parent-death signal, and its control socket's end of file).
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import select
import signal
import socket
import struct
import sys
import threading

from . import container, namespaces, supervisor

CONTROL_FD_ENV = "KETCH_ZYGOTE_CONTROL_FD"
SNAPSHOT_ENV = "KETCH_ZYGOTE_SNAPSHOT"  # "1": the first message is a ContainerSpec to load
ROOT_FD_ENV = "KETCH_ZYGOTE_ROOT_FD"
MAX_REQUEST = 1 << 20
MAX_FDS = 64
# An image's zygote (in a user namespace, `server.runtime.userns`): where its view has the
# image's layers, and where a container mounts its scratch space and binds.
LAYERS = "/.ketch/layers"
BOX = "/.ketch/box"
_READY_FD = 3  # where the runtime finds the network's ready pipe
INIT_WORD_MAX = 512  # bytes of an image init's word to the server (forked._place_init reads it)
SPARE_AFTER_S = 0.04  # a spare keeper is made this long after the last request
# Two: in a create loop the next request comes before the spare made after the last one
# is ready (~11 ms lost each time); the second one made an earlier quiet time takes it.
SPARES = 2
# What a forked container runs (the request's "entry"): a function's runtime, or a
# sandbox's supervisor (which the runtime imports anyway: nothing more to warm).
_ENTRY_POINTS = {"container": container.main, "supervisor": supervisor.main}


def serve(control: socket.socket, root_fd: int):
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # keepers are reaped by the kernel
    # Each [its keeper's socket, its init's, whether it has said it is ready]
    spares = [[*_make_spare(control, root_fd), False]]
    control.send(b"ready")
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(control, MAX_REQUEST, MAX_FDS)
        except ConnectionError:
            return
        if not msg:
            return
        if threading.active_count() != 1:
            raise RuntimeError("the zygote must not run threads when it forks")
        req = json.loads(msg)
        handed = False
        if req["own_network"]:
            handed = _hand_to_spare(spares, msg, fds)
        if not handed:
            sys.stdout.flush()
            sys.stderr.flush()
            if os.fork() == 0:
                for keeper, init, _ in spares:
                    keeper.close()
                    init.close()
                _keeper(req, fds, control, root_fd)
        for fd in fds:
            os.close(fd)
        # The next spare once the container just started has had the CPU a while
        # (unless another request comes first: then that one is forked as before).
        while len(spares) < SPARES and \
                not select.select([control], [], [], SPARE_AFTER_S)[0]:
            try:
                spares.append([*_make_spare(control, root_fd, spares), False])
            except OSError:  # at its pids bound: the requests are forked as before
                break


def _hand_to_spare(spares: list[list], msg: bytes, fds: list[int]) -> bool:
    """Hands the request to the first spare that is ready (dropping those gone, and the
    one taken); False: none was ready. Its keeper has it (it says the pids to the server,
    which starts the network then, and moves the init into the cgroup), and its init
    too, at once: the init starts one process's wake sooner than through the keeper."""
    for entry in list(spares):
        keeper, init, ready = entry
        ready = entry[2] = ready or _said_ready(keeper)
        if ready is None:  # gone
            spares.remove(entry)
            keeper.close()
            init.close()
        elif ready:
            spares.remove(entry)
            try:
                socket.send_fds(keeper, [msg], fds)
            except OSError:
                init.close()
                continue  # it went meanwhile: the next one, or forked as before
            finally:
                keeper.close()
            try:
                socket.send_fds(init, [msg], fds)
            except OSError:
                pass  # killed just now: its keeper says it exited
            finally:
                init.close()
            return True
    return False


def _keeper(req: dict, fds: list[int], control: socket.socket, root_fd: int):
    out, err, status = fds[:3]
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # An image's keeper is in its container's cgroup: the SIGTERM of a stop is the
        # runtime's to handle (the keeper's death would kill the init at once).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        control.close()
        userns = req.get("userns", False)
        if not userns:
            os.fchdir(root_fd)
            os.chroot(".")       # back to the real root of the zygote's mount namespace
            os.close(root_fd)
        flags = _FLAGS
        if req["own_network"]:
            flags |= namespaces.CLONE_NEWNET
        namespaces.unshare(flags)
        if req["own_network"]:
            namespaces.loopback_up()
        namespaces.sethostname(req["hostname"])
        if not userns:  # else the init says who it is, as the server sees it
            os.write(status, f"net {os.getpid()}\n".encode())
        placed, place = os.pipe()
        init = os.fork()
        if init == 0:
            os.close(place)
            _init(req, fds, placed)
        os.close(placed)
        if not userns:
            os.write(status, f"init {init}\n".encode())
        _place(init, req["prep"]["procs"], place)
        for fd in fds:
            if fd != status:
                os.close(fd)
        _keep(init, status)
    except BaseException as exc:  # noqa: BLE001 - reported where the container's output goes
        _fail(err, status, exc)
    os._exit(0)


_FLAGS = namespaces.CLONE_NEWNS | namespaces.CLONE_NEWIPC | namespaces.CLONE_NEWUTS | \
    namespaces.CLONE_NEWPID


def _keep(init: int, status: int):
    """Waits for the init; kills it if the server goes (its status pipe breaks)."""
    pidfd = os.pidfd_open(init)
    poll = select.poll()
    poll.register(pidfd, select.POLLIN)
    poll.register(status, 0)  # POLLERR once the server's end is closed
    for fd, _ in poll.poll():
        if fd == status:
            os.kill(init, signal.SIGKILL)
    _, code = os.waitpid(init, 0)
    os.write(status, f"exit {os.waitstatus_to_exitcode(code)}\n".encode())


def _make_spare(control: socket.socket, root_fd: int, others=()
                ) -> tuple[socket.socket, socket.socket]:
    """A keeper made ahead of a request (a zygote keeps SPARES), with its fresh namespaces
    (network included) and its init forked, waiting: a container's start skips two forks
    and the unshare (for a memory snapshot's zygote, holding torch, each fork costs tens
    of milliseconds). It says "ready" when it can take a request (until then requests
    are forked as before). Only the request's sockets reach it (→ the keeper's and the
    init's, the zygote's ends): not the other spares'; it exits with the zygote (end of
    file)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    to_init, init_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.fork() == 0:
        ours.close()
        to_init.close()
        control.close()
        for keeper, init, _ in others:
            keeper.close()
            init.close()
        _spare_keeper(theirs, init_end, root_fd)
    theirs.close()
    init_end.close()
    return ours, to_init


def _said_ready(spare: socket.socket) -> bool | None:
    """Whether the spare has said it is ready; None: it is gone."""
    try:
        return spare.recv(8, socket.MSG_DONTWAIT) == b"ready" or None
    except BlockingIOError:
        return False
    except OSError:
        return None


def _spare_keeper(request: socket.socket, init_request: socket.socket, root_fd: int):
    err = status = None
    userns = root_fd < 0  # an image's or a snapshot's zygote: as `_keeper` for "userns"
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        if userns:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        else:
            os.fchdir(root_fd)
            os.chroot(".")
            os.close(root_fd)
        namespaces.unshare(_FLAGS | namespaces.CLONE_NEWNET)
        namespaces.loopback_up()
        placed, place = os.pipe()
        init = os.fork()
        if init == 0:
            request.close()
            os.close(place)
            _spare_init(init_request, placed)
        init_request.close()
        os.close(placed)
        request.send(b"ready")
        msg, fds, _, _ = socket.recv_fds(request, MAX_REQUEST, MAX_FDS)
        if not msg:   # the zygote went
            os.kill(init, signal.SIGKILL)
            os._exit(0)
        err, status = fds[1], fds[2]
        if not userns:  # else the init says who it is, as the server sees it
            os.write(status, f"net {os.getpid()}\ninit {init}\n".encode())
        _place(init, json.loads(msg)["prep"]["procs"], place)
        for fd in fds:
            if fd != status:
                os.close(fd)
        _keep(init, status)
    except BaseException as exc:  # noqa: BLE001
        if err is None:
            os._exit(1)
        _fail(err, status, exc)
    os._exit(0)


def _spare_init(request: socket.socket, placed: int):
    namespaces.die_with_parent()
    try:
        msg, fds, _, _ = socket.recv_fds(request, MAX_REQUEST, MAX_FDS)
    except OSError:
        os._exit(1)
    if not msg:
        os._exit(0)
    request.close()
    _init(json.loads(msg), fds, placed, set_hostname=True)


def _init(req: dict, fds: list[int], placed: int, set_hostname: bool = False):
    out, err, status = fds[:3]
    try:
        if set_hostname:  # a spare's: its keeper had no request yet
            namespaces.sethostname(req["hostname"])
        namespaces.die_with_parent()
        namespaces.not_dumpable()  # its container's processes cannot ptrace it
        os.close(status)
        os.dup2(out, 1)  # not the zygote's own stdout and stderr any more
        os.dup2(err, 2)
        cred = _enter_box(req, fds) if req.get("userns") else None
        _prepare(req["prep"])
        new_root = req["prep"]["scratch"] + "/.root"
        settings = namespaces.build_root(req["args"], new_root)
        if os.read(placed, 1) != b"1":  # before anything of the container's runs
            raise OSError("it could not be moved into its cgroup")
        os.close(placed)
        if cred is not None:   # the server moved it meanwhile
            if cred.recv(8) != b"go":
                raise OSError("the server did not move the container into its cgroup")
            cred.detach()  # closed with the other descriptors
        namespaces.pivot_into(new_root)
        namespaces.keep_only_caps(settings["caps"])
        runtime = os.fork()
        if runtime == 0:
            try:
                _runtime(req, fds, settings["chdir"])
            except BaseException as exc:  # noqa: BLE001 - its stderr is at 2 by now
                _fail(2, None, exc)
        for fd in fds:
            if fd != status:
                os.close(fd)
    except BaseException as exc:  # noqa: BLE001
        _fail(err, None, exc)
    while True:  # pid 1: reap what the runtime's children leave behind
        pid, code = os.waitpid(-1, 0)
        if pid == runtime:
            code = os.waitstatus_to_exitcode(code)
            os._exit(code if code >= 0 else 128 - code)


def _enter_box(req: dict, fds: list[int]) -> socket.socket:
    """In an image's zygote: mounts the scratch space and the binds the server made
    (descriptors: nothing of the host's is reachable by path here), then tells the server
    this process's host pid (SCM_CREDENTIALS: the kernel says it, in the server's pid
    namespace), for the server to move it into the container's cgroup while it builds its
    root; → the socket the server says "go" on once it is there (`_init` waits for it
    before the pivot: nothing of the container's runs before). A mount that fails is said
    instead ("fail ..."): the server then starts the container by exec."""
    cred = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, fileno=fds[3])
    try:
        namespaces.mount(None, "/", None, namespaces.MS_REC | namespaces.MS_PRIVATE)
        namespaces.mount("tmpfs", BOX, "tmpfs", namespaces.MS_NOSUID | namespaces.MS_NODEV,
                         "mode=0755")
        namespaces.attach(fds[4], f"{BOX}/s")
        for i, is_dir in enumerate(req["binds"]):
            namespaces.attach(fds[5 + i], f"{BOX}/b{i}", is_dir)
    except OSError as exc:
        cred.send(f"fail {exc}".encode()[:INIT_WORD_MAX])
        raise
    ids = struct.pack("3i", os.getpid(), os.getuid(), os.getgid())
    cred.sendmsg([b"init"], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, ids)])
    return cred


def _place(init: int, procs_files: list[str], place: int):
    """The keeper moves the init into the container's cgroups while the init builds its
    root (in cgroup v1 the first move waits for an RCU grace period: 10 ms and more), and
    then says so on the place pipe; the init forks the runtime only after that. A move
    that fails leaves the pipe closed unsaid: the init fails."""
    try:
        for procs in procs_files:
            with open(procs, "w") as f:
                f.write(str(init))
        os.write(place, b"1")
    finally:
        os.close(place)


def _prepare(prep: dict):
    """As the exec path's preexec does (its cgroup aside: the keeper's `_place`): a private
    mount namespace with the scratch space bounded and the image's layers stacked."""
    namespaces.mount(None, "/", None, namespaces.MS_REC | namespaces.MS_PRIVATE)
    scratch = prep["scratch"]
    if prep["scratch_mib"]:
        namespaces.mount("tmpfs", scratch, "tmpfs", 0, f"size={prep['scratch_mib']}m,mode=0755")
    if not prep["overlay"]:
        if prep.get("made"):  # by the server (they are binds already)
            return
        for sub, mode in (("tmp", 0o1777), ("home", 0o700)):
            os.makedirs(f"{scratch}/{sub}", mode=mode, exist_ok=True)
        os.chmod(f"{scratch}/tmp", 0o1777)
        return
    for sub in ("upper", "work", "root"):
        os.makedirs(f"{scratch}/{sub}", exist_ok=True)
    namespaces.mount("overlay", f"{scratch}/root", "overlay", 0, prep["overlay"])


def _runtime(req: dict, fds: list[int], workdir: str):
    out, err, _status = fds[:3]
    at = req.get("ready_index", 3)
    ready = fds[at] if len(fds) > at else None
    os.dup2(out, 1)
    os.dup2(err, 2)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    env = dict(req["env"])
    if ready is not None:
        os.dup2(ready, _READY_FD)
        env["KETCH_NET_READY_FD"] = str(_READY_FD)
    keep = {0, 1, 2} | ({_READY_FD} if ready is not None else set())
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
    _ENTRY_POINTS[req.get("entry", "container")]()


def _fail(err: int, status: int | None, exc: BaseException):
    try:
        os.write(err, f"ketch: the container could not be set up: {exc}\n".encode())
        if status is not None:
            os.write(status, b"exit 126\n")
    finally:
        os._exit(126)


# Imported once here rather than in each container: the event loop, and the web server
# web endpoints use (where this interpreter has them; a container imports what is missing).
_WARM = ("uvloop", "uvicorn", "uvicorn.config", "uvicorn.server", "uvicorn.lifespan.on",
         "uvicorn.protocols.http.auto", "uvicorn.protocols.websockets.auto",
         "uvicorn.protocols.http.h11_impl", "uvicorn.protocols.http.httptools_impl",
         "uvicorn.protocols.websockets.websockets_sansio_impl", "uvicorn.loops.uvloop",
         "uvicorn.loops.asyncio", "a2wsgi")


def main():
    namespaces.die_with_parent()
    for name in _WARM:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    # What is imported stays: the collector of a forked container need not walk (and so
    # copy) the zygote's objects.
    gc.freeze()
    control = socket.socket(fileno=int(os.environ.pop(CONTROL_FD_ENV)))
    if os.environ.pop(SNAPSHOT_ENV, ""):
        _take_snapshot(control)
        gc.freeze()  # and what the user's code made
    serve(control, int(os.environ.pop(ROOT_FD_ENV, "-1")))


def _take_snapshot(control: socket.socket):
    """Loads the function the server names (its import, its snap=True hooks), once: the
    containers forked after find it loaded. A failure is said on stdout (the server's log
    and the container's) and the zygote exits: its containers start by exec."""
    from ..proto import ketch_pb2 as pb
    from . import loading
    spec = pb.ContainerSpec()
    spec.ParseFromString(control.recv(MAX_REQUEST))
    try:
        loading.preload(spec)
    except BaseException as exc:  # noqa: BLE001 - the user's code: anything
        print(f"the memory snapshot of {spec.spec.name} was not taken: "
              f"{type(exc).__name__}: {exc}", flush=True)
        os._exit(3)


if __name__ == "__main__":
    main()
