"""`ketch secret create|list|delete`. Values go to the server and are never printed."""

from __future__ import annotations

import click
from rich.markup import escape

from .._secret import Secret, parse_dotenv
from ._common import console, fail, print_json, table, when
from ._objects import delete_object, fetch_objects, json_option, yes_option


@click.group()
def secret():
    """Named sets of environment variables that functions get with
    secrets=[ketch.Secret.from_name(NAME)]. Stored encrypted by the server.

    \b
    ketch secret create openai OPENAI_API_KEY=sk-...
    ketch secret create app-env --from-dotenv .env
    """


@secret.command("create")
@click.argument("name")
@click.argument("pairs", nargs=-1, metavar="KEY=VALUE...")
@click.option("--from-dotenv", "dotenv", type=click.Path(exists=True, dir_okay=False),
              help="Read KEY=VALUE lines from a .env file too.")
@click.option("--force", is_flag=True, help="Replace the values of an existing secret.")
def create(name: str, pairs: tuple[str, ...], dotenv: str | None, force: bool):
    """Create secret NAME from KEY=VALUE pairs (and/or a .env file)."""
    env: dict[str, str] = {}
    if dotenv:
        with open(dotenv) as handle:
            env.update(parse_dotenv(handle.read()))
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"{pair.split('=')[0]!r} is not KEY=VALUE; write each variable as KEY=VALUE "
                 "(quote values with spaces)")
        env[key] = value
    if not env:
        fail("give at least one KEY=VALUE, or --from-dotenv FILE")
    Secret.create(name, env, overwrite=force)
    keys = ", ".join(sorted(env))
    console.print(f"[green]✓[/green] {'updated' if force else 'created'} secret {name} "
                  f"with {keys}; use it with "
                  + escape(f"secrets=[ketch.Secret.from_name({name!r})]"))


@secret.command("list")
@json_option
def list_secrets(as_json: bool):
    """List the secrets and their variable names (never their values)."""
    objects = fetch_objects("secret")
    if as_json:
        print_json([{"name": o.name, "object_id": o.object_id, "keys": list(o.keys),
                     "created_at": o.created_at, "updated_at": o.updated_at}
                    for o in objects])
        return
    if not objects:
        console.print("no secrets yet; `ketch secret create NAME KEY=VALUE` makes one")
        return
    table(["Name", "Keys", "Created", "Updated"],
          [[o.name, ", ".join(o.keys), when(o.created_at), when(o.updated_at)]
           for o in objects], title="Secrets")


@secret.command("delete")
@click.argument("name")
@yes_option
def delete(name: str, yes: bool):
    """Delete secret NAME. Functions deployed with it fail to start new containers."""
    delete_object("secret", name, yes, "its values")
