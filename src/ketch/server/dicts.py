"""Dicts: key-value maps shared by every client and container of the server.

Keys and values arrive cloudpickled; keys compare as bytes. Every operation is one SQLite
transaction run on the server's event loop, so concurrent writers never interleave inside
one: `put(skip_if_exists=True)` and `pop` are atomic.
"""

from __future__ import annotations

from .objects import ObjectsService

MAX_KEY_BYTES = 64 * 1024
MAX_VALUE_BYTES = 16 * 1024 * 1024
SCAN_PAGE = 1000
SCAN_BYTES = 32 * 1024 * 1024   # a page stays well under the frame limit


def _check_sizes(keys, values=()):
    for key in keys:
        if len(key) > MAX_KEY_BYTES:
            raise ValueError(f"a Dict key is {len(key)} bytes pickled; the limit is "
                             f"{MAX_KEY_BYTES} bytes. Use a shorter key (a hash, say).")
    for value in values:
        if len(value) > MAX_VALUE_BYTES:
            raise ValueError(f"a Dict value is {len(value)} bytes pickled; the limit is "
                             f"{MAX_VALUE_BYTES // (1024 * 1024)} MiB. Put large data on a "
                             "Volume and store its path.")


class DictService:
    def __init__(self, objects: ObjectsService):
        self.objects = objects
        self.store = objects.store

    def _entries(self, object_id: str):
        """The store, once the dict is known to exist."""
        self.objects.get(object_id, "dict")
        return self.store

    def get(self, object_id: str, key: bytes) -> bytes | None:
        _check_sizes([key])
        return self._entries(object_id).dict_get(object_id, key)

    def pop(self, object_id: str, key: bytes) -> bytes | None:
        _check_sizes([key])
        return self._entries(object_id).dict_pop(object_id, key)

    def put(self, object_id: str, pairs: list[tuple[bytes, bytes]], skip_if_exists: bool
            ) -> int:
        """Stores the pairs; returns how many were written (skip_if_exists keeps old ones)."""
        _check_sizes([k for k, _ in pairs], [v for _, v in pairs])
        return self._entries(object_id).dict_put(object_id, pairs, skip_if_exists)

    def size(self, object_id: str) -> int:
        return self._entries(object_id).dict_len(object_id)

    def clear(self, object_id: str):
        self._entries(object_id).dict_clear(object_id)

    def scan(self, object_id: str, after_key: bytes, limit: int, with_values: bool
             ) -> tuple[list[tuple[bytes, bytes | None]], bool]:
        """A page of entries after `after_key`, in key order, and whether it is the last."""
        limit = min(limit or SCAN_PAGE, SCAN_PAGE)
        rows = self._entries(object_id).dict_scan(object_id, after_key, limit, with_values)
        done = len(rows) < limit
        page, size = [], 0
        for key, value in rows:
            size += len(key) + len(value or b"")
            if page and size > SCAN_BYTES:
                return page, False
            page.append((key, value))
        return page, done
