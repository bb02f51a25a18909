"""`Secret`: environment variables for a function's containers, kept encrypted by the server.

    app = ketch.App("x", secrets=[ketch.Secret.from_name("openai")])

    @app.function(secrets=[ketch.Secret.from_dict({"MODE": "fast"})])
    def f():
        os.environ["OPENAI_API_KEY"]

A named secret is made with `ketch secret create NAME KEY=VALUE ...`. `from_dict`,
`from_dotenv` and `from_local_environ` make anonymous ones when the app starts. A secret
that is missing, or lacks a `required_keys` entry, fails the deploy, naming it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from . import _sync
from ._client import Client
from ._object import _Object, check_name, refuse_client
from .exception import InvalidError
from .proto import ketch_pb2 as pb

_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_env(env: dict, where: str) -> dict[str, str]:
    out = {}
    for key, value in env.items():
        if not isinstance(key, str) or not _ENV_NAME_RE.match(key):
            raise InvalidError(f"{where}: {key!r} is not a valid environment variable name "
                               "(letters, digits and '_', not starting with a digit)")
        if value is None:
            continue  # as in Modal: a None value leaves the variable out
        if not isinstance(value, str):
            raise InvalidError(f"{where}: the value of {key} is a {type(value).__name__}; "
                               "secret values are strings")
        out[key] = value
    return out


class Secret(_Object):
    """A set of environment variables injected into containers."""

    _kind = "secret"
    _type_name = "Secret"

    def __init__(self, name: str | None = None, *, object_id: str | None = None,
                 required_keys: list[str] = (), env: dict[str, str] | None = None,
                 create_if_missing: bool = False):
        super().__init__(name, object_id=object_id)
        self._required_keys = list(required_keys)
        self._env = env

    def __getstate__(self):
        # Values never travel in a pickle: an unsaved inline secret cannot be pickled.
        if self._object_id is None and self._env is not None:
            raise InvalidError("an inline Secret (from_dict, from_dotenv, "
                               "from_local_environ) is saved when its app starts; pass it to "
                               "secrets= rather than pickling it")
        return {**super().__getstate__(), "_required_keys": self._required_keys,
                "_env": None}

    @classmethod
    def ephemeral(cls, **_):
        raise InvalidError("a Secret has no ephemeral form; use Secret.from_dict({...})")

    @classmethod
    def from_name(cls, name: str, *, environment_name: str | None = None,
                  required_keys: list[str] = (), client=None) -> "Secret":
        """The secret made with `ketch secret create NAME ...`; checked at deploy time,
        with each of required_keys. `environment_name` is accepted and ignored."""
        refuse_client("Secret.from_name", client)
        if isinstance(required_keys, str) or not all(isinstance(k, str) for k in required_keys):
            raise InvalidError("required_keys takes a list of variable names")
        return cls(check_name("Secret", name), required_keys=required_keys)

    @classmethod
    def from_dict(cls, env_dict: dict[str, str | None] | None = None) -> "Secret":
        """A secret holding these variables (None values are left out)."""
        env_dict = {} if env_dict is None else env_dict
        if not isinstance(env_dict, dict):
            raise InvalidError("Secret.from_dict takes a dict of str to str")
        return cls(env=_check_env(env_dict, "Secret.from_dict"))

    @classmethod
    def from_local_environ(cls, env_keys: list[str]) -> "Secret":
        """A secret holding these variables' values from this process's environment."""
        if isinstance(env_keys, str):
            raise InvalidError("Secret.from_local_environ takes a list of variable names")
        missing = [k for k in env_keys if k not in os.environ]
        if missing:
            raise InvalidError(f"Secret.from_local_environ: {', '.join(missing)} not set in "
                               "this environment; set them or leave them out")
        return cls(env={k: os.environ[k] for k in env_keys})

    @classmethod
    def from_dotenv(cls, path=None, *, filename: str = ".env") -> "Secret":
        """A secret holding the variables of a .env file: `filename` in the directory
        `path` (default: the working directory) or the nearest parent that has one; or
        `path` itself when it names a file."""
        start = Path(path) if path is not None else Path.cwd()
        if start.is_file():
            found = start
        else:
            start = start.resolve()
            found = next((d / filename for d in [start, *start.parents]
                          if (d / filename).is_file()), None)
            if found is None:
                raise InvalidError(f"Secret.from_dotenv: no {filename} in {start} or its "
                                   "parents")
        return cls(env=_check_env(parse_dotenv(found.read_text()), f"{found}"))

    async def _lookup(self, client: Client) -> pb.ObjectInfo:
        if self._env is not None:
            reply = await client.request(secret_create=pb.SecretCreate(env=self._env))
        else:
            reply = await client.request(object_lookup=pb.ObjectLookup(
                kind="secret", name=self._name, required_keys=self._required_keys))
        return reply.object_info

    async def _id(self) -> str:
        if self._object_id is None:
            info = await self._lookup(await Client.get())
            self._object_id = info.object_id
        return self._object_id

    @_sync.twin_classmethod
    async def create(cls, name: str, env: dict[str, str], *, overwrite: bool = False) -> None:
        """Saves a named secret (what `ketch secret create` does)."""
        client = await Client.get()
        await client.request(secret_create=pb.SecretCreate(
            name=check_name("Secret", name), env=_check_env(env, f"Secret {name!r}"),
            overwrite=overwrite))


def parse_dotenv(text: str) -> dict[str, str]:
    """KEY=VALUE lines; '#' comments, blank lines and an `export ` prefix allowed; values
    may be quoted ('single' taken as is, "double" with \\n escapes)."""
    env = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise InvalidError(f".env line {number}: expected KEY=VALUE")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            quote, value = value[0], value[1:-1]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        env[key] = value
    return env


def check_secrets(where: str, secrets) -> list[Secret]:
    """secrets= of App, @app.function and @app.cls: a list of Secret."""
    if secrets is None:
        return []
    if isinstance(secrets, Secret) or not isinstance(secrets, (list, tuple)) or \
            not all(isinstance(s, Secret) for s in secrets):
        raise InvalidError(f"{where}: secrets= takes a list of ketch.Secret, e.g. "
                           "[ketch.Secret.from_name('my-secret')]")
    return list(secrets)
