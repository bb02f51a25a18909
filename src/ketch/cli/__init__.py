"""The `ketch` command line: one module per command group."""

from __future__ import annotations

import sys

import click

from ..exception import Error
from ._common import fail
from . import app as app_cmd, call, container, dashboard, deploy, run, server
from . import dict as dict_cmd, queue, secret, volume
from . import image as image_cmd
from . import app_history, proxy_auth, serve, shell, token
from . import node


# Modal's commands that ketch has no counterpart for yet, with what to use meanwhile.
_NOT_YET = {
    "curl": "call a web endpoint; use curl with the URL `ketch deploy` prints",
    "endpoint": "list web endpoints; `ketch deploy` and `ketch serve` print their URLs",
    "function": "inspect functions; `ketch app list` and `ketch container list` show them",
    "nfs": "network file systems; use a ketch.Volume (`ketch volume`)",
    "workspace": "workspaces are chosen by token; see `ketch token`",
    "environment": "ketch's workspaces are Modal's environments; see `ketch token` and "
                   "the -e option of `ketch run`",
    "profile": "a ketch client picks its server with KETCH_SERVER_ADDR and `ketch token set`",
    "config": "ketch is configured by `ketch token set` and KETCH_* variables",
    "setup": "a local server starts by itself; `ketch server --help`",
    "skills": "", "billing": "", "changelog": "",
    "launch": "Modal's ready-made apps (jupyter, vscode)",
}


class _Group(click.Group):
    """Turns ketch's errors into one clear paragraph instead of a traceback, and says
    which of Modal's commands are not in ketch yet."""

    def resolve_command(self, ctx, args):
        name = args[0] if args else ""
        if name in _NOT_YET and self.get_command(ctx, name) is None:
            hint = _NOT_YET[name]
            fail(f"`ketch {name}` is not in ketch yet" + (f" ({hint})" if hint else "") +
                 "; `ketch --help` lists the commands ketch has")
        return super().resolve_command(ctx, args)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (Error, NotImplementedError, ValueError) as exc:
            fail(str(exc))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ketch", prog_name="ketch")
def cli():
    """ketch runs Python functions in containers on your own machines, with Modal's API.

    \b
    Start with:  ketch run app.py          run an app's local entrypoint
                 ketch deploy app.py       keep an app's functions available
                 ketch serve app.py        serve web endpoints, reloading on change
                 ketch app list            see what is running
    A local server starts by itself on first use; `ketch server --help` manages it.
    """


cli.add_command(run.run)
cli.add_command(deploy.deploy)
cli.add_command(app_cmd.app)
app_cmd.app.add_command(app_history.history)
app_cmd.app.add_command(app_history.rollback)
cli.add_command(container.container)
cli.add_command(call.call)
cli.add_command(server.server)
cli.add_command(volume.volume)
cli.add_command(secret.secret)
cli.add_command(dict_cmd.dict_group)
cli.add_command(queue.queue)
cli.add_command(image_cmd.image)
cli.add_command(serve.serve)
cli.add_command(proxy_auth.proxy_auth)
cli.add_command(token.token)
cli.add_command(dashboard.dashboard)
cli.add_command(shell.shell)
cli.add_command(node.node)


def main():
    cli(prog_name="ketch")


if __name__ == "__main__":
    sys.exit(main())
