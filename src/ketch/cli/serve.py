"""`ketch serve FILE`: serve an app's web endpoints and reload them when the code changes."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import threading
import time
from pathlib import Path

import click

from .. import _web
from .._cls import Cls
from .._functions import Function
from .._output import enable_output
from ..exception import Error
from ._common import console, err_console, fail, import_app_file, import_app_module, \
    load_ref, pick_app, split_name
from ._flags import apply as apply_flags, env_option, module_option, timestamps_option


def web_urls(app, deployed_name: str | None = None) -> list[tuple[str, str]]:
    """(name, URL) of each web endpoint of a running app; for a deployed one, looked up by
    its deployed name."""
    urls = []
    for tag, d in app._definitions.items():
        for ep in _web.endpoints_of(d.obj, tag, d.is_class):
            if d.is_class:
                cls = Cls.from_name(deployed_name, tag) if deployed_name else d.handle
                fn = getattr(cls(), ep.method)
            else:
                fn = Function.from_name(deployed_name, tag) if deployed_name else d.handle
            try:
                url = fn.get_web_url()
            except Error as exc:  # e.g. the gateway's port was taken: the app still runs
                url = f"(no URL: {exc})"
            urls.append((f"{tag}.{ep.method}" if ep.method else tag, url))
    return urls


def print_web_urls(urls: list[tuple[str, str]], out=console):
    wide = max((len(name) for name, _ in urls), default=0)   # the URLs in one column
    for name, url in urls:
        out.print(f"  web       {name:<{wide}}   {url}", markup=False, soft_wrap=True)


@click.command()
@click.argument("ref", metavar="FILE")
@click.option("--timeout", type=float, default=None,
              help="Stop serving after this many seconds (default: until Ctrl-C).")
@click.option("-q", "--quiet", is_flag=True, help="Do not stream container logs.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the endpoints' URLs as one JSON line, then serve.")
@module_option
@env_option
@timestamps_option
def serve(ref: str, timeout: float | None, quiet: bool, as_json: bool, use_module: bool,
          env: str | None, timestamps: bool):
    """Serve an app's web endpoints while this command runs, reloading them when a Python
    file next to FILE changes.

    \b
    The app runs ephemerally: its URLs end in -dev, so it does not shadow a deployed app of
    the same name:  http://<app>--<label>-dev.localhost:8000/
    A reload starts the new code and then stops the old containers gracefully: requests
    already in flight finish on the old code, new ones reach the new code.
    """
    apply_flags(env, timestamps)
    module, path, app_var = load_ref(ref, use_module)
    app_var = split_name(module, app_var)[0] if app_var else None
    app = pick_app(module, path, app_var)
    file = Path(module.__file__)
    with contextlib.ExitStack() as stack:
        if not quiet:
            stack.enter_context(enable_output())
        running = app.run()
        running.__enter__()
        try:
            urls = web_urls(app)
            if not urls:
                fail(f"{path} has no web endpoints to serve; decorate a function with "
                     "@ketch.fastapi_endpoint(), @ketch.asgi_app(), @ketch.wsgi_app() or "
                     "@ketch.web_server(port)")
            if as_json:
                click.echo(json.dumps({"app": app._default_name(), "app_id": app.app_id,
                                       "urls": dict(urls)}))
                sys.stdout.flush()
            else:
                err_console.print(f"[green]✓[/green] serving app [bold]{app._default_name()}"
                                  f"[/bold] ({app.app_id}); Ctrl-C stops it")
                print_web_urls(urls)
            running = _watch_and_reload(file, running, timeout,
                                        lambda: _reimport(module, file, app_var))
        except KeyboardInterrupt:
            pass
        finally:
            running.__exit__(None, None, None)
    err_console.print("[green]✓[/green] stopped serving")


def _reimport(module, file: Path, app_var: str | None):
    """The app of the changed code: the file imported again (a package module: again by
    its name, after forgetting the package's modules)."""
    name = module.__name__
    if "." not in name:
        return pick_app(import_app_file(str(file)), str(file), app_var)
    top = name.split(".")[0]
    for loaded in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
        del sys.modules[loaded]
    return pick_app(import_app_module(name), name, app_var)


def _watch_and_reload(file: Path, running, timeout: float | None, reimport):
    """Reloads on each change until the timeout or Ctrl-C; returns the live app context."""
    import watchfiles

    stop = threading.Event()
    if timeout is not None:
        timer = threading.Timer(timeout, stop.set)
        timer.daemon = True  # Ctrl-C before the timeout must not wait for it
        timer.start()
    for changes in watchfiles.watch(file.parent, watch_filter=watchfiles.PythonFilter(),
                                    stop_event=stop, debounce=200, step=50,
                                    raise_interrupt=True):
        start = time.monotonic()
        changed = ", ".join(sorted({Path(p).name for _, p in changes}))
        for _, changed_path in changes:
            # Bytecode is checked by mtime in whole seconds and size: an edit within the
            # same second that keeps the size would otherwise run the old code.
            with contextlib.suppress(OSError, ValueError):
                os.unlink(importlib.util.cache_from_source(changed_path))
        try:
            new = reimport().run()
        except SystemExit:  # the import failed and said why; keep serving the old code
            err_console.print("  kept the previous version running; fix the file to reload")
            continue
        try:
            new.__enter__()
        except Exception as exc:
            err_console.print(f"reload failed: {exc}", markup=False, style="bold red")
            continue
        # The new version takes new requests; the old one finishes those in flight.
        running.__exit__(None, None, None)
        running = new
        err_console.print(f"[green]✓[/green] reloaded after a change to {changed} "
                          f"({time.monotonic() - start:.2f} s)")
    return running
