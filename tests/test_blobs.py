"""The blob store: large payloads land whole, and old ones are swept."""

import os
import time

from ketch.server.blobs import BlobStore


def test_blobs_land_whole_and_old_ones_are_swept(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    assert store.put_chunk("u1", b"a" * 10, last=False) is None
    old = store.put_chunk("u1", b"b" * 10, last=True)
    data, last = store.read_chunk(old, 0)
    assert data == b"a" * 10 + b"b" * 10 and last
    new = store.put_chunk("u2", b"fresh", last=True)
    week_ago = time.time() - 8 * 86400
    path = tmp_path / "blobs" / old[:2] / old
    os.utime(path, (week_ago, week_ago))
    assert store.remove_older_than(7 * 86400) == 1
    assert not path.exists()
    assert store.read_chunk(new, 0) == (b"fresh", True)
