"""What the network tests look at on the host: the processes under a server and the Unix
sockets they hold. Imported by the tests and by the client code they run."""

from __future__ import annotations

import os
from pathlib import Path


def _parent_of(stat: str) -> int:
    return int(stat[stat.rindex(")") + 2:].split()[1])


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(_parent_of(stat), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def slirps_of(pid: int) -> list[int]:
    """The slirp4netns processes the server `pid` started."""
    found = []
    for child in descendants(pid):
        try:
            stat = Path(f"/proc/{child}/stat").read_text()
        except OSError:
            continue
        if stat[stat.index("(") + 1:stat.rindex(")")] == "slirp4netns":
            found.append(child)
    return found


def unix_sockets_of_containers(server_pid: int) -> list[str]:
    """The names of the Unix sockets the server's descendants (its containers) hold, as
    each one's network namespace lists them ('@...': an abstract socket)."""
    names = []
    for pid in descendants(server_pid):
        try:
            fds = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
            table = Path(f"/proc/{pid}/net/unix").read_text().splitlines()[1:]
        except OSError:
            continue
        inodes = {link[8:-1] for link in fds if link.startswith("socket:[")}
        for line in table:
            fields = line.split()
            if len(fields) > 7 and fields[6] in inodes:
                names.append(fields[7])
    return names
