"""`ketch token create|list|revoke|info|set`: workspace tokens, and this client's own.

The server's first token (`<data dir>/token`) is the admin's: it manages tokens. A
workspace token sees and touches only its workspace's apps and objects. `ketch token set`
stores a token in this client's config file, as `modal token set` does.
"""

from __future__ import annotations

import json
import os

import click

from .. import _config
from .._client import Client
from ..proto import ketch_pb2 as pb
from ._common import client, console, fail, print_json, run_async, table, when


@click.group("token")
def token():
    """Manage workspace tokens (admin), or set the token this client uses."""


@token.command("create")
@click.option("--workspace", required=True,
              help="The workspace the token acts in (created if new).")
@click.option("--name", default="", help="A note to yourself, shown in `ketch token list`.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def create(workspace: str, name: str, as_json: bool):
    """Create a token for a workspace (needs the admin token). The secret is shown only
    now."""
    async def go():
        c = await client()
        return (await c.request(token_create=pb.TokenCreate(workspace=workspace, name=name))
                ).token_created

    made = run_async(go())
    if as_json:
        print_json({"token_id": made.token_id, "secret": made.secret,
                    "workspace": made.workspace})
        return
    console.print(f"[green]✓[/green] created token {made.token_id} for workspace "
                  f"{made.workspace!r}")
    console.print(f"  secret: {made.secret}", markup=False)
    console.print("The secret is not shown again. On the client: "
                  f"`ketch token set --token {made.secret}`", markup=False)


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_tokens(as_json: bool):
    """List workspace tokens (needs the admin token; secrets are never shown again)."""
    async def go():
        c = await client()
        return (await c.request(token_list=pb.TokenList())).token_list_reply.tokens

    tokens = run_async(go())
    if as_json:
        print_json([{"token_id": t.token_id, "workspace": t.workspace, "name": t.name,
                     "created_at": t.created_at, "last_used_at": t.last_used_at or None}
                    for t in tokens])
        return
    if not tokens:
        console.print("no workspace tokens; `ketch token create --workspace NAME` makes one")
        return
    table(["Token ID", "Workspace", "Name", "Created", "Last used"],
          [[t.token_id, t.workspace, t.name, when(t.created_at), when(t.last_used_at)]
           for t in tokens])


@token.command("revoke")
@click.argument("token_id")
def revoke(token_id: str):
    """Revoke a token: its sessions end and it opens no new ones."""
    async def go():
        c = await client()
        await c.request(token_revoke=pb.TokenRevoke(token_id=token_id))

    run_async(go())
    console.print(f"[green]✓[/green] revoked {token_id}")


@token.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def info(as_json: bool):
    """Show the workspace the token in use acts in, as `modal token info` does."""
    async def go():
        return (await client()).hello

    hello = run_async(go())
    data = {"server": _config.server_address(), "workspace": hello.workspace,
            "admin": hello.admin}
    if as_json:
        print_json(data)
        return
    role = "the admin token" if hello.admin else "a workspace token"
    console.print(f"{role}, acting in workspace {hello.workspace!r} on {data['server']}",
                  markup=False)


@token.command("set")
@click.option("--token", "secret", prompt="Token secret", hide_input=True,
              help="The token's secret (kt-…); asked for when not given, as by Modal.")
@click.option("--server", default=None, help="HOST:PORT of the server, stored with it.")
@click.option("--verify/--no-verify", default=True,
              help="Connect with the token before storing it (default: verify).")
def set_token(secret: str, server: str | None, verify: bool):
    """Store the token (and server address) this client uses, in its config file; like
    `modal token set`, it first makes a test request with it (--no-verify skips that)."""
    path = _config.config_dir() / "config.json"
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        config = {}
    except (OSError, ValueError) as exc:
        fail(f"cannot read {path}: {exc}. Fix or delete the file.")
    if server:
        config["server"] = server
    if verify:
        workspace = _verify(secret, server or _config.server_address())
    config["token"] = secret
    path.parent.mkdir(parents=True, exist_ok=True)
    # The token is a credential: the file is the user's alone (as ~/.modal.toml should be).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(config, indent=2) + "\n")
    os.chmod(path, 0o600)
    where = f" for workspace {workspace!r}" if verify else ""
    console.print(f"[green]✓[/green] token stored in {path}{where}", markup=True)


def _verify(secret: str, address: str) -> str:
    """Connects with the token; → the workspace it acts in."""
    os.environ["KETCH_TOKEN"] = secret
    os.environ["KETCH_SERVER_ADDR"] = address

    async def go():
        c = await Client.get(autostart=False)
        return c.hello.workspace

    return run_async(go())
