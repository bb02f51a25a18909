"""Starting a process from the server without forking the server: uvloop's
`subprocess_exec` (libuv) forks it, copying its page tables with the event loop stopped
(10-25 ms for a server of 100-150 MiB: `bench/start_costs.py`), where `subprocess.Popen`
vforks (~1 ms). A process started so is waited for on the loop: its pidfd, its pipe."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time


async def exits_within(proc: subprocess.Popen, timeout: float) -> bool:
    """Whether proc exits within timeout (it is reaped if it did)."""
    loop = asyncio.get_running_loop()
    fd = os.pidfd_open(proc.pid)
    exited = loop.create_future()
    loop.add_reader(fd, lambda: exited.done() or exited.set_result(None))
    try:
        await asyncio.wait_for(exited, timeout)
    except asyncio.TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    proc.wait()
    return True


async def run(argv: list[str], timeout: float) -> tuple[int | None, bytes]:
    """Runs argv (stdin and stdout /dev/null) → its exit code and its stderr; the code is
    None when it ran past timeout (then it is killed)."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), proc.stderr)
    deadline = time.monotonic() + timeout
    try:
        err = await asyncio.wait_for(reader.read(), timeout)   # to its end: it exited
        if await exits_within(proc, max(deadline - time.monotonic(), 0.0)):
            return proc.returncode, err
    except asyncio.TimeoutError:
        pass
    finally:
        transport.close()
    proc.kill()
    proc.wait()
    return None, b""
