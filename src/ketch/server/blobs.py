"""Content-addressed blobs for arguments and results over the inline limit.

An upload arrives in chunks, is written to a temporary file, hashed, and renamed to its
sha256 when the last chunk lands, so a half-made blob is never visible.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

from .._serialization import BLOB_CHUNK

_UPLOAD_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")   # no path separator, no dot


class BlobStore:
    def __init__(self, root: Path):
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        for stale in self.tmp.iterdir():
            stale.unlink(missing_ok=True)
        # upload id -> (file, running hash, its path, the owner id of who sends it)
        self._uploads: dict[str, tuple[object, "hashlib._Hash", Path, str]] = {}

    def _path(self, blob_id: str) -> Path:
        if len(blob_id) != 64 or not all(c in "0123456789abcdef" for c in blob_id):
            raise KeyError(blob_id)
        return self.root / blob_id[:2] / blob_id

    def put_chunk(self, upload_id: str, data: bytes, last: bool, owner_id: str = ""
                  ) -> str | None:
        """Appends a chunk; returns the blob id when `last`. An upload its owner leaves
        unfinished is dropped by owner_closed."""
        entry = self._uploads.get(upload_id)
        if entry is None:
            path = self.tmp / f"{os.getpid()}-{upload_id}"
            if not _UPLOAD_ID_RE.match(upload_id):
                raise ValueError(f"upload id {upload_id!r} is not 1-64 letters, "
                                 "digits, '_' or '-'; "
                                 "use the ketch SDK, which makes them")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            entry = (open(fd, "wb"), hashlib.sha256(), path, owner_id)
            self._uploads[upload_id] = entry
        handle, digest, path, _ = entry
        handle.write(data)
        digest.update(data)
        if not last:
            return None
        handle.close()
        del self._uploads[upload_id]
        blob_id = digest.hexdigest()
        final = self._path(blob_id)
        final.parent.mkdir(mode=0o700, exist_ok=True)
        os.replace(path, final)
        return blob_id

    def owner_closed(self, owner_id: str):
        for upload_id, (handle, _, path, owner) in list(self._uploads.items()):
            if owner == owner_id:
                del self._uploads[upload_id]
                handle.close()
                path.unlink(missing_ok=True)

    def remove_older_than(self, seconds: float) -> int:
        """Deletes blobs not written for `seconds` (results kept that long, as Modal keeps
        function call outputs for a week); returns how many went."""
        cutoff = time.time() - seconds
        removed = 0
        for shard in self.root.iterdir():
            if shard == self.tmp or not shard.is_dir():
                continue
            for blob in shard.iterdir():
                try:
                    if blob.stat().st_mtime < cutoff:
                        blob.unlink()
                        removed += 1
                except FileNotFoundError:
                    pass
        return removed

    def read_chunk(self, blob_id: str, offset: int) -> tuple[bytes, bool]:
        """Up to BLOB_CHUNK bytes at `offset`, and whether they end the blob."""
        try:
            handle = open(self._path(blob_id), "rb")
        except (KeyError, FileNotFoundError):
            raise LookupError(f"no blob {blob_id}") from None
        with handle:
            handle.seek(offset)
            data = handle.read(BLOB_CHUNK)
            last = handle.tell() >= os.fstat(handle.fileno()).st_size
        return data, last
