"""Bind mounts for backends without a file system of their own (`process`): the container
starts in a private mount namespace (`unshare --mount`, util-linux) where each mount's
source is bound at its target, then execs its command. The host sees none of the mounts.

A target that does not exist on the host is created there as an empty directory, since a
bind mount needs a mount point.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

from .base import Mount

# Binds each SOURCE TARGET OPTIONS triple, then execs what follows "--". Always nosuid,
# nodev: a setuid file or device node left in a volume gives nothing (as in bwrap).
_SCRIPT = ('set -e; while [ "$1" != -- ]; do mkdir -p "$2"; mount --bind "$1" "$2"; '
           'mount -o "remount,bind,$3" "$2"; shift 3; done; shift; exec "$@"')


@functools.lru_cache(maxsize=1)
def unavailable() -> str:
    """Why mounts cannot be made here ("" when they can)."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return ("it needs `unshare` and `mount` (Debian package util-linux); install it, or "
                "run the server with --runtime bwrap")
    try:
        probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                               capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`unshare --mount` failed: {exc}"
    if probe.returncode != 0:
        detail = probe.stderr.decode(errors="replace").strip()
        return (f"`unshare --mount` is not permitted ({detail}); run the server as root or "
                "with --runtime bwrap")
    return ""


def wrap(argv: list[str], mounts: list[Mount]) -> list[str]:
    """The command line that runs argv with the mounts in place."""
    if not mounts:
        return argv
    args: list[str] = []
    for m in mounts:
        args += [m.source, m.target, "nosuid,nodev,ro" if m.read_only else "nosuid,nodev"]
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", _SCRIPT, "sh",
            *args, "--", *argv]
