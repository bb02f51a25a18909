"""`ketch proxy-auth create|list|revoke`: tokens for requires_proxy_auth web endpoints."""

from __future__ import annotations

import click

from ..proto import ketch_pb2 as pb
from ._common import client, console, print_json, run_async, table, when


@click.group("proxy-auth")
def proxy_auth():
    """Manage proxy-auth tokens: callers of web endpoints marked requires_proxy_auth=True
    send a token's id and secret in the Modal-Key and Modal-Secret headers, as with Modal:

    \b
        curl -H "Modal-Key: wk-…" -H "Modal-Secret: ws-…" http://app--label.localhost:8000/
    """


@proxy_auth.command("create")
@click.argument("name", default="")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def create(name: str, as_json: bool):
    """Create a token (NAME is a note to yourself). The secret is shown only now."""
    async def go():
        c = await client()
        return (await c.request(proxy_token_create=pb.ProxyTokenCreate(name=name))
                ).proxy_token_created

    token = run_async(go())
    if as_json:
        print_json({"token_id": token.token_id, "secret": token.secret})
        return
    console.print(f"[green]✓[/green] created proxy-auth token {token.token_id}")
    console.print(f"  Modal-Key:    {token.token_id}", markup=False)
    console.print(f"  Modal-Secret: {token.secret}", markup=False)
    console.print("The secret is not shown again; keep it somewhere safe.")


@proxy_auth.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_tokens(as_json: bool):
    """List tokens (ids and names; secrets are never shown again)."""
    async def go():
        c = await client()
        return (await c.request(proxy_token_list=pb.ProxyTokenList())
                ).proxy_token_list_reply.tokens

    tokens = run_async(go())
    if as_json:
        print_json([{"token_id": t.token_id, "name": t.name, "created_at": t.created_at,
                     "last_used_at": t.last_used_at or None} for t in tokens])
        return
    if not tokens:
        console.print("no proxy-auth tokens; `ketch proxy-auth create` makes one")
        return
    table(["Token ID", "Name", "Created", "Last used"],
          [[t.token_id, t.name, when(t.created_at), when(t.last_used_at)] for t in tokens])


@proxy_auth.command("revoke")
@click.argument("token_id")
def revoke(token_id: str):
    """Revoke a token: requests that present it get 401 from now on."""
    async def go():
        c = await client()
        await c.request(proxy_token_revoke=pb.ProxyTokenRevoke(token_id=token_id))

    run_async(go())
    console.print(f"[green]✓[/green] revoked {token_id}")
