"""The user namespace of a zygote that runs an image's code, and the view it runs in.

An image's interpreter, its site-packages and their .pth files are the user's code, so
the zygote that has imported them (`_runtime.zygote`) must hold no privilege of the
host's. It runs as the root of a user namespace of its own whose ids are a range of
unprivileged host ids (chosen at random among 32768 ranges, so two zygotes, even of two
servers, share none in practice): it may make namespaces and mounts for its containers,
and nothing of the host's is its to change. The image's layers, and each container's
binds (its code, volumes, the server's socket), are idmapped mounts: host root's files
show as that namespace's root's, and what a container writes there is the host root's
on disk, as on the exec path. The server makes those binds (`detached_bind`) and passes
them as descriptors; the zygote cannot reach any host path itself.
"""

from __future__ import annotations

import os
import secrets
import subprocess

from ..._runtime import namespaces
from ..._runtime.zygote import BOX, LAYERS

IDS = 65536
_FIRST = 0x10000000
_RANGES = 0x8000


class UserNamespace:
    """A user namespace that maps its ids 0..65535 to an unprivileged host range."""

    def __init__(self):
        self.base = _FIRST + secrets.randbelow(_RANGES) * IDS
        # A process that makes the namespace and is gone once a descriptor holds it.
        holder = subprocess.Popen(
            ["sleep", "30"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=lambda: namespaces.unshare(namespaces.CLONE_NEWUSER))
        try:
            for name in ("uid_map", "gid_map"):
                with open(f"/proc/{holder.pid}/{name}", "w") as f:
                    f.write(f"0 {self.base} {IDS}\n")
            self.fd = os.open(f"/proc/{holder.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            holder.kill()
            holder.wait()

    def own(self, path: str):
        """Makes a directory the namespace's root's (a container's scratch space)."""
        os.chown(path, self.base, self.base)

    def bind(self, source: str, read_only: bool) -> int:
        """A detached bind of a host path as this namespace sees it (`namespaces.attach`
        puts it in place)."""
        return namespaces.detached_bind(source, read_only, self.fd)

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def enter_view(args: list[str], scratch: str, layers: list[str], userns_fd: int,
               procs: list[str]):
    """preexec_fn of an unprivileged zygote, before the interpreter (the user's) starts: its
    own cgroup (`procs`: the files that put a process there), so what the user's code
    starts is bounded and reaped with it; a mount namespace with the image's layers (idmapped, read-only, under its own upper
    layer) and the view the bubblewrap arguments describe, pivoted into (the host's root
    detached: no path leads back), a network namespace with nothing in it, /proc showing
    only its own processes; then the user namespace, as its root."""
    try:
        for path in procs:
            with open(path, "w") as f:
                f.write("0")  # this process, and from here all it starts
        namespaces.unshare(namespaces.CLONE_NEWNS | namespaces.CLONE_NEWNET)
        namespaces.mount(None, "/", None, namespaces.MS_REC | namespaces.MS_PRIVATE)
        lowers = []
        for i, layer in enumerate(layers):
            fd = namespaces.detached_bind(layer, True, userns_fd)
            namespaces.attach(fd, f"{scratch}/l{i}")
            os.close(fd)
            lowers.append(f"{scratch}/l{i}")
        if lowers:  # its own upper layer (its mount points, what it writes: no container's)
            for sub in ("upper", "work", "root"):
                os.makedirs(f"{scratch}/{sub}", exist_ok=True)
            namespaces.mount("overlay", f"{scratch}/root", "overlay", 0,
                             f"lowerdir={':'.join(reversed(lowers))},upperdir={scratch}/upper,"
                             f"workdir={scratch}/work")
        else:  # the host system's view: its /tmp and /root
            for sub in ("tmp", "home"):
                os.makedirs(f"{scratch}/{sub}", exist_ok=True)
        new_root = f"{scratch}/.root"
        namespaces.build_root(args, new_root, proc_options="hidepid=invisible")
        for i, lower in enumerate(lowers):
            namespaces.bind(lower, f"{new_root}{LAYERS}/l{i}", read_only=True)
        os.makedirs(f"{new_root}{BOX}", exist_ok=True)
        namespaces.pivot_into(new_root)
        namespaces.setns(userns_fd, namespaces.CLONE_NEWUSER)
        os.setgroups([])
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
        os.close(userns_fd)
    except BaseException as exc:  # noqa: BLE001
        os.write(2, f"ketch: the image's zygote could not be set up: {exc}\n".encode())
        os._exit(126)


def overlay_options(n_layers: int) -> str:
    if not n_layers:
        return ""
    lower = ":".join(f"{LAYERS}/l{i}" for i in reversed(range(n_layers)))
    # userxattr: made in the user namespace, it marks opaque directories with user.*
    # attributes (trusted.* ones are host root's; without, removing a directory fails)
    return f"userxattr,lowerdir={lower},upperdir={BOX}/s/upper,workdir={BOX}/s/work"
