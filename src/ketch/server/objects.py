"""Named objects: how dicts, queues, secrets and volumes are found, made, listed and
deleted. The services of each kind (`dicts`, `queues`, `secrets`, `volumes`) hold what is
inside them; this one holds their names and lifetimes.

Every object belongs to one workspace: names are unique within it, and a request of
another workspace finds neither its name nor its id. An ephemeral object
(`Dict.ephemeral()` and friends) belongs to the connection that made it and is deleted
when that connection closes, or when the server restarts.
"""

from __future__ import annotations

import re
import secrets as _random
from typing import Callable

from .objects_store import ObjectRow, ObjectsStore

KINDS = {"dict": "Dict", "queue": "Queue", "secret": "Secret", "volume": "Volume"}
_ID_PREFIX = {"dict": "di", "queue": "qu", "secret": "st", "volume": "vo"}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_kind(kind: str):
    if kind not in KINDS:
        raise ValueError(f"unknown object kind {kind!r}")


def check_name(kind: str, name: str):
    if not NAME_RE.match(name):
        raise ValueError(f"{KINDS[kind]} name {name!r}: use 1-64 letters, digits, '.', '-' or "
                         "'_', starting with a letter or digit")


class ObjectsService:
    def __init__(self, store: ObjectsStore):
        self.store = store
        self.owned: dict[str, set[str]] = {}   # owner id -> its ephemeral objects
        # Per kind: what else goes when an object of that kind is deleted.
        self.on_delete: dict[str, Callable[[str], None]] = {}

    def restore(self):
        """Ephemeral objects died with the server process that held their owners."""
        for object_id, kind in self.store.ephemeral_ids():
            self.delete(object_id, kind)

    # -- lookups

    def lookup(self, workspace: str, kind: str, name: str, create_if_missing: bool
               ) -> ObjectRow:
        check_kind(kind)
        check_name(kind, name)
        row = self.store.by_name(workspace, kind, name)
        if row is not None:
            return row
        if create_if_missing and kind != "secret":
            return self.create(workspace, kind, name)
        hint = (f"create it with `ketch secret create {name} KEY=VALUE`" if kind == "secret"
                else f"create it with `ketch {kind} create {name}`"
                if kind == "volume" else
                f"pass create_if_missing=True, or create it with `ketch {kind} create {name}`")
        raise LookupError(f"no {KINDS[kind]} named {name!r}; {hint}")

    def create_ephemeral(self, workspace: str, kind: str, owner_id: str) -> ObjectRow:
        """A new nameless object that goes when its owner's connection closes."""
        check_kind(kind)
        return self.create(workspace, kind, None, owner_id)

    def create(self, workspace: str, kind: str, name: str | None,
               owner_id: str | None = None) -> ObjectRow:
        if name is not None:
            check_name(kind, name)
            if self.store.by_name(workspace, kind, name) is not None:
                raise ValueError(f"a {KINDS[kind]} named {name!r} already exists")
        object_id = f"{_ID_PREFIX[kind]}-{_random.token_hex(8)}"
        self.store.add(object_id, kind, name, workspace, ephemeral=owner_id is not None)
        if owner_id is not None:
            self.owned.setdefault(owner_id, set()).add(object_id)
        return self.store.by_id(object_id)

    def get(self, object_id: str, kind: str, workspace: str | None = None) -> ObjectRow:
        """The object; with a workspace, only if it belongs to that one (a request's check
        before it touches an object by id)."""
        row = self.store.by_id(object_id)
        if row is None or row.kind != kind or workspace is not None and \
                row.workspace != workspace:
            raise LookupError(f"the {KINDS[kind]} {object_id} no longer exists (it was deleted, "
                              "or it was ephemeral and its creator went away)")
        return row

    def find(self, workspace: str, kind: str, name: str, object_id: str) -> ObjectRow | None:
        check_kind(kind)
        if object_id:
            row = self.store.by_id(object_id)
            return row if row is not None and row.kind == kind and \
                row.workspace == workspace else None
        return self.store.by_name(workspace, kind, name)

    def named(self, workspace: str, kind: str) -> list[ObjectRow]:
        check_kind(kind)
        return self.store.named(workspace, kind)

    # -- deleting

    def delete(self, object_id: str, kind: str):
        self.store.delete(object_id)
        hook = self.on_delete.get(kind)
        if hook is not None:
            hook(object_id)
        for owned in self.owned.values():
            owned.discard(object_id)

    def owner_closed(self, owner_id: str):
        for object_id in self.owned.pop(owner_id, ()):
            row = self.store.by_id(object_id)
            if row is not None:
                self.delete(object_id, row.kind)
