"""`ketch app history APP` and `ketch app rollback APP [VERSION]`: the deployments of an
app name, and going back to one of them."""

from __future__ import annotations

import click

from ..proto import ketch_pb2 as pb
from ._common import client, console, print_json, run_async, table, when


@click.command("history")
@click.argument("name", metavar="APP")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def history(name: str, as_json: bool):
    """List the deployments of a deployed app's name, newest first: version, when, who
    (the token's name), tag and a hash of its code."""
    async def fetch():
        c = await client()
        reply = await c.request(app_history=pb.AppHistory(name=name))
        return reply.app_history_reply.deployments

    deployments = run_async(fetch())
    if as_json:
        print_json([{"version": d.version, "app_id": d.app_id, "deployed_at": d.deployed_at,
                     "deployed_by": d.deployed_by, "tag": d.tag, "source_hash": d.source_hash,
                     "current": d.current, "rollback_of": d.rollback_of or None}
                    for d in deployments])
        return
    table(["Version", "App ID", "Deployed", "By", "Tag", "Source", "Note"],
          [[f"v{d.version}", d.app_id, when(d.deployed_at), d.deployed_by, d.tag,
            d.source_hash, ", ".join(filter(None, [
                "current" if d.current else "",
                f"rollback to v{d.rollback_of}" if d.rollback_of else ""]))]
           for d in deployments], title=f"deployments of {name}")


@click.command("rollback")
@click.argument("name", metavar="APP")
@click.argument("version", required=False, default="")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def rollback(name: str, version: str, as_json: bool):
    """Redeploy a recorded version of an app (default: the one before the current) with
    its functions, images and code, as a new version. VERSION is a number, as `ketch app
    history` shows it (v3 or 3). The switch is rolling, as a deploy is."""
    number = version.lower().removeprefix("v")
    if version and (not number.isdigit() or int(number) < 1):
        raise click.BadParameter(f"{version!r}: give a version number such as 3 or v3",
                                 param_hint="VERSION")

    async def go():
        c = await client()
        reply = await c.request(app_rollback=pb.AppRollback(name=name,
                                                            version=int(number or 0)))
        return reply.app_published

    published = run_async(go())
    if as_json:
        print_json({"app": name, "app_id": published.app_id, "version": published.version})
        return
    console.print(f"[green]✓[/green] rolled [bold]{name}[/bold] back: deployed as version "
                  f"{published.version} ({published.app_id})")
