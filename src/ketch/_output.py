"""Showing a running app's container logs in the terminal.

Off by default for scripts; `with ketch.enable_output():` (and `ketch run`) turns it on.
Each line is prefixed with its function and container; a spinner shows while containers
start.
"""

from __future__ import annotations

import contextlib
import sys

from .proto import ketch_pb2 as pb

_enabled = 0
_live_console = None  # while a progress bar shows, log lines print through its console
PROGRESS_MIN_INPUTS = 200


@contextlib.contextmanager
def enable_output(show_progress: bool = True):
    """Streams container logs and progress of apps run inside the block to the terminal."""
    global _enabled
    _enabled += 1
    try:
        yield
    finally:
        _enabled -= 1


def enabled() -> bool:
    return _enabled > 0


class LogPrinter:
    def __init__(self):
        from rich.console import Console

        self.out = Console(file=sys.stdout, highlight=False, soft_wrap=True)
        self.err = Console(file=sys.stderr, highlight=False, soft_wrap=True)
        self.starting: set[str] = set()
        self.status = None
        self.ended = None  # an asyncio.Event on ketch's loop, set when the stream ends

    def __call__(self, batch: pb.LogBatch):
        for line in batch.lines:
            self.line(line)
        if batch.end:
            if self.status is not None:
                self.status.stop()
                self.status = None
            if self.ended is not None:
                self.ended.set()

    def line(self, line: pb.LogLine):
        short = line.container_id[-6:] if line.container_id else ""
        prefix = f"[{line.function_name} {short}]" if line.function_name else ""
        if line.source == "system":
            self._progress(line)
            return
        console = self.out if line.source == "stdout" else self.err
        if _live_console is not None:
            console = _live_console
        console.print(f"[dim]{prefix}[/dim] ", end="", markup=True)
        console.print(line.text, markup=False, highlight=False)

    def _progress(self, line: pb.LogLine):
        text = line.text
        if text.startswith("starting container"):
            self.starting.add(line.container_id)
        else:
            self.starting.discard(line.container_id)
            if "stopped:" in text and not text.startswith("app stopped") and \
                    "scaled down" not in text and "exited with code 0" not in text:
                self.err.print(f"[dim]{text}[/dim]")
        if self.starting and self.status is None and self.err.is_terminal \
                and _live_console is None:  # a progress bar is showing already
            self.status = self.err.status(f"starting {len(self.starting)} container(s)…")
            self.status.start()
        elif self.status is not None:
            if self.starting:
                self.status.update(f"starting {len(self.starting)} container(s)…")
            else:
                self.status.stop()
                self.status = None


def follow_logs(client, app_id: str):
    """Subscribes this client to the app's logs and prints them as they arrive."""
    import asyncio

    printer = LogPrinter()
    printer.ended = asyncio.Event()
    client.log_handlers[app_id] = printer
    asyncio.ensure_future(client.request(log_subscribe=pb.LogSubscribe(app_id=app_id,
                                                                       follow=True)))


async def wait_for_end(client, app_id: str, timeout: float = 5.0):
    """Waits until the server has sent the app's last log line, then unsubscribes."""
    import asyncio

    printer = client.log_handlers.get(app_id)
    if isinstance(printer, LogPrinter) and printer.ended is not None:
        try:
            await asyncio.wait_for(printer.ended.wait(), timeout)
        except asyncio.TimeoutError:
            pass
    client.log_handlers.pop(app_id, None)


class MapProgress:
    """A progress bar for a big `.map` while output is enabled and stderr is a terminal."""

    def __init__(self, label: str, total: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, \
            TimeRemainingColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeRemainingColumn(),
                                 console=Console(file=sys.stderr), transient=True)
        self.task = self.progress.add_task(label, total=total)

    def __enter__(self):
        global _live_console
        self.progress.start()
        _live_console = self.progress.console
        return self

    def advance(self, n: int = 1):
        self.progress.advance(self.task, n)

    def __exit__(self, *exc):
        global _live_console
        _live_console = None
        self.progress.stop()


def map_progress(label: str, total: int | None):
    """A MapProgress when one should show, else a do-nothing stand-in."""
    if total is not None and total >= PROGRESS_MIN_INPUTS and enabled() and sys.stderr.isatty():
        return MapProgress(label, total)
    return _NoProgress()


class _NoProgress:
    def __enter__(self):
        return self

    def advance(self, n: int = 1):
        pass

    def __exit__(self, *exc):
        pass
