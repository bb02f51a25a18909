"""`ContainerProcess`: a process started in a sandbox with `sb.exec(...)`."""

from __future__ import annotations

from . import _sync
from ._client import Client
from ._io_streams import StreamReader, StreamWriter
from .proto import ketch_pb2 as pb


class ContainerProcess:
    def __init__(self, sandbox_id: str, exec_id: str, stdout: StreamReader,
                 stderr: StreamReader, text: bool = True):
        self._sandbox_id, self._exec_id = sandbox_id, exec_id
        self._stdout, self._stderr = stdout, stderr
        self._stdin = StreamWriter(sandbox_id, exec_id)
        self._text = text
        self._returncode: int | None = None
        self._message = ""

    def __repr__(self):
        return f"<ketch.ContainerProcess {self._exec_id} in {self._sandbox_id}>"

    @property
    def stdout(self) -> StreamReader:
        return self._stdout

    @property
    def stderr(self) -> StreamReader:
        return self._stderr

    @property
    def stdin(self) -> StreamWriter:
        return self._stdin

    @property
    def returncode(self) -> int | None:
        """The exit code once `wait()` or `poll()` saw it end, else None. A process killed
        by a signal has 128 + the signal's number, as in a shell (137 for SIGKILL, which
        is how an exec's timeout ends it)."""
        return self._returncode

    async def _wait(self, timeout: float) -> int | None:
        if self._returncode is None:
            client = await Client.get()
            reply = await client.request(sandbox_exec_wait=pb.SandboxExecWait(
                sandbox_id=self._sandbox_id, exec_id=self._exec_id, timeout_s=timeout))
            if reply.sandbox_exec_exit.done:
                self._returncode = reply.sandbox_exec_exit.returncode
                self._message = reply.sandbox_exec_exit.message
        return self._returncode

    @_sync.twin
    async def poll(self) -> int | None:
        """The exit code if it has ended, else None."""
        return await self._wait(0)

    @_sync.twin
    async def wait(self) -> int:
        """Waits for it to end; returns its exit code."""
        return await self._wait(-1)
