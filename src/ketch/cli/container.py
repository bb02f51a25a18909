"""`ketch container list|logs|stop|exec`."""

from __future__ import annotations

import sys
import time

import click

from .._sandbox import Sandbox
from ..exception import NotFoundError
from ..proto import ketch_pb2 as pb
from ._common import app_matches, client, console, fail, one_app, print_json, run_async, \
    table
from ._logs import SINCE, stream_logs
from ._terminal import attach, wants_pty


@click.group()
def container():
    """See, stop and exec into running containers (and sandboxes)."""


@container.command("list")
@click.option("--app", "app_ref", default="",
              help="Only this app's containers (its name, id or a unique id prefix).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_containers(app_ref: str, as_json: bool):
    """List running containers with their app, function and inputs in flight."""
    async def fetch():
        c = await client()
        app_ids = set()
        if app_ref:
            matches = await app_matches(c, app_ref)
            if not matches or (app_ref.startswith("ap-") and
                               not any(a.app_id == app_ref for a in matches)):
                one_app(matches, app_ref)  # none: says so; an id prefix must name one app
            app_ids = {a.app_id for a in matches}
        rows = (await c.request(container_list=pb.ContainerList())
                ).container_list_reply.containers
        return [r for r in rows if not app_ids or r.app_id in app_ids]

    rows = run_async(fetch())
    if as_json:
        print_json([{"container_id": r.container_id, "app_id": r.app_id, "app": r.app_name,
                     "function": r.function_name, "state": r.state,
                     "started_at": r.started_at, "inputs_in_flight": r.inputs_in_flight,
                     "pid": r.pid, "node": r.node_id} for r in rows])
        return
    if not rows:
        console.print(f"no running containers of app {app_ref!r}" if app_ref else
                      "no running containers")
        return
    now = time.time()
    table(["Container ID", "App", "Function", "State", "Node", "In flight", "Up"],
          [[r.container_id, r.app_name, r.function_name, r.state, r.node_id[:12],
            r.inputs_in_flight, f"{now - r.started_at:.0f}s"] for r in rows])


@container.command("logs")
@click.argument("container_id")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines while its app "
              "runs (Ctrl-C to leave).")
@click.option("--since", type=SINCE, default=None, help="Only lines from then on: 10m, 2h, "
              "1d ago, or a date and time.")
@click.option("--tail", type=click.IntRange(min=1), default=None,
              help="Only the last N stored lines.")
@click.option("--timestamps", is_flag=True, help="Start each line with its time.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def logs(container_id: str, follow: bool, since: float | None, tail: int | None,
         timestamps: bool, as_json: bool):
    """Print one container's log lines (running or exited), oldest first."""
    stream_logs(pb.LogSubscribe(container_id=container_id, follow=follow, history=True,
                                since=since or 0, tail=tail or 0), as_json, timestamps)


@container.command("stop")
@click.argument("container_id")
def stop(container_id: str):
    """Stop a container (its inputs in flight go back to the queue) or end a sandbox."""
    async def go():
        c = await client()
        await c.request(container_stop=pb.ContainerStop(container_id=container_id))

    run_async(go())
    console.print(f"[green]✓[/green] stopped {container_id}")


@container.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("container_id")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--pty/--no-pty", default=None,
              help="A terminal in the sandbox (default: when this side is a terminal).")
@click.option("--workdir", default=None, help="Run the command in this directory.")
def exec_command(container_id: str, command: tuple[str, ...], pty: bool | None,
                 workdir: str | None):
    """Run a command in a running container or sandbox, joined to this terminal:

    \b
        ketch container exec sb-1234abcd -- ls -l /
        ketch container exec ta-5678 -- bash
    IDs are in `ketch container list`. The command's exit code is this command's.
    """
    try:
        sb = Sandbox.from_id(container_id)
    except NotFoundError:
        if not container_id.startswith("ta-"):
            raise
        # A function's container: "no sandbox" would read as the wrong kind of id.
        fail(f"no running container {container_id} (`ketch container list` shows them)")
    sys.exit(attach(sb, list(command), wants_pty() if pty is None else pty, workdir))
