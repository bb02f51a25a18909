"""`ketch queue create|list|len|peek|clear|delete`."""

from __future__ import annotations

import click

from .._queue import Queue, _partition
from ..proto import ketch_pb2 as pb
from ._common import client, console, fail, print_json, run_async, table
from ._objects import delete_object, fetch_objects, json_option, list_objects, lookup_id, \
    plain, show, yes_option

_partition_option = click.option("--partition", "-p", default=None,
                                 help="A partition key; the default partition when left out.")


@click.group()
def queue():
    """FIFO queues shared by functions: ketch.Queue.from_name(NAME).

    Items are shown as Python reprs; peek never removes them.
    """


def _queue(name: str) -> Queue:
    return Queue(name, object_id=lookup_id("queue", name))


@queue.command("create")
@click.argument("name")
def create(name: str):
    """Create an empty queue named NAME."""
    if any(o.name == name for o in fetch_objects("queue")):
        fail(f"a queue named {name!r} already exists")
    lookup_id("queue", name, create=True)
    console.print(f"[green]✓[/green] created queue {name}")


@queue.command("list")
@json_option
def list_queues(as_json: bool):
    """List the queues and how many items each holds (all partitions)."""
    list_objects("queue", as_json, "Items")


@queue.command("len")
@click.argument("name")
@_partition_option
@click.option("--total", is_flag=True, help="Count the items of every partition.")
@json_option
def length(name: str, partition: str | None, total: bool, as_json: bool):
    """Print the number of items in a partition of queue NAME."""
    if partition is not None and total:
        fail("give --partition or --total, not both")
    n = _queue(name).len(partition=partition, total=total)
    if as_json:
        print_json({"queue": name, "partition": None if total else partition, "len": n})
        return
    click.echo(n)


@queue.command("peek")
@click.argument("name")
@click.argument("n", type=int, default=1)
@_partition_option
@json_option
def peek(name: str, n: int, partition: str | None, as_json: bool):
    """Show the first N items (default 1) without removing them."""
    q = _queue(name)

    async def fetch():
        c = await client()
        reply = await c.request(queue_peek=pb.QueuePeek(
            object_id=await q._id(), partition=_partition(partition), n=n))
        return list(reply.queue_items.values)

    values = run_async(fetch())
    if as_json:
        print_json([plain(v) for v in values])
        return
    if not values:
        console.print(f"queue {name} is empty" + (f" in partition {partition!r}"
                                                   if partition else ""))
        return
    table(["#", "Item"], [[i + 1, show(v)] for i, v in enumerate(values)],
          title=f"Queue {name}")


@queue.command("clear")
@click.argument("name")
@_partition_option
@click.option("--all", "all_partitions", is_flag=True, help="Clear every partition.")
@yes_option
def clear(name: str, partition: str | None, all_partitions: bool, yes: bool):
    """Remove the items of a partition (or with --all, of every partition)."""
    if partition is not None and all_partitions:
        fail("give --partition or --all, not both")
    if not yes:
        click.confirm(f"Remove the items of queue {name!r}?", abort=True, err=True)
    _queue(name).clear(partition=partition, all=all_partitions)
    console.print(f"[green]✓[/green] cleared queue {name}")


@queue.command("delete")
@click.argument("name")
@yes_option
def delete(name: str, yes: bool):
    """Delete queue NAME and its items."""
    delete_object("queue", name, yes, "its items")
