"""Printing a log stream (`ketch app logs`, `ketch container logs`, `ketch call show`), and
reading the `--since` people type."""

from __future__ import annotations

import asyncio
import datetime
import json
import re
import sys
import time

import click

from .._output import LogPrinter
from ..proto import ketch_pb2 as pb
from ._common import client, console, run_async, when

_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class Since(click.ParamType):
    """`10m`, `2h`, `1d` (that long ago), or a date and time (`2026-12-01 12:00`)."""

    name = "since"

    def convert(self, value, param, ctx) -> float:
        if isinstance(value, float):
            return value
        text = str(value).strip()
        match = _AGO.match(text)
        if match:
            return time.time() - float(match.group(1)) * _UNIT_S[match.group(2)]
        try:
            return datetime.datetime.fromisoformat(text).timestamp()
        except ValueError:
            self.fail(f"{value!r}: use a duration ago such as 30s, 10m, 2h, 1d, or a date "
                      "and time such as '2026-12-01 12:00'", param, ctx)


SINCE = Since()


def line_json(line: pb.LogLine) -> dict:
    return {"ts": line.ts, "source": line.source, "function": line.function_name,
            "container": line.container_id, "input": line.input_id or None,
            "call": line.call_id or None, "text": line.text}


def print_line(line: pb.LogLine, printer: LogPrinter, timestamps: bool):
    if line.source == "system":
        console.print(f"{when(line.ts)} {line.text}", markup=False, style="dim")
        return
    printer.line(line, timestamp=timestamps)


def stream_logs(ref: pb.LogSubscribe, as_json: bool, timestamps: bool):
    """Prints what the server sends for `ref` until the stream ends (or Ctrl-C)."""
    printer = LogPrinter()

    async def go():
        c = await client()
        finished = asyncio.Event()

        def handler(batch: pb.LogBatch):
            for line in batch.lines:
                if as_json:
                    sys.stdout.write(json.dumps(line_json(line)) + "\n")
                else:
                    print_line(line, printer, timestamps)
            sys.stdout.flush()
            if batch.end:
                finished.set()

        c.log_handlers["*"] = handler
        await c.request(log_subscribe=ref)
        await finished.wait()

    try:
        run_async(go())
    except KeyboardInterrupt:
        pass


async def fetch_lines(c, ref: pb.LogSubscribe) -> list[pb.LogLine]:
    """The stored lines `ref` selects (no following)."""
    lines: list[pb.LogLine] = []
    finished = asyncio.Event()

    def handler(batch: pb.LogBatch):
        lines.extend(batch.lines)
        if batch.end:
            finished.set()

    c.log_handlers["*"] = handler
    ref.history, ref.follow = True, False
    await c.request(log_subscribe=ref)
    await finished.wait()
    return lines
