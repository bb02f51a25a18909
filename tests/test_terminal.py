"""The supervisor's pseudo-terminal (ketch/_runtime/terminal.py) with a real process."""

from __future__ import annotations

import asyncio

from ketch._runtime.terminal import Terminal


def test_a_short_commands_output_survives_its_exit():
    """The process has exited (so the terminal reads as EIO) before the supervisor reads:
    what it wrote is still handed over, then the end."""
    async def once() -> bytes:
        term = Terminal()
        proc = await asyncio.create_subprocess_exec(
            "tty", stdin=term.child, stdout=term.child, stderr=term.child,
            preexec_fn=term.take_control)
        term.started()
        await proc.wait()
        reader = await term.reader()
        await asyncio.sleep(0.05)   # the EIO arrives before the read
        try:
            return await reader.read(1000) + await reader.read(1000)
        finally:
            term.close()

    outs = [asyncio.run(once()) for _ in range(5)]
    assert all(out.startswith(b"/dev/pts/") for out in outs), outs
