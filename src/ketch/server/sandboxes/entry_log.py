"""A sandbox's entrypoint output, line by line, in its app's log (as Modal keeps a
sandbox's logs): `sb.logs.fetch()`/`tail()` and `ketch container logs ID` read it back.
Exec'd processes are not logged, as on Modal. Bounded: lines are cut at MAX_LINE and a
sandbox logs at most MAX_BYTES (its streams still carry everything)."""

from __future__ import annotations

MAX_LINE = 16 * 1024
MAX_BYTES = 16 * 1024 * 1024
SOURCES = {1: "stdout", 2: "stderr"}


class EntrypointLog:
    def __init__(self, logs, app_id: str, sandbox_id: str):
        self.logs, self.app_id, self.sandbox_id = logs, app_id, sandbox_id
        self.partial = {1: b"", 2: b""}
        self.left = MAX_BYTES

    def feed(self, fd: int, parts):
        if self.left <= 0 or fd not in self.partial:
            return
        data = self.partial[fd] + b"".join(bytes(p) for p in parts)
        *lines, rest = data.split(b"\n")
        while len(rest) > MAX_LINE:
            lines.append(rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
        self.partial[fd] = rest
        for line in lines:
            self._write(fd, line)

    def _write(self, fd: int, line: bytes):
        if self.left <= 0:
            return
        self.left -= len(line) + 1
        text = line.decode("utf-8", "replace")
        if self.left <= 0:
            text += f" [ketch: the entrypoint logged {MAX_BYTES} bytes; the rest is not logged]"
        self.logs.write(self.app_id, SOURCES[fd], "sandbox", self.sandbox_id, text)

    def close(self):
        for fd, rest in self.partial.items():
            if rest:
                self._write(fd, rest)
        self.partial = {1: b"", 2: b""}
