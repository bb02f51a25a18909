"""`Sandbox`: a container this side drives from outside. Create it (with or without an
entrypoint), exec processes in it with streamed stdin/stdout/stderr, move files in and out,
wait for it or terminate it. It belongs to an app (`ketch.App.lookup(name,
create_if_missing=True)`) but not to this process: it outlives it until its timeout, and
any process of the workspace can attach with `Sandbox.from_id`.

    app = ketch.App.lookup("agents", create_if_missing=True)
    sb = ketch.Sandbox.create(app=app, image=ketch.Image.debian_slim())
    p = sb.exec("python", "-c", "print(6 * 7)")
    print(p.stdout.read(), p.wait())
    sb.terminate()
"""

from __future__ import annotations

import asyncio
import os

from . import _sync
from ._client import Client
from ._container_process import ContainerProcess
from ._image import Image
from ._io_streams import StreamReader, StreamWriter, _Source, check_bufsize, print_stream
from ._object import check_name, refuse_client
from ._options import build_options
from ._probe import probe_proto
from ._snapshot_image import snapshot_image
from ._sandbox_connect import SandboxConnectCredentials, create_connect_token
from ._sandbox_fs import FileIO, SandboxFilesystem, old_op
from ._sandbox_logs import SandboxLogs
from ._tunnel import Tunnel
from .exception import InvalidError, SandboxTerminatedError, SandboxTimeoutError, TimeoutError
from .proto import ketch_pb2 as pb
from .stream_type import StreamType

MAIN = "main"   # the entrypoint, as the server names it
_NOT_YET = {
    "network_file_systems": "network file systems are not in ketch; use volumes=",
    "custom_domain": "custom domains for sandboxes are not in ketch",
    "proxy": "static outbound IP proxies are not in ketch",
    "outbound_cidr_allowlist": "outbound allowlists are not in ketch yet; use block_network",
    "outbound_domain_allowlist": "outbound allowlists are not in ketch yet; use block_network",
    "cidr_allowlist": "outbound allowlists are not in ketch yet; use block_network",
    "inbound_cidr_allowlist": "inbound allowlists for tunnels are not in ketch yet",
    "experimental_options": "Modal's experimental sandbox options are not in ketch",
    "_experimental_enable_snapshot": "memory snapshots are not in ketch yet",
    "runtime": "ketch runs sandboxes on its server's runtime (bwrap or process)",
}
_IGNORED = ("verbose", "include_oidc_identity_token", "pty_info", "environment_name",
            "cloud", "region")


def _stream_mode(name: str, value) -> StreamType:
    if not isinstance(value, StreamType):
        raise InvalidError(f"{name}={value!r}: give a ketch.stream_type.StreamType "
                           "(PIPE, DEVNULL or STDOUT)")
    return value


def _env(where: str, env) -> dict[str, str]:
    """Modal's env: a dict of str to str, where None means "not set"."""
    if env is None:
        return {}
    if not isinstance(env, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in env.items()):
        raise InvalidError(f"{where}: env= takes a dict of str to str (or None)")
    return {k: v for k, v in env.items() if v is not None}


async def _secret_ids(secrets) -> list[str]:
    return [await s._id() for s in secrets]


class Sandbox:
    """A sandbox on the ketch server; made by `create`, found by `from_id`/`from_name`."""

    def __init__(self, info: pb.SandboxInfo):
        self._id = info.sandbox_id
        self._info = info
        self._stdout = StreamReader(_Source(self._id, MAIN, 1), 1)
        self._stderr = StreamReader(_Source(self._id, MAIN, 2), 2)
        self._stdin = StreamWriter(self._id, MAIN)

    def __repr__(self):
        return f"<ketch.Sandbox {self._id}>"

    @property
    def object_id(self) -> str:
        return self._id

    @property
    def stdout(self) -> StreamReader:
        """The entrypoint's stdout."""
        return self._stdout

    @property
    def stderr(self) -> StreamReader:
        return self._stderr

    @property
    def stdin(self) -> StreamWriter:
        return self._stdin

    @property
    def returncode(self) -> int | None:
        """The exit code once wait() or poll() saw it end, else None."""
        return self._info.returncode if self._info.done else None

    @property
    def filesystem(self) -> SandboxFilesystem:
        return SandboxFilesystem(self._id)

    @property
    def logs(self) -> SandboxLogs:
        """Its entrypoint's output as its app's log keeps it: `fetch(since=...)`,
        `tail(n)`, also after it ended."""
        return SandboxLogs(self._id, self._info.app_id)

    # ------------------------------------------------------------------ making, finding

    @_sync.twin_classmethod
    async def create(cls, *args: str, app=None, name: str | None = None, tags=None,
                     image=None, env=None, secrets=None, timeout: int | None = 300,
                     idle_timeout: int | None = None, workdir: str | None = None, gpu=None,
                     cpu=None, memory=None, block_network: bool = False, volumes=None,
                     pty: bool = False, encrypted_ports=(), unencrypted_ports=(),
                     h2_ports=(), readiness_probe=None, client=None, **options) -> "Sandbox":
        """Starts a sandbox running `args` (its entrypoint; none: it waits until
        terminated or timed out) in `image` (none: this server's environment). timeout
        bounds its life (default 300 s), idle_timeout ends it once nothing has run or been
        asked of it that long."""
        refuse_client("Sandbox.create", client)
        where = "Sandbox.create"
        for key, value in options.items():
            if key in _NOT_YET and value not in (None, False, [], (), {}):
                raise NotImplementedError(f"{where}: {key}= — {_NOT_YET[key]}")
            if key not in _NOT_YET and key not in _IGNORED:
                raise InvalidError(f"{where}: unknown option {key!r}")
        if not all(isinstance(a, str) for a in args):
            raise InvalidError(f"{where}: the entrypoint's arguments must be str")
        opts = build_options(where, cpu=cpu, memory=memory, gpu=gpu,
                             timeout=timeout if timeout else 86400, secrets=secrets or (),
                             volumes=volumes, image=image, block_network=block_network)
        if idle_timeout is not None and (isinstance(idle_timeout, bool) or not isinstance(
                idle_timeout, (int, float)) or not 1 <= idle_timeout <= 86400):
            raise InvalidError(f"{where}: idle_timeout={idle_timeout!r}: give seconds from 1 "
                               "to 86400")
        if tags is not None and not (isinstance(tags, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in tags.items())):
            raise InvalidError(f"{where}: tags= takes a dict of str to str")
        if name is not None:
            check_name("Sandbox", name)
        # h2_ports: the tunnels pass TCP through untouched, so HTTP/2 needs nothing more.
        encrypted = _ports("encrypted_ports", encrypted_ports)
        ports = encrypted + [p for p in _ports("h2_ports", h2_ports) if p not in encrypted], \
            _ports("unencrypted_ports", unencrypted_ports)
        if block_network and (ports[0] or ports[1]):
            raise InvalidError(f"{where}: block_network=True leaves no network for "
                               "encrypted_ports or unencrypted_ports; drop one of them")
        app_id = _app_id(app)
        conn = await Client.get()
        for vol in opts.volumes.values():
            await vol._id()
        spec = pb.SandboxSpec(
            entrypoint=args, env=_env(where, env), secret_ids=await _secret_ids(opts.secrets),
            volumes=[pb.VolumeMount(path=p, volume_id=v.object_id, name=v.name or "",
                                    read_only=v._read_only) for p, v in opts.volumes.items()],
            workdir=workdir or "", timeout_s=opts.timeout, idle_timeout_s=idle_timeout or 0,
            resources=pb.Resources(cpu_request=opts.cpu_request, cpu_limit=opts.cpu_limit,
                                   memory_request_mib=opts.memory_request_mib,
                                   memory_limit_mib=opts.memory_limit_mib, gpu=opts.gpu),
            block_network=opts.block_network, pty=bool(pty), encrypted_ports=ports[0],
            unencrypted_ports=ports[1])
        probe = probe_proto(readiness_probe)
        if probe is not None:
            spec.readiness_probe.CopyFrom(probe)
        if opts.image is not None:
            spec.image_id = await opts.image._build(conn)
        return await cls._create(app_id, spec, name or "", tags or {})

    @classmethod
    async def _create(cls, app_id: str, spec: pb.SandboxSpec, name: str = "", tags=None):
        conn = await Client.get()
        reply = await conn.request(sandbox_create=pb.SandboxCreate(
            app_id=app_id, name=name, tags=tags or {}, spec=spec))
        return cls(reply.sandbox_info)

    @_sync.twin_classmethod
    async def from_id(cls, sandbox_id: str, client=None) -> "Sandbox":
        """Attaches to a sandbox of this workspace by its id (`sb.object_id`)."""
        refuse_client("Sandbox.from_id", client)
        conn = await Client.get()
        reply = await conn.request(sandbox_get=pb.SandboxGet(sandbox_id=sandbox_id))
        return cls(reply.sandbox_info)

    @_sync.twin_classmethod
    async def from_name(cls, app_name: str, name: str, *, environment_name=None,
                        include_terminated: bool = False, client=None) -> "Sandbox":
        """The running sandbox created with `name=` in the deployed app `app_name` (with
        include_terminated=True, the latest ended one when none runs)."""
        refuse_client("Sandbox.from_name", client)
        conn = await Client.get()
        reply = await conn.request(sandbox_get=pb.SandboxGet(
            app_name=app_name, name=name, include_terminated=include_terminated))
        return cls(reply.sandbox_info)

    @_sync.twin_classmethod
    async def list(cls, *, app_id: str | None = None, tags=None, client=None):
        """The running sandboxes of this workspace (of one app), having all of `tags`."""
        refuse_client("Sandbox.list", client)
        conn = await Client.get()
        reply = await conn.request(sandbox_list=pb.SandboxList(app_id=app_id or "",
                                                               tags=tags or {}))
        for info in reply.sandbox_list_reply.sandboxes:
            yield cls(info)

    # ------------------------------------------------------------------ its life

    @_sync.twin
    async def set_tags(self, tags: dict, *, client=None) -> None:
        """Replaces its tags (an empty dict clears them)."""
        conn = await Client.get()
        await conn.request(sandbox_set_tags=pb.SandboxSetTags(sandbox_id=self._id, tags=tags))

    @_sync.twin
    async def get_tags(self) -> dict:
        conn = await Client.get()
        reply = await conn.request(sandbox_get=pb.SandboxGet(sandbox_id=self._id))
        return dict(reply.sandbox_info.tags)

    async def _wait(self, timeout: float) -> pb.SandboxInfo:
        if not self._info.done:
            conn = await Client.get()
            reply = await conn.request(sandbox_wait=pb.SandboxWait(sandbox_id=self._id,
                                                                   timeout_s=timeout))
            self._info = reply.sandbox_info
        return self._info

    @_sync.twin
    async def wait(self, raise_on_termination: bool = True) -> None:
        """Waits for it to end. A sandbox that timed out raises SandboxTimeoutError; one
        ended from outside raises SandboxTerminatedError (unless raise_on_termination is
        False)."""
        info = await self._wait(-1)
        if info.reason in ("timeout", "idle_timeout"):
            raise SandboxTimeoutError(f"sandbox {self._id} ended: {info.message}")
        if raise_on_termination and info.reason in ("terminated", "oom", "crashed",
                                                    "server_stopped", "app_stopped"):
            raise SandboxTerminatedError(f"sandbox {self._id} ended: {info.message}")

    @_sync.twin
    async def wait_until_ready(self, *, timeout: int = 300) -> None:
        """Waits until its readiness_probe passed (TimeoutError after `timeout` seconds;
        SandboxTerminatedError if it ended first)."""
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise InvalidError(f"wait_until_ready: timeout={timeout!r}: give seconds above 0")
        conn = await Client.get()
        reply = await conn.request(sandbox_wait_ready=pb.SandboxWaitReady(
            sandbox_id=self._id, timeout_s=timeout))
        info = reply.sandbox_info
        if info.ready:
            return
        if info.done:
            raise SandboxTerminatedError(f"sandbox {self._id} ended before its readiness "
                                         f"probe passed: {info.message}")
        raise TimeoutError(f"sandbox {self._id} was not ready within {timeout:g} s (its "
                           "readiness probe has not passed)")

    @_sync.twin
    async def poll(self) -> int | None:
        """Its exit code if it has ended, else None."""
        info = await self._wait(0)
        return info.returncode if info.done else None

    @_sync.twin
    async def terminate(self, *, wait: bool = False):
        """Ends it (its processes get SIGTERM, then SIGKILL); with wait=True, waits and
        returns the exit code."""
        conn = await Client.get()
        await conn.request(sandbox_terminate=pb.SandboxTerminate(sandbox_id=self._id))
        if wait:
            return (await self._wait(-1)).returncode
        return None

    def detach(self) -> None:
        """This handle lets go of the sandbox (it keeps running until its timeout);
        ketch keeps nothing open per sandbox, so there is nothing to release."""

    @_sync.twin
    async def snapshot_filesystem(self, timeout: int = 55) -> Image:
        """Its file system now, as an Image (a new layer over its image's) that later
        sandboxes and functions can run in. Needs the bwrap runtime and image=."""
        conn = await Client.get()
        reply = await conn.request(sandbox_snapshot_fs=pb.SandboxSnapshotFs(
            sandbox_id=self._id))
        return snapshot_image(conn, reply.image_built.image_id)

    @_sync.twin
    async def snapshot_directory(self, path, *, timeout: int = 55, ttl=None,
                                 _experimental_encryption_key=None) -> Image:
        """A directory of the running sandbox, copied into a new Image (its content at the
        image's root) for `mount_image` here or in other sandboxes. bwrap runtime."""
        conn = await Client.get()
        reply = await conn.request(sandbox_snapshot_dir=pb.SandboxSnapshotDir(
            sandbox_id=self._id, path=_posix(path)))
        return snapshot_image(conn, reply.image_built.image_id)

    @_sync.twin
    async def mount_image(self, path, image: Image, *, _experimental_encryption_key=None
                          ) -> None:
        """Mounts `image` at `path` (made if missing; what was there is hidden until
        unmount_image). Writes go to a layer of this sandbox's own. bwrap runtime."""
        if not isinstance(image, Image):
            raise InvalidError(f"mount_image: {image!r} is not a ketch.Image")
        conn = await Client.get()
        image_id = await image._build(conn)
        await conn.request(sandbox_mount_image=pb.SandboxMountImage(
            sandbox_id=self._id, path=_posix(path), image_id=image_id))

    @_sync.twin
    async def unmount_image(self, path) -> None:
        """Unmounts what mount_image mounted at `path`: what was there shows again."""
        conn = await Client.get()
        await conn.request(sandbox_mount_image=pb.SandboxMountImage(
            sandbox_id=self._id, path=_posix(path)))

    @_sync.twin
    async def reload_volumes(self) -> None:
        """Modal's: makes volume changes committed elsewhere visible in the sandbox. A ketch
        volume is the same directory on the server for every container that mounts it, so
        they are visible already; nothing to do."""
        await self.poll.aio()

    @_sync.twin
    async def tunnels(self, timeout: int = 50) -> dict[int, Tunnel]:
        """The sandbox's tunneled ports (encrypted_ports, unencrypted_ports): its port →
        a `Tunnel` reachable from this machine through the ketch server's host."""
        conn = await Client.get()
        reply = await conn.request(sandbox_get=pb.SandboxGet(sandbox_id=self._id))
        return {t.container_port: Tunnel(t.host, t.port, t.host, t.port)
                for t in reply.sandbox_info.tunnels}

    @_sync.twin
    async def create_connect_token(self, user_metadata: str | dict | None = None,
                                   port: int = 8080) -> SandboxConnectCredentials:
        """A URL and token with which HTTP clients reach `port` in the sandbox through the
        gateway; the server there gets `user_metadata` as the X-Verified-User-Data header.
        The token works until the sandbox ends."""
        return await create_connect_token(self._id, user_metadata, port)

    # ------------------------------------------------------------------ processes

    @_sync.twin
    async def exec(self, *args: str, stdout: StreamType = StreamType.PIPE,
                   stderr: StreamType = StreamType.PIPE, timeout: int | None = None,
                   workdir: str | None = None, env=None, secrets=None, text: bool = True,
                   bufsize: int = -1, pty: bool = False, pty_info=None, _pty_info=None
                   ) -> ContainerProcess:
        """Starts `args` in the sandbox; returns its ContainerProcess. stdout/stderr:
        PIPE (read them from the process), DEVNULL, or STDOUT (printed here as they come).
        timeout ends that process alone (killed; exit code 137)."""
        if not args or not all(isinstance(a, str) for a in args):
            raise InvalidError("exec needs a command: strings, as sb.exec('ls', '-l')")
        modes = _stream_mode("stdout", stdout), _stream_mode("stderr", stderr)
        by_line = check_bufsize(bufsize)
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(
                timeout, (int, float)) or not 0 < timeout <= 86400):
            raise InvalidError(f"exec timeout={timeout!r}: give seconds up to 86400")
        from_secrets = await _secret_ids(build_options("exec", secrets=secrets or ()).secrets)
        conn = await Client.get()
        reply = await conn.request(sandbox_exec=pb.SandboxExec(
            sandbox_id=self._id, args=args, workdir=workdir or "", env=_env("exec", env),
            secret_ids=from_secrets, timeout_s=timeout or 0, pty=bool(pty),
            stdout=1 if modes[0] is StreamType.DEVNULL else 0,
            stderr=1 if modes[1] is StreamType.DEVNULL else 0))
        exec_id = reply.sandbox_exec_started.exec_id
        readers = []
        for fd, mode in ((1, modes[0]), (2, modes[1])):
            reader = StreamReader(_Source(self._id, exec_id, fd), fd, text, by_line)
            if mode is StreamType.STDOUT:
                asyncio.ensure_future(print_stream(reader))
                reader = StreamReader(None, fd, text, by_line)
            elif mode is StreamType.DEVNULL:
                reader = StreamReader(None, fd, text, by_line)
            readers.append(reader)
        return ContainerProcess(self._id, exec_id, *readers, text=text)

    # ------------------------------------------------------------------ files, old API

    @_sync.twin
    async def open(self, path: str, mode: str = "r") -> FileIO:
        """A file in the sandbox (Modal's older API): read, write, seek, flush, close."""
        return await FileIO(self._id, path, mode)._open()

    @_sync.twin
    async def ls(self, path: str) -> list[str]:
        return [os.path.basename(e.path) for e in (await old_op(self._id, "ls", path)).entries]

    @_sync.twin
    async def mkdir(self, path: str, parents: bool = False) -> None:
        await old_op(self._id, "mkdir", path, parents=parents)

    @_sync.twin
    async def rm(self, path: str, recursive: bool = False) -> None:
        await old_op(self._id, "rm", path, recursive=recursive)

def _posix(path) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidError(f"{path!r}: give a path in the sandbox (str or PurePosixPath)")
    return os.fspath(path)


def _ports(name: str, ports) -> list[int]:
    ports = list(ports or ())
    if not all(isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= 65535
               for p in ports):
        raise InvalidError(f"Sandbox.create: {name}={ports!r}: give port numbers 1-65535")
    return ports


def _app_id(app) -> str:
    """The app a sandbox is made in: the given App (looked up or running), or inside a
    function's container, that function's app."""
    if app is None:
        inside = os.environ.get("KETCH_APP_ID")
        if inside:
            return inside
        raise InvalidError("Sandbox.create needs app=: a running app, or "
                           "ketch.App.lookup('my-app', create_if_missing=True)")
    app_id = getattr(app, "app_id", None)
    if not app_id:
        raise InvalidError(f"Sandbox.create: {app!r} is not running; use "
                           "ketch.App.lookup(name, create_if_missing=True) or app.run()")
    return app_id
