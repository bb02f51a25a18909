"""A function whose volume is mounted as a copy, as on a cluster node other than the
server's: the deploying test names the copy's directory and the volume in TEST_COPIES,
which becomes the container's KETCH_VOLUME_COPIES."""

import os
from pathlib import Path

import ketch

app = ketch.App("copied")
vol = ketch.Volume.from_name("copied-vol", create_if_missing=True)
COPIES = os.environ.get("TEST_COPIES", "[]")
COPY_DIR = os.environ.get("TEST_COPY_DIR", "")


@app.function(env={"KETCH_VOLUME_COPIES": COPIES, "TEST_COPY_DIR": COPY_DIR})
def look_and_write(name: str, reload: bool = False) -> dict:
    root = Path(os.environ["TEST_COPY_DIR"])
    if reload:
        vol.reload()
    seen = {p.name: p.read_text() for p in sorted(root.iterdir()) if p.is_file()}
    (root / name).write_text(f"written by {name}")   # committed when the container exits
    return seen
