"""Durable state of named objects: dicts, queues, secrets and volumes. In the server's
database (`db/`), on the same connection as `store.Store`, so every call is one short
transaction on the server's loop.

One `objects` table names them all (kind + name); each kind keeps its contents in a table
of its own. Volumes keep only their metadata here: their files live on disk.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .db import Database, migrate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    object_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT,                      -- NULL for ephemeral and anonymous objects
    ephemeral INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    workspace TEXT NOT NULL DEFAULT 'main'
);
CREATE TABLE IF NOT EXISTS dict_entries (
    object_id TEXT NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (object_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queue_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    object_id TEXT NOT NULL,
    partition TEXT NOT NULL,
    value BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_items_fifo ON queue_items (object_id, partition, seq);
CREATE TABLE IF NOT EXISTS queue_partitions (
    object_id TEXT NOT NULL,
    partition TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (object_id, partition)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_partitions_expiry ON queue_partitions (expires_at);
CREATE TABLE IF NOT EXISTS secrets (
    object_id TEXT PRIMARY KEY,
    ciphertext BLOB NOT NULL,
    keys TEXT NOT NULL,             -- the variable names, comma-separated, for listings
    digest TEXT                     -- anonymous secrets: keyed hash of the contents
);
"""


@dataclass
class ObjectRow:
    object_id: str
    kind: str
    name: str | None
    ephemeral: bool
    created_at: float
    updated_at: float
    workspace: str


_OBJ_COLS = "object_id, kind, name, ephemeral, created_at, updated_at, workspace"


def _create(db: Database):
    db.script(_SCHEMA)
    # Names are unique per workspace; data directories made before workspaces had
    # everything in the default one.
    if "workspace" not in db.columns("objects"):
        db.execute("ALTER TABLE objects ADD COLUMN workspace TEXT NOT NULL DEFAULT 'main'")
    db.execute("DROP INDEX IF EXISTS objects_by_name")
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS objects_by_workspace_name ON objects "
               "(workspace, kind, name)")
    # Data directories made before secrets had digests gain the column.
    if "digest" not in db.columns("secrets"):
        db.execute("ALTER TABLE secrets ADD COLUMN digest TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS secrets_by_digest ON secrets (digest)")


class ObjectsStore:
    def __init__(self, db: Database):
        self.db = db
        migrate(db, "objects", [_create])

    # -- naming

    def add(self, object_id: str, kind: str, name: str | None, workspace: str,
            ephemeral: bool = False):
        now = time.time()
        self.db.execute(f"INSERT INTO objects ({_OBJ_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (object_id, kind, name, int(ephemeral), now, now, workspace))

    def by_name(self, workspace: str, kind: str, name: str) -> ObjectRow | None:
        row = self.db.execute(f"SELECT {_OBJ_COLS} FROM objects WHERE workspace = ? AND "
                              "kind = ? AND name = ?", (workspace, kind, name)).fetchone()
        return ObjectRow(*row) if row else None

    def by_id(self, object_id: str) -> ObjectRow | None:
        row = self.db.execute(f"SELECT {_OBJ_COLS} FROM objects WHERE object_id = ?",
                              (object_id,)).fetchone()
        return ObjectRow(*row) if row else None

    def named(self, workspace: str, kind: str) -> list[ObjectRow]:
        rows = self.db.execute(f"SELECT {_OBJ_COLS} FROM objects WHERE workspace = ? AND "
                               "kind = ? AND name IS NOT NULL ORDER BY name", (workspace, kind))
        return [ObjectRow(*row) for row in rows]

    def touch(self, object_id: str):
        self.db.execute("UPDATE objects SET updated_at = ? WHERE object_id = ?",
                        (time.time(), object_id))

    def delete(self, object_id: str):
        with self.db.transaction():
            for table in ("objects", "dict_entries", "queue_items", "queue_partitions",
                          "secrets"):
                self.db.execute(f"DELETE FROM {table} WHERE object_id = ?", (object_id,))

    def ephemeral_ids(self) -> list[tuple[str, str]]:
        """→ [(object_id, kind)] of ephemeral objects (leftovers after a restart)."""
        return list(self.db.execute("SELECT object_id, kind FROM objects WHERE ephemeral = 1"))

    # -- dicts

    def dict_get(self, object_id: str, key: bytes) -> bytes | None:
        row = self.db.execute("SELECT value FROM dict_entries WHERE object_id = ? AND key = ?",
                              (object_id, key)).fetchone()
        return row[0] if row else None

    def dict_put(self, object_id: str, pairs: list[tuple[bytes, bytes]],
                 skip_if_exists: bool) -> int:
        on_conflict = ("DO NOTHING" if skip_if_exists else
                       "(object_id, key) DO UPDATE SET value = excluded.value")
        with self.db.transaction():
            return self.db.executemany(
                "INSERT INTO dict_entries (object_id, key, value) VALUES (?, ?, ?) "
                f"ON CONFLICT {on_conflict}", [(object_id, k, v) for k, v in pairs])

    def dict_pop(self, object_id: str, key: bytes) -> bytes | None:
        row = self.db.execute("DELETE FROM dict_entries WHERE object_id = ? AND key = ? "
                              "RETURNING value", (object_id, key)).fetchone()
        return row[0] if row else None

    def dict_len(self, object_id: str) -> int:
        return self.db.execute("SELECT COUNT(*) FROM dict_entries WHERE object_id = ?",
                               (object_id,)).fetchone()[0]

    def dict_clear(self, object_id: str):
        self.db.execute("DELETE FROM dict_entries WHERE object_id = ?", (object_id,))

    def dict_scan(self, object_id: str, after: bytes, limit: int, with_values: bool
                  ) -> list[tuple[bytes, bytes | None]]:
        cols = "key, value" if with_values else "key, NULL"
        return list(self.db.execute(
            f"SELECT {cols} FROM dict_entries WHERE object_id = ? AND key > ? "
            "ORDER BY key LIMIT ?", (object_id, after, limit)))

    # -- queues

    def queue_put(self, object_id: str, partition: str, values: list[bytes],
                  expires_at: float | None):
        """Adds items; with expires_at, also sets when the partition expires."""
        with self.db.transaction():
            self.db.executemany("INSERT INTO queue_items (object_id, partition, value) "
                                "VALUES (?, ?, ?)",
                                [(object_id, partition, v) for v in values])
            if expires_at is not None:
                self.db.execute("INSERT INTO queue_partitions (object_id, partition, "
                                "expires_at) VALUES (?, ?, ?) ON CONFLICT (object_id, "
                                "partition) DO UPDATE SET expires_at = excluded.expires_at",
                                (object_id, partition, expires_at))

    def queue_take(self, object_id: str, partition: str, n: int, max_bytes: int
                   ) -> list[tuple[int, bytes]]:
        """Removes and returns the first n items of a partition, oldest first: fewer when
        they would pass max_bytes together (but always one, if there is one)."""
        with self.db.transaction():
            rows = _within(self.db.execute(
                "SELECT seq, value FROM queue_items WHERE object_id = ? AND partition = ? "
                "ORDER BY seq LIMIT ?", (object_id, partition, n)), max_bytes)
            if rows:
                self.db.execute("DELETE FROM queue_items WHERE object_id = ? AND "
                                "partition = ? AND seq <= ?",
                                (object_id, partition, rows[-1][0]))
        return rows

    def queue_peek(self, object_id: str, partition: str, after_seq: int, n: int,
                   max_bytes: int) -> list[tuple[int, bytes]]:
        return _within(self.db.execute(
            "SELECT seq, value FROM queue_items WHERE object_id = ? AND partition = ? AND "
            "seq > ? ORDER BY seq LIMIT ?", (object_id, partition, after_seq, n)), max_bytes)

    def queue_len(self, object_id: str, partition: str | None) -> int:
        if partition is None:
            return self.db.execute("SELECT COUNT(*) FROM queue_items WHERE object_id = ?",
                                   (object_id,)).fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM queue_items WHERE object_id = ? AND "
                               "partition = ?", (object_id, partition)).fetchone()[0]

    def queue_partition_count(self, object_id: str) -> int:
        return self.db.execute("SELECT COUNT(*) FROM queue_partitions WHERE object_id = ?",
                               (object_id,)).fetchone()[0]

    def queue_clear(self, object_id: str, partition: str | None):
        with self.db.transaction():
            if partition is None:
                self.db.execute("DELETE FROM queue_items WHERE object_id = ?", (object_id,))
                self.db.execute("DELETE FROM queue_partitions WHERE object_id = ?",
                                (object_id,))
            else:
                self.db.execute("DELETE FROM queue_items WHERE object_id = ? AND "
                                "partition = ?", (object_id, partition))
                self.db.execute("DELETE FROM queue_partitions WHERE object_id = ? AND "
                                "partition = ?", (object_id, partition))

    def expired_partitions(self, now: float) -> list[tuple[str, str]]:
        return list(self.db.execute("SELECT object_id, partition FROM queue_partitions "
                                    "WHERE expires_at <= ?", (now,)))

    # -- secrets

    def secret_set(self, object_id: str, ciphertext: bytes, keys: list[str],
                   digest: str | None = None):
        self.db.execute("INSERT INTO secrets (object_id, ciphertext, keys, digest) VALUES "
                        "(?, ?, ?, ?) ON CONFLICT (object_id) DO UPDATE SET ciphertext = "
                        "excluded.ciphertext, keys = excluded.keys, digest = excluded.digest",
                        (object_id, ciphertext, ",".join(keys), digest))
        self.touch(object_id)

    def secret_by_digest(self, digest: str) -> str | None:
        row = self.db.execute("SELECT object_id FROM secrets WHERE digest = ?",
                              (digest,)).fetchone()
        return row[0] if row else None

    def secret(self, object_id: str) -> tuple[bytes, list[str]] | None:
        row = self.db.execute("SELECT ciphertext, keys FROM secrets WHERE object_id = ?",
                              (object_id,)).fetchone()
        if row is None:
            return None
        return row[0], [k for k in row[1].split(",") if k]


def _within(rows, max_bytes: int) -> list[tuple[int, bytes]]:
    out, total = [], 0
    for seq, value in rows:
        total += len(value)
        if out and total > max_bytes:
            break
        out.append((seq, value))
    return out
