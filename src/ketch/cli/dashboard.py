"""`ketch dashboard [ID] [--url]`: the web dashboard, logged in with a one-time code."""

from __future__ import annotations

import webbrowser
from urllib.parse import urlsplit, urlunsplit

import click

from .. import _config
from ..proto import ketch_pb2 as pb
from ._common import client, console, fail, print_json, run_async

WILDCARD_HOSTS = ("0.0.0.0", "::", "[::]")
# An object's id names its page, as `modal dashboard ID` does.
PAGES = {"ap-": "apps", "fu-": "functions", "ta-": "containers", "fc-": "calls"}

url_option = click.option(
    "--url", "print_url", is_flag=True,
    help="Print the login URL instead of opening a browser (to open it on another machine, "
         "or from a script).")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print JSON for scripts (implies --url).")


@click.command()
@click.argument("object_id", required=False, default="")
@url_option
@json_option
def dashboard(object_id: str, print_url: bool, as_json: bool):
    """Open the web dashboard in a browser, logged in: its apps page, or the page of
    OBJECT_ID (an app ap-…, function fu-…, container ta-… or call fc-…).

    \b
    The server makes a one-time code: the URL logs one browser in, once, within a
    minute, and the browser keeps a session cookie (no token in later URLs). The
    dashboard shows the workspace of your token (the admin token's: `main`, or the one
    KETCH_WORKSPACE names).
    """
    path = "/"
    if object_id:
        page = PAGES.get(object_id[:3])
        if page is None:
            fail(f"{object_id!r} is not an id the dashboard has a page for: give an app "
                 "(ap-…), function (fu-…), container (ta-…) or call (fc-…) id")
        path = f"/{page}/{object_id}"
    open_dashboard(path, print_url, as_json)


def open_dashboard(path: str, print_url: bool, as_json: bool):
    """Opens (or prints) a login URL that lands on `path`."""
    async def ask():
        c = await client()
        return (await c.request(dashboard_login_create=pb.DashboardLoginCreate(path=path))
                ).dashboard_login

    login = run_async(ask())
    if login.error:
        fail(login.error)
    url = _reachable(login.url)
    if as_json:
        print_json({"url": url, "expires_at": login.expires_at})
        return
    if print_url:
        click.echo(url)
        return
    if webbrowser.open(url):
        console.print("opened the dashboard in your browser (the link works once, for a "
                      "minute; `ketch dashboard --url` prints one to open elsewhere)")
    else:
        console.print(f"no browser could be opened here; open this URL (it works once, for a "
                      f"minute):\n{url}")


def _reachable(url: str) -> str:
    """A server listening on every interface names its wildcard address: the client reaches
    it at the host it connects to."""
    parts = urlsplit(url)
    host, _, port = parts.netloc.rpartition(":")
    if host in WILDCARD_HOSTS:
        server_host = _config.server_address().rpartition(":")[0] or "127.0.0.1"
        parts = parts._replace(netloc=f"{server_host}:{port}")
    return urlunsplit(parts)
