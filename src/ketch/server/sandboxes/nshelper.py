"""Run as its own process (`python -I nshelper.py OP ...`, as root, by `directories.py`):
works in a running bwrap sandbox's mount namespace, which only a single-threaded process
may enter. Paths are resolved inside the sandbox (its root, its symlinks), never on the
host, so a symlink the sandbox made cannot point the server at the host's files.

    copy-out PID PATH DEST              the sandbox's directory PATH, copied to DEST
    mount PID PATH OUTER LAYER LOWER... an overlay of the LOWER layers mounted at PATH in
                                        the sandbox; its writes go to LAYER, made in the
                                        mount namespace of OUTER (bubblewrap's parent,
                                        where the container's scratch space is mounted),
                                        or with OUTER "-" (a sandbox in a user namespace)
                                        in one of the helper's own, the LOWER layers
                                        idmapped into PID's user namespace and LAYER
                                        owned by its root, so that its owners show inside
                                        as the image has them
    umount PID PATH OUTER LAYER         what was mounted at PATH, gone, and LAYER

Exit 2 with the reason on stderr for a path that is not a directory of the sandbox.
Imports only the standard library (it runs without ketch's package).
"""

import ctypes
import os
import shutil
import struct
import subprocess
import sys

CLONE_NEWNS = 0x00020000
MNT_DETACH = 2
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC, AT_RECURSIVE = 1, 0o2000000, 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
AT_FDCWD = -100
MS_REC, MS_PRIVATE = 16384, 1 << 18
AT_EMPTY_PATH, MOUNT_ATTR_RDONLY, MOUNT_ATTR_IDMAP = 0x1000, 1, 0x00100000
# x86_64 and aarch64 share these numbers
SYS_OPEN_TREE, SYS_MOVE_MOUNT, SYS_MOUNT_SETATTR = 428, 429, 442

libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def enter(pid: str) -> int:
    """Enters the sandbox's mount namespace; → an fd to come back to this one."""
    home = os.open("/proc/self/ns/mnt", os.O_RDONLY)
    target = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
    check(libc.setns(target, CLONE_NEWNS), "enter the sandbox's mount namespace")
    os.chdir("/")
    return home


def sandbox_dir(path: str, create: bool = False) -> int:
    try:
        if create:
            os.makedirs(path, exist_ok=True)
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        print(f"{path}: {exc.strerror}", file=sys.stderr)
        sys.exit(2)


def copy_out(pid: str, path: str, dest: str):
    home = enter(pid)
    fd = sandbox_dir(path)
    check(libc.setns(home, CLONE_NEWNS), "come back to the server's mount namespace")
    os.chdir("/")
    # cp -a copies links as links: nothing inside the tree is followed; -x leaves out
    # other file systems mounted below (volumes, /proc, images mounted there).
    subprocess.run(["cp", "-a", "-x", f"/proc/self/fd/{fd}/.", dest], check=True,
                   pass_fds=(fd,))


def root_of(pid: str) -> int:
    """The host id of the root of PID's user namespace (0: the host's own)."""
    with open(f"/proc/{pid}/uid_map") as f:
        return int(f.read().split()[1])


def idmapped(pid: str, layer: str, lowers: list[str]) -> list[str]:
    """In a mount namespace of this helper's own: each LOWER bound read-only under LAYER,
    showing its owners as PID's user namespace sees host ids (host root is its root), and
    LAYER's upper directory its root's; → the binds' paths."""
    check(libc.unshare(CLONE_NEWNS), "make a mount namespace")
    check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    base = root_of(pid)
    userns = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    os.chown(f"{layer}/upper", base, base)
    attr = struct.pack("QQQQ", MOUNT_ATTR_RDONLY | MOUNT_ATTR_IDMAP, 0, 0, userns)
    binds = []
    for i, lower in enumerate(lowers):
        fd = check(libc.syscall(SYS_OPEN_TREE, AT_FDCWD, lower.encode(),
                                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC), "bind a layer")
        check(libc.syscall(SYS_MOUNT_SETATTR, fd, b"", AT_EMPTY_PATH, attr, len(attr)),
              "idmap a layer")
        os.makedirs(f"{layer}/l{i}")
        check(libc.syscall(SYS_MOVE_MOUNT, fd, b"", AT_FDCWD, f"{layer}/l{i}".encode(),
                           MOVE_MOUNT_F_EMPTY_PATH), "stage a layer")
        os.close(fd)
        binds.append(f"{layer}/l{i}")
    return binds


def mount(pid: str, path: str, outer: str, layer: str, lowers: list[str]):
    # Read here, in the runtime's namespace: OUTER's /proc (a forked sandbox's keeper's,
    # inside its zygote's view) may not show PID.
    sandbox = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
    base = root_of(pid)
    if outer != "-":
        # The LOWER layers are taken from this namespace into OUTER's, whose view may not
        # have them (a node's layer cache): each a detached bind, attached in LAYER for
        # the overlay's mount, then let go (overlayfs keeps its own private copies).
        binds = [check(libc.syscall(SYS_OPEN_TREE, AT_FDCWD, lower.encode(),
                                    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC),
                       f"take layer {lower}") for lower in lowers]
        enter(outer)
    for sub in ("upper", "work", "merged"):
        os.makedirs(f"{layer}/{sub}")
    if outer == "-":
        lowers = idmapped(pid, layer, lowers)
    else:
        lowers = []
        for i, fd in enumerate(binds):
            os.makedirs(f"{layer}/l{i}")
            check(libc.syscall(SYS_MOVE_MOUNT, fd, b"", AT_FDCWD, f"{layer}/l{i}".encode(),
                               MOVE_MOUNT_F_EMPTY_PATH), "attach an image layer")
            lowers.append(f"{layer}/l{i}")
    options = f"lowerdir={':'.join(lowers)},upperdir={layer}/upper,workdir={layer}/work"
    merged = f"{layer}/merged".encode()
    check(libc.mount(b"overlay", merged, b"overlay", 0, options.encode()),
          "mount the image's layers")
    if outer != "-":
        for lower in lowers:
            check(libc.umount2(lower.encode(), MNT_DETACH), "let go of a layer")
    tree = check(libc.syscall(SYS_OPEN_TREE, AT_FDCWD, merged,
                              OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE),
                 "detach the image's mount")
    check(libc.umount2(merged, MNT_DETACH), "let go of the staging mount")
    check(libc.setns(sandbox, CLONE_NEWNS), "enter the sandbox's mount namespace")
    os.chdir("/")
    if base:  # made by its root, as the sandbox would make it (host root's is unmapped)
        libc.setfsgid(base)
        libc.setfsuid(base)
    os.close(sandbox_dir(path, create=True))
    libc.setfsuid(0)
    libc.setfsgid(0)
    check(libc.syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, path.encode(),
                       MOVE_MOUNT_F_EMPTY_PATH), f"mount it at {path}")


def umount(pid: str, path: str, outer: str, layer: str):
    home = enter(pid)
    check(libc.umount2(path.encode(), MNT_DETACH), f"unmount {path}")
    check(libc.setns(home, CLONE_NEWNS), "come back to the server's mount namespace")
    if outer != "-":
        enter(outer)
    shutil.rmtree(layer, ignore_errors=True)


def main(argv: list[str]):
    op, pid, path, *rest = argv
    try:
        if op == "copy-out":
            copy_out(pid, path, rest[0])
        elif op == "mount":
            mount(pid, path, rest[0], rest[1], rest[2:])
        elif op == "umount":
            umount(pid, path, rest[0], rest[1])
        else:
            raise SystemExit(f"unknown operation {op!r}")
    except OSError as exc:
        print(exc.strerror or str(exc), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
