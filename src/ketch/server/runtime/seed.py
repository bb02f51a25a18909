"""Files laid over the host system: an image "on the host", which is what
`snapshot_filesystem()` keeps of a sandbox that had no image (bwrap runtime).

Such a sandbox runs on this machine's own system, read-only; what it can change is its
/root and /tmp and what it makes at its root (a /work, say). Its snapshot is one layer of
those (`kept`), and a container of that image starts on the host system as any container
without an image, with its own copy of the layer in its scratch space (`lay`): /root and
/tmp become its /root and /tmp, and every other entry is bound at its place, writable,
thrown away with the container (`binds`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# Where a container without an image has the host's own directories (or its kernel's):
# a layer's entry there is not the sandbox's doing and is never laid.
_HOST_PLACES = frozenset({"usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32",
                          "proc", "dev", "sys"})
# bubblewrap options whose last argument is a path made in the container, by arity.
_TARGET_OPTS = {"--bind": 2, "--ro-bind": 2, "--dev-bind": 2, "--symlink": 2,
                "--bind-try": 2, "--ro-bind-try": 2, "--dev-bind-try": 2,
                "--tmpfs": 1, "--proc": 1, "--dev": 1, "--dir": 1, "--mqueue": 1}
_VALUE_OPTS = {"--hostname", "--cap-add", "--cap-drop", "--chdir", "--uid", "--gid",
               "--setenv", "--unsetenv", "--remount-ro", "--perms", "--size"}
SCRATCH_OF = {"root": "home", "tmp": "tmp"}   # a layer's entry -> the scratch dir it becomes


def copy_tree(src: Path, dest: Path):
    """cp -a: owners, modes, links as links (nothing the sandbox made is followed)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", "-T", "--", str(src), str(dest)], check=True,
                   capture_output=True)


def lay(layers: list[str], scratch: Path) -> list[str]:
    """Copies the layers (lowest first) into a container's scratch space before it starts;
    returns the top-level entries `binds` puts in place."""
    top: list[str] = []
    for layer in layers:
        for name in sorted(os.listdir(layer)):
            if name in _HOST_PLACES:
                continue
            dest = scratch / SCRATCH_OF[name] if name in SCRATCH_OF else scratch / "top" / name
            copy_tree(Path(layer) / name, dest)
            if name not in SCRATCH_OF and name not in top:
                top.append(name)
    return top


def binds(scratch: Path, top: list[str]) -> list[str]:
    """bubblewrap arguments for the laid entries other than /root and /tmp."""
    args = []
    for name in top:
        path = scratch / "top" / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), f"/{name}"]
        else:
            args += ["--bind", str(path), f"/{name}"]
    return args


def mount_targets(argv: list[str]) -> list[str]:
    """The paths a bubblewrap command line mounts or makes in its container."""
    targets, i = [], 1
    while i < len(argv) and argv[i] != "--":
        opt = argv[i]
        if opt in _TARGET_OPTS:
            n = _TARGET_OPTS[opt]
            targets.append(argv[i + n])
            i += n + 1
        else:
            i += 2 if opt in _VALUE_OPTS else 1
    return targets


def kept(fs: Path, targets: list[str]):
    """Leaves in `fs` (a copy of a sandbox's root, /root and /tmp) only what the sandbox
    made: what the runtime mounted or made at `targets` goes (a mount's content is not
    the sandbox's), and so do the directories that held only that."""
    for target in sorted(set(targets), key=len, reverse=True):
        rel = target.strip("/")
        if not rel:
            continue
        path = fs / rel
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        for parent in path.parents:
            if parent == fs or parent.relative_to(fs).as_posix() in SCRATCH_OF:
                break
            try:
                parent.rmdir()   # only if nothing else is in it
            except OSError:
                break
    for name in _HOST_PLACES & set(os.listdir(fs)):
        path = fs / name
        path.unlink() if path.is_symlink() or not path.is_dir() else shutil.rmtree(path)
