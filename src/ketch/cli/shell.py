"""`ketch shell`: an interactive shell in a sandbox that has a function's image, secrets,
volumes, environment and code, or a given image."""

from __future__ import annotations

import contextlib
import sys

import click

from .._app import App
from .._image import Image
from .._sandbox import Sandbox
from .._source import make_bundle
from .._client import Client
from ..exception import Error, InvalidError, NotFoundError
from ..proto import ketch_pb2 as pb
from .. import _sync
from ._common import err_console, fail, import_app_file, pick_app
from ._terminal import attach, wants_pty

SHELL_APP = "ketch-shell"   # the (deployed, empty) app shell sandboxes are created in


@click.command()
@click.argument("ref", metavar="[FILE::FUNCTION]", required=False)
@click.option("--image", "image_ref", default=None,
              help="Run in this image instead: 'debian_slim', an image id (im-…), a name "
                   "published with image.publish (`ketch image list`), or a registry "
                   "reference such as python:3.11-slim.")
@click.option("--cmd", default="/bin/bash", show_default=True,
              help="The program to run (with its arguments, as one string).")
@click.option("--pty/--no-pty", default=None,
              help="A terminal in the sandbox (default: when this side is a terminal).")
def shell(ref: str | None, image_ref: str | None, cmd: str, pty: bool | None):
    """Open a shell in a new sandbox and remove it when the shell exits.

    \b
    ketch shell app.py::train             the function's image, secrets, volumes and code
    ketch shell --image debian_slim       a bare image
    ketch shell --image team/tool:v2      an image published as team/tool:v2
    ketch shell --image python:3.11-slim --cmd "python3 -V"
    The exit code of the command is this command's; Ctrl-C goes to the shell. The
    sandboxes belong to the app ketch-shell, made on first use (`ketch app list`).
    """
    if bool(ref) == bool(image_ref):
        fail("give either FILE::FUNCTION or --image REF (not both)")
    args = cmd.split()
    if not args:
        fail("--cmd is empty; give a program to run, e.g. --cmd /bin/sh")
    use_pty = wants_pty() if pty is None else pty
    if image_ref:
        image, pulled = _image(image_ref)
        app = App.lookup(SHELL_APP, create_if_missing=True)
        with _status():
            try:
                sb = Sandbox.create(app=app, image=image, timeout=24 * 3600)
            except Error as exc:
                if not pulled:
                    raise
                fail(f"--image {image_ref}: it is neither an image id nor a name this "
                     "workspace published (`ketch image list` shows both"
                     f"{_names_like(image_ref)}), and as a registry reference it could not be "
                     f"pulled: {exc}")
    else:
        with _status():
            sb = _function_sandbox(ref)
    try:
        code = attach(sb, args, use_pty)
    finally:
        sb.terminate()
    sys.exit(code)


def _image(ref: str) -> tuple[Image, bool]:
    """--image: debian_slim, an image id, a published name, else a registry reference
    (→ the image, and whether it is one of those)."""
    if ref == "debian_slim":
        return Image.debian_slim(), False
    if ref.startswith("im-"):
        try:
            return Image.from_id(ref), False
        except NotFoundError as exc:
            fail(f"--image {ref}: {exc}")
    try:
        return Image.from_name(ref).hydrate(), False  # a published name first, as docker's
    except (NotFoundError, InvalidError):             # local images come before a registry's
        pass
    try:
        return Image.from_registry(ref), True
    except InvalidError as exc:
        fail(f"--image {ref!r}: not an image id, a published name or a registry reference "
             f"({exc})")


def _names_like(ref: str) -> str:
    """The published names of the same repository (another tag), for a ref not found."""
    async def names():
        c = await Client.get()
        reply = (await c.request(image_list=pb.ImageList())).image_list_reply
        return sorted(n for i in reply.images for n in i.names)

    repo = ref.split(":", 1)[0]
    like = [n for n in _sync.run(names()) if n.split(":", 1)[0] == repo]
    return f"; published: {', '.join(like)}" if like else ""


def _status():
    return err_console.status("starting the sandbox…") if err_console.is_terminal \
        else contextlib.nullcontext()


def _function_sandbox(ref: str) -> Sandbox:
    path, _, name = ref.partition("::")
    if not name:
        fail(f"{ref}: name the function, as FILE::FUNCTION")
    module = import_app_file(path)
    app = pick_app(module, path)
    definition = app._definitions.get(name)
    if definition is None:
        known = ", ".join(sorted(app._definitions)) or "none"
        fail(f"{path} has no function or class named {name!r} (it has: {known})")
    return _sync.run(_start(definition))


async def _start(definition) -> Sandbox:
    o = definition.options
    conn = await Client.get()
    for obj in [*o.secrets, *o.volumes.values()]:
        await obj._id()
    spec = pb.SandboxSpec(
        env=o.env, secret_ids=[s.object_id for s in o.secrets],
        volumes=[pb.VolumeMount(path=p, volume_id=v.object_id, name=v.name or "",
                                read_only=v._read_only) for p, v in o.volumes.items()],
        timeout_s=24 * 3600, block_network=o.block_network,
        resources=pb.Resources(cpu_request=o.cpu_request, cpu_limit=o.cpu_limit,
                               memory_request_mib=o.memory_request_mib,
                               memory_limit_mib=o.memory_limit_mib, gpu=o.gpu))
    if o.image is not None:
        spec.image_id = await o.image._build(conn)
    root = definition.source()
    if root is not None:
        spec.code_bundle = await conn.put_blob(make_bundle(*root, definition.module))
    shells = await App.lookup.aio(SHELL_APP, create_if_missing=True)
    return await Sandbox._create(shells.app_id, spec)
