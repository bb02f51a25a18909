"""Deploying an app under a name: its functions are created, then the server makes them
the name's current version (a rolling replacement of the one before) and records the
deployment in the name's history (`ketch app history`, `ketch app rollback`)."""

from __future__ import annotations

import re
import sys

from ._client import Client
from .exception import InvalidError
from .proto import ketch_pb2 as pb

APP_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


async def deploy(app, name: str | None, tag: str | None) -> pb.AppPublished:
    name = name or app._name
    if not name:
        raise InvalidError("a deployed app needs a name: ketch.App('my-app') or "
                           "app.deploy(name='my-app')")
    if not APP_NAME_RE.match(name):
        raise InvalidError(f"App name {name!r}: use 1-64 letters, digits, '.', '-' or '_'")
    if tag is not None and (not isinstance(tag, str) or len(tag) > 200):
        raise InvalidError(f"deploy tag {tag!r}: give a string of at most 200 characters")
    client = await Client.get()
    app_id, _ = await app._create(client, name, False, False)
    reply = await client.request(app_publish=pb.AppPublish(app_id=app_id, tag=tag or ""))
    return reply.app_published


def warn(message: str):
    """A request this machine cannot meet now: said once, on stderr, where `ketch run` and
    `ketch deploy` print their own progress."""
    sys.stderr.write(f"Warning: {message}\n")
    sys.stderr.flush()
