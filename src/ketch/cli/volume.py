"""`ketch volume create|list|ls|put|get|rm|cp|delete`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .._object import check_name
from .._volume import FileEntryType, Volume
from ._common import console, fail, print_json, table, when
from ._objects import delete_object, fetch_objects, human_bytes, json_option, list_objects, \
    lookup_id, yes_option


@click.group()
def volume():
    """Persistent directories of files that functions mount with volumes={"/path": vol}.

    \b
    ketch volume create models
    ketch volume put models ./weights.bin /weights.bin
    ketch volume ls models /
    """


def _vol(name: str) -> Volume:
    return Volume(name, object_id=lookup_id("volume", name))


@volume.command("create")
@click.argument("name")
def create(name: str):
    """Create a volume named NAME."""
    check_name("Volume", name)
    if any(o.name == name for o in fetch_objects("volume")):
        fail(f"a volume named {name!r} already exists")
    lookup_id("volume", name, create=True)
    console.print(f"[green]✓[/green] created volume {name}; mount it with "
                  f"volumes={{'/data': ketch.Volume.from_name({name!r})}}")


@volume.command("list")
@json_option
def list_volumes(as_json: bool):
    """List the volumes and their sizes."""
    list_objects("volume", as_json, "Size", size=lambda o: human_bytes(o.size))


@volume.command("ls")
@click.argument("name")
@click.argument("path", default="/")
@click.option("--recursive", "-r", is_flag=True, help="List everything below PATH.")
@json_option
def ls(name: str, path: str, recursive: bool, as_json: bool):
    """List the files and directories at PATH in volume NAME."""
    entries = _vol(name).listdir(path, recursive=recursive)
    if as_json:
        print_json([{"path": e.path, "type": e.type.name.lower(), "size": e.size,
                     "mtime": e.mtime} for e in entries])
        return
    if not entries:
        console.print(f"{path} is empty")
        return
    table(["Path", "Type", "Size", "Modified"],
          [[e.path + ("/" if e.type == FileEntryType.DIRECTORY else ""),
            e.type.name.lower(), human_bytes(e.size) if e.type == FileEntryType.FILE else "",
            when(e.mtime)] for e in entries])


@volume.command("put")
@click.argument("name")
@click.argument("local_path", type=click.Path(exists=True))
@click.argument("remote_path", default="/")
@click.option("--force", "-f", is_flag=True, help="Replace files that already exist.")
def put(name: str, local_path: str, remote_path: str, force: bool):
    """Upload LOCAL_PATH (a file or a directory) to REMOTE_PATH in volume NAME. A
    REMOTE_PATH ending in '/' is a directory to put the file in."""
    vol = _vol(name)
    local = Path(local_path)
    with vol.batch_upload(force=force) as batch:
        if local.is_dir():
            batch.put_directory(local, remote_path)
        else:
            if remote_path.endswith("/"):
                remote_path += local.name
            batch.put_file(local, remote_path)
    console.print(f"[green]✓[/green] uploaded {local_path} to {name}:{remote_path}")


@volume.command("get")
@click.argument("name")
@click.argument("remote_path")
@click.argument("local_path", default=".")
@click.option("--force", "-f", is_flag=True, help="Replace local files that exist.")
def get(name: str, remote_path: str, local_path: str, force: bool):
    """Download REMOTE_PATH (a file or a directory) from volume NAME to LOCAL_PATH; '-'
    writes a file to standard output."""
    vol = _vol(name)
    entries = vol.listdir(remote_path, recursive=True)
    files = [e for e in entries if e.type == FileEntryType.FILE]
    if local_path == "-":
        if len(entries) != 1 or not files:
            fail(f"{remote_path} is a directory; '-' takes one file")
        for chunk in vol.read_file(files[0].path):
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return
    base = remote_path.strip("/")
    single = len(entries) == 1 and files and files[0].path == base
    for entry in files:
        if single:
            dest = Path(local_path)
            if dest.is_dir():
                dest = dest / Path(entry.path).name
        else:
            rel = os.path.relpath(entry.path, base) if base else entry.path
            dest = Path(local_path) / rel
        if dest.exists() and not force:
            fail(f"{dest} exists; pass --force to replace it")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "wb") as handle:
            vol.read_file_into_fileobj(entry.path, handle)
    console.print(f"[green]✓[/green] downloaded {len(files)} file(s) to {local_path}")


@volume.command("rm")
@click.argument("name")
@click.argument("remote_path")
@click.option("--recursive", "-r", is_flag=True, help="Remove a directory and its contents.")
def rm(name: str, remote_path: str, recursive: bool):
    """Remove a file (or with -r a directory) from volume NAME."""
    _vol(name).remove_file(remote_path, recursive=recursive)
    console.print(f"[green]✓[/green] removed {name}:{remote_path}")


@volume.command("cp")
@click.argument("name")
@click.argument("paths", nargs=-1, required=True)
def cp(name: str, paths: tuple[str, ...]):
    """Copy files within volume NAME: SRC... DST (into DST when it is a directory)."""
    if len(paths) < 2:
        fail("give one or more source paths and a destination: ketch volume cp NAME SRC DST")
    _vol(name).copy_files(list(paths[:-1]), paths[-1])
    console.print(f"[green]✓[/green] copied to {name}:{paths[-1]}")


@volume.command("delete")
@click.argument("name")
@yes_option
def delete(name: str, yes: bool):
    """Delete volume NAME and all of its files."""
    delete_object("volume", name, yes, "all of its files")
