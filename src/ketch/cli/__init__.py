"""The `ketch` command line: one module per command group."""

from __future__ import annotations

import sys

import click

from ..exception import Error
from ._common import fail
from . import app as app_cmd, container, deploy, run, server
from . import dict as dict_cmd, queue, secret, volume
from . import image as image_cmd
from . import proxy_auth, serve, shell, token


class _Group(click.Group):
    """Turns ketch's errors into one clear paragraph instead of a traceback."""

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
cli.add_command(container.container)
cli.add_command(server.server)
cli.add_command(volume.volume)
cli.add_command(secret.secret)
cli.add_command(dict_cmd.dict_group)
cli.add_command(queue.queue)
cli.add_command(image_cmd.image)
cli.add_command(serve.serve)
cli.add_command(proxy_auth.proxy_auth)
cli.add_command(token.token)
cli.add_command(shell.shell)


def main():
    cli(prog_name="ketch")


if __name__ == "__main__":
    sys.exit(main())
