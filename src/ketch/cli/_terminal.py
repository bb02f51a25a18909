"""This terminal joined to a process in a sandbox (`ketch shell`, `ketch container exec`):
with a terminal here, a pty there, this side in raw mode (so Ctrl-C reaches the process as
SIGINT), the window size passed on each resize; without one, plain pipes. The process's
exit code comes back as this command's."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import termios
import threading
import tty

from .. import _sync

STDIN_READ = 64 * 1024


def wants_pty() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


@contextlib.contextmanager
def _raw_mode(enabled: bool):
    if not enabled:
        yield
        return
    saved = termios.tcgetattr(sys.stdin.fileno())
    tty.setraw(sys.stdin.fileno())
    try:
        yield
    finally:
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)


def attach(sb, args: list[str], pty: bool, workdir: str | None = None) -> int:
    """Runs `args` in the sandbox joined to this terminal; returns its exit code."""
    env = {"TERM": os.environ.get("TERM", "xterm-256color")} if pty else None
    proc = sb.exec(*args, pty=pty, text=False, workdir=workdir, env=env)
    loop = _sync.loop()

    def resize(*_):
        try:   # the terminal's own size: COLUMNS/LINES in the environment go stale on resize
            size = os.get_terminal_size(sys.stdout.fileno())
        except OSError:
            size = shutil.get_terminal_size()
        asyncio.run_coroutine_threadsafe(proc.stdin._resize(size.lines, size.columns), loop)

    if pty:
        resize()
        signal.signal(signal.SIGWINCH, resize)
    threading.Thread(target=_pump_stdin, args=(proc,), daemon=True).start()
    errors = threading.Thread(target=_copy, args=(proc.stderr, sys.stderr.buffer), daemon=True)
    errors.start()
    with _raw_mode(pty):
        _copy(proc.stdout, sys.stdout.buffer)
        code = proc.wait()
    errors.join(timeout=2)
    return code


def _copy(stream, out):
    for chunk in stream:
        out.write(chunk)
        out.flush()


def _pump_stdin(proc):
    fd = sys.stdin.fileno()
    try:
        while True:
            data = os.read(fd, STDIN_READ)
            if not data:
                break
            proc.stdin.write(data)
            proc.stdin.drain()
        proc.stdin.write_eof()
        proc.stdin.drain()
    except Exception:
        pass  # the process ended: nothing takes stdin any more
