"""`ketch deploy FILE`: keep an app's functions available by name."""

from __future__ import annotations

import contextlib

import click

from .serve import print_web_urls, web_urls
from .. import _output
from ._common import client, console, err_console, fail, load_ref, pick_app, print_json, \
    run_async, split_name
from ._flags import apply as apply_flags, env_option, module_option, timestamps_option


@click.command()
@click.argument("ref", metavar="FILE")
@click.option("--name", default=None, help="Deploy under this name instead of the App's own.")
@click.option("--tag", default="", help="Tag this deployment with a version label; "
              "`ketch app history` shows it.")
@click.option("--stream-logs", is_flag=True, help="After deploying, print the app's logs "
              "as they come until Ctrl-C.")
@module_option
@env_option
@timestamps_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def deploy(ref: str, name: str | None, tag: str, stream_logs: bool, use_module: bool,
           env: str | None, timestamps: bool, as_json: bool):
    """Deploy an app: its functions and classes stay available (Function.from_name,
    Cls.from_name) until `ketch app stop`. Deployed apps come back when the server
    restarts.

    \b
    A redeploy under the same name is rolling: new calls go to the new version, and the old
    version's containers finish the inputs they hold first. Each deploy is recorded:
    `ketch app history NAME` lists them, `ketch app rollback NAME [VERSION]` goes back.
    FILE may be FILE::APP to pick one of several apps, or (-m) a module path.
    """
    apply_flags(env, timestamps)
    module, path, app_var = load_ref(ref, use_module)
    app = pick_app(module, path, split_name(module, app_var)[0] if app_var else None)
    if not (name or app.name):
        fail(f"the app in {path} has no name; give it one (ketch.App(\"my-app\")) or pass "
             "--name")
    with err_console.status("deploying…") if err_console.is_terminal else \
            contextlib.nullcontext():
        app.deploy(name=name, tag=tag or None)
    deployed = name or app.name
    functions = sorted(app.registered_functions)
    classes = sorted(app.registered_classes)
    urls = web_urls(app, deployed)
    if as_json:
        print_json({"app": deployed, "app_id": app._deployed.app_id, "functions": functions,
                    "classes": classes, "web_urls": dict(urls),
                    "version": app._deployed.version})
    else:
        console.print(f"[green]✓[/green] deployed app [bold]{deployed}[/bold] (version "
                      f"{app._deployed.version})")
        wide = max(map(len, functions + classes), default=0)   # their handles in one column
        for fn in functions:
            console.print(f"  function  {fn:<{wide}}   ketch.Function.from_name({deployed!r}, "
                          f"{fn!r})", markup=False, soft_wrap=True)
        for cls in classes:
            console.print(f"  class     {cls:<{wide}}   ketch.Cls.from_name({deployed!r}, "
                          f"{cls!r})", markup=False, soft_wrap=True)
        print_web_urls(urls)
    if stream_logs:
        err_console.print(f"streaming the logs of {deployed}; Ctrl-C stops streaming (the "
                          "app keeps running)")
        with contextlib.suppress(KeyboardInterrupt):
            run_async(_follow(app._deployed.app_id))


async def _follow(app_id: str):
    """Prints the deployed app's logs as they come, until it stops (or is replaced)."""
    c = await client()
    _output.follow_logs(c, app_id)
    await c.log_handlers[app_id].ended.wait()
