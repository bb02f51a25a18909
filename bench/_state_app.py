"""Container-side work for bench/state.py, importable by module path in containers."""

import os
import time

import ketch

MOUNT = "/mnt/ketch-bench/vol"
vol = ketch.Volume.from_name("bench-state", create_if_missing=True)
app = ketch.App("bench-state")


@app.function(timeout=600)
def dict_worker(name: str, worker: int, n: int) -> tuple[float, float, int]:
    """n puts then n gets of this worker's own keys; → (start, end, ops) in wall time."""
    d = ketch.Dict.from_name(name)
    d.get("warm-up")
    start = time.time()
    for i in range(n):
        d[(worker, i)] = i
    for i in range(n):
        d.get((worker, i))
    return start, time.time(), 2 * n


@app.function(timeout=600)
def queue_worker(name: str, worker: int, n: int) -> tuple[float, float, int]:
    """n puts then n gets on this worker's own partition."""
    q = ketch.Queue.from_name(name)
    part = f"w{worker}"
    q.len(partition=part)
    start = time.time()
    for i in range(n):
        q.put(i, partition=part)
    for i in range(n):
        q.get(partition=part)
    return start, time.time(), 2 * n


@app.function(volumes={MOUNT: vol}, timeout=600)
def volume_write_read(size: int, chunk: int) -> dict:
    """Writes `size` bytes to the mounted volume (then commit), and reads them back warm
    and cold."""
    block = os.urandom(chunk)
    path = os.path.join(MOUNT, "container.bin")
    t0 = time.perf_counter()
    with open(path, "wb") as handle:
        for _ in range(size // chunk):
            handle.write(block)
        handle.flush()
        os.fsync(handle.fileno())
    vol.commit()
    t1 = time.perf_counter()
    read_all(path, chunk)
    t2 = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # the next read comes from the disk
    os.close(fd)
    t3 = time.perf_counter()
    read_all(path, chunk)
    t4 = time.perf_counter()
    os.remove(path)
    return {"write_s": t1 - t0, "read_warm_s": t2 - t1, "read_cold_s": t4 - t3}


def read_all(path: str, chunk: int):
    with open(path, "rb") as handle:
        while handle.read(chunk):
            pass
