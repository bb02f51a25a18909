"""Native thread pools across a memory snapshot's fork.

A fork keeps only the thread that forks. Python threads are visible (`threading`); a
native library's pool is not, and an OpenMP pool that ran a parallel region before the
fork leaves the child hanging at its own next one (GNU libgomp's team is gone but still
referenced). torch makes one at `import torch` and uses it at its first tensor operation.

So a snapshot zygote runs with OMP_NUM_THREADS=1 (`SNAPSHOT_ENV`) unless the image sets
it: OpenMP, OpenBLAS and MKL then start no pool, and their operations in snap hooks run
on the one thread. `native_threads` counts what is left (from /proc/self/task), for the
zygote to refuse a snapshot that a fork would break; `restore` gives the forked
container back the thread count it would have had without the snapshot."""

from __future__ import annotations

import ctypes
import os
import sys
import threading

# What a snapshot zygote's environment gets unless the image sets it.
SNAPSHOT_ENV = {"OMP_NUM_THREADS": "1"}
# OpenBLAS's pool size (one pool for the process) is set through these, where numpy's
# bundled copy has prefixed names.
_OPENBLAS_SETTERS = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                     "scipy_openblas_set_num_threads")


def native_threads() -> int:
    """Threads of this process that Python did not start (or see)."""
    seen = {t.native_id for t in threading.enumerate()}
    return sum(1 for tid in os.listdir("/proc/self/task") if int(tid) not in seen)


def restore(env: dict):
    """In a container forked from a snapshot: torch's and OpenBLAS's pools get the size
    `env` asks for (OMP_NUM_THREADS), or one thread per CPU it may run on, as a fresh
    interpreter's would; they start at the next parallel operation. (Other OpenMP users
    keep one thread: libgomp's default is per thread and has no setter for threads that
    exist later, such as the input runner's.)"""
    try:
        n = int(env.get("OMP_NUM_THREADS") or len(os.sched_getaffinity(0)))
    except ValueError:
        return  # not a number: the libraries' own rules, as without a snapshot
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "set_num_threads"):
        torch.set_num_threads(n)  # for every thread's OpenMP (and MKL), later ones too
    for name in _mapped("openblas"):
        try:
            # by its soname: the copy already loaded (the path may be outside this root)
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        setter = next((getattr(lib, s) for s in _OPENBLAS_SETTERS if hasattr(lib, s)), None)
        if setter is not None:
            setter(n)


def _mapped(part: str) -> list[str]:
    """The file names of the shared libraries mapped here whose names hold `part`."""
    names = []
    with open("/proc/self/maps") as f:
        for line in f:
            name = os.path.basename(line.rstrip("\n"))
            if part in name and ".so" in name and name not in names:
                names.append(name)
    return names
