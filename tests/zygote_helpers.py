"""Finding a bwrap server's zygotes and the processes forked from them, from /proc."""

from __future__ import annotations

import os
import time

ZYGOTE_MODULE = "ketch._runtime.zygote"


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("PPid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def zygotes_of(server_pid: int) -> list[int]:
    return [pid for pid in _pids() if _ppid(pid) == server_pid and
            ZYGOTE_MODULE in _cmdline(pid)]


def descendants(pid: int) -> list[int]:
    """pid's children, their children and so on."""
    parents = {p: _ppid(p) for p in _pids()}
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


def alive(pids: list[int]) -> list[int]:
    """Those of pids still running (zombies count as gone)."""
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rpartition(")")[2].split()[0] != "Z":
                    out.append(pid)
        except OSError:
            pass
    return out


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive(pids)


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]
