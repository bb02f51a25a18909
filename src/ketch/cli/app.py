"""`ketch app list|stop|logs`."""

from __future__ import annotations

import click

from ..proto import ketch_pb2 as pb
from ._common import app_matches, client, console, one_app, print_json, run_async, table, \
    when
from ._logs import SINCE, stream_logs
from .dashboard import json_option, open_dashboard, url_option


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
                     "next_run_at": a.next_run_at or None,
                     "waiting": list(a.waiting)}
                    for a in apps])
        return
    if not apps:
        console.print("no running apps" + ("" if show_all else " (--all shows stopped ones)"))
        return
    table(["App ID", "Name", "State", "Functions", "Containers", "Created", "Next run"],
          [[a.app_id, a.name, a.state, a.n_functions, a.n_containers, when(a.created_at),
            when(a.next_run_at)] for a in apps])
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
@click.option("--function", "function_name", default="", help="Only this function's lines.")
@click.option("--call", "call_id", default="", help="Only the lines written while this "
              "call's inputs ran (its id, from `ketch call list`).")
@click.option("--container", "container_id", default="", help="Only this container's lines.")
@click.option("--since", type=SINCE, default=None, help="Only lines from then on: 10m, 2h, "
              "1d ago, or a date and time.")
@click.option("--tail", type=click.IntRange(min=1), default=None,
              help="Only the last N stored lines (then new ones, with -f).")
@click.option("--timestamps", is_flag=True, help="Start each line with its time.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def logs(app_ref: str, follow: bool, function_name: str, call_id: str, container_id: str,
         since: float | None, tail: int | None, timestamps: bool, as_json: bool):
    """Print an app's container logs (name or id), oldest first. Each line names its
    function and container (and, with --json, the input and call it was written for)."""
    ref = pb.LogSubscribe(follow=follow, history=True, function_name=function_name,
                          call_id=call_id, container_id=container_id, since=since or 0,
                          tail=tail or 0)
    if app_ref.startswith("ap-"):
        ref.app_id = app_ref
    else:
        ref.app_name = app_ref
    stream_logs(ref, as_json, timestamps)


@app.command("dashboard")
@click.argument("app_ref", metavar="APP")
@url_option
@json_option
def dashboard(app_ref: str, print_url: bool, as_json: bool):
    """Open an app's page of the web dashboard (name, id or a unique id prefix), logged
    in; see `ketch dashboard --help`."""
    async def find():
        c = await client()
        return one_app(await app_matches(c, app_ref), app_ref).app_id

    open_dashboard(f"/apps/{run_async(find())}", print_url, as_json)
