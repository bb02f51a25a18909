"""`ketch deploy FILE`: keep an app's functions available by name."""

from __future__ import annotations

import click

from .serve import print_web_urls, web_urls
from ._common import console, err_console, fail, import_app_file, pick_app, print_json


@click.command()
@click.argument("path", metavar="FILE")
@click.option("--name", default=None, help="Deploy under this name instead of the App's own.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def deploy(path: str, name: str | None, as_json: bool):
    """Deploy an app: its functions and classes stay available (Function.from_name,
    Cls.from_name) until `ketch app stop` or the next deploy under the same name replaces
    them. Deployed apps come back when the server restarts."""
    module = import_app_file(path)
    app = pick_app(module, path)
    if not (name or app.name):
        fail(f"the app in {path} has no name; give it one (ketch.App(\"my-app\")) or pass "
             "--name")
    with err_console.status("deploying…") if err_console.is_terminal else _null():
        app.deploy(name=name)
    deployed = name or app.name
    functions = sorted(app.registered_functions)
    classes = sorted(app.registered_classes)
    urls = web_urls(app, deployed)
    if as_json:
        print_json({"app": deployed, "functions": functions, "classes": classes,
                    "web_urls": dict(urls)})
        return
    console.print(f"[green]✓[/green] deployed app [bold]{deployed}[/bold]")
    for fn in functions:
        console.print(f"  function  {fn}   ketch.Function.from_name({deployed!r}, {fn!r})",
                      markup=False)
    for cls in classes:
        console.print(f"  class     {cls}   ketch.Cls.from_name({deployed!r}, {cls!r})",
                      markup=False)
    print_web_urls(urls)


def _null():
    import contextlib

    return contextlib.nullcontext()
