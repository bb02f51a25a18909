"""Linux namespaces, mounts and capabilities through ctypes (Python 3.11 has no os.unshare).

The forked containers (`zygote`) build their root file system here by interpreting the
same bubblewrap arguments the exec path passes to bwrap (`--bind`, `--ro-bind`, `--tmpfs`,
`--symlink`, `--proc`, `--dev`, ...), with bubblewrap's semantics as root: every bind is
nosuid and nodev, read-only ones are remounted so, /dev is a small tmpfs with a few device
nodes bound from the host and its own devpts. So both paths give a container one view,
made from one description.

Imports nothing from `ketch.server` (the zygote runs inside the image).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE, MS_SLAVE = 32, 4096, 16384, 1 << 18, 1 << 19
_MNT_DETACH = 2
_MS_RELATIME = 1 << 21
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine, 155)
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_CAP_VERSION_3 = 0x20080522
_SIOCSIFFLAGS = 0x8914
_IFF_UP_RUNNING = 0x1 | 0x40
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_DEV_LINKS = (("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
              ("/proc/self/fd/2", "stderr"), ("/proc/self/fd", "fd"), ("/proc/kcore", "core"),
              ("pts/ptmx", "ptmx"))
CAP_NUMBERS = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_FSETID": 4,
               "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
               "CAP_NET_BIND_SERVICE": 10, "CAP_SYS_CHROOT": 18, "CAP_AUDIT_WRITE": 29,
               "CAP_SETFCAP": 31}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4


def _check(rc: int, what: str):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"cannot {what}: {os.strerror(err)}")


def unshare(flags: int):
    _check(_libc.unshare(flags), f"unshare namespaces {flags:#x}")


def mount(source: str | None, target: str, fstype: str | None, flags: int,
          data: str | None = None):
    enc = (lambda s: s.encode() if s is not None else None)
    _check(_libc.mount(enc(source), target.encode(), enc(fstype), flags,
                       enc(data)), f"mount {source or fstype} on {target}")


def setns(fd: int, nstype: int):
    _check(_libc.setns(fd, nstype), f"enter namespace {nstype:#x}")


# The new mount API (Linux 5.12+): a bind that shows a user namespace's ids.
_SYS_OPEN_TREE, _SYS_MOVE_MOUNT, _SYS_MOUNT_SETATTR = 428, 429, 442
_OPEN_TREE_CLONE, _AT_EMPTY_PATH, _MOVE_MOUNT_F_EMPTY_PATH = 1, 0x1000, 4
_MOUNT_ATTR_RDONLY, _MOUNT_ATTR_NOSUID, _MOUNT_ATTR_NODEV, _MOUNT_ATTR_IDMAP = \
    1, 2, 4, 0x00100000


def detached_bind(source: str, read_only: bool, userns_fd: int = -1) -> int:
    """A descriptor of a bind of source that is attached nowhere yet (`attach` puts it in
    place, in this or another mount namespace), with no setuid or device files; with a
    user namespace, its files' owners show as the host's ids shifted into it (host root
    is its root)."""
    fd = _libc.syscall(_SYS_OPEN_TREE, -100, source.encode(), _OPEN_TREE_CLONE | os.O_CLOEXEC)
    if fd < 0:
        _check(-1, f"clone the mount of {source}")
    try:
        flags = _MOUNT_ATTR_NOSUID | _MOUNT_ATTR_NODEV | (_MOUNT_ATTR_RDONLY if read_only else 0)
        if userns_fd >= 0:
            flags |= _MOUNT_ATTR_IDMAP
        attr = struct.pack("QQQQ", flags, 0, 0, max(userns_fd, 0))
        _check(_libc.syscall(_SYS_MOUNT_SETATTR, fd, b"", _AT_EMPTY_PATH, attr, len(attr)),
               f"set the attributes of the bind of {source}")
    except BaseException:
        os.close(fd)
        raise
    return fd


def attach(fd: int, target: str, is_dir: bool = True):
    """Puts a detached bind (`detached_bind`) at target, made if missing."""
    _make_point(target, is_dir)
    _check(_libc.syscall(_SYS_MOVE_MOUNT, fd, b"", -100, target.encode(),
                         _MOVE_MOUNT_F_EMPTY_PATH), f"attach a bind at {target}")


def pivot_into(new_root: str):
    """Makes new_root the root and detaches the old one (so no chroot escape leads back)."""
    os.chdir(new_root)
    _check(_libc.syscall(_SYS_PIVOT_ROOT, b".", b"."), f"pivot_root into {new_root}")
    _check(_libc.umount2(b".", _MNT_DETACH), "detach the old root")
    os.chdir("/")


def sethostname(name: str):
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)), "set the hostname")


def loopback_up():
    """The new network namespace's loopback up (the kernel gives it 127.0.0.1 and ::1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", _IFF_UP_RUNNING))


def die_with_parent(sig: int = 9):
    _check(_libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0), "set the parent-death signal")


def not_dumpable():
    _check(_libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0), "make the process not dumpable")


def keep_only_caps(names: list[str]):
    """Root keeps these capabilities and no others, now and after any exec (the bounding
    set), and cannot gain more through setuid files (no_new_privs), as under bubblewrap."""
    keep = {CAP_NUMBERS[n] for n in names}
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for cap in range(last + 1):
        if cap not in keep and _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            if ctypes.get_errno() != errno.EINVAL:
                _check(-1, f"drop capability {cap} from the bounding set")
    _libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    mask = sum(1 << c for c in keep)
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)(mask & 0xFFFFFFFF, mask & 0xFFFFFFFF, mask & 0xFFFFFFFF,
                                 mask >> 32, mask >> 32, mask >> 32)
    _check(_libc.capset(header, data), "set capabilities")
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "set no_new_privs")


def _make_point(path: str, like_dir: bool):
    if os.path.lexists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if like_dir:
        os.mkdir(path, 0o755)
    else:
        open(path, "a").close()


def bind(source: str, target: str, read_only: bool, devices: bool = False):
    _make_point(target, os.path.isdir(source))
    mount(source, target, None, MS_BIND | MS_REC)
    _remount(target, read_only, devices)


def _remount(target: str, read_only: bool, devices: bool = False):
    """A bind's flags: nosuid, nodev unless `devices`, read-only if asked. What the mount
    already has stays (as bubblewrap keeps it): in a user namespace the flags of a mount
    it did not make are locked, and a remount that drops one fails."""
    have = os.statvfs(target).f_flag
    kept = (have & (MS_RDONLY | MS_NOEXEC | 1024 | 2048)) | \
        (_MS_RELATIME if have & os.ST_RELATIME else 0)  # ST_ values are MS_ ones, but this
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (0 if devices else MS_NODEV) | \
        (MS_RDONLY if read_only else 0) | kept
    mount(None, target, None, flags)


def _dev(target: str):
    _make_point(target, True)
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for name in _DEVICES:
        if os.path.exists(f"/dev/{name}"):
            bind(f"/dev/{name}", f"{target}/{name}", read_only=False, devices=True)
    for link, name in _DEV_LINKS:
        os.symlink(link, f"{target}/{name}")
    os.mkdir(f"{target}/shm", 0o1777)
    os.chmod(f"{target}/shm", 0o1777)
    os.mkdir(f"{target}/pts", 0o755)
    mount("devpts", f"{target}/pts", "devpts", MS_NOSUID | MS_NOEXEC,
          "newinstance,ptmxmode=0666,mode=620")


_ARITY = {"--bind": 2, "--ro-bind": 2, "--dev-bind": 2, "--symlink": 2, "--rbind-from": 2,
          "--rbind-ro-from": 2,
          "--tmpfs": 1, "--proc": 1, "--dev": 1, "--cap-add": 1, "--cap-drop": 1,
          "--chdir": 1, "--hostname": 1, "--die-with-parent": 0, "--unshare-pid": 0,
          "--unshare-ipc": 0, "--unshare-uts": 0}
_FILE_OPS = ("--bind", "--ro-bind", "--dev-bind", "--symlink", "--tmpfs")


def split_ops(args: list[str]) -> list[tuple[str, ...]]:
    """Bubblewrap arguments as (option, its values...) tuples."""
    ops, i = [], 0
    while i < len(args):
        n = _ARITY.get(args[i])
        if n is None:
            raise ValueError(f"the forked path does not know the bubblewrap option {args[i]}")
        ops.append(tuple(args[i:i + 1 + n]))
        i += 1 + n
    return ops


RUNTIME_DIRS = ("opt/ketch/site", "opt/ketch/fallback-site")   # the runtime's packages


def share_from(args: list[str], template_args: list[str], template_root: str,
               dirs: tuple[str, ...] = ("usr", "etc", *RUNTIME_DIRS)) -> list[str]:
    """args, with the mounts under each of `dirs` made by one recursive bind of the
    template's copy (a zygote's view, built from template_args) where the template made
    exactly those mounts: a directory that is itself a read-only bind as it is (a tmpfs
    among its mounts is still made afresh: a shared one would be writable by two
    containers); one that holds only read-only binds is a directory of the template's
    root tmpfs, so its bind is made read-only on top (else two containers could write
    there). The runtime's nine packages: four mounts instead of ~30 calls."""
    ops, theirs = split_ops(args), split_ops(template_args)

    def under(op, d):
        return op[0] in _FILE_OPS and (op[-1] + "/").startswith(f"/{d}/")

    for d in dirs:
        mine = [op for op in ops if under(op, d)]
        if not mine or mine != [op for op in theirs if under(op, d)]:
            continue
        if mine[0][0] == "--ro-bind" and mine[0][-1] == f"/{d}":
            shared = [("--rbind-from", f"{template_root}/{d}", f"/{d}")] + \
                [op for op in mine if op[0] == "--tmpfs"]
        elif all(op[0] == "--ro-bind" for op in mine):
            shared = [("--rbind-ro-from", f"{template_root}/{d}", f"/{d}")]
        else:
            continue
        first = ops.index(mine[0])
        rest = [op for op in ops if not under(op, d)]
        ops = rest[:first] + shared + rest[first:]
    return [part for op in ops for part in op]


def build_root(args: list[str], new_root: str, proc_options: str | None = None) -> dict:
    """Mounts what bubblewrap arguments describe under new_root (a tmpfs is mounted there
    first, as bubblewrap does); returns the settings that are not mounts (chdir,
    hostname, capabilities)."""
    _make_point(new_root, True)
    mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    settings: dict = {"caps": [], "chdir": "/", "hostname": ""}
    i = 0

    def take(n: int) -> list[str]:
        nonlocal i
        vals = args[i + 1:i + 1 + n]
        i += 1 + n
        return vals

    inside = (lambda p: new_root + p if p != "/" else new_root)
    while i < len(args):
        op = args[i]
        if op in ("--bind", "--ro-bind", "--dev-bind"):
            src, dst = take(2)
            bind(src, inside(dst), read_only=op == "--ro-bind", devices=op == "--dev-bind")
        elif op in ("--rbind-from", "--rbind-ro-from"):
            src, dst = take(2)   # a tree of mounts, each with its own flags, at once
            _make_point(inside(dst), True)
            mount(src, inside(dst), None, MS_BIND | MS_REC)
            if op == "--rbind-ro-from":   # and its top read-only
                _remount(inside(dst), read_only=True)
        elif op == "--tmpfs":
            (dst,) = take(1)
            _make_point(inside(dst), True)
            mount("tmpfs", inside(dst), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
        elif op == "--symlink":
            link, dst = take(2)
            if not os.path.lexists(inside(dst)):
                os.symlink(link, inside(dst))
        elif op == "--proc":
            (dst,) = take(1)
            _make_point(inside(dst), True)
            mount("proc", inside(dst), "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, proc_options)
        elif op == "--dev":
            (dst,) = take(1)
            _dev(inside(dst))
        elif op == "--cap-add":
            settings["caps"] += take(1)
        elif op in ("--chdir", "--hostname"):
            settings[op[2:]] = take(1)[0]
        elif op in ("--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts"):
            take(0)
        elif op == "--cap-drop" and args[i + 1] == "ALL":
            take(1)
        else:
            raise ValueError(f"the forked path does not know the bubblewrap option {op}")
    return settings
