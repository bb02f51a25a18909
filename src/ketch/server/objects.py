"""Named objects: how dicts, queues, secrets and volumes are found, made, listed and
deleted. The services of each kind (`dicts`, `queues`, `secrets`, `volumes`) hold what is
inside them; this one holds their names and lifetimes.

An ephemeral object (`Dict.ephemeral()` and friends) belongs to the connection that made
it and is deleted when that connection closes, or when the server restarts.
"""

from __future__ import annotations

import re
import secrets as _random
from typing import TYPE_CHECKING, Callable

from ..proto import ketch_pb2 as pb
from .objects_store import ObjectRow, ObjectsStore

if TYPE_CHECKING:
    from .api import Session
    from .main import Server

KINDS = {"dict": "Dict", "queue": "Queue", "secret": "Secret", "volume": "Volume"}
_ID_PREFIX = {"dict": "di", "queue": "qu", "secret": "st", "volume": "vo"}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_name(kind: str, name: str):
    if not NAME_RE.match(name):
        raise ValueError(f"{KINDS[kind]} name {name!r}: use 1-64 letters, digits, '.', '-' or "
                         "'_', starting with a letter or digit")


class ObjectsService:
    def __init__(self, server: "Server"):
        self.server = server
        self.store = ObjectsStore(server.store.db)
        self.owned: dict["Session", set[str]] = {}
        # Per kind: what else goes when an object of that kind is deleted.
        self.on_delete: dict[str, Callable[[str], None]] = {}
        self.on_session_close: list[Callable[["Session"], None]] = []

    def restore(self):
        """Ephemeral objects died with the server process that held their owners."""
        for object_id, kind in self.store.ephemeral_ids():
            self.delete(object_id, kind)

    # -- lookups

    def lookup(self, session: "Session", msg: pb.ObjectLookup) -> ObjectRow:
        kind = msg.kind
        if kind not in KINDS:
            raise ValueError(f"unknown object kind {kind!r}")
        if msg.ephemeral:
            return self.create(kind, None, owner=session)
        check_name(kind, msg.name)
        row = self.store.by_name(kind, msg.name)
        if row is not None:
            return row
        if msg.create_if_missing and kind != "secret":
            return self.create(kind, msg.name)
        hint = (f"create it with `ketch secret create {msg.name} KEY=VALUE`" if kind == "secret"
                else f"create it with `ketch {kind} create {msg.name}`"
                if kind == "volume" else "pass create_if_missing=True")
        raise LookupError(f"no {KINDS[kind]} named {msg.name!r}; {hint}")

    def create(self, kind: str, name: str | None, owner: "Session | None" = None
               ) -> ObjectRow:
        if name is not None:
            check_name(kind, name)
            if self.store.by_name(kind, name) is not None:
                raise ValueError(f"a {KINDS[kind]} named {name!r} already exists")
        object_id = f"{_ID_PREFIX[kind]}-{_random.token_hex(8)}"
        self.store.add(object_id, kind, name, ephemeral=owner is not None)
        if owner is not None:
            self.owned.setdefault(owner, set()).add(object_id)
        return self.store.by_id(object_id)

    def get(self, object_id: str, kind: str) -> ObjectRow:
        row = self.store.by_id(object_id)
        if row is None or row.kind != kind:
            raise LookupError(f"the {KINDS[kind]} {object_id} no longer exists (it was deleted, "
                              "or it was ephemeral and its creator went away)")
        return row

    def find(self, kind: str, name: str, object_id: str) -> ObjectRow | None:
        if object_id:
            row = self.store.by_id(object_id)
            return row if row is not None and row.kind == kind else None
        return self.store.by_name(kind, name)

    # -- deleting

    def delete(self, object_id: str, kind: str):
        self.store.delete(object_id)
        hook = self.on_delete.get(kind)
        if hook is not None:
            hook(object_id)
        for owned in self.owned.values():
            owned.discard(object_id)

    def session_closed(self, session: "Session"):
        for hook in self.on_session_close:
            hook(session)
        for object_id in self.owned.pop(session, ()):
            row = self.store.by_id(object_id)
            if row is not None:
                self.delete(object_id, row.kind)

    def info(self, row: ObjectRow, size: int = 0, keys: list[str] = ()) -> pb.ObjectInfo:
        return pb.ObjectInfo(object_id=row.object_id, kind=row.kind, name=row.name or "",
                             created_at=row.created_at, updated_at=row.updated_at, size=size,
                             keys=list(keys))


# -- request handlers (the api module registers these)

def object_lookup(session: "Session", frame, msg: pb.ObjectLookup):
    server = session.server
    row = server.objects.lookup(session, msg)
    keys: list[str] = []
    if row.kind == "secret":
        keys = server.secrets.check_required(row, list(msg.required_keys))
    session.conn.reply(frame, object_info=server.objects.info(row, keys=keys))


async def object_list(session: "Session", frame, msg: pb.ObjectList):
    server = session.server
    if msg.kind not in KINDS:
        raise ValueError(f"unknown object kind {msg.kind!r}")
    out = []
    for row in server.objects.store.named(msg.kind):
        size, keys = await _contents(server, row)
        out.append(server.objects.info(row, size, keys))
    session.conn.reply(frame, object_list_reply=pb.ObjectListReply(objects=out))


async def _contents(server: "Server", row: ObjectRow) -> tuple[int, list[str]]:
    store = server.objects.store
    if row.kind == "dict":
        return store.dict_len(row.object_id), []
    if row.kind == "queue":
        return store.queue_len(row.object_id, None), []
    if row.kind == "secret":
        found = store.secret(row.object_id)
        keys = found[1] if found else []
        return len(keys), keys
    return await server.volumes.size(row.object_id), []


def object_delete(session: "Session", frame, msg: pb.ObjectDelete):
    objects = session.server.objects
    if msg.kind not in KINDS:
        raise ValueError(f"unknown object kind {msg.kind!r}")
    row = objects.find(msg.kind, msg.name, msg.object_id)
    if row is None:
        if not msg.allow_missing:
            raise LookupError(f"no {KINDS[msg.kind]} named {msg.name or msg.object_id!r}")
    else:
        objects.delete(row.object_id, row.kind)
    session.conn.reply(frame, ok=pb.Ok())


HANDLERS = {
    "object_lookup": object_lookup,
    "object_list": object_list,
    "object_delete": object_delete,
}
