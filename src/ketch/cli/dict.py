"""`ketch dict create|list|get|items|clear|delete`."""

from __future__ import annotations

import click

from .._dict import Dict
from .._serialization import serialize
from ..proto import ketch_pb2 as pb
from ._common import console, fail, print_json, run_async, table
from ._objects import delete_object, fetch_objects, json_option, list_objects, lookup_id, \
    plain, show, yes_option


@click.group("dict")
def dict_group():
    """Key-value maps shared by functions: ketch.Dict.from_name(NAME).

    Keys given here are strings; values are shown as Python reprs.
    """


def _dict(name: str) -> Dict:
    return Dict(name, object_id=lookup_id("dict", name))


@dict_group.command("create")
@click.argument("name")
def create(name: str):
    """Create an empty dict named NAME."""
    if any(o.name == name for o in fetch_objects("dict")):
        fail(f"a dict named {name!r} already exists")
    lookup_id("dict", name, create=True)
    console.print(f"[green]✓[/green] created dict {name}")


@dict_group.command("list")
@json_option
def list_dicts(as_json: bool):
    """List the dicts and how many entries each holds."""
    list_objects("dict", as_json, "Entries")


@dict_group.command("get")
@click.argument("name")
@click.argument("key")
@json_option
def get(name: str, key: str, as_json: bool):
    """Show the value stored under the string KEY."""
    d = _dict(name)
    reply = run_async(d._request(pb.DICT_GET, [serialize(key)]))
    if not reply.found:
        fail(f"no key {key!r} in dict {name}")
    if as_json:
        print_json(plain(reply.value))
    else:
        console.print(show(reply.value), markup=False)


@dict_group.command("items")
@click.argument("name")
@click.argument("n", type=int, default=20)
@json_option
def items(name: str, n: int, as_json: bool):
    """Show the first N entries (default 20)."""
    d = _dict(name)

    async def first():
        out = []
        async for key, value in d._scan(True):
            out.append((key, value))
            if len(out) >= n:
                break
        return out

    rows = run_async(first())
    if as_json:
        print_json([{"key": plain(k), "value": plain(v)} for k, v in rows])
        return
    if not rows:
        console.print(f"dict {name} is empty")
        return
    table(["Key", "Value"], [[show(k), show(v)] for k, v in rows], title=f"Dict {name}")


@dict_group.command("clear")
@click.argument("name")
@yes_option
def clear(name: str, yes: bool):
    """Remove every entry of dict NAME."""
    if not yes:
        click.confirm(f"Remove every entry of dict {name!r}?", abort=True, err=True)
    _dict(name).clear()
    console.print(f"[green]✓[/green] cleared dict {name}")


@dict_group.command("delete")
@click.argument("name")
@yes_option
def delete(name: str, yes: bool):
    """Delete dict NAME and its entries."""
    delete_object("dict", name, yes, "its entries")
