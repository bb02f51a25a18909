"""`Dict`: a key-value map kept by the server, shared by every client and container.

    d = ketch.Dict.from_name("results", create_if_missing=True)
    d["a"] = 1
    d.put("b", 2, skip_if_exists=True)
    assert d.get("a") == 1 and "b" in d

Keys and values are anything cloudpickle can pickle; keys are compared by their pickled
bytes. Entries stay until removed (Modal expires them after 7 days idle; ketch keeps
them). Limits: 64 KiB per pickled key, 16 MiB per pickled value.
"""

from __future__ import annotations

from typing import Any

from . import _sync
from ._client import Client
from ._object import _Object
from ._serialization import deserialize, serialize
from .proto import ketch_pb2 as pb

_PAGE = 1000
_PUT_BATCH_BYTES = 32 * 1024 * 1024


class Dict(_Object):
    """A distributed dictionary. Every method has an `.aio` twin:
    `await d.get.aio(key)`."""

    _kind = "dict"
    _type_name = "Dict"

    async def _request(self, op: int, keys=(), values=(), **fields) -> pb.DictReply:
        client = await Client.get()
        reply = await client.request(dict_request=pb.DictRequest(
            object_id=await self._id(), op=op, keys=keys, values=values, **fields))
        return reply.dict_reply

    @_sync.twin
    async def get(self, key: Any, default: Any = None) -> Any:
        """The value of key, or default when it is missing."""
        reply = await self._request(pb.DICT_GET, [serialize(key)])
        return deserialize(reply.value) if reply.found else default

    @_sync.twin
    async def put(self, key: Any, value: Any, *, skip_if_exists: bool = False) -> bool:
        """Sets key to value; with skip_if_exists=True, only when key is missing (atomic).
        Returns whether the value was written."""
        reply = await self._request(pb.DICT_PUT, [serialize(key)], [serialize(value)],
                                    skip_if_exists=skip_if_exists)
        return reply.n > 0

    @_sync.twin
    async def update(self, other=None, /, **kwargs) -> None:
        """Sets several keys at once, like dict.update."""
        items = dict(other or {}, **kwargs)
        keys, values, size = [], [], 0
        for key, value in items.items():
            k, v = serialize(key), serialize(value)
            if keys and size + len(k) + len(v) > _PUT_BATCH_BYTES:
                await self._request(pb.DICT_PUT, keys, values)
                keys, values, size = [], [], 0
            keys.append(k)
            values.append(v)
            size += len(k) + len(v)
        if keys:
            await self._request(pb.DICT_PUT, keys, values)

    @_sync.twin
    async def pop(self, key: Any) -> Any:
        """Removes key and returns its value; raises KeyError when it is missing."""
        reply = await self._request(pb.DICT_POP, [serialize(key)])
        if not reply.found:
            raise KeyError(key)
        return deserialize(reply.value)

    @_sync.twin
    async def contains(self, key: Any) -> bool:
        reply = await self._request(pb.DICT_CONTAINS, [serialize(key)])
        return reply.found

    @_sync.twin
    async def len(self) -> int:
        """The number of entries."""
        return (await self._request(pb.DICT_LEN)).n

    @_sync.twin
    async def clear(self) -> None:
        """Removes every entry."""
        await self._request(pb.DICT_CLEAR)

    async def _scan(self, with_values: bool):
        after = b""
        while True:
            reply = await self._request(pb.DICT_SCAN, after_key=after, limit=_PAGE,
                                        with_values=with_values)
            for i, key in enumerate(reply.keys):
                yield key, (reply.values[i] if with_values else None)
            if reply.done or not reply.keys:
                return
            after = reply.keys[-1]

    @_sync.twin
    async def keys(self):
        """Iterates over the keys, in pages from the server."""
        async for key, _ in self._scan(False):
            yield deserialize(key)

    @_sync.twin
    async def values(self):
        async for _, value in self._scan(True):
            yield deserialize(value)

    @_sync.twin
    async def items(self):
        async for key, value in self._scan(True):
            yield deserialize(key), deserialize(value)

    # -- the dict protocol (blocking; use get/put/pop/contains .aio from async code)

    def __getitem__(self, key):
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __setitem__(self, key, value):
        self.put(key, value)

    def __delitem__(self, key):
        self.pop(key)

    def __contains__(self, key) -> bool:
        return self.contains(key)

    def __len__(self) -> int:
        return self.len()

    def __iter__(self):
        return iter(self.keys())


_MISSING = object()  # a default that no stored value can be
