"""`ketch container list|stop`."""

from __future__ import annotations

import time

import click

from ..proto import ketch_pb2 as pb
from ._common import client, console, print_json, run_async, table


@click.group()
def container():
    """See and stop running containers."""


@container.command("list")
@click.option("--app", "app_id", default="", help="Only this app's containers (app id).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_containers(app_id: str, as_json: bool):
    """List running containers with their app, function and inputs in flight."""
    async def fetch():
        c = await client()
        return (await c.request(container_list=pb.ContainerList(app_id=app_id))
                ).container_list_reply.containers

    rows = run_async(fetch())
    if as_json:
        print_json([{"container_id": r.container_id, "app_id": r.app_id, "app": r.app_name,
                     "function": r.function_name, "state": r.state,
                     "started_at": r.started_at, "inputs_in_flight": r.inputs_in_flight,
                     "pid": r.pid} for r in rows])
        return
    if not rows:
        console.print("no running containers")
        return
    now = time.time()
    table(["Container ID", "App", "Function", "State", "In flight", "Up"],
          [[r.container_id, r.app_name, r.function_name, r.state, r.inputs_in_flight,
            f"{now - r.started_at:.0f}s"] for r in rows])


@container.command("stop")
@click.argument("container_id")
def stop(container_id: str):
    """Stop a container; its inputs in flight go back to the queue."""
    async def go():
        c = await client()
        await c.request(container_stop=pb.ContainerStop(container_id=container_id))

    run_async(go())
    console.print(f"[green]✓[/green] stopped {container_id}")
