"""Helpers shared by the CLI's command groups: output, errors, loading app files."""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .. import _sync
from .._app import App
from .._client import Client
from .._traceback import without_internal
from ..proto import ketch_pb2 as pb

# Piped into a file, `grep` or a script, rich would fold tables and lines at 80 columns,
# breaking ids and dates over lines; a terminal's width, or COLUMNS, still decides.
PIPED_WIDTH = 200


def _width(stream) -> int | None:
    return None if os.environ.get("COLUMNS") or stream.isatty() else PIPED_WIDTH


console = Console(highlight=False, width=_width(sys.stdout))
err_console = Console(stderr=True, highlight=False, width=_width(sys.stderr))


def fail(message: str, code: int = 1):
    err_console.print("[bold red]Error:[/bold red] ", end="")
    err_console.print(message, markup=False, soft_wrap=True)
    sys.exit(code)


def run_async(coro):
    return _sync.run(coro)


async def client(autostart: bool = True) -> Client:
    return await Client.get(autostart=autostart)


def print_json(data):
    click.echo(json.dumps(data, indent=2, default=str))


def when(ts: float) -> str:
    if not ts:
        return ""
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def table(columns: list[str], rows: list[list], title: str | None = None):
    t = Table(title=title, header_style="bold")
    for i, col in enumerate(columns):
        # Ids are copied into other commands: kept whole on one line; other text folds.
        widest = max((len(str(row[i])) for row in rows), default=0)
        t.add_column(col, overflow="fold",
                     **({"no_wrap": True, "min_width": widest} if col.endswith("ID") else {}))
    for row in rows:
        t.add_row(*[Text(str(v)) for v in row])  # the values' brackets are not markup
    console.print(t)


def _example() -> str:
    """The command being run with an app file, as typed: `ketch serve app.py`, ..."""
    ctx = click.get_current_context(silent=True)
    command = ctx.command_path if ctx is not None else "ketch run"
    return f"{command} app.py" + ("::FUNCTION" if command.endswith(" shell") else "")


def import_app_file(path_arg: str):
    """Imports the user's file as a module named after it (so containers can import it
    the same way) and returns the module. Exits with a clear message if it cannot."""
    path = Path(path_arg)
    if not path.exists():
        fail(f"no such file: {path_arg}. Give the path of a Python file that defines a "
             f"ketch.App, e.g. `{_example()}`.")
    if path.is_dir() or path.suffix != ".py":
        fail(f"{path_arg} is not a Python file; give a path ending in .py")
    path = path.resolve()
    name = path.stem
    if not name.isidentifier():
        fail(f"{path.name}: the file name must be a valid Python module name (letters, digits "
             "and underscores) so containers can import it")
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        detail = "".join(traceback.format_exception_only(type(exc), exc))
        fail(f"{path_arg} has a syntax error:\n{detail}")
    except SystemExit:
        raise
    except BaseException as exc:
        tb = exc.__traceback__
        # Show the user's frames, not ketch's import machinery nor ketch's own code the
        # module called (an Image.from_dockerfile that refused a line, say).
        while tb is not None and tb.tb_frame.f_code.co_filename != str(path):
            tb = tb.tb_next
        tb = without_internal(tb or exc.__traceback__)
        detail = "".join(traceback.format_exception(type(exc), exc, tb))
        fail(f"importing {path_arg} failed:\n{detail}")
    return module


def import_app_module(module_name: str):
    """`-m pkg.mod`: imports the module by name from the working directory (as `python -m`
    would find it) and returns it. Exits with a clear message if it cannot."""
    if not all(part.isidentifier() for part in module_name.split(".")):
        fail(f"{module_name!r} is not a Python module path; with -m give one like pkg.app")
    sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            fail(f"no module named {module_name!r} here ({os.getcwd()}); run from the "
                 "directory above the package, or give a file without -m")
        fail(f"importing {module_name} failed: {exc}")
    except SystemExit:
        raise
    except BaseException as exc:
        detail = "".join(traceback.format_exception(type(exc), exc,
                                                    without_internal(exc.__traceback__)))
        fail(f"importing {module_name} failed:\n{detail}")


def load_ref(ref: str, use_module: bool):
    """FILE[::NAME] or, with -m, MODULE[::NAME] → (module, what to call it in messages,
    NAME or "")."""
    where, _, name = ref.partition("::")
    module = import_app_module(where) if use_module else import_app_file(where)
    return module, where, name


def split_name(module, name: str) -> tuple[str | None, str]:
    """NAME of FILE::NAME as (App variable or None, function or entrypoint name or ""):
    `app.fn` names both; a lone name is an App variable when the module has one so called."""
    if "." in name:
        app_var, _, fn = name.partition(".")
        return app_var, fn
    if name and isinstance(getattr(module, name, None), App):
        return name, ""
    return None, name


def find_apps(module) -> dict:
    return {name: value for name, value in vars(module).items() if isinstance(value, App)}


def pick_app(module, path_arg: str, app_var: str | None = None):
    apps = find_apps(module)
    if app_var is not None:
        if app_var not in apps:
            fail(f"{path_arg} has no ketch.App named {app_var!r} (its apps: "
                 f"{', '.join(apps) or 'none'})")
        return apps[app_var]
    if not apps:
        fail(f"{path_arg} defines no ketch.App; add `app = ketch.App(\"name\")` at module level")
    if "app" in apps:
        return apps["app"]
    if len(apps) > 1:
        fail(f"{path_arg} defines several apps ({', '.join(apps)}); name one with "
             f"FILE::app_variable.function")
    return next(iter(apps.values()))



async def app_matches(c: Client, ref: str) -> list:
    """The apps (AppInfo) `ref` names: by name, by full id, or by a prefix of an id (as
    `app list` shows them); running ones first considered, stopped ones only if none."""
    apps = (await c.request(app_list=pb.AppList())).app_list_reply.apps
    for pool in ([a for a in apps if a.state != "stopped"], list(apps)):
        exact = [a for a in pool if ref in (a.app_id, a.name)]
        if exact:
            return exact
        if ref.startswith("ap-"):
            prefixed = [a for a in pool if a.app_id.startswith(ref)]
            if prefixed:
                return prefixed
    return []


def one_app(matches: list, ref: str):
    """The single app of `matches`, or exits saying none or which several `ref` names."""
    if not matches:
        fail(f"no app named {ref!r} or with an id starting {ref!r}; `ketch app list --all` "
             "shows them")
    ids = {a.app_id for a in matches}
    if len(ids) > 1:
        listed = ", ".join(f"{a.app_id} ({a.name}, {a.state})" for a in matches)
        fail(f"{ref!r} matches several apps: {listed}; give more of the id")
    return matches[0]
