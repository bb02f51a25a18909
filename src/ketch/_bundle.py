"""Unpacking an app's code bundle (the tar.gz ketch._source packs), shared by the server
and cluster nodes: only regular files and directories, never outside the target, within
the size and count limits (a small archive can unpack to gigabytes)."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import zlib
from pathlib import Path

from ._source import MAX_BUNDLE_MIB

MAX_UNPACKED_MIB = 4 * MAX_BUNDLE_MIB   # the archive is compressed; its contents are bounded
MAX_MEMBERS = 20_000


def unpack(data: bytes, into: Path):
    """Unpacks a bundle's regular files and directories into `into` (read-only after),
    refusing anything that could land outside it or is over the limits."""
    if len(data) > MAX_BUNDLE_MIB * 1024 * 1024:
        raise ValueError(f"the code bundle is over the {MAX_BUNDLE_MIB} MiB limit; keep data "
                         "out of the app's source (use a Volume or the image)")
    try:
        tar = tarfile.open(fileobj=io.BytesIO(_gunzip(data)), mode="r:")
        members = tar.getmembers()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"the code bundle is not a valid tar.gz: {exc}") from None
    if len(members) > MAX_MEMBERS:
        raise ValueError(f"the code bundle holds {len(members)} files, over the limit of "
                         f"{MAX_MEMBERS}")
    total = 0
    for m in members:
        parts = m.name.split("/")
        if m.name.startswith("/") or ".." in parts or "\0" in m.name or not m.name:
            raise ValueError(f"the code bundle's member {m.name!r} would land outside it; "
                             "members must be relative paths without '..'")
        if not (m.isfile() or m.isdir()):
            raise ValueError(f"the code bundle's member {m.name!r} is not a regular file or "
                             "directory (links and devices are refused)")
        total += m.size
        if total > MAX_UNPACKED_MIB * 1024 * 1024:
            raise ValueError(f"the code bundle unpacks to over {MAX_UNPACKED_MIB} MiB")
    try:
        for m in members:
            _extract(tar, m, into)
    except OSError as exc:
        raise ValueError(f"the code bundle could not be unpacked: {exc}") from None


def _gunzip(data: bytes) -> bytes:
    """The archive's tar, decompressed no further than the limit allows (a small archive
    can unpack to gigabytes)."""
    limit = MAX_UNPACKED_MIB * 1024 * 1024 + MAX_MEMBERS * 1024   # files and their headers
    raw = zlib.decompressobj(wbits=31).decompress(data, limit + 1)
    if len(raw) > limit:
        raise ValueError(f"the code bundle unpacks to over {MAX_UNPACKED_MIB} MiB")
    return raw


def _extract(tar: tarfile.TarFile, m: tarfile.TarInfo, into: Path):
    target = into.joinpath(*[p for p in m.name.split("/") if p not in ("", ".")])
    if m.isdir():
        target.mkdir(mode=0o755, parents=True, exist_ok=True)
        return
    target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    # O_EXCL|O_NOFOLLOW: only this unpacking made what is here, so nothing is followed.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(tar.extractfile(m), out)
    os.chmod(target, 0o555 if m.mode & 0o111 else 0o444)
