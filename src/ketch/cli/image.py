"""`ketch image list|rm`: the server's image cache."""

from __future__ import annotations

import time

import click

from ..proto import ketch_pb2 as pb
from ._common import client, console, fail, print_json, run_async, table


@click.group()
def image():
    """See and prune the images the server has built (their layers are cached)."""


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def _ago(ts: float) -> str:
    if not ts:
        return ""
    s = time.time() - ts
    for unit, secs in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= secs:
            return f"{s // secs:.0f}{unit} ago"
    return f"{s:.0f}s ago"


@image.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_images(as_json: bool):
    """List built images, most recently used first, with their size on disk."""
    async def fetch():
        c = await client()
        return (await c.request(image_list=pb.ImageList())).image_list_reply

    reply = run_async(fetch())
    if as_json:
        print_json({"images": [{"image_id": i.image_id, "names": list(i.names),
                                "last_step": i.title,
                                "layers": i.n_layers, "size_bytes": i.size_bytes,
                                "created_at": i.created_at, "used_at": i.used_at}
                               for i in reply.images],
                    "cache_bytes": reply.layers_bytes})
        return
    if not reply.images:
        console.print("no images built yet")
        return
    table(["Image ID", "Names", "Last step", "Layers", "Size", "Used"],
          [[i.image_id, ", ".join(i.names), i.title, i.n_layers, _size(i.size_bytes),
            _ago(i.used_at)] for i in reply.images])
    console.print(f"layer cache: {_size(reply.layers_bytes)} (layers shared between images "
                  "count once)")


@image.command("rm")
@click.argument("image_ids", nargs=-1, metavar="IMAGE_ID_OR_NAME...")
@click.option("--all", "all_images", is_flag=True,
              help="Remove every image that no running or deployed app uses.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def remove(image_ids: tuple[str, ...], all_images: bool, as_json: bool):
    """Remove images and the cached layers no other image needs. An app that uses a
    removed image rebuilds it the next time it runs."""
    if not image_ids and not all_images:
        fail("name the images to remove (see `ketch image list`), or pass --all")

    async def go():
        c = await client()
        removed = []
        for image_id in image_ids or [""]:
            reply = await c.request(image_remove=pb.ImageRemove(image_id=image_id,
                                                                all=all_images))
            removed += [i.image_id for i in reply.image_list_reply.images]
        return removed

    removed = run_async(go())
    if as_json:
        print_json({"removed": removed})
        return
    if not removed:
        console.print("nothing to remove")
    for image_id in removed:
        console.print(f"[green]✓[/green] removed {image_id}")
