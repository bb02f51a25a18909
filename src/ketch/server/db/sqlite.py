"""The embedded store: SQLite in WAL mode, in the server's data directory."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Sequence

from .base import StoreUnavailable, statements


class SqliteDatabase:
    kind = "sqlite"
    Error = sqlite3.Error

    def __init__(self, path: Path):
        self.path = path
        self.url = str(path)
        try:
            # isolation_level None: every statement commits, unless inside transaction().
            self.conn = sqlite3.connect(str(path), isolation_level=None,
                                        check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open the SQLite store {path}: {exc}. Check that "
                                   "the data directory is writable and not full") from exc
        self._depth = 0

    def execute(self, sql: str, args: Sequence[Any] = ()):
        return self.conn.execute(sql, args)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        return self.conn.executemany(sql, rows).rowcount

    def script(self, ddl: str):
        for statement in statements(ddl):
            self.conn.execute(statement)

    @contextlib.contextmanager
    def transaction(self):
        if self._depth:
            yield
            return
        # IMMEDIATE: the write lock is taken at BEGIN, so a read-then-write block cannot
        # fail halfway on another connection's write.
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._depth = 0

    def claim(self):
        pass   # the data directory is the server's own

    def lock_for_migration(self):
        pass   # BEGIN IMMEDIATE already holds the write lock

    def columns(self, table: str) -> set[str]:
        return {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}

    def has_table(self, table: str) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                 "name = ?", (table,)).fetchone() is not None

    def size_bytes(self) -> int:
        size = 0
        for suffix in ("", "-wal"):
            try:
                size += os.stat(f"{self.path}{suffix}").st_size
            except OSError:
                pass
        return size

    def companion(self, name: str) -> "SqliteDatabase":
        return SqliteDatabase(self.path.with_name(f"{name}.db"))

    def close(self):
        self.conn.close()
