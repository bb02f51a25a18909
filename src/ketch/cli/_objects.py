"""What the `volume`, `secret`, `dict` and `queue` command groups share: listing named
objects, deleting one, and showing stored values to a person."""

from __future__ import annotations

import pickle

import click

from ..proto import ketch_pb2 as pb
from ._common import client, console, print_json, run_async, table, when

KIND_TITLES = {"dict": "Dicts", "queue": "Queues", "secret": "Secrets", "volume": "Volumes"}


def fetch_objects(kind: str) -> list[pb.ObjectInfo]:
    async def go():
        c = await client()
        return list((await c.request(object_list=pb.ObjectList(kind=kind)))
                    .object_list_reply.objects)

    return run_async(go())


def list_objects(kind: str, as_json: bool, size_title: str, size=lambda o: o.size):
    objects = fetch_objects(kind)
    if as_json:
        print_json([{"name": o.name, "object_id": o.object_id, "created_at": o.created_at,
                     "updated_at": o.updated_at, size_title.lower().replace(" ", "_"): o.size}
                    for o in objects])
        return
    if not objects:
        console.print(f"no {KIND_TITLES[kind].lower()} yet")
        return
    table(["Name", "ID", size_title, "Created"],
          [[o.name, o.object_id, size(o), when(o.created_at)] for o in objects],
          title=KIND_TITLES[kind])


def delete_object(kind: str, name: str, yes: bool, what: str):
    if not yes:
        click.confirm(f"Delete the {kind} {name!r} and {what}? This cannot be undone",
                      abort=True, err=True)

    async def go():
        c = await client()
        await c.request(object_delete=pb.ObjectDelete(kind=kind, name=name))

    run_async(go())
    console.print(f"[green]✓[/green] deleted {kind} {name}")


def lookup_id(kind: str, name: str, create: bool = False) -> str:
    async def go():
        c = await client()
        reply = await c.request(object_lookup=pb.ObjectLookup(kind=kind, name=name,
                                                              create_if_missing=create))
        return reply.object_info.object_id

    return run_async(go())


def show(data: bytes) -> str:
    """A stored (pickled) value as text, or a note when this machine cannot unpickle it."""
    try:
        return repr(pickle.loads(data))
    except Exception as exc:  # a class that only the writer can import, say
        return f"<{len(data)} bytes; cannot unpickle here: {exc}>"


def plain(data: bytes):
    """A stored value for --json: the value when JSON can hold it, else its repr."""
    try:
        value = pickle.loads(data)
    except Exception:
        return show(data)
    return value if isinstance(value, (str, int, float, bool, type(None), list, dict)) \
        else repr(value)


def yes_option(f):
    return click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(f)


def human_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)

