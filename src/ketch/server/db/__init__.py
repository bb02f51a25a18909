"""The server's database: one connection, to SQLite in the data directory (the embedded
default) or to PostgreSQL (`--store postgresql://…` / `KETCH_STORE_URL`).

Each module that keeps state writes its own SQL beside it, in what both dialects accept:
`?` placeholders, `INSERT … ON CONFLICT … DO NOTHING / DO UPDATE`, `RETURNING`, and the
column types INTEGER, REAL, TEXT and BLOB. What differs is translated in one place
(`postgres.py`: placeholders, column types, autoincrement, `WITHOUT ROWID`). Each module's
tables are created and migrated at start by `migrate()`, which records the version of
every module's schema in the table `schema_versions`.

Calls are synchronous, on the server's event loop, each one short: with SQLite a call
costs microseconds; with PostgreSQL one round trip (about 0.1 ms on the same machine, see
docs/store.md). The per-input call path (`.remote`, `.map`) does not touch the database;
spawned calls, deploys and named objects do.
"""

from __future__ import annotations

from pathlib import Path

from .base import Database, StoreUnavailable, mask_url
from .schema import migrate
from .sqlite import SqliteDatabase

__all__ = ["Database", "StoreUnavailable", "mask_url", "migrate", "open_database"]


def open_database(url: str | None, data_dir: Path) -> Database:
    """The store `url` names (None: SQLite's ketch.db in `data_dir`), connected and
    checked. Raises StoreUnavailable, naming the URL (its password masked) and the fix."""
    if not url:
        return SqliteDatabase(data_dir / "ketch.db")
    check_url(url)
    from .postgres import PostgresDatabase   # only a server that uses PostgreSQL loads it
    return PostgresDatabase(url)


def check_url(url: str):
    """Raises StoreUnavailable for a store URL that is not a PostgreSQL one."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise StoreUnavailable(f"store URL {mask_url(url)!r}: give a PostgreSQL URL, "
                         "postgresql://USER:PASSWORD@HOST:PORT/DATABASE, or leave --store "
                         "(and KETCH_STORE_URL) out for the embedded SQLite store")
