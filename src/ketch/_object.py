"""The shared shape of Dict, Queue, Secret and Volume: a thin handle that names a server
object and finds its id on first use ("hydration").

    d = ketch.Dict.from_name("cache", create_if_missing=True)   # no server call yet
    d["k"] = 1                                                  # looks it up, then puts

    with ketch.Queue.ephemeral() as q:                          # made now, gone after
        ...

Handles pickle by name and id, so one passed to a remote function (or captured by one)
refers to the same object inside the container.
"""

from __future__ import annotations

import re

from . import _sync
from ._client import Client
from .exception import InvalidError
from .proto import ketch_pb2 as pb

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def refuse_client(where: str, client):
    """Modal's `client=` picks a connection per handle; ketch has one per process."""
    if client is not None:
        raise NotImplementedError(
            f"{where}: client= is not in ketch: every handle uses this process's one "
            "connection to the ketch server (KETCH_SERVER_ADDR chooses the server). "
            "Remove client=")


def check_name(kind: str, name) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidError(f"{kind} name {name!r}: use 1-64 letters, digits, '.', '-' or '_', "
                           "starting with a letter or digit")
    return name


class _Object:
    _kind = ""        # "dict", "queue", "secret", "volume"
    _type_name = ""   # "Dict", ...

    def __init__(self, name: str | None = None, *, create_if_missing: bool = False,
                 object_id: str | None = None):
        self._name = name
        self._create_if_missing = create_if_missing
        self._object_id = object_id

    def __repr__(self):
        what = repr(self._name) if self._name else self._object_id or "unresolved"
        return f"<ketch.{self._type_name} {what}>"

    def __getstate__(self):
        return {"_name": self._name, "_create_if_missing": self._create_if_missing,
                "_object_id": self._object_id}

    def __setstate__(self, state):
        self.__dict__.update(state)

    @property
    def name(self) -> str | None:
        return self._name

    @property
    def object_id(self) -> str | None:
        """The server's id for this object, once it has been looked up."""
        return self._object_id

    @classmethod
    def from_name(cls, name: str, *, environment_name: str | None = None,
                  create_if_missing: bool = False, client=None):
        """A handle to the named object; looked up (and made, with create_if_missing=True)
        when first used. `environment_name` is accepted and ignored: a ketch server has
        one namespace, no environments."""
        refuse_client(f"{cls._type_name}.from_name", client)
        return cls(check_name(cls._type_name, name), create_if_missing=create_if_missing)

    @classmethod
    def ephemeral(cls, *, environment_name: str | None = None, client=None):
        """A new nameless object for a `with` (or `async with`) block; deleted at its end,
        or when this process's connection to the server closes. `environment_name` is
        accepted and ignored."""
        refuse_client(f"{cls._type_name}.ephemeral", client)
        return _Ephemeral(cls)

    async def _lookup(self, client: Client) -> pb.ObjectInfo:
        reply = await client.request(object_lookup=pb.ObjectLookup(
            kind=self._kind, name=self._name or "", create_if_missing=self._create_if_missing))
        return reply.object_info

    async def _id(self) -> str:
        if self._object_id is None:
            if not self._name:
                raise InvalidError(f"this {self._type_name} has no name and no id")
            info = await self._lookup(await Client.get())
            self._object_id = info.object_id
        return self._object_id

    @_sync.twin
    async def hydrate(self):
        """Looks the object up now rather than on first use; returns it."""
        await self._id()
        return self

    @_sync.twin_classmethod
    async def delete(cls, name: str, *, allow_missing: bool = False,
                     environment_name: str | None = None, client=None):
        """Deletes the named object and everything in it. `environment_name` is accepted
        and ignored."""
        refuse_client(f"{cls._type_name}.delete", client)
        client = await Client.get()
        await client.request(object_delete=pb.ObjectDelete(
            kind=cls._kind, name=check_name(cls._type_name, name), allow_missing=allow_missing))


class _Ephemeral:
    """`with X.ephemeral() as x:` and `async with X.ephemeral() as x:`."""

    def __init__(self, cls):
        self._cls = cls
        self._obj = None

    async def _create(self):
        client = await Client.get()
        reply = await client.request(object_lookup=pb.ObjectLookup(kind=self._cls._kind,
                                                                    ephemeral=True))
        self._obj = self._cls(object_id=reply.object_info.object_id)
        return self._obj

    async def _delete(self):
        client = await Client.get()
        await client.request(object_delete=pb.ObjectDelete(
            kind=self._cls._kind, object_id=self._obj._object_id, allow_missing=True))

    def __enter__(self):
        return _sync.run(self._create())

    def __exit__(self, *exc):
        _sync.run(self._delete())

    async def __aenter__(self):
        return await _sync.run_aio(self._create())

    async def __aexit__(self, *exc):
        await _sync.run_aio(self._delete())
