"""Run as its own process (`python -I nshelper.py OP ...`, as root, by `directories.py`):
works in a running bwrap sandbox's mount namespace, which only a single-threaded process
may enter. Paths are resolved inside the sandbox (its root, its symlinks), never on the
host, so a symlink the sandbox made cannot point the server at the host's files.

    copy-out PID PATH DEST              the sandbox's directory PATH, copied to DEST
    mount PID PATH OUTER LAYER LOWER... an overlay of the LOWER layers mounted at PATH in
                                        the sandbox; its writes go to LAYER, made in the
                                        mount namespace of OUTER (bubblewrap's parent,
                                        where the container's scratch space is mounted)
    umount PID PATH OUTER LAYER         what was mounted at PATH, gone, and LAYER

Exit 2 with the reason on stderr for a path that is not a directory of the sandbox.
Imports only the standard library (it runs without ketch's package).
"""

import ctypes
import os
import shutil
import subprocess
import sys

CLONE_NEWNS = 0x00020000
MNT_DETACH = 2
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC, AT_RECURSIVE = 1, 0o2000000, 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
AT_FDCWD = -100
SYS_OPEN_TREE, SYS_MOVE_MOUNT = 428, 429   # x86_64 and aarch64 share these numbers

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


def mount(pid: str, path: str, outer: str, layer: str, lowers: list[str]):
    # The LOWER layers are taken from this (the runtime's) mount namespace into OUTER's,
    # whose view may not have them (a forked sandbox's, of a node's layer cache): each a
    # detached bind, attached in LAYER for the overlay's mount, then let go (overlayfs
    # keeps its own private copies).
    binds = [check(libc.syscall(SYS_OPEN_TREE, AT_FDCWD, lower.encode(),
                                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC), f"take layer {lower}")
             for lower in lowers]
    # (opened here: OUTER's /proc, a forked sandbox's keeper's, may not show PID)
    sandbox = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
    enter(outer)
    for sub in ("upper", "work", "merged", *[f"l{i}" for i in range(len(binds))]):
        os.makedirs(f"{layer}/{sub}")
    for i, fd in enumerate(binds):
        check(libc.syscall(SYS_MOVE_MOUNT, fd, b"", AT_FDCWD, f"{layer}/l{i}".encode(),
                           MOVE_MOUNT_F_EMPTY_PATH), "attach an image layer")
    options = (f"lowerdir={':'.join(f'{layer}/l{i}' for i in range(len(binds)))},"
               f"upperdir={layer}/upper,workdir={layer}/work")
    merged = f"{layer}/merged".encode()
    check(libc.mount(b"overlay", merged, b"overlay", 0, options.encode()),
          "mount the image's layers")
    for i in range(len(binds)):
        check(libc.umount2(f"{layer}/l{i}".encode(), MNT_DETACH), "let go of a layer")
    tree = check(libc.syscall(SYS_OPEN_TREE, AT_FDCWD, merged,
                              OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE),
                 "detach the image's mount")
    check(libc.umount2(merged, MNT_DETACH), "let go of the staging mount")
    check(libc.setns(sandbox, CLONE_NEWNS), "enter the sandbox's mount namespace")
    os.chdir("/")
    os.close(sandbox_dir(path, create=True))
    check(libc.syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, path.encode(),
                       MOVE_MOUNT_F_EMPTY_PATH), f"mount it at {path}")


def umount(pid: str, path: str, outer: str, layer: str):
    home = enter(pid)
    check(libc.umount2(path.encode(), MNT_DETACH), f"unmount {path}")
    check(libc.setns(home, CLONE_NEWNS), "come back to the server's mount namespace")
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
