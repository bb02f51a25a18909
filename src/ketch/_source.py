"""The app's local Python source, uploaded for its containers as Modal's `include_source`
does: the module that defines a function is sent with what it imports from beside it,
its whole top-level package when it is in one, or else its one file. Containers see it
under /root, never a path of this machine.

The bundle is a tar.gz made the same way every time (sorted names, no times or owners),
so the same code has the same sha256 and the server keeps it once.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import tarfile

from .exception import InvalidError

MAX_BUNDLE_MIB = 32     # the server refuses more too (server/code.py)


def source_root(module_name: str) -> tuple[str, str] | None:
    """(local path, its name under /root) of what a container imports `module_name` from:
    its top-level package's directory, or its file. None when it has no file (built in,
    or made by exec)."""
    mod = sys.modules.get(module_name)
    path = getattr(mod, "__file__", None)
    if not path:
        return None
    path = os.path.abspath(path)
    package = getattr(mod, "__package__", None)
    if package:
        top = package.split(".")[0]
        for base in getattr(sys.modules.get(top), "__path__", []):
            base = os.path.abspath(base)
            if os.path.commonpath((base, path)) == base:
                return base, top
    return path, os.path.basename(path)


def _included(name: str) -> bool:
    # As Modal's automount: no bytecode, nothing dot-prefixed.
    return not name.startswith(".") and name != "__pycache__" and not name.endswith(".pyc")


def _files(local: str, name: str):
    """(local file, path in the archive) of everything the bundle holds, sorted."""
    if os.path.isfile(local):
        yield local, name
        return
    for dirpath, dirs, files in os.walk(local):
        dirs[:] = sorted(d for d in dirs if _included(d))
        rel = os.path.relpath(dirpath, local)
        for file in sorted(f for f in files if _included(f)):
            full = os.path.join(dirpath, file)
            if os.path.isfile(full):
                yield full, os.path.normpath(os.path.join(name, rel, file))


def make_bundle(local: str, name: str, module_name: str) -> bytes:
    """The deterministic tar.gz of `local` stored as `name`; refuses one over the limit."""
    limit = MAX_BUNDLE_MIB * 1024 * 1024
    total = 0
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for full, arcname in _files(local, name):
            with open(full, "rb") as handle:
                data = handle.read()
            total += len(data)
            if total > limit:
                raise InvalidError(
                    f"the source uploaded for {module_name} ({local}) is over ketch's "
                    f"{MAX_BUNDLE_MIB} MiB limit for an app's code ({full} reaches it). Keep "
                    "data out of the code: put it in a ketch.Volume or add it to the image "
                    "(Image.add_local_dir), or pass include_source=False and add the code "
                    "with Image.add_local_python_source")
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            info.mode = 0o755 if os.access(full, os.X_OK) else 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
