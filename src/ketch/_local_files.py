"""The local files an image's add_local_* steps copy: which a directory holds (less what
`ignore` leaves out), and their content hash, the layer's cache key."""

from __future__ import annotations

import fnmatch
import hashlib
import os
from pathlib import Path

from .exception import InvalidError
from .proto import ketch_pb2 as pb


def ignored(rel: str, ignore) -> bool:
    if callable(ignore):
        return bool(ignore(Path(rel)))
    parts = rel.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(os.path.basename(p), pat)
               for pat in ignore for p in prefixes)


def walk(root: str, ignore) -> list[str]:
    """Relative paths of the files under root that `ignore` keeps, sorted."""
    if not callable(ignore) and (isinstance(ignore, str) or
                                 not all(isinstance(p, str) for p in ignore)):
        raise InvalidError("ignore=: give a list of glob patterns or a function of a Path")
    files = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        dirnames[:] = sorted(d for d in dirnames
                             if not ignored(f"{rel_dir}/{d}".lstrip("/"), ignore))
        for name in sorted(filenames):
            rel = f"{rel_dir}/{name}".lstrip("/")
            if not ignored(rel, ignore):
                files.append(rel)
    return files


def with_fresh_hash(step: pb.ImageStep) -> pb.ImageStep:
    """The step with its files hashed as they are now (add_local_* steps)."""
    if step.kind not in ("add_local_file", "add_local_dir"):
        return step
    fresh = pb.ImageStep()
    fresh.CopyFrom(step)
    local = step.args[0]
    rels = [""] if step.kind == "add_local_file" else list(step.args[2:])
    try:
        fresh.content_hash = hash_files(local, rels)
    except OSError as exc:
        raise InvalidError(f"{step.kind}({local!r}): cannot read {exc.filename}: "
                           f"{exc.strerror}") from None
    return fresh


def hash_files(root: str, rels: list[str]) -> str:
    """The content hash of the files (names, modes and bytes): what a layer of them is."""
    h = hashlib.sha256()
    for rel in rels:
        path = os.path.join(root, rel) if rel else root
        st = os.stat(path)
        h.update(f"{rel}\0{st.st_mode & 0o777}\0{st.st_size}\0".encode())
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()
