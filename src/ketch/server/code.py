"""Uploaded code: each app's source bundle, unpacked once and kept by its hash.

A client uploads its app's source as a tar.gz blob (see ketch._source) and names it in a
function's spec; containers see that code under /root and nothing of the client's machine.
A spec naming host paths (the old `sys_path`) is refused. Unpacking refuses members that
could land outside the bundle (absolute paths, "..", links, devices) and bundles over the
size limits; a bundle's files are read-only (and bound read-only into containers).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from .._bundle import MAX_UNPACKED_MIB, unpack  # noqa: F401  (the limit, for callers)
from .._source import MAX_BUNDLE_MIB
from ..proto import ketch_pb2 as pb

_MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_BUNDLE_RE = re.compile(r"^[0-9a-f]{64}$")


class CodeStore:
    def __init__(self, root: Path, blobs):
        self.root = root
        self.blobs = blobs   # where uploads land; a bundle is unpacked from there
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.tmp = root / ".unpacking"
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(mode=0o700)

    def path(self, bundle_id: str) -> Path:
        return self.root / bundle_id

    def check(self, spec: pb.FunctionSpec):
        """Refuses a spec that names host paths or a bad module, and makes sure its bundle
        is unpacked (from the blob the client uploaded)."""
        if spec.sys_path:
            raise ValueError(f"{spec.name}: the spec names host paths (sys_path), which the "
                             "server never shows containers; upgrade the ketch client, which "
                             "uploads the app's source instead")
        if not spec.pickled and not _MODULE_RE.match(spec.module):
            raise ValueError(f"{spec.name}: module {spec.module!r} is not a Python module "
                             "name (dotted identifiers, e.g. 'pkg.app')")
        if spec.code_bundle:
            self.ensure(spec.code_bundle)

    def ensure(self, bundle_id: str) -> Path:
        if not _BUNDLE_RE.match(bundle_id):
            raise ValueError(f"code bundle {bundle_id!r} is not a sha256 blob id")
        final = self.path(bundle_id)
        if final.is_dir():
            return final
        data = _read_blob(self.blobs, bundle_id)
        work = self.tmp / bundle_id
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(mode=0o755)
        try:
            unpack(data, work)
            os.replace(work, final)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return final


def _read_blob(blobs, blob_id: str) -> bytes:
    parts, offset = [], 0
    while True:
        try:
            chunk, last = blobs.read_chunk(blob_id, offset)
        except LookupError:
            raise ValueError(f"code bundle {blob_id} was not uploaded; upload the app's "
                             "source as a blob first") from None
        parts.append(chunk)
        offset += len(chunk)
        if offset > MAX_BUNDLE_MIB * 1024 * 1024:   # read no more than a bundle may hold
            raise ValueError(f"the code bundle is over the {MAX_BUNDLE_MIB} MiB limit; keep "
                             "data out of the app's source (use a Volume or the image)")
        if last:
            return b"".join(parts)
