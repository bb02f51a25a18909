"""`ketch call list|show`: the server's call history."""

from __future__ import annotations

import time

import click

from .._output import LogPrinter
from ..proto import ketch_pb2 as pb
from ._common import client, console, print_json, run_async, table, when
from ._logs import SINCE, fetch_lines, line_json, print_line

STATUS_STYLE = {"success": "green", "running": "cyan", "cancelled": "yellow"}


@click.group()
def call():
    """See the calls functions ran: their status, inputs, failures and logs."""


def _duration(rec: pb.CallRecord) -> str:
    if not rec.finished_at:
        return f"{time.time() - rec.created_at:.1f}s so far"
    return f"{rec.finished_at - rec.created_at:.3g}s"


def _counts(rec: pb.CallRecord) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(rec.counts.items()))


def record_json(rec: pb.CallRecord, outcomes: bool = False) -> dict:
    data = {"call_id": rec.call_id, "app_id": rec.app_id, "app": rec.app_name,
            "function": rec.function_name, "kind": rec.kind, "source": rec.source or None,
            "status": rec.status, "created_at": rec.created_at,
            "started_at": rec.started_at or None, "finished_at": rec.finished_at or None,
            "inputs": rec.n_inputs, "counts": dict(rec.counts),
            "containers": list(rec.container_ids), "node": rec.node,
            "message": rec.message or None}
    if outcomes:
        data["outcomes"] = [{"idx": o.idx, "input_id": o.input_id, "status": o.status,
                             "message": o.message or None, "traceback": o.traceback or None,
                             "container": o.container_id or None,
                             "started_at": o.started_at or None,
                             "finished_at": o.finished_at or None} for o in rec.outcomes]
    return data


@call.command("list")
@click.option("--app", "app_ref", default="", help="Only this app's calls (name or id).")
@click.option("--function", "function_name", default="", help="Only this function's calls.")
@click.option("--status", type=click.Choice(["running", "success", "failed", "failure",
                                             "timeout", "crash", "cancelled"]),
              default=None, help="Only calls that ended so (failed: failure, timeout or "
              "crash).")
@click.option("--since", type=SINCE, default=None, help="Only calls made since: 10m, 2h, "
              "1d ago, or a date and time.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_calls(app_ref: str, function_name: str, status: str | None, since: float | None,
               limit: int, as_json: bool):
    """List recent calls, newest first: .remote, .map (one line per map), .spawn,
    scheduled runs, and web requests (one line per endpoint per minute)."""
    async def fetch():
        c = await client()
        return (await c.request(call_history_list=pb.CallHistoryList(
            app=app_ref, function_name=function_name, status=status or "",
            since=since or 0, limit=limit))).call_history_reply.calls

    rows = run_async(fetch())
    if as_json:
        print_json([record_json(r) for r in rows])
        return
    if not rows:
        console.print("no calls in the history" + (" match" if app_ref or function_name or
                                                   status or since else ""))
        return
    table(["Call ID", "App", "Function", "Kind", "Status", "Inputs", "Queued", "Took"],
          [[r.call_id, r.app_name, r.function_name, r.kind + (f" ({r.source})" if r.source
                                                               else ""),
            r.status, _counts(r) or r.n_inputs, when(r.created_at), _duration(r)]
           for r in rows])


@call.command("show")
@click.argument("call_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def show(call_id: str, as_json: bool):
    """Show one call: its inputs' outcomes, the first failures with their tracebacks, and
    the log lines its inputs wrote."""
    async def fetch():
        c = await client()
        rec = (await c.request(call_history_get=pb.CallHistoryGet(call_id=call_id))
               ).call_history_reply.calls[0]
        lines = await fetch_lines(c, pb.LogSubscribe(app_id=rec.app_id, call_id=call_id))
        return rec, lines

    rec, lines = run_async(fetch())
    if as_json:
        print_json({**record_json(rec, outcomes=True),
                    "logs": [line_json(line) for line in lines]})
        return
    style = STATUS_STYLE.get(rec.status, "red")
    console.print(f"[bold]{rec.call_id}[/bold]  {rec.app_name}.{rec.function_name} "
                  f"({rec.kind}{', ' + rec.source if rec.source else ''})  "
                  f"[{style}]{rec.status}[/{style}]", highlight=False)
    console.print(f"  queued:     {when(rec.created_at)}", markup=False)
    if rec.started_at:
        console.print(f"  started:    {when(rec.started_at)}", markup=False)
    if rec.finished_at:
        console.print(f"  finished:   {when(rec.finished_at)} (took {_duration(rec)})",
                      markup=False)
    console.print(f"  inputs:     {rec.n_inputs}" + (f" ({_counts(rec)})" if rec.counts
                                                     else ""), markup=False)
    if rec.container_ids:
        console.print(f"  containers: {', '.join(rec.container_ids)} on {rec.node}",
                      markup=False)
    for o in rec.outcomes:
        took = f", {o.finished_at - o.started_at:.3g}s" if o.started_at else ""
        where = f" on {o.container_id}" if o.container_id else ""
        console.print(f"\n  input {o.idx} ({o.input_id}): {o.status}{where}{took}",
                      markup=False, style="bold")
        if o.traceback:
            console.print(o.traceback.rstrip(), markup=False, highlight=False)
        elif o.message:
            console.print(f"  {o.message}", markup=False)
    if lines:
        console.print("\n  logs:", style="bold")
        printer = LogPrinter(show_exceptions=False)  # the tracebacks are printed above
        for line in lines:
            print_line(line, printer, timestamps=True)
    elif rec.status != "running":
        console.print("\n  (its inputs wrote no log lines)", style="dim")
