"""`ketch app list|stop|logs`."""

from __future__ import annotations

import asyncio
import json
import sys

import click

from .._output import LogPrinter
from ..proto import ketch_pb2 as pb
from ._common import app_matches, client, console, one_app, print_json, run_async, table, \
    when


@click.group()
def app():
    """See and manage apps: ephemeral ones from `ketch run`, deployed ones from
    `ketch deploy`."""


@app.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--all", "show_all", is_flag=True, help="Include stopped apps.")
def list_apps(as_json: bool, show_all: bool):
    """List running apps (and stopped ones with --all)."""
    async def fetch():
        c = await client()
        return (await c.request(app_list=pb.AppList())).app_list_reply.apps

    apps = [a for a in run_async(fetch()) if show_all or a.state != "stopped"]
    if as_json:
        print_json([{"app_id": a.app_id, "name": a.name, "state": a.state,
                     "created_at": a.created_at, "functions": a.n_functions,
                     "containers": a.n_containers, "stopped_at": a.stopped_at or None,
                     "waiting": list(a.waiting)}
                    for a in apps])
        return
    if not apps:
        console.print("no running apps" + ("" if show_all else " (--all shows stopped ones)"))
        return
    table(["App ID", "Name", "State", "Functions", "Containers", "Created"],
          [[a.app_id, a.name, a.state, a.n_functions, a.n_containers, when(a.created_at)]
           for a in apps])
    for a in apps:
        for why in a.waiting:  # requests this machine cannot meet: their calls wait
            console.print(f"  {a.name}: {why}", markup=False, style="yellow")


@app.command("stop")
@click.argument("app_ref", metavar="APP")
def stop(app_ref: str):
    """Stop an app by name, id or a unique prefix of its id: its containers stop and
    queued inputs fail."""
    async def go():
        c = await client()
        if app_ref.startswith("ap-"):
            app_id = one_app(await app_matches(c, app_ref), app_ref).app_id
            await c.request(app_stop=pb.AppStop(app_id=app_id))
            return app_id
        await c.request(app_stop=pb.AppStop(name=app_ref))
        return app_ref

    console.print(f"[green]✓[/green] stopped {run_async(go())}")


@app.command("logs")
@click.argument("app_ref", metavar="APP")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the app "
              "stops (Ctrl-C to leave).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def logs(app_ref: str, follow: bool, as_json: bool):
    """Print an app's container logs (name or id), oldest first."""
    printer = LogPrinter()

    async def go():
        c = await client()
        finished = asyncio.Event()

        def handler(batch: pb.LogBatch):
            for line in batch.lines:
                if as_json:
                    sys.stdout.write(json.dumps({
                        "ts": line.ts, "source": line.source, "function": line.function_name,
                        "container": line.container_id, "text": line.text}) + "\n")
                elif line.source == "system":
                    console.print(f"{when(line.ts)} {line.text}", markup=False, style="dim")
                else:
                    printer.line(line)
            sys.stdout.flush()
            if batch.end:
                finished.set()

        c.log_handlers["*"] = handler
        ref = pb.LogSubscribe(follow=follow, history=True)
        if app_ref.startswith("ap-"):
            ref.app_id = app_ref
        else:
            ref.app_name = app_ref
        await c.request(log_subscribe=ref)
        await finished.wait()

    try:
        run_async(go())
    except KeyboardInterrupt:
        pass
