"""The server's data dir holds its token, secrets key, database, logs and blobs, so only
its owner may enter it: made 0700, with those files 0600, and fixed at start when an
older server left them readable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

# Trees whose modes matter inside containers (image files, volumes, uploaded code, scratch
# space); the 0700 data dir above them keeps everyone else out.
_CONTAINER_TREES = {"containers", "images", "volumes", "code"}


def create(data_dir: Path):
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)


def tighten(data_dir: Path):
    """Makes the server's own files 0600 and their directories 0700 (never following a
    link); the container trees keep their modes."""
    for entry in os.scandir(data_dir):
        if entry.name in _CONTAINER_TREES or entry.is_symlink():
            continue
        if not entry.is_dir():
            _chmod(entry.path, 0o600)
            continue
        _chmod(entry.path, 0o700)
        for _, dirs, files, fd in os.fwalk(entry.path, follow_symlinks=False):
            for name in dirs:
                _chmod(name, 0o700, fd)
            for name in files:
                _chmod(name, 0o600, fd)


def _chmod(path: str, mode: int, dir_fd: int | None = None):
    try:
        st = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) != mode:
            os.chmod(path, mode, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
