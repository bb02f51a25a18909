"""Options that `ketch run`, `deploy` and `serve` share, spelled as Modal's CLI spells them:
`-m` (a module path instead of a file), `-e/--env` and `--timestamps`."""

from __future__ import annotations

import os

import click

from .. import _output


def module_option(f):
    return click.option("-m", "use_module", is_flag=True,
                        help="Read the argument as a Python module path (pkg.app[::NAME]) "
                             "instead of a file, imported from the working directory.")(f)


def env_option(f):
    return click.option("-e", "--env", default=None, metavar="NAME",
                        help="The workspace to act in (Modal's environments are ketch's "
                             "workspaces; only the admin token may name another "
                             "workspace than its own). Default: the token's own.")(f)


def timestamps_option(f):
    return click.option("--timestamps", is_flag=True,
                        help="Start each streamed log line with its time.")(f)


def apply(env: str | None, timestamps: bool = False):
    """Takes the shared options' effect before anything connects to the server."""
    if env:
        # The client names this workspace in its Hello; the server refuses a token that
        # may not act there, saying so.
        os.environ["KETCH_WORKSPACE"] = env
    if timestamps:
        _output.show_timestamps()
