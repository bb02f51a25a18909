"""Reading an app's log file from a byte offset, for the dashboard's live log tail.

The page asks again every second with the offset it reached, so each poll reads only what
was appended since (at most READ_BYTES of it), however long the log has grown. The first
poll (no offset) starts near the end: a tail, not the whole history.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

READ_BYTES = 256 * 1024     # one poll reads at most this much


def read(path: Path, offset: int | None, container_id: str = "") -> tuple[list[dict], int]:
    """The complete lines from `offset` (None: the last READ_BYTES), those of
    `container_id` only when given, and the offset to ask from next time."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return [], 0
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        start = max(0, size - READ_BYTES) if offset is None else min(max(0, offset), size)
        handle.seek(start)
        data = handle.read(READ_BYTES)
    end = data.rfind(b"\n") + 1           # a line still being written waits for next time
    if end == 0 and len(data) == READ_BYTES:
        return [], start + len(data)       # one line longer than a read: passed over
    complete = data[:end]
    if offset is None and start > 0:       # the tail began inside a line: skip its rest
        complete = complete[complete.find(b"\n") + 1:]
    lines = []
    for raw in complete.splitlines():
        try:
            row = json.loads(raw)
            # The rows LogService writes: ts, source, function, container, text, and
            # (when an input was running) its input and call ids.
            line = {"ts": float(row[0]), "source": str(row[1]), "function": str(row[2]),
                    "container_id": str(row[3]), "text": str(row[4]),
                    "call_id": str(row[6]) if len(row) > 6 else ""}
        except (ValueError, TypeError, IndexError):
            continue
        if not container_id or line["container_id"] == container_id:
            lines.append(line)
    return lines, start + end
