"""Showing a running app's container logs in the terminal.

Off by default for scripts; `with ketch.enable_output():` (and `ketch run`) turns it on.
Each line is prefixed with its function and container; a spinner shows while containers
start.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import sys
import threading
import time

from .proto import ketch_pb2 as pb

PROGRESS_MIN_INPUTS = 200

# How many enable_output() blocks are open in this process, and how many of them said
# show_progress=False. Like the terminal they guard, they are the process's, not a call's.
_enabled = 0
_progress_hidden = 0


@contextlib.contextmanager
def enable_output(show_progress: bool = True):
    """Streams container logs and progress of apps run inside the block to the terminal;
    show_progress=False keeps the logs but hides progress bars and start-up spinners."""
    global _enabled, _progress_hidden
    _enabled += 1
    _progress_hidden += not show_progress
    try:
        yield
    finally:
        _enabled -= 1
        _progress_hidden -= not show_progress


def enabled() -> bool:
    return _enabled > 0


_timestamps = False  # the CLI's --timestamps: each streamed log line starts with its time


_shown_elsewhere = False


def container_output_shown_elsewhere(on: bool = True):
    """Containers' stdout and stderr reach this process's terminal directly (an
    interactive app): the log printer leaves those lines out."""
    global _shown_elsewhere
    _shown_elsewhere = on


def show_timestamps(on: bool = True):
    global _timestamps
    _timestamps = on


def progress_enabled() -> bool:
    return _enabled > 0 and _progress_hidden == 0


class LogPrinter:
    def __init__(self, show_exceptions: bool = True):
        """`show_exceptions`: print the "exception" lines (a failed input's traceback, which
        the server logs); a caller that raises them itself leaves them out."""
        self.show_exceptions = show_exceptions
        # rich is imported only once output shows (as here): containers and quiet scripts
        # skip its ~65 ms import.
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

    def line(self, line: pb.LogLine, timestamp: bool = False):
        short = line.container_id[-6:] if line.container_id else ""
        prefix = f"[{line.function_name} {short}]" if line.function_name else ""
        if timestamp:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(line.ts))
            prefix = f"{stamp} {prefix}" if prefix else stamp
        if line.source == "system":
            self._progress(line)
            return
        if line.source == "exception" and not self.show_exceptions:
            return
        if _shown_elsewhere and line.source in ("stdout", "stderr"):
            return   # an interactive app's: its terminal showed them as written
        console = _progress_display.console() or \
            (self.out if line.source == "stdout" else self.err)
        from rich.text import Text   # loaded with the consoles (see __init__)
        # One print, so that nothing another thread prints lands inside the line.
        stamp = datetime.datetime.fromtimestamp(line.ts).isoformat(" ", "milliseconds") \
            if _timestamps else ""
        console.print(Text.assemble(*([(f"{stamp} ", "dim")] if stamp else []),
                                    (f"{prefix} ", "dim"), line.text),  # [square b050] text
                      highlight=False)

    def _progress(self, line: pb.LogLine):
        text = line.text
        if text.startswith("starting container"):
            self.starting.add(line.container_id)
        else:
            self.starting.discard(line.container_id)
            if " waits for " in text or "stopped:" in text and \
                    not text.startswith("app stopped") and \
                    "scaled down" not in text and "exited with code 0" not in text:
                self.err.print(text, markup=False, style="dim")
        if self.starting and self.status is None and self.err.is_terminal \
                and progress_enabled() \
                and _progress_display.console() is None:  # a progress bar is showing already
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
    printer = LogPrinter(show_exceptions=False)  # the caller raises them
    printer.ended = asyncio.Event()
    client.log_handlers[app_id] = printer
    asyncio.ensure_future(client.request(log_subscribe=pb.LogSubscribe(app_id=app_id,
                                                                       follow=True)))


async def wait_for_end(client, app_id: str, timeout: float = 5.0):
    """Waits until the server has sent the app's last log line, then unsubscribes."""
    printer = client.log_handlers.get(app_id)
    if isinstance(printer, LogPrinter) and printer.ended is not None:
        try:
            await asyncio.wait_for(printer.ended.wait(), timeout)
        except asyncio.TimeoutError:
            pass
    client.log_handlers.pop(app_id, None)


class _ProgressDisplay:
    """The terminal's one live progress display, shared by the maps running at once: each
    has a bar (a task) in it; it starts with the first and stops when the last ends. While
    it shows, log lines print through its console, above the bars."""

    def __init__(self):
        self._lock = threading.Lock()
        self._progress = None   # a rich Progress while any bar shows
        self._bars = 0

    def add_bar(self, label: str, total: int) -> tuple[object, int]:
        """Adds a bar; returns the rich Progress that holds it and its task id."""
        with self._lock:
            if self._progress is None:
                from rich.console import Console  # imported late: see LogPrinter
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, \
                    TextColumn, TimeRemainingColumn

                self._progress = Progress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=Console(file=sys.stderr), transient=True)
                self._progress.start()
            self._bars += 1
            return self._progress, self._progress.add_task(label, total=total)

    def remove_bar(self, task: int):
        with self._lock:
            self._progress.remove_task(task)
            self._bars -= 1
            if self._bars == 0:
                self._progress.stop()
                self._progress = None

    def console(self):
        """The live display's rich Console, or None when no bar shows."""
        progress = self._progress
        return progress.console if progress is not None else None


_progress_display = _ProgressDisplay()


class MapProgress:
    """A progress bar for a big `.map` while output is enabled and stderr is a terminal."""

    def __init__(self, label: str, total: int, display: _ProgressDisplay | None = None):
        self.label = label
        self.total = total
        self.display = display or _progress_display
        self.progress = None
        self.task: int | None = None

    def __enter__(self):
        self.progress, self.task = self.display.add_bar(self.label, self.total)
        return self

    def advance(self, n: int = 1):
        self.progress.advance(self.task, n)

    def __exit__(self, *exc):
        self.display.remove_bar(self.task)
        self.progress = self.task = None


def map_progress(label: str, total: int | None):
    """A MapProgress when one should show, else a do-nothing stand-in."""
    if total is not None and total >= PROGRESS_MIN_INPUTS and progress_enabled() and \
            sys.stderr.isatty():
        return MapProgress(label, total)
    return _NoProgress()


class _NoProgress:
    def __enter__(self):
        return self

    def advance(self, n: int = 1):
        pass

    def __exit__(self, *exc):
        pass
