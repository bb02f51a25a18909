"""`ketch run FILE[::NAME]`: run an app ephemerally and call its entrypoint."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import sys
import traceback

import click

from .._app import LocalEntrypoint
from .._cls import Cls
from .._functions import Function
from .._output import enable_output
from .._traceback import without_internal
from ..exception import Error
from ._common import console, err_console, fail, load_ref, pick_app, split_name
from ._flags import apply as apply_flags, env_option, module_option, timestamps_option
from ._params import options_command
from .serve import print_web_urls, web_urls


def _choose(module, app, ref: str, name: str | None):
    """The local entrypoint or function to call."""
    entrypoints = app.registered_entrypoints
    functions = app.registered_functions
    if name:
        target = entrypoints.get(name) or functions.get(name)
        if target is None:
            attr = getattr(module, name, None)
            if isinstance(attr, (LocalEntrypoint, Function)):
                target = attr
        if target is None:
            known = ", ".join(sorted({*entrypoints, *functions})) or "none"
            fail(f"{ref} has no local entrypoint or function named {name!r} (it has: {known})")
        return target
    if len(entrypoints) == 1:
        return next(iter(entrypoints.values()))
    if len(entrypoints) > 1:
        fail(f"{ref} has several local entrypoints ({', '.join(entrypoints)}); pick one with "
             f"{ref}::NAME")
    if len(functions) == 1:
        return next(iter(functions.values()))
    known = ", ".join(sorted(functions)) or "none"
    fail(f"{ref} has no @app.local_entrypoint() and {len(functions)} functions ({known}); add "
         f"an entrypoint or pick a function with {ref}::NAME")


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                 "help_option_names": []})
@click.argument("ref", metavar="FILE[::NAME]")
@click.option("-d", "--detach", is_flag=True,
              help="Keep the app running after the entrypoint returns (stop it with "
                   "`ketch app stop`).")
@click.option("-q", "--quiet", is_flag=True, help="Do not stream container logs.")
@click.option("-w", "--write-result", metavar="PATH", default=None,
              help="Write the return value (which must be str or bytes) to this local file.")
@click.option("-i", "--interactive", is_flag=True,
              help="This terminal is the containers' terminal: what you type is their "
                   "stdin (input(), breakpoint() and pdb work), their output shows as "
                   "written.")
@module_option
@env_option
@timestamps_option
@click.option("-h", "--help", "show_help", is_flag=True, help="Show this message, or the "
              "entrypoint's options when FILE is given.")
@click.pass_context
def run(ctx, ref: str, detach: bool, quiet: bool, write_result: str | None,
        interactive: bool, use_module: bool, env: str | None, timestamps: bool,
        show_help: bool):
    """Run an app: start it ephemerally, call its entrypoint here, stop it at the end.

    \b
    FILE is a Python file defining a ketch.App (with -m: a module path, pkg.app). NAME
    picks a @app.local_entrypoint() or an @app.function() (default: the only entrypoint,
    else the only function), or APP.NAME an App variable's one. The entrypoint's
    parameters become options:
        ketch run app.py --n 10
        ketch run app.py::square --x 3
        ketch run -m pkg.app::app.main -w out.txt
    Container output streams to this terminal, prefixed with function and container.
    """
    if interactive and detach:
        fail("ketch run -i -d: an interactive app needs this terminal attached; drop -d or -i")
    apply_flags(env, timestamps)
    module, path, name = load_ref(ref, use_module)
    app_var, name = split_name(module, name)
    app = pick_app(module, path, app_var)
    target = _choose(module, app, path, name or None)
    if isinstance(target, Cls):
        fail(f"{name} is a class; call one of its methods from a local entrypoint")
    raw_f = target.raw_f if isinstance(target, LocalEntrypoint) else target._raw_f
    label = getattr(target, "name", None) or target._name

    def invoke(**kwargs):
        run_app(app, target, kwargs, detach, quiet, write_result, interactive)

    command = options_command(label, raw_f, invoke)
    if show_help:
        click.echo(ctx.get_help())
        click.echo()
        with click.Context(command, info_name=f"ketch run {ref}") as sub:
            click.echo(command.get_help(sub))
        return
    command.main(args=ctx.args, prog_name=f"ketch run {ref}", standalone_mode=False)


def _write_result(path: str, result):
    """-w: the return value into a local file, as Modal's CLI writes it."""
    if isinstance(result, str):
        data = result.encode()
    elif isinstance(result, (bytes, bytearray)):
        data = bytes(result)
    else:
        return (f"-w {path}: the result is a {type(result).__name__}, not str or bytes; "
                "return text or bytes, or run without -w")
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as exc:
        return f"-w {path}: cannot write the result: {exc}"
    return None


def run_app(app, target, kwargs: dict, detach: bool, quiet: bool,
            write_result: str | None = None, interactive: bool = False):
    failure: str | None = None
    with contextlib.ExitStack() as stack:
        if not quiet:
            stack.enter_context(enable_output())
        spinner = err_console.status("starting the app…") if err_console.is_terminal \
            else contextlib.nullcontext()
        with spinner:
            stack.enter_context(app.run(detach=detach, interactive=interactive))
        err_console.print(f"[green]✓[/green] app [bold]{app._default_name()}[/bold] is "
                          f"running ({app.app_id})")
        print_web_urls(web_urls(app), err_console)
        try:
            if isinstance(target, LocalEntrypoint):
                result = target.raw_f(**kwargs)
                if inspect.iscoroutine(result):  # an `async def` entrypoint
                    result = asyncio.run(result)
            else:
                result = target.remote(**kwargs)
            if write_result is not None:
                failure = _write_result(write_result, result)
            elif result is not None:
                console.print(result, markup=False)
        except KeyboardInterrupt:
            failure = "interrupted; the app was stopped"
        except Error as exc:
            if exc.__cause__ is not None:  # raised by the user's remote code
                traceback.print_exception(type(exc), exc, without_internal(exc.__traceback__))
                failure = ""
            else:
                failure = str(exc)
        except Exception as exc:
            traceback.print_exception(type(exc), exc, without_internal(exc.__traceback__))
            failure = ""
    if failure is not None:
        if failure:
            fail(failure)
        sys.exit(1)
    if detach:
        err_console.print(f"[green]✓[/green] app left running (detached); stop it with "
                          f"`ketch app stop {app._default_name()}`")
    else:
        err_console.print("[green]✓[/green] app completed")
